// ASCII helpers for protocol text (DNS names, keywords, URL schemes, HTTP
// tokens): they compare bytes, never by locale.
#ifndef SARING_CORE_ASCII_H_
#define SARING_CORE_ASCII_H_

#include <string_view>

namespace saring {

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

}  // namespace saring

#endif  // SARING_CORE_ASCII_H_
