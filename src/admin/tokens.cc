#include "admin/tokens.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <ctime>
#include <nlohmann/json.hpp>

namespace saring::admin {
namespace {

using nlohmann::json;

std::string Hex(const unsigned char* bytes, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
  return out;
}

std::string HashOf(std::string_view token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(token.data(), token.size(), digest, &len, EVP_sha256(), nullptr);
  return Hex(digest, len);
}

bool FromStored(std::string_view hash, std::string_view text, TokenInfo* info) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j["role"].is_string() || !ParseRole(j["role"].get<std::string>(), &info->role)) {
    return false;
  }
  info->id = std::string(hash.substr(0, 12));
  info->name = j.value("name", "");
  info->created_at = j.value("created_at", std::int64_t{0});
  info->created_by = j.value("created_by", "");
  return true;
}

}  // namespace

std::string_view ToString(Role role) {
  switch (role) {
    case Role::kViewer: return "viewer";
    case Role::kEditor: return "editor";
    case Role::kAdmin: break;
  }
  return "admin";
}

bool ParseRole(std::string_view text, Role* role) {
  if (text == "viewer") return *role = Role::kViewer, true;
  if (text == "editor") return *role = Role::kEditor, true;
  if (text == "admin") return *role = Role::kAdmin, true;
  return false;
}

Status CreateToken(Store& store, Role role, std::string_view name, const ChangeContext& ctx,
                   std::string* token, TokenInfo* info) {
  if (name.empty() || name.size() > 64 || name.find_first_of("\r\n\t") != std::string_view::npos) {
    return Status::InvalidArgument("a token needs a name of 1..64 characters (who or what uses it)");
  }
  unsigned char secret[20];
  if (RAND_bytes(secret, sizeof secret) != 1) return Status::Internal("no randomness for a token");
  *token = "srg_" + Hex(secret, sizeof secret);
  std::string hash = HashOf(*token);
  info->id = hash.substr(0, 12);
  info->name = name;
  info->role = role;
  info->created_at = ctx.now ? ctx.now : static_cast<std::int64_t>(std::time(nullptr));
  info->created_by = ctx.by;
  json record = {{"name", info->name}, {"role", ToString(role)}, {"created_at", info->created_at},
                 {"created_by", info->created_by}};
  RecordWrite w{RecordTable::kTokens, hash, record.dump()};
  json audit = {{"id", info->id}, {"name", info->name}, {"role", ToString(role)}};
  return store.WriteRecords({&w, 1}, "token.create", audit.dump(), ctx);
}

Status VerifyToken(const Store& store, std::string_view token, TokenInfo* info) {
  if (!token.starts_with("srg_") || token.size() != 44) return Status::NotFound("not a saring token");
  std::string hash = HashOf(token);
  std::string text;
  SARING_RETURN_IF_ERROR(store.GetRecord(RecordTable::kTokens, hash, &text));
  if (!FromStored(hash, text, info)) return Status::Corruption("token record is unreadable");
  return Status::OK();
}

Status ListTokens(const Store& store, std::vector<TokenInfo>* tokens) {
  tokens->clear();
  std::vector<std::pair<std::string, std::string>> stored;
  SARING_RETURN_IF_ERROR(store.ListRecords(RecordTable::kTokens, "", "", 100000, &stored));
  for (const auto& [hash, text] : stored) {
    TokenInfo info;
    if (!FromStored(hash, text, &info)) return Status::Corruption("token record is unreadable");
    tokens->push_back(std::move(info));
  }
  return Status::OK();
}

Status RevokeToken(Store& store, std::string_view id, const ChangeContext& ctx) {
  if (id.size() < 8) return Status::InvalidArgument("give at least 8 hex digits of the token id");
  std::vector<std::pair<std::string, std::string>> stored;
  SARING_RETURN_IF_ERROR(store.ListRecords(RecordTable::kTokens, id, "", 2, &stored));
  if (stored.empty()) return Status::NotFound("no token '" + std::string(id) + "'");
  if (stored.size() > 1) return Status::InvalidArgument("token id '" + std::string(id) + "' is ambiguous");
  TokenInfo info;
  FromStored(stored[0].first, stored[0].second, &info);
  RecordWrite w{RecordTable::kTokens, stored[0].first, "", true};
  json audit = {{"id", info.id}, {"name", info.name}, {"role", ToString(info.role)}};
  return store.WriteRecords({&w, 1}, "token.revoke", audit.dump(), ctx);
}

}  // namespace saring::admin
