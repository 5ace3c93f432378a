// HOT PATH: no allocation, no locks. Every function here runs once or more per query; names
// are walked in place and copied only into fixed buffers, and every read is bounds-checked
// against the packet, so a hostile packet costs at most a bounded walk and an error code.
#include "dns/wire.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace saring::dns {
namespace {

// Header flag bits: byte 2 is QR|OPCODE(4)|AA|TC|RD, byte 3 is RA|Z|AD|CD|RCODE(4).
constexpr std::uint8_t kFlagQr = 0x80;
constexpr std::uint8_t kFlagAa = 0x04;
constexpr std::uint8_t kFlagTc = 0x02;
constexpr std::uint8_t kFlagRd = 0x01;
constexpr std::uint8_t kFlagRa = 0x80;
constexpr std::uint8_t kFlagCd = 0x10;
constexpr std::uint16_t kFlagDo = 0x8000;  // in the low 16 bits of the OPT TTL

constexpr std::size_t kMaxLabel = 63;
constexpr std::size_t kRecordFixed = 10;             // type, class, TTL, RDLENGTH
constexpr std::size_t kOptFixed = 1 + kRecordFixed;  // root owner + fixed part
constexpr std::size_t kEdeFixed = 6;                 // option code, option length, info code
constexpr std::size_t kMaxEdeText = 127;
constexpr std::uint16_t kOptionEde = 15;
constexpr std::uint16_t kRcodeBadVers = 16;
constexpr std::size_t kMaxMessage = 65535;
constexpr std::size_t kMaxCnames = 16;
constexpr std::uint16_t kPointerToQuestion = 0xc000 | kHeaderSize;
constexpr std::size_t kMaxPointerTarget = 0x3fff;
// A compressor only writes a pointer after at least one label (except a name that is all
// pointer), so a real name follows at most one pointer per label, 127 for 255 bytes, plus
// one. Longer chains are pointer-to-pointer padding, which only an attacker writes.
constexpr int kMaxPointers = 128;

std::uint16_t Get16(std::span<const std::uint8_t> p, std::size_t at) {
  return static_cast<std::uint16_t>(p[at] << 8 | p[at + 1]);
}

std::uint32_t Get32(std::span<const std::uint8_t> p, std::size_t at) {
  return std::uint32_t{p[at]} << 24 | std::uint32_t{p[at + 1]} << 16 |
         std::uint32_t{p[at + 2]} << 8 | p[at + 3];
}

void Put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

void Put32(std::uint8_t* p, std::uint32_t v) {
  Put16(p, static_cast<std::uint16_t>(v >> 16));
  Put16(p + 2, static_cast<std::uint16_t>(v));
}

std::uint8_t Lower(std::uint8_t c) { return c >= 'A' && c <= 'Z' ? c | 0x20 : c; }

bool EqualIgnoringCase(const std::uint8_t* a, const std::uint8_t* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// RFC 2181 8: a TTL with the top bit set is to be taken as zero.
std::uint32_t Ttl(std::uint32_t wire) { return wire & 0x80000000u ? 0 : wire; }

// True if a 4-byte field at one of the sorted `fields` offsets overlaps [first, last].
bool Overlaps(std::span<const std::uint16_t> fields, std::size_t first, std::size_t last) {
  const auto it = std::lower_bound(fields.begin(), fields.end(), first,
                                   [](std::uint16_t at, std::size_t x) { return at + 4u <= x; });
  return it != fields.end() && *it <= last;
}

// Walks the name at `pos`, calling on_label(label, length) for each label but the root, and
// stopping (malformed) when it returns false. Returns the offset just past the name where it
// starts, 0 when it is malformed.
// A name is runs of labels joined by pointers. Each run must lie wholly below the run that
// pointed to it, as every compressor writes (a pointer refers to a name written earlier):
// then runs never overlap, loops are impossible rather than merely detected, and no name
// reads its own pointer or the fields after it. Runs in the header, or over one of the
// `avoid` fields (TTLs), are refused too: ReuseAnswer rewrites those bytes in a cached
// answer, which would change the names read through them after the answer was checked.
// So a question at offset 12 cannot be compressed at all.
template <typename OnLabel>
std::size_t WalkName(std::span<const std::uint8_t> p, std::size_t pos, OnLabel&& on_label,
                     std::span<const std::uint16_t> avoid = {}) {
  std::size_t end = 0;           // set at the first pointer
  std::size_t start = pos;       // of the current run
  std::size_t limit = p.size();  // the first byte the current run may not read
  std::size_t wire = 1;          // the root label
  int pointers = 0;
  while (pos < limit) {
    const std::uint8_t len = p[pos];
    if (len == 0) {
      if (end == 0) return pos + 1;
      return Overlaps(avoid, start, pos) ? 0 : end;
    }
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= limit) break;
      if (end != 0 && Overlaps(avoid, start, pos + 1)) break;
      const std::size_t target = std::size_t{len & 0x3fu} << 8 | p[pos + 1];
      if (target >= start || target < kHeaderSize || ++pointers > kMaxPointers) break;
      if (end == 0) end = pos + 2;
      limit = start;
      pos = start = target;
      continue;
    }
    // 0x40 and 0x80 are the extended and binary label types RFC 6891 retired.
    if (len > kMaxLabel) break;
    wire += 1 + len;
    if (wire > kMaxNameWire || pos + 1 + len > limit) break;
    if (!on_label(&p[pos + 1], len)) break;
    pos += 1 + len;
  }
  return 0;
}

