// API tokens: bearer secrets for the admin API, each with a role. Only a
// SHA-256 of a token is stored (table kTokens, keyed by the hash), so the
// store never holds a usable secret; the token itself is shown once, when it
// is created.
#ifndef SARING_ADMIN_TOKENS_H_
#define SARING_ADMIN_TOKENS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "saring/status.h"
#include "saring/store.h"

namespace saring::admin {

// What a token may do; each role includes the ones below it.
enum class Role : std::uint8_t {
  kViewer = 0,  // read: rules, check, feeds, audit, stats
  kEditor = 1,  // + rule changes, bulk pushes, feed syncs, reports
  kAdmin = 2,   // + feed definitions, tokens
};
std::string_view ToString(Role role);
bool ParseRole(std::string_view text, Role* role);

struct TokenInfo {
  std::string id;  // the first 12 hex digits of the hash: names a token in lists and logs
  std::string name;
  Role role = Role::kViewer;
  std::int64_t created_at = 0;
  std::string created_by;
};

// Makes a token ("srg_" + 40 hex digits) and stores its hash.
Status CreateToken(Store& store, Role role, std::string_view name, const ChangeContext& ctx,
                   std::string* token, TokenInfo* info);
// NotFound for an unknown (or revoked) token.
Status VerifyToken(const Store& store, std::string_view token, TokenInfo* info);
Status ListTokens(const Store& store, std::vector<TokenInfo>* tokens);
Status RevokeToken(Store& store, std::string_view id, const ChangeContext& ctx);

}  // namespace saring::admin

#endif  // SARING_ADMIN_TOKENS_H_
