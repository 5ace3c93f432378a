#include "proxy/head_writer.h"

namespace saring::proxy {

namespace head_writer_internal {

namespace {

void AppendVersion(unsigned version, std::string* out) {
  out->append("HTTP/");
  out->push_back(static_cast<char>('0' + version / 10));
  out->push_back('.');
  out->push_back(static_cast<char>('0' + version % 10));
}

}  // namespace

void AppendStartLine(std::string_view method, std::string_view target, unsigned version, std::string* out) {
  out->append(method);
  out->push_back(' ');
  out->append(target);
  out->push_back(' ');
  AppendVersion(version, out);
  out->append("\r\n");
}

void AppendStatusLine(unsigned version, unsigned status, std::string_view reason, std::string* out) {
  AppendVersion(version, out);
  char code[5] = {' ', static_cast<char>('0' + status / 100 % 10), static_cast<char>('0' + status / 10 % 10),
                  static_cast<char>('0' + status % 10), ' '};
  out->append(code, sizeof code);
  out->append(reason);
  out->append("\r\n");
}

void AppendField(std::string_view name, std::string_view value, std::string* out) {
  out->append(name);
  out->append(": ");
  out->append(value);
  out->append("\r\n");
}

}  // namespace head_writer_internal

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