bool AnyLabel(const std::uint8_t*, std::size_t) { return true; }

// Appends labels to a NameText in matching form. WalkName's 255-byte limit keeps the text
// within 253 characters.
struct TextSink {
  NameText* text;
  bool operator()(const std::uint8_t* label, std::size_t len) {
    char* out = text->buf.data() + text->size;
    if (text->size != 0) *out++ = '.';
    for (std::size_t i = 0; i < len; ++i) out[i] = static_cast<char>(Lower(label[i]));
    text->size = static_cast<std::uint8_t>(out + len - text->buf.data());
    return true;
  }
};

// Wire form of a text name (trailing dot optional, "" or "." for the root) into `out`;
// returns its length, 0 if it is not a valid name.
std::size_t EncodeName(std::string_view text, std::uint8_t (&out)[kMaxNameWire]) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  std::size_t n = 0;
  while (!text.empty()) {
    const std::size_t dot = std::min(text.find('.'), text.size());
    if (dot == 0 || dot > kMaxLabel || n + 1 + dot + 1 > kMaxNameWire) return 0;
    out[n++] = static_cast<std::uint8_t>(dot);
    std::memcpy(out + n, text.data(), dot);
    n += dot;
    // A dot at the very end here was a second trailing dot: an empty label.
    if (dot < text.size() && dot + 1 == text.size()) return 0;
    text.remove_prefix(std::min(dot + 1, text.size()));
  }
  out[n++] = 0;
  return n;
}

// The question: name, type and class, starting at *pos (12, so the name is uncompressed).
bool ParseQuestion(std::span<const std::uint8_t> p, std::size_t* pos, Query* q) {
  const std::size_t name_end = WalkName(p, *pos, TextSink{&q->name});
  if (name_end == 0 || name_end + 4 > p.size()) {
    q->name.size = 0;
    return false;
  }
  q->qtype = Get16(p, name_end);
  q->qclass = Get16(p, name_end + 2);
  q->question = p.subspan(*pos, name_end + 4 - *pos);
  *pos = name_end + 4;
  return true;
}

