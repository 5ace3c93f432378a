#include "proxy/head_writer.h"

namespace saring::proxy {

namespace http = boost::beast::http;

namespace {

void Append(std::string* out, boost::beast::string_view s) { out->append(s.data(), s.size()); }

void AppendVersion(std::string* out, unsigned version) {
  out->append("HTTP/");
  out->push_back(static_cast<char>('0' + version / 10));
  out->push_back('.');
  out->push_back(static_cast<char>('0' + version % 10));
}

void AppendFields(std::string* out, const http::fields& fields) {
  for (const auto& field : fields) {
    Append(out, field.name_string());
    out->append(": ");
    Append(out, field.value());
    out->append("\r\n");
  }
  out->append("\r\n");
}

}  // namespace

void WriteHead(const http::request_header<>& head, std::string* out) {
  out->clear();
  Append(out, head.method_string());
  out->push_back(' ');
  Append(out, head.target());
  out->push_back(' ');
  AppendVersion(out, head.version());
  out->append("\r\n");
  AppendFields(out, head);
}

void WriteHead(const http::response_header<>& head, std::string* out) {
  out->clear();
  AppendVersion(out, head.version());
  unsigned status = head.result_int();
  char code[5] = {' ', static_cast<char>('0' + status / 100 % 10), static_cast<char>('0' + status / 10 % 10),
                  static_cast<char>('0' + status % 10), ' '};
  out->append(code, sizeof code);
  Append(out, head.reason());
  out->append("\r\n");
  AppendFields(out, head);
}

std::string_view ChunkSizeLine(std::size_t size, std::array<char, 20>* scratch) {
  static constexpr char kHex[] = "0123456789abcdef";
  char* end = scratch->data() + scratch->size();
  char* p = end;
  *--p = '\n';
  *--p = '\r';
  do {
    *--p = kHex[size & 0xf];
    size >>= 4;
  } while (size != 0);
  return {p, static_cast<std::size_t>(end - p)};
}

}  // namespace saring::proxy
