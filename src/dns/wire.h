// DNS wire format: parsing queries and upstream responses in place, and
// writing the answers saring makes up itself (blocks, refusals, errors).
//
// HOT PATH. Nothing here allocates or locks: views point into the caller's
// packet, names are copied into fixed buffers, answers are written into the
// caller's buffer. Every length and offset read from a packet is checked; a
// malformed packet yields an error code, never a read outside it.
// Free functions and small value types: any thread may use its own.
#ifndef SARING_DNS_WIRE_H_
#define SARING_DNS_WIRE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace saring::dns {

inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::size_t kMaxNameWire = 255;      // RFC 1035 2.3.4
inline constexpr std::size_t kMaxUdpPayload = 4096;   // the most saring answers over UDP
inline constexpr std::uint16_t kMinUdpPayload = 512;  // without EDNS, or EDNS asking less
// The UDP payload size saring advertises in its OPT records: 1232 avoids IP
// fragmentation on any path with an MTU of 1280 (DNS Flag Day 2020).
inline constexpr std::uint16_t kOurUdpPayload = 1232;

enum class Rcode : std::uint8_t {
  kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomain = 3, kNotImp = 4, kRefused = 5,
};
enum class QType : std::uint16_t {
  kA = 1, kNs = 2, kCname = 5, kSoa = 6, kPtr = 12, kMx = 15, kTxt = 16, kAaaa = 28,
  kOpt = 41, kHttps = 65, kAny = 255,
};
inline constexpr std::uint16_t kClassIn = 1;

// RFC 8914 Extended DNS Error codes saring sends.
inline constexpr std::uint16_t kEdeBlocked = 15;
inline constexpr std::uint16_t kEdeFiltered = 17;
inline constexpr std::uint16_t kEdeStaleAnswer = 3;
inline constexpr std::uint16_t kEdeProhibited = 18;
inline constexpr std::uint16_t kEdeNetworkError = 23;

// A host name in two forms: the text used for matching (lower case, no
// trailing dot, "" for the root) and nothing else; the original wire bytes of
// the question (with the client's letter case, 0x20) stay in the packet.
struct NameText {
  std::array<char, kMaxNameWire + 1> buf;
  std::uint8_t size = 0;
  std::string_view view() const { return {buf.data(), size}; }
};

// What ParseQuery found in a query.
struct Query {
  std::uint16_t id = 0;
  std::uint8_t opcode = 0;
  bool rd = false;  // recursion desired
  bool cd = false;  // checking disabled
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
  NameText name;
  // The question section as received: name (uncompressed wire form, original
  // case) + type + class. Answers copy it verbatim.
  std::span<const std::uint8_t> question;
  bool has_edns = false;
  std::uint8_t edns_version = 0;
  bool dnssec_ok = false;          // the DO bit
  std::uint16_t udp_payload = kMinUdpPayload;  // the client's EDNS size, clamped to [512, 4096]
};

enum class ParseStatus {
  kOk,
  kDrop,     // not worth an answer: shorter than a header, or QR set (a response)
  kFormErr,  // answerable with FORMERR (header and ID are valid)
  kNotImp,   // an opcode other than QUERY
  kBadVers,  // EDNS version above 0: answer BADVERS
};

// Parses a query. On kFormErr / kNotImp / kBadVers, `id`, `opcode`, `rd` and
// (when it parsed) the question are filled so an error answer can be made.
// FORMERR for: QDCOUNT != 1, any answer or authority records, a bad name
// (label > 63, name > 255, compression loop or forward pointer, running off
// the end), more than one OPT record, an OPT whose owner is not the root,
// trailing garbage after the records. Also FORMERR, stricter than RFC 1035:
// a compressed question name (answers echo the question bytes verbatim, so
// they must stand alone; no real client compresses a lone question), and any
// additional record but OPT (TSIG and SIG(0) are not supported).
// Name text is the label bytes lower-cased (ASCII only) and joined with '.',
// unescaped: a label holding '.' or a byte outside 0x21-0x7e is valid DNS and
// parses, but its text matches no normalized rule.
// EDNS is trusted only in a well-formed query: after kFormErr `has_edns` is
// false (the error answer carries no OPT), and kNotImp does not look past
// the question. After kBadVers it is true and the OPT fields are filled.
ParseStatus ParseQuery(std::span<const std::uint8_t> packet, Query* query);

// Writes answers into a caller-owned buffer. Once a record does not fit the
// client's limit, it and every later record are left out and TC is set (the
// client retries over TCP); the header, question and OPT (when the query had
// EDNS) always fit, since the buffer is >= 512 bytes.
// The query must have parsed its question (kOk), and outlive the writer.
class AnswerWriter {
 public:
  // `limit` is how many bytes the client accepts (UDP: query.udp_payload;
  // TCP: 65535), at most out.size().
  AnswerWriter(std::span<std::uint8_t> out, std::size_t limit, const Query& query);

  void SetRcode(Rcode rcode);
  void SetAuthoritative(bool aa);
  // Answer records for the question's name (owner = pointer to the question).
  void AddA(std::uint32_t ttl, std::array<std::uint8_t, 4> address);
  void AddAaaa(std::uint32_t ttl, std::array<std::uint8_t, 16> address);
  // `target` in text form, trailing dot optional, written as given without
  // compression; a target that is no valid name (empty label, label > 63,
  // name > 255) is left out.
  void AddCname(std::uint32_t ttl, std::string_view target);
  // An SOA in the authority section (negative answers are cached for
  // min(ttl, minimum) per RFC 2308). `zone` is the owner in text form; it is
  // a pointer into the question when it is the qname or one of its suffixes.
  // MNAME is the zone and RNAME hostmaster.<zone>; serial 1, refresh 3600,
  // retry 600, expire 86400. Answer records added after it are left out.
  void AddSoa(std::string_view zone, std::uint32_t ttl, std::uint32_t minimum);
  // An Extended DNS Error option in the OPT record (only if the query had
  // EDNS). The text is cut to 127 bytes at a UTF-8 character boundary, and
  // further if the records already written leave less room.
  void AddEde(std::uint16_t code, std::string_view extra_text);

