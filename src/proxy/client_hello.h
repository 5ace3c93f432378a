// The transparent HTTPS proxy's ClientHello reader: what a redirected port-443
// connection says before any decryption, the SNI host name above all, so the
// listener can decide, then splice to the original destination (replaying the
// bytes it read) or refuse with a TLS alert.
//
// HOT PATH. Nothing here allocates or locks. The ClientHello is parsed in place,
// directly across the TLS records that carry it (no reassembly buffer): every
// length is checked against the record it sits in and the message it belongs to,
// so a hostile hello yields an error code, never a read outside `data`.
// Free functions and small value types: any thread may use its own.
#ifndef SARING_PROXY_CLIENT_HELLO_H_
#define SARING_PROXY_CLIENT_HELLO_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace saring::proxy {

// The most bytes a listener reads looking for a complete ClientHello: one full
// record (2^14 bytes of plaintext + 256 of slack, as TLS 1.3 allows ciphertext)
// and room for the headers of a hello fragmented over several records.
inline constexpr std::size_t kMaxHelloBytes = 16 * 1024 + 512;
// The largest TLS record accepted (RFC 8446 5.2: 2^14 + 256).
inline constexpr std::size_t kMaxRecordPayload = 16 * 1024 + 256;
// The longest SNI host name (RFC 6066 3: a DNS name, at most 255 bytes); the
// size a `scratch` buffer needs to hold any name.
inline constexpr std::size_t kMaxServerName = 255;

enum class HelloResult {
  kNeedMore,   // a valid beginning: read more bytes (the listener stops at kMaxHelloBytes)
  kOk,         // a complete, consistent ClientHello; `info` is filled
  kNotTls,     // not a TLS handshake record at all (plain HTTP on 443, SSLv2, ...)
  kMalformed,  // a TLS handshake record whose ClientHello is inconsistent
  kTooLarge,   // the ClientHello would need more than kMaxHelloBytes
};

struct ClientHelloInfo {
  // The SNI host_name (RFC 6066) as sent, not lower-cased; empty if absent.
  // Points into `data`, or into the caller's `scratch` when the name is split
  // over two or more TLS records (see ParseClientHello).
  std::string_view server_name;
  bool has_sni = false;
  // The first record's version, filled as soon as its header is read, also when
  // the result is kMalformed or kTooLarge, so that TlsAlert can follow it; 0 if
  // not even that was read.
  std::uint16_t record_version = 0;
  std::uint16_t client_version = 0;  // the hello's legacy_version (0x0303 for TLS 1.2 and 1.3)
  // Bytes of `data` that made up the ClientHello record(s); bytes after them
  // (a TLS 1.3 ChangeCipherSpec, early data) are not looked at.
  std::size_t consumed = 0;
  bool alpn_h2 = false, alpn_http11 = false;  // offered ALPN protocols, for logs
};

// Parses the first bytes a client sent (`data` starts at the connection's first
// byte; more of it may follow the hello). `info` is reset first; on anything but
// kOk only `record_version` is meaningful.
//
// The hello may be fragmented over several handshake records (RFC 8446 5.1),
// which clients and DPI-evasion tools do on purpose; each record header is
// checked (type handshake, major version 3, length 1..kMaxRecordPayload, the last
// record ending exactly with the hello). The message is read straight out of the
// records; when the host name itself is split over records it is copied into
// `scratch` (kMaxServerName bytes hold any name) and `server_name` points there.
// Without room in `scratch` such a hello is kMalformed: failing closed, as a name
// the caller could not see must not pass for "no SNI".
//
// kMalformed, among others: lengths that do not add up at any level (record,
// handshake, session id > 32, cipher suites odd or empty, compression methods
// empty, the extensions block not ending with the message, an extension running
// past it), a second server_name or ALPN extension, an SNI list that is empty,
// holds a name type other than host_name or two host names, an empty or > 255
// byte name, or one with a byte that is not a letter, digit, '-', '.' or '_'.
HelloResult ParseClientHello(std::span<const std::uint8_t> data, ClientHelloInfo* info,
                             std::span<char> scratch = {});

// TLS alert descriptions the listener sends (RFC 8446 6).
inline constexpr std::uint8_t kAlertHandshakeFailure = 40;
inline constexpr std::uint8_t kAlertAccessDenied = 49;
inline constexpr std::uint8_t kAlertProtocolVersion = 70;
inline constexpr std::uint8_t kAlertInternalError = 80;
inline constexpr std::uint8_t kAlertUnrecognizedName = 112;

// A fatal TLS alert record to send before closing. The record version is
// `record_version` (pass the client's, info.record_version) when its major
// version is 3, else 0x0303.
std::array<std::uint8_t, 7> TlsAlert(std::uint8_t description,
                                     std::uint16_t record_version = 0x0303);

}  // namespace saring::proxy

#endif  // SARING_PROXY_CLIENT_HELLO_H_
