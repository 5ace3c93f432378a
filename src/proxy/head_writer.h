// The bytes a relayed message goes out with: its head (start line, the
// fields in order, the empty line) and, when it is sent chunked, the chunk
// framing around each piece of body.
//
// The proxy streams bodies in pieces and has already edited the head, so it
// writes these itself (a head is one append per field into a string the
// session reuses) instead of running Beast's serializer, whose buffer views
// cost more than the rest of a request's user-space work. The output is what
// that serializer writes, byte for byte (tests/proxy/head_writer_test).
#ifndef SARING_PROXY_HEAD_WRITER_H_
#define SARING_PROXY_HEAD_WRITER_H_

#include <array>
#include <boost/beast/http/message.hpp>
#include <cstddef>
#include <string>
#include <string_view>

namespace saring::proxy {

namespace head_writer_internal {
void AppendStartLine(std::string_view method, std::string_view target, unsigned version, std::string* out);
void AppendStatusLine(unsigned version, unsigned status, std::string_view reason, std::string* out);
void AppendField(std::string_view name, std::string_view value, std::string* out);
}  // namespace head_writer_internal

// Replaces `out` with the serialized head (any fields allocator).
template <class Fields>
void WriteHead(const boost::beast::http::header<true, Fields>& head, std::string* out) {
  out->clear();
  head_writer_internal::AppendStartLine({head.method_string().data(), head.method_string().size()},
                                        {head.target().data(), head.target().size()}, head.version(), out);
  for (const auto& field : head) {
    head_writer_internal::AppendField({field.name_string().data(), field.name_string().size()},
                                      {field.value().data(), field.value().size()}, out);
  }
  out->append("\r\n");
}

template <class Fields>
void WriteHead(const boost::beast::http::header<false, Fields>& head, std::string* out) {
  out->clear();
  head_writer_internal::AppendStatusLine(head.version(), head.result_int(),
                                         {head.reason().data(), head.reason().size()}, out);
  for (const auto& field : head) {
    head_writer_internal::AppendField({field.name_string().data(), field.name_string().size()},
                                      {field.value().data(), field.value().size()}, out);
  }
  out->append("\r\n");
}

// "<size in hex>\r\n", the line before a chunk of `size` (> 0) bytes, in `scratch`.
std::string_view ChunkSizeLine(std::size_t size, std::array<char, 20>* scratch);

// After each chunk's data, and the last chunk (no trailers) that ends a body.
inline constexpr std::string_view kChunkEnd = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace saring::proxy

#endif  // SARING_PROXY_HEAD_WRITER_H_