// The additional section of a query: nothing, or one OPT.
ParseStatus ParseAdditional(std::span<const std::uint8_t> p, std::size_t pos, std::uint16_t count,
                            Query* q) {
  for (std::uint16_t i = 0; i < count; ++i) {
    if (pos + kOptFixed > p.size() || p[pos] != 0) return ParseStatus::kFormErr;
    const std::size_t fixed = pos + 1;
    if (Get16(p, fixed) != static_cast<std::uint16_t>(QType::kOpt) || q->has_edns) {
      return ParseStatus::kFormErr;
    }
    const std::size_t rdata = fixed + kRecordFixed;
    const std::size_t end = rdata + Get16(p, fixed + 8);
    if (end > p.size()) return ParseStatus::kFormErr;
    // Options are not used, but a query whose options overrun the record is malformed.
    for (std::size_t o = rdata; o < end;) {
      if (o + 4 > end) return ParseStatus::kFormErr;
      o += 4 + Get16(p, o + 2);
      if (o > end) return ParseStatus::kFormErr;
    }
    q->has_edns = true;
    q->udp_payload = std::clamp<std::uint16_t>(Get16(p, fixed + 2), kMinUdpPayload, kMaxUdpPayload);
    q->edns_version = p[fixed + 5];
    q->dnssec_ok = (Get16(p, fixed + 6) & kFlagDo) != 0;
    pos = end;
  }
  if (pos != p.size()) return ParseStatus::kFormErr;
  if (q->has_edns && q->edns_version != 0) return ParseStatus::kBadVers;
  return ParseStatus::kOk;
}

// SOA RDATA: MNAME, RNAME, then serial, refresh, retry, expire, minimum, ending exactly at
// `end`. Returns the MINIMUM field through *minimum.
bool ParseSoa(std::span<const std::uint8_t> p, std::size_t rdata, std::size_t end,
              std::span<const std::uint16_t> ttls, std::uint32_t* minimum) {
  const std::size_t mname_end = WalkName(p, rdata, AnyLabel, ttls);
  if (mname_end == 0 || mname_end > end) return false;
  const std::size_t rname_end = WalkName(p, mname_end, AnyLabel, ttls);
  if (rname_end == 0 || rname_end + 20 != end) return false;
  *minimum = Get32(p, end - 4);
  return true;
}

}  // namespace

ParseStatus ParseQuery(std::span<const std::uint8_t> packet, Query* query) {
  if (packet.size() < kHeaderSize || (packet[2] & kFlagQr) != 0) return ParseStatus::kDrop;
  query->id = Get16(packet, 0);
  query->opcode = (packet[2] >> 3) & 0x0f;
  query->rd = (packet[2] & kFlagRd) != 0;
  query->cd = (packet[3] & kFlagCd) != 0;
  query->qtype = 0;
  query->qclass = 0;
  query->name.size = 0;
  query->question = {};
  query->has_edns = false;
  query->edns_version = 0;
  query->dnssec_ok = false;
  query->udp_payload = kMinUdpPayload;

  std::size_t pos = kHeaderSize;
  const bool question = Get16(packet, 4) == 1 && ParseQuestion(packet, &pos, query);
  // Other opcodes give the sections other meanings (UPDATE, NOTIFY): only the first entry,
  // laid out like a question, is worth echoing.
  if (query->opcode != 0) return ParseStatus::kNotImp;
  if (!question || Get16(packet, 6) != 0 || Get16(packet, 8) != 0) return ParseStatus::kFormErr;
  const ParseStatus status = ParseAdditional(packet, pos, Get16(packet, 10), query);
  if (status == ParseStatus::kFormErr) query->has_edns = false;
  return status;
}

AnswerWriter::AnswerWriter(std::span<std::uint8_t> out, std::size_t limit, const Query& query)
    : out_(out), limit_(std::min({limit, out.size(), kMaxMessage})), query_(query) {
  size_ = kHeaderSize;
  if (!query.question.empty()) {
    std::memcpy(out_.data() + size_, query.question.data(), query.question.size());
    size_ += query.question.size();
  }
}

void AnswerWriter::SetRcode(Rcode rcode) { rcode_ = static_cast<std::uint16_t>(rcode); }

void AnswerWriter::SetAuthoritative(bool aa) { aa_ = aa; }

bool AnswerWriter::HasOpt() const { return query_.has_edns || rcode_ > 0x0f; }

std::size_t AnswerWriter::OptSize() const {
  if (!HasOpt()) return 0;
  return kOptFixed + (has_ede_ ? kEdeFixed + ede_text_size_ : 0);
}

bool AnswerWriter::Reserve(std::size_t bytes) {
  if (!truncated_ && size_ + bytes + OptSize() <= limit_) return true;
  truncated_ = true;
  return false;
}