  // Finishes the header counts and the OPT record; returns the answer size.
  // Call once.
  std::size_t Finish();

 private:
  // Sets the 12-bit extended rcode (BADVERS).
  friend std::size_t WriteError(std::span<std::uint8_t> out, const Query& query,
                                ParseStatus status, Rcode rcode, std::uint16_t ede_code,
                                std::string_view ede_text);

  bool HasOpt() const;
  std::size_t OptSize() const;
  bool Reserve(std::size_t bytes);
  void AddAnswer(QType type, std::uint32_t ttl, std::span<const std::uint8_t> rdata);

  std::span<std::uint8_t> out_;
  std::size_t limit_;
  std::size_t size_ = 0;
  const Query& query_;
  std::uint16_t counts_[2] = {0, 0};  // answer, authority
  bool truncated_ = false;
  std::uint16_t ede_code_ = 0;
  bool has_ede_ = false;
  std::array<char, 127> ede_text_;
  std::uint8_t ede_text_size_ = 0;
  std::uint16_t rcode_ = 0;  // extended: the high 8 bits go into the OPT TTL
  bool aa_ = false;
  bool in_authority_ = false;
};

// A complete error answer (FORMERR, NOTIMP, REFUSED, SERVFAIL, BADVERS) for a
// query that parsed at least its header: the question is echoed if it parsed
// (else QDCOUNT is 0). `status` kBadVers makes a BADVERS answer (header rcode
// 0, extended rcode 1 in an OPT) whatever `rcode` says; otherwise `rcode` is
// used. The EDE option is sent when the query had EDNS and ede_code != 0.
// `out` must hold at least 512 bytes, which any error answer fits in.
std::size_t WriteError(std::span<std::uint8_t> out, const Query& query, ParseStatus status,
                       Rcode rcode, std::uint16_t ede_code = 0, std::string_view ede_text = {});

// What an upstream answer holds, for the checks and the cache. The records
// are walked in place; CNAME targets are decompressed one at a time.
struct ResponseInfo {
  std::uint16_t id = 0;
  Rcode rcode = Rcode::kNoError;
  bool truncated = false;
  std::uint16_t answer_count = 0;
  // Offsets of every record's 32-bit TTL field (answer, authority and
  // additional, OPT excluded), so a cached answer can be aged in place.
  std::array<std::uint16_t, 64> ttl_offsets;
  std::uint8_t ttl_offset_count = 0;  // records beyond 64: the answer is not cacheable
  bool cacheable = true;
  // The TTL the answer may be cached for: the least TTL of the answer
  // records, or for NXDOMAIN / NODATA min(SOA TTL, SOA minimum) (RFC 2308);
  // 0 when there is nothing to go by.
  std::uint32_t cache_ttl = 0;
};

// Checks that `packet` answers `query` (ID, QR, opcode, question equal
// ignoring case) and fills `info`. False for anything malformed or not
// matching: names as in ParseQuery, compressed anywhere but the question, each
// pointer leading strictly below the labels that led to it (as compressors
// write), never into the header or through an earlier TTL field (ReuseAnswer
// rewrites those, which would change the names read through them); records
// running past the end or bytes after the last one, an OPT outside the
// additional section, two OPTs, CNAME and SOA RDATA that do not parse.
// `rcode` includes the OPT's extended bits (BADVERS = 16).
// A truncated answer (TC) is checked only up to its question: the caller
// retries over TCP, and it is never cacheable. TTLs with the top bit set
// count as 0 (RFC 2181 8). Only NOERROR and NXDOMAIN answers are cacheable.
// A CNAME chain ending in NXDOMAIN or NODATA is bounded by both its answer
// TTLs and the SOA.
bool ParseResponse(std::span<const std::uint8_t> packet, const Query& query, ResponseInfo* info);

// Calls fn(target, context) for each CNAME target in the answer section of a
// response ParseResponse accepted (at most 16); stops early when fn returns
// true, and then returns true. Safe on any bytes: it stops (false) at the
// first thing it cannot parse or at the 17th CNAME.
using CnameFn = bool (*)(const NameText& target, void* context);
bool ForEachCnameTarget(std::span<const std::uint8_t> packet, CnameFn fn, void* context);

// Appends an Extended DNS Error option to an answer whose last record is its
// OPT (as upstream answers to EDNS queries are), if it still fits in `limit`
// bytes of `packet`. Returns the new size, or `size` when nothing was added.
// Used to mark stale answers (EDE 3) served from the cache.
std::size_t AppendEde(std::span<std::uint8_t> packet, std::size_t size, std::size_t limit,
                      std::uint16_t code, std::string_view extra_text);

// Rewrites a stored answer for a new client: its ID, its question bytes (the
// client's letter case) and every TTL at `ttl_offsets` reduced by `age`
// seconds (not below `floor`). `question` is the new query's Query::question;
// if its name is not as long as the stored one the name is left alone.
// Offsets past the end of `packet` are skipped.
void ReuseAnswer(std::span<std::uint8_t> packet, std::uint16_t id,
                 std::span<const std::uint8_t> question,
                 std::span<const std::uint16_t> ttl_offsets, std::uint32_t age,
                 std::uint32_t floor);

}  // namespace saring::dns

#endif  // SARING_DNS_WIRE_H_
