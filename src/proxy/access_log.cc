#include "proxy/access_log.h"

#include <fmt/format.h>

#include <iterator>
#include <string_view>

namespace saring::proxy {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool NeedsEscape(unsigned char c, bool user) {
  if (c <= 0x20 || c >= 0x7F) return true;
  if (!user) return false;
  return c == '%' || std::string_view("<>\"#{}|\\^~[]`'").find(static_cast<char>(c)) != std::string_view::npos;
}

void AppendField(std::string* out, std::string_view value, std::string_view empty, bool user = false) {
  if (value.empty()) {
    out->append(empty);
    return;
  }
  std::size_t start = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    if (!NeedsEscape(c, user)) continue;
    out->append(value.substr(start, i - start));
    const char esc[3] = {'%', kHex[c >> 4], kHex[c & 15]};
    out->append(esc, 3);
    start = i + 1;
  }
  out->append(value.substr(start));
}

}  // namespace

void AppendSquidLine(const AccessEntry& e, std::string* out) {
  std::int64_t t = e.time_ms < 0 ? 0 : e.time_ms;
  std::int64_t elapsed = e.elapsed_ms < 0 ? 0 : e.elapsed_ms;
  auto it = std::back_inserter(*out);
  fmt::format_to(it, "{:9}.{:03} {:6} ", t / 1000, t % 1000, elapsed);
  AppendField(out, e.client, "-");
  out->push_back(' ');
  AppendField(out, e.code, "NONE");
  int status = e.status < 0 ? 0 : e.status;
  fmt::format_to(it, "/{:03} {} ", status, e.bytes);
  AppendField(out, e.method, "-");
  out->push_back(' ');
  AppendField(out, e.url, "-");
  out->push_back(' ');
  AppendField(out, e.user, "-", /*user=*/true);
  out->push_back(' ');
  AppendField(out, e.hierarchy, "HIER_NONE");
  out->push_back('/');
  AppendField(out, e.peer, "-");
  out->push_back(' ');
  AppendField(out, e.type, "-");
  out->push_back('\n');
}

}  // namespace saring::proxy
