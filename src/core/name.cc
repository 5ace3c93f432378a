#include "saring/name.h"

#include <arpa/inet.h>
#include <idn2.h>

#include <cstdlib>
#include <memory>

namespace saring {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsLdhOrUnderscore(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

std::string DescribeChar(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("character '") + c + "'";
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 15];
}

// Checks label structure of an already lower-cased ASCII name.
Status CheckLabels(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("empty name");
  if (name.size() > kMaxNameLength) {
    return Status::InvalidArgument("name longer than 253 octets");
  }
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i < name.size() && name[i] != '.') {
      if (!IsLdhOrUnderscore(name[i])) {
        return Status::InvalidArgument(DescribeChar(name[i]) + " not allowed in a host name");
      }
      continue;
    }
    std::size_t len = i - label_start;
    if (len == 0) return Status::InvalidArgument("empty label");
    if (len > kMaxLabelLength) return Status::InvalidArgument("label longer than 63 octets");
    if (name[label_start] == '-' || name[i - 1] == '-') {
      return Status::InvalidArgument("label starts or ends with '-'");
    }
    label_start = i + 1;
  }
  return Status::OK();
}

}  // namespace

Status NormalizeDomain(std::string_view input, std::string* out) {
  out->clear();
  std::string_view name = Trim(input);
  if (name.empty()) return Status::InvalidArgument("empty name");
  if (name.size() > 4 * (kMaxNameLength + 1)) return Status::InvalidArgument("name too long");
  if (name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return Status::InvalidArgument("root name is not a domain");

  bool ascii = true;
  for (char c : name) ascii &= static_cast<unsigned char>(c) < 0x80;

  if (ascii) {
    out->reserve(name.size());
    for (char c : name) out->push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
  } else {
    // IDN: UTS#46 non-transitional processing, as browsers do.
    std::string input_z(name);
    char* ace = nullptr;
    int rc = idn2_lookup_u8(reinterpret_cast<const uint8_t*>(input_z.c_str()),
                            reinterpret_cast<uint8_t**>(&ace),
                            IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK) {
      return Status::InvalidArgument(std::string("invalid international name: ") +
                                     idn2_strerror(rc));
    }
    std::unique_ptr<char, decltype(&idn2_free)> holder(ace, idn2_free);
    *out = ace;
    if (!out->empty() && out->back() == '.') out->pop_back();
  }
  Status st = CheckLabels(*out);
  if (!st.ok()) out->clear();
  return st;
}

bool IsNormalizedDomain(std::string_view name) {
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') return false;
  }
  return CheckLabels(name).ok();
}

bool LooksLikeIpAddress(std::string_view text) {
  text = Trim(text);
  if (text.empty() || text.size() > 64) return false;
  if (text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  char buf[65];
  text.copy(buf, text.size());
  buf[text.size()] = '\0';
  unsigned char addr[16];
  return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

bool IsSameOrSubdomain(std::string_view name, std::string_view parent) {
  if (name.size() == parent.size()) return name == parent;
  if (name.size() < parent.size() + 1) return false;
  return name.ends_with(parent) && name[name.size() - parent.size() - 1] == '.';
}

}  // namespace saring