void AnswerWriter::AddAnswer(QType type, std::uint32_t ttl, std::span<const std::uint8_t> rdata) {
  if (in_authority_ || !Reserve(2 + kRecordFixed + rdata.size())) return;
  std::uint8_t* w = out_.data() + size_;
  Put16(w, kPointerToQuestion);
  Put16(w + 2, static_cast<std::uint16_t>(type));
  Put16(w + 4, kClassIn);
  Put32(w + 6, ttl);
  Put16(w + 10, static_cast<std::uint16_t>(rdata.size()));
  std::memcpy(w + 12, rdata.data(), rdata.size());
  size_ += 2 + kRecordFixed + rdata.size();
  ++counts_[0];
}

void AnswerWriter::AddA(std::uint32_t ttl, std::array<std::uint8_t, 4> address) {
  AddAnswer(QType::kA, ttl, address);
}

void AnswerWriter::AddAaaa(std::uint32_t ttl, std::array<std::uint8_t, 16> address) {
  AddAnswer(QType::kAaaa, ttl, address);
}

void AnswerWriter::AddCname(std::uint32_t ttl, std::string_view target) {
  std::uint8_t wire[kMaxNameWire];
  const std::size_t size = EncodeName(target, wire);
  if (size != 0) AddAnswer(QType::kCname, ttl, {wire, size});
}

void AnswerWriter::AddSoa(std::string_view zone, std::uint32_t ttl, std::uint32_t minimum) {
  std::uint8_t wire[kMaxNameWire];
  const std::size_t zone_size = EncodeName(zone, wire);
  if (zone_size == 0) return;

  // The owner: a pointer into the question when the zone is the qname or a suffix of it.
  // Label boundaries line up, so comparing whole wire forms compares label by label.
  std::uint16_t owner_pointer = 0;
  std::span<const std::uint8_t> qname;
  if (query_.question.size() > 4) qname = query_.question.first(query_.question.size() - 4);
  for (std::size_t at = 0; zone_size > 1 && at < qname.size() && qname[at] != 0;
       at += 1 + qname[at]) {
    if (qname.size() - at == zone_size && EqualIgnoringCase(&qname[at], wire, zone_size)) {
      owner_pointer = static_cast<std::uint16_t>(0xc000 | (kHeaderSize + at));
      break;
    }
  }
  // MNAME and RNAME's tail refer back to the owner; the root is shorter written out.
  std::uint16_t zone_pointer = owner_pointer;
  if (zone_pointer == 0 && zone_size > 1 && size_ <= kMaxPointerTarget) {
    zone_pointer = static_cast<std::uint16_t>(0xc000 | size_);
  }
  const std::size_t zone_ref_size = zone_pointer != 0 ? 2 : zone_size;
  static constexpr std::uint8_t kHostmaster[] = {10,  'h', 'o', 's', 't', 'm',
                                                 'a', 's', 't', 'e', 'r'};
  // hostmaster.<zone> would pass 255 bytes for a zone of more than 244: then hostmaster.
  const bool rname_in_zone = sizeof(kHostmaster) + zone_size <= kMaxNameWire;
  const std::size_t rdata_size =
      zone_ref_size + sizeof(kHostmaster) + (rname_in_zone ? zone_ref_size : 1) + 20;
  const std::size_t owner_size = owner_pointer != 0 ? 2 : zone_size;
  if (!Reserve(owner_size + kRecordFixed + rdata_size)) return;

  auto put_zone = [&](std::uint8_t* at, std::uint16_t pointer) {  // 0: write it out
    if (pointer != 0) {
      Put16(at, pointer);
      return at + 2;
    }
    std::memcpy(at, wire, zone_size);
    return at + zone_size;
  };
  std::uint8_t* w = put_zone(out_.data() + size_, owner_pointer);
  Put16(w, static_cast<std::uint16_t>(QType::kSoa));
  Put16(w + 2, kClassIn);
  Put32(w + 4, ttl);
  Put16(w + 8, static_cast<std::uint16_t>(rdata_size));
  w = put_zone(w + kRecordFixed, zone_pointer);
  std::memcpy(w, kHostmaster, sizeof(kHostmaster));
  w += sizeof(kHostmaster);
  if (rname_in_zone) {
    w = put_zone(w, zone_pointer);
  } else {
    *w++ = 0;
  }
  Put32(w, 1);           // serial
  Put32(w + 4, 3600);    // refresh
  Put32(w + 8, 600);     // retry
  Put32(w + 12, 86400);  // expire
  Put32(w + 16, minimum);
  size_ = static_cast<std::size_t>(w + 20 - out_.data());
  ++counts_[1];
  in_authority_ = true;
}

