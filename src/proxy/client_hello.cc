// HOT PATH: no allocation, no locks, once per proxied HTTPS connection (and again each time
// more bytes of an incomplete hello arrive).
//
// Two passes over `data`, no reassembly buffer:
//  1. FrameHello walks the record headers until the records hold the whole handshake message,
//     checking each header and the message's length as soon as its bytes are there. It tells
//     kNeedMore / kNotTls / kTooLarge apart and proves that every byte the second pass reads
//     lies inside `data`.
//  2. ParseBody reads the message through a Cursor that steps over the record headers between
//     fragments, so a hello split anywhere (even inside a length field) parses the same as one
//     in a single record. Only a host name split over records is copied (into `scratch`).
#include "proxy/client_hello.h"

#include <algorithm>

namespace saring::proxy {
namespace {

constexpr std::uint8_t kContentHandshake = 22;
constexpr std::uint8_t kContentAlert = 21;
constexpr std::uint8_t kHandshakeClientHello = 1;
constexpr std::uint8_t kAlertLevelFatal = 2;
constexpr std::size_t kRecordHeader = 5;     // type, version, length
constexpr std::size_t kHandshakeHeader = 4;  // type, 24-bit length
constexpr std::size_t kRandom = 32;
constexpr std::size_t kMaxSessionId = 32;
// legacy_version, random, session id length, one cipher suite, one compression method.
constexpr std::size_t kMinHelloBody = 2 + kRandom + 1 + 2 + 2 + 1 + 1;
constexpr std::uint16_t kExtServerName = 0;
constexpr std::uint16_t kExtAlpn = 16;
constexpr std::uint8_t kNameTypeHostName = 0;

std::uint16_t Get16(std::span<const std::uint8_t> p, std::size_t at) {
  return static_cast<std::uint16_t>(p[at] << 8 | p[at + 1]);
}

bool HostNameByte(std::uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_';
}

// Pass 1. On kOk, `*consumed` is the end of the last record of the hello and `*message` the
// handshake message's size (header included). Every record up to `*consumed` then has a
// valid header and a non-empty payload wholly inside `data`, and their payloads add up to
// exactly `*message` bytes.
HelloResult FrameHello(std::span<const std::uint8_t> data, ClientHelloInfo* info,
                       std::size_t* consumed, std::size_t* message) {
  std::size_t pos = 0;   // start of the current record
  std::size_t have = 0;  // handshake bytes in the records before `pos`
  std::size_t need = 0;  // header + handshake length; 0 until the header has been read
  std::uint8_t header[kHandshakeHeader] = {};
  for (;;) {
    // The least this hello can still take: another record header and the missing bytes.
    const std::size_t missing = (need != 0 ? need : kHandshakeHeader + kMinHelloBody) - have;
    if (pos + kRecordHeader + missing > kMaxHelloBytes) return HelloResult::kTooLarge;
    // The first record decides whether this is TLS at all; a later bad header is a TLS
    // client breaking the protocol.
    const HelloResult bad = pos == 0 ? HelloResult::kNotTls : HelloResult::kMalformed;
    const std::size_t avail = data.size() - pos;
    if (avail == 0) return HelloResult::kNeedMore;
    if (data[pos] != kContentHandshake) return bad;
    if (avail < 2) return HelloResult::kNeedMore;
    if (data[pos + 1] != 3) return bad;  // SSL 3.0 .. TLS 1.3 all have major version 3
    if (avail < kRecordHeader) return HelloResult::kNeedMore;
    if (pos == 0) info->record_version = Get16(data, pos + 1);
    // Zero-length handshake fragments are forbidden (RFC 8446 5.1): they would also let a
    // hello spin through headers without progress.
    const std::size_t length = Get16(data, pos + 3);
    if (length == 0 || length > kMaxRecordPayload) return HelloResult::kMalformed;
    const std::size_t payload = pos + kRecordHeader;
    const std::size_t in_data = std::min(length, avail - kRecordHeader);

    // The handshake header may itself be split over records.
    for (std::size_t i = 0; have + i < kHandshakeHeader && i < length; ++i) {
      if (i >= in_data) return HelloResult::kNeedMore;
      header[have + i] = data[payload + i];
      if (have + i == 0 && header[0] != kHandshakeClientHello) return HelloResult::kMalformed;
      if (have + i + 1 == kHandshakeHeader) {
        const std::size_t body = std::size_t{header[1]} << 16 | std::size_t{header[2]} << 8 |
                                 header[3];
        if (body < kMinHelloBody) return HelloResult::kMalformed;
        need = kHandshakeHeader + body;
        if (pos + kRecordHeader + (need - have) > kMaxHelloBytes) return HelloResult::kTooLarge;
      }
    }
    // The hello ends a record: nothing else may share the record after it.
    if (need != 0 && have + length > need) return HelloResult::kMalformed;
    // If the message goes on after this record, yet another header is needed.
    if (need != 0 && have + length < need &&
        payload + kRecordHeader + (need - have) > kMaxHelloBytes) {
      return HelloResult::kTooLarge;
    }
    if (in_data < length) return HelloResult::kNeedMore;
    have += length;
    pos = payload + length;
    if (have == need) {
      *consumed = pos;
      *message = need;
      return HelloResult::kOk;
    }
  }
}

// Reads the handshake message forward across its records. Callers check left() before every
// read; FrameHello has proved that the records behind those bytes are in `data`.
class Cursor {
 public:
  Cursor(std::span<const std::uint8_t> data, std::size_t message) : data_(data), end_(message) {}

