#include "store/codec.h"

#include <cstring>

namespace saring::store {
namespace {

constexpr char kValueVersion = 1;

void PutVarString(std::string* out, std::string_view s) {
  std::size_t n = s.size();
  do {
    char byte = static_cast<char>(n & 0x7f);
    n >>= 7;
    if (n) byte |= static_cast<char>(0x80);
    out->push_back(byte);
  } while (n);
  out->append(s);
}

bool GetVarString(std::string_view* in, std::string_view* s) {
  std::size_t n = 0;
  for (int shift = 0;; shift += 7) {
    if (in->empty() || shift > 28) return false;
    auto byte = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    n |= std::size_t{byte & 0x7fu} << shift;
    if (!(byte & 0x80)) break;
  }
  if (in->size() < n) return false;
  *s = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

void PutLittleEndian64(std::string* out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

std::uint64_t GetLittleEndian64(std::string_view in) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

}  // namespace

void PutBigEndian64(std::string* out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

void PutBigEndian32(std::string* out, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

std::uint64_t GetBigEndian64(std::string_view in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

std::uint32_t GetBigEndian32(std::string_view in) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

char KindLetter(RuleKind kind) {
  switch (kind) {
    case RuleKind::kDomain: return 'd';
    case RuleKind::kPattern: return 'p';
    case RuleKind::kUrl: return 'u';
  }
  return '?';
}

bool KindFromLetter(char letter, RuleKind* kind) {
  switch (letter) {
    case 'd': *kind = RuleKind::kDomain; return true;
    case 'p': *kind = RuleKind::kPattern; return true;
    case 'u': *kind = RuleKind::kUrl; return true;
    default: return false;
  }
}

std::string SourcePrefix(std::string_view source) {
  std::string key(source);
  key.push_back('\0');
  return key;
}

std::string RuleKeyBytes(std::string_view source, RuleKind kind, std::string_view value) {
  std::string key = SourcePrefix(source);
  key.push_back(KindLetter(kind));
  key.append(value);
  return key;
}

bool ParseRuleKey(std::string_view key, std::string_view* source, RuleKind* kind,
                  std::string_view* value) {
  std::size_t nul = key.find('\0');
  if (nul == std::string_view::npos || nul + 1 >= key.size()) return false;
  if (!KindFromLetter(key[nul + 1], kind)) return false;
  *source = key.substr(0, nul);
  *value = key.substr(nul + 2);
  return !value->empty();
}

std::string EncodeRuleValue(const RuleValue& v) {
  std::string out;
  out.reserve(24 + v.added_by.size() + v.note.size());
  out.push_back(kValueVersion);
  out.push_back(static_cast<char>(v.class_id >> 8));
  out.push_back(static_cast<char>(v.class_id & 0xff));
  PutLittleEndian64(&out, static_cast<std::uint64_t>(v.added_at));
  PutLittleEndian64(&out, static_cast<std::uint64_t>(v.expires_at));
  PutVarString(&out, v.added_by);
  PutVarString(&out, v.note);
  return out;
}

bool DecodeRuleValue(std::string_view in, RuleValue* v) {
  if (in.size() < 19 || in[0] != kValueVersion) return false;
  v->class_id = static_cast<ClassId>((static_cast<unsigned char>(in[1]) << 8) |
                                     static_cast<unsigned char>(in[2]));
  v->added_at = static_cast<std::int64_t>(GetLittleEndian64(in.substr(3)));
  v->expires_at = static_cast<std::int64_t>(GetLittleEndian64(in.substr(11)));
  in.remove_prefix(19);
  return GetVarString(&in, &v->added_by) && GetVarString(&in, &v->note) && in.empty();
}

std::string ClassKey(ClassId id) {
  std::string key(kClassPrefix);
  key.push_back(static_cast<char>(id >> 8));
  key.push_back(static_cast<char>(id & 0xff));
  return key;
}

std::string EncodeClass(const RuleClass& cls) {
  std::string out = cls.source;
  out.push_back('\0');
  out += cls.category;
  out.push_back('\0');
  out += ToString(cls.action);
  return out;
}

bool DecodeClass(std::string_view bytes, RuleClass* cls) {
  std::size_t a = bytes.find('\0');
  if (a == std::string_view::npos) return false;
  std::size_t b = bytes.find('\0', a + 1);
  if (b == std::string_view::npos) return false;
  cls->source = bytes.substr(0, a);
  cls->category = bytes.substr(a + 1, b - a - 1);
  return ParseAction(bytes.substr(b + 1), &cls->action);
}

std::string ExpiryKey(std::int64_t expires_at, std::string_view rule_key) {
  std::string key(kExpiryPrefix);
  PutBigEndian64(&key, static_cast<std::uint64_t>(expires_at));
  key.append(rule_key);
  return key;
}

std::string AuditKey(std::uint64_t serial, std::uint32_t seq) {
  std::string key;
  PutBigEndian64(&key, serial);
  PutBigEndian32(&key, seq);
  return key;
}

std::string RecordKey(RecordTable table, std::string_view key) {
  static constexpr char kLetters[] = {'f', 'r', 't', 'p'};
  std::string out(1, kLetters[static_cast<std::size_t>(table)]);
  out += key;
  return out;
}

}  // namespace saring::store