void AnswerWriter::AddEde(std::uint16_t code, std::string_view extra_text) {
  if (!HasOpt()) return;
  has_ede_ = false;
  const std::size_t fixed = size_ + kOptFixed + kEdeFixed;
  if (fixed > limit_) return;
  std::size_t n = std::min({extra_text.size(), kMaxEdeText, limit_ - fixed});
  // Cut before a continuation byte would split a character.
  while (n > 0 && n < extra_text.size() && (extra_text[n] & 0xc0) == 0x80) --n;
  std::memcpy(ede_text_.data(), extra_text.data(), n);
  ede_text_size_ = static_cast<std::uint8_t>(n);
  ede_code_ = code;
  has_ede_ = true;
}

std::size_t AnswerWriter::Finish() {
  std::uint8_t* h = out_.data();
  Put16(h, query_.id);
  h[2] = static_cast<std::uint8_t>(kFlagQr | (query_.opcode & 0x0f) << 3 | (aa_ ? kFlagAa : 0) |
                                   (truncated_ ? kFlagTc : 0) | (query_.rd ? kFlagRd : 0));
  h[3] = static_cast<std::uint8_t>(kFlagRa | (query_.cd ? kFlagCd : 0) | (rcode_ & 0x0f));
  Put16(h + 4, query_.question.empty() ? 0 : 1);
  Put16(h + 6, counts_[0]);
  Put16(h + 8, counts_[1]);
  Put16(h + 10, HasOpt() ? 1 : 0);
  if (HasOpt()) {
    std::uint8_t* w = out_.data() + size_;
    const std::size_t rdata_size = has_ede_ ? kEdeFixed + ede_text_size_ : 0;
    w[0] = 0;
    Put16(w + 1, static_cast<std::uint16_t>(QType::kOpt));
    Put16(w + 3, kOurUdpPayload);
    w[5] = static_cast<std::uint8_t>(rcode_ >> 4);
    w[6] = 0;  // EDNS version
    Put16(w + 7, query_.dnssec_ok ? kFlagDo : 0);
    Put16(w + 9, static_cast<std::uint16_t>(rdata_size));
    if (has_ede_) {
      Put16(w + 11, kOptionEde);
      Put16(w + 13, static_cast<std::uint16_t>(2 + ede_text_size_));
      Put16(w + 15, ede_code_);
      std::memcpy(w + 17, ede_text_.data(), ede_text_size_);
    }
    size_ += kOptFixed + rdata_size;
  }
  return size_;
}

std::size_t WriteError(std::span<std::uint8_t> out, const Query& query, ParseStatus status,
                       Rcode rcode, std::uint16_t ede_code, std::string_view ede_text) {
  AnswerWriter writer(out, out.size(), query);
  writer.rcode_ =
      status == ParseStatus::kBadVers ? kRcodeBadVers : static_cast<std::uint16_t>(rcode);
  if (ede_code != 0) writer.AddEde(ede_code, ede_text);
  return writer.Finish();
}