  std::size_t offset() const { return offset_; }  // in the handshake message
  std::size_t left() const { return end_ - offset_; }

  std::uint8_t Byte() {
    Enter();
    --record_left_;
    ++offset_;
    return data_[pos_++];
  }
  std::uint16_t U16() {
    const std::uint8_t high = Byte();
    return static_cast<std::uint16_t>(high << 8 | Byte());
  }
  void Skip(std::size_t n) {
    offset_ += n;
    while (n > 0) {
      Enter();
      const std::size_t step = std::min(n, record_left_);
      pos_ += step;
      record_left_ -= step;
      n -= step;
    }
  }
  // The next n (>= 1) bytes when one record holds them all, else nullptr. Does not advance.
  const std::uint8_t* Contiguous(std::size_t n) {
    Enter();
    return record_left_ >= n ? data_.data() + pos_ : nullptr;
  }

 private:
  // Steps over the next record header when the current record is used up.
  void Enter() {
    if (record_left_ != 0) return;
    record_left_ = Get16(data_, pos_ + 3);
    pos_ += kRecordHeader;
  }

  std::span<const std::uint8_t> data_;
  std::size_t end_;
  std::size_t pos_ = 0;          // in `data`
  std::size_t record_left_ = 0;  // payload bytes of the current record after pos_
  std::size_t offset_ = 0;
};

// extension_data of server_name (RFC 6066 3), `length` bytes at the cursor.
bool ParseServerName(Cursor* c, std::size_t length, ClientHelloInfo* info,
                     std::span<char> scratch) {
  if (length < 2) return false;
  std::size_t list = c->U16();
  if (list == 0 || list != length - 2) return false;
  while (list > 0) {
    if (list < 3) return false;
    const std::uint8_t type = c->Byte();
    const std::size_t size = c->U16();
    list -= 3;
    // One name of a type: a second host name would let the filter and the origin each pick
    // a different one. No other name type was ever defined.
    if (type != kNameTypeHostName || info->has_sni) return false;
    if (size == 0 || size > kMaxServerName || size > list) return false;
    if (const std::uint8_t* p = c->Contiguous(size)) {
      if (!std::all_of(p, p + size, HostNameByte)) return false;
      info->server_name = {reinterpret_cast<const char*>(p), size};
      c->Skip(size);
    } else {
      if (scratch.size() < size) return false;
      for (std::size_t i = 0; i < size; ++i) {
        const std::uint8_t b = c->Byte();
        if (!HostNameByte(b)) return false;
        scratch[i] = static_cast<char>(b);
      }
      info->server_name = {scratch.data(), size};
    }
    info->has_sni = true;
    list -= size;
  }
  return true;
}

// extension_data of application_layer_protocol_negotiation (RFC 7301 3.1).
bool ParseAlpn(Cursor* c, std::size_t length, ClientHelloInfo* info) {
  if (length < 2) return false;
  std::size_t list = c->U16();
  if (list < 2 || list != length - 2) return false;
  while (list > 0) {
    const std::size_t size = c->Byte();
    list -= 1;
    if (size == 0 || size > list) return false;
    char name[8];
    for (std::size_t i = 0; i < size; ++i) {
      const auto b = static_cast<char>(c->Byte());
      if (i < sizeof name) name[i] = b;
    }
    const std::string_view protocol(name, std::min(size, sizeof name));
    if (size == 2 && protocol == "h2") info->alpn_h2 = true;
    if (size == 8 && protocol == "http/1.1") info->alpn_http11 = true;
    list -= size;
  }
  return true;
}

// Pass 2: the ClientHello body (RFC 8446 4.1.2, RFC 5246 7.4.1.2).
bool ParseBody(Cursor* c, ClientHelloInfo* info, std::span<char> scratch) {
  c->Skip(kHandshakeHeader);
  if (c->left() < kMinHelloBody) return false;
  info->client_version = c->U16();
  if (info->client_version >> 8 != 3) return false;
  c->Skip(kRandom);
  const std::size_t session_id = c->Byte();
  if (session_id > kMaxSessionId || session_id > c->left()) return false;
  c->Skip(session_id);
  if (c->left() < 2) return false;
  const std::size_t suites = c->U16();
  if (suites == 0 || suites % 2 != 0 || suites > c->left()) return false;
  c->Skip(suites);
  if (c->left() < 1) return false;
  const std::size_t compressions = c->Byte();
  if (compressions == 0 || compressions > c->left()) return false;
  c->Skip(compressions);
  if (c->left() == 0) return true;  // no extensions (SSL 3.0, old TLS 1.0 clients)

  if (c->left() < 2) return false;
  if (c->U16() != c->left()) return false;
  bool seen_alpn = false;
  while (c->left() > 0) {
    if (c->left() < 4) return false;
    const std::uint16_t type = c->U16();
    const std::size_t length = c->U16();
    if (length > c->left()) return false;
    const std::size_t end = c->offset() + length;
    switch (type) {
      case kExtServerName:
        if (info->has_sni || !ParseServerName(c, length, info, scratch)) return false;
        break;
      case kExtAlpn:
        if (seen_alpn || !ParseAlpn(c, length, info)) return false;
        seen_alpn = true;
        break;
      default:
        c->Skip(length);
        break;
    }
    if (c->offset() != end) return false;
  }
  return true;
}

}  // namespace

HelloResult ParseClientHello(std::span<const std::uint8_t> data, ClientHelloInfo* info,
                             std::span<char> scratch) {
  *info = ClientHelloInfo{};
  std::size_t consumed = 0, message = 0;
  const HelloResult framed = FrameHello(data, info, &consumed, &message);
  if (framed != HelloResult::kOk) return framed;
  Cursor cursor(data, message);
  if (!ParseBody(&cursor, info, scratch)) {
    const std::uint16_t record_version = info->record_version;
    *info = ClientHelloInfo{};
    info->record_version = record_version;
    return HelloResult::kMalformed;
  }
  info->consumed = consumed;
  return HelloResult::kOk;
}

std::array<std::uint8_t, 7> TlsAlert(std::uint8_t description, std::uint16_t record_version) {
  if (record_version >> 8 != 3) record_version = 0x0303;
  return {kContentAlert,
          static_cast<std::uint8_t>(record_version >> 8),
          static_cast<std::uint8_t>(record_version),
          0,
          2,  // length
          kAlertLevelFatal,
          description};
}

}  // namespace saring::proxy