bool ParseResponse(std::span<const std::uint8_t> packet, const Query& query, ResponseInfo* info) {
  info->ttl_offset_count = 0;
  info->cacheable = true;
  info->cache_ttl = 0;
  const std::span<const std::uint8_t> p = packet;
  if (p.size() < kHeaderSize || p.size() > kMaxMessage) return false;
  if ((p[2] & kFlagQr) == 0 || Get16(p, 0) != query.id || ((p[2] >> 3) & 0x0f) != query.opcode) {
    return false;
  }
  if (Get16(p, 4) != 1 || query.question.size() < 5) return false;

  const std::span<const std::uint8_t> want = query.question.first(query.question.size() - 4);
  std::size_t at = 0;  // in `want`
  auto same_label = [&](const std::uint8_t* label, std::size_t len) {
    if (at + 1 + len >= want.size() || want[at] != len) return false;
    if (!EqualIgnoringCase(label, &want[at + 1], len)) return false;
    at += 1 + len;
    return true;
  };
  const std::size_t qname_end = WalkName(p, kHeaderSize, same_label);
  if (qname_end == 0 || at + 1 != want.size() || qname_end + 4 > p.size()) return false;
  if (Get16(p, qname_end) != query.qtype || Get16(p, qname_end + 2) != query.qclass) {
    return false;
  }

  info->id = query.id;
  info->truncated = (p[2] & kFlagTc) != 0;
  info->answer_count = Get16(p, 6);
  info->rcode = static_cast<Rcode>(p[3] & 0x0f);
  if (info->truncated) {
    info->cacheable = false;
    return true;
  }

  const std::uint16_t counts[3] = {info->answer_count, Get16(p, 8), Get16(p, 10)};
  std::uint32_t answer_ttl = std::numeric_limits<std::uint32_t>::max();
  std::uint32_t negative_ttl = std::numeric_limits<std::uint32_t>::max();
  bool has_soa = false;
  bool has_opt = false;
  // The TTL fields seen so far, which names must not be read through.
  auto ttls = [info] {
    return std::span<const std::uint16_t>(info->ttl_offsets.data(), info->ttl_offset_count);
  };
  int labels = 0;
  auto count_label = [&labels](const std::uint8_t*, std::size_t) {
    ++labels;
    return true;
  };
  std::size_t pos = qname_end + 4;
  for (int section = 0; section < 3; ++section) {
    for (std::uint16_t i = 0; i < counts[section]; ++i) {
      labels = 0;
      const std::size_t fixed = WalkName(p, pos, count_label, ttls());
      if (fixed == 0 || fixed + kRecordFixed > p.size()) return false;
      const std::uint16_t type = Get16(p, fixed);
      const std::size_t rdata = fixed + kRecordFixed;
      const std::size_t end = rdata + Get16(p, fixed + 8);
      if (end > p.size()) return false;
      pos = end;

      if (type == static_cast<std::uint16_t>(QType::kOpt)) {
        if (section != 2 || has_opt || labels != 0) return false;
        has_opt = true;
        const unsigned rcode = unsigned{p[fixed + 4]} << 4 | (p[3] & 0x0fu);
        // No rcode above 255 is assigned (the largest is BADCOOKIE, 23).
        if (rcode > 0xff) return false;
        info->rcode = static_cast<Rcode>(rcode);
        continue;
      }
      if (info->ttl_offset_count < info->ttl_offsets.size()) {
        info->ttl_offsets[info->ttl_offset_count++] = static_cast<std::uint16_t>(fixed + 4);
      } else {
        info->cacheable = false;
      }
      const std::uint32_t ttl = Ttl(Get32(p, fixed + 4));
      if (section == 0) answer_ttl = std::min(answer_ttl, ttl);
      if (type == static_cast<std::uint16_t>(QType::kCname)) {
        if (WalkName(p, rdata, AnyLabel, ttls()) != end) return false;
      } else if (type == static_cast<std::uint16_t>(QType::kSoa)) {
        std::uint32_t minimum;
        if (!ParseSoa(p, rdata, end, ttls(), &minimum)) return false;
        if (section == 1) {
          has_soa = true;
          negative_ttl = std::min({negative_ttl, ttl, Ttl(minimum)});
        }
      }
    }
  }
  if (pos != p.size()) return false;

  const bool negative = info->rcode == Rcode::kNxDomain || info->answer_count == 0;
  if (info->rcode != Rcode::kNoError && info->rcode != Rcode::kNxDomain) {
    info->cacheable = false;
  } else if (has_soa) {
    info->cache_ttl = std::min(answer_ttl, negative_ttl);
  } else if (!negative) {
    info->cache_ttl = answer_ttl;
  }
  return true;
}

bool ForEachCnameTarget(std::span<const std::uint8_t> packet, CnameFn fn, void* context) {
  const std::span<const std::uint8_t> p = packet;
  if (p.size() < kHeaderSize) return false;
  std::size_t pos = kHeaderSize;
  for (std::uint16_t i = 0, n = Get16(p, 4); i < n; ++i) {
    const std::size_t name_end = WalkName(p, pos, AnyLabel);
    if (name_end == 0) return false;
    pos = name_end + 4;
  }
  std::size_t cnames = 0;
  for (std::uint16_t i = 0, n = Get16(p, 6); i < n; ++i) {
    const std::size_t fixed = WalkName(p, pos, AnyLabel);
    if (fixed == 0 || fixed + kRecordFixed > p.size()) return false;
    const std::size_t rdata = fixed + kRecordFixed;
    const std::size_t end = rdata + Get16(p, fixed + 8);
    if (end > p.size()) return false;
    if (Get16(p, fixed) == static_cast<std::uint16_t>(QType::kCname)) {
      if (++cnames > kMaxCnames) return false;
      NameText target;
      if (WalkName(p, rdata, TextSink{&target}) != end) return false;
      if (fn(target, context)) return true;
    }
    pos = end;
  }
  return false;
}

std::size_t AppendEde(std::span<std::uint8_t> packet, std::size_t size, std::size_t limit,
                      std::uint16_t code, std::string_view extra_text) {
  if (size > packet.size() || size < kHeaderSize) return size;
  const std::span<const std::uint8_t> p = packet.first(size);
  std::size_t pos = kHeaderSize;
  for (std::uint16_t i = 0, n = Get16(p, 4); i < n; ++i) {
    const std::size_t name_end = WalkName(p, pos, AnyLabel);
    if (name_end == 0 || name_end + 4 > size) return size;
    pos = name_end + 4;
  }
  const std::size_t records = std::size_t{Get16(p, 6)} + Get16(p, 8) + Get16(p, 10);
  std::size_t last_fixed = 0;
  for (std::size_t i = 0; i < records; ++i) {
    const std::size_t fixed = WalkName(p, pos, AnyLabel);
    if (fixed == 0 || fixed + kRecordFixed > size) return size;
    last_fixed = fixed;
    pos = fixed + kRecordFixed + Get16(p, fixed + 8);
    if (pos > size) return size;
  }
  if (records == 0 || pos != size || Get16(p, last_fixed) != static_cast<std::uint16_t>(QType::kOpt)) {
    return size;
  }
  extra_text = extra_text.substr(0, 127);
  const std::size_t option = 6 + extra_text.size();
  const std::size_t rdlength = std::size_t{Get16(p, last_fixed + 8)} + option;
  if (size + option > std::min(limit, packet.size()) || rdlength > 0xffff) return size;
  std::uint8_t* out = packet.data() + size;
  Put16(out, 15);  // the EDE option code (RFC 8914)
  Put16(out + 2, static_cast<std::uint16_t>(2 + extra_text.size()));
  Put16(out + 4, code);
  std::memcpy(out + 6, extra_text.data(), extra_text.size());
  Put16(packet.data() + last_fixed + 8, static_cast<std::uint16_t>(rdlength));
  return size + option;
}

void ReuseAnswer(std::span<std::uint8_t> packet, std::uint16_t id,
                 std::span<const std::uint8_t> question, std::span<const std::uint16_t> ttl_offsets,
                 std::uint32_t age, std::uint32_t floor) {
  if (packet.size() < kHeaderSize) return;
  Put16(packet.data(), id);

  const std::span<const std::uint8_t> p = packet;
  if (Get16(p, 4) == 1 && question.size() > 4) {
    std::size_t end = kHeaderSize;  // the stored name is uncompressed: it parsed as a question
    while (end < p.size() && p[end] != 0 && p[end] <= kMaxLabel) end += 1 + p[end];
    const std::size_t name_size = question.size() - 4;
    if (end < p.size() && p[end] == 0 && end + 1 - kHeaderSize == name_size) {
      std::memcpy(packet.data() + kHeaderSize, question.data(), name_size);
    }
  }
  for (const std::uint16_t at : ttl_offsets) {
    if (std::size_t{at} + 4 > packet.size()) continue;
    const std::uint32_t ttl = Ttl(Get32(p, at));
    Put32(packet.data() + at, ttl > age ? std::max(ttl - age, floor) : floor);
  }
}

}  // namespace saring::dns
