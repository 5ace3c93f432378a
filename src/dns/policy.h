// Policy: the parts of the server configuration a DNS worker consults per
// query (who may ask, how a block is answered, which zone a client is in),
// published like the rule snapshot so SIGHUP can change them under load.
// Internal to src/dns. Immutable once published.
#ifndef SARING_DNS_POLICY_H_
#define SARING_DNS_POLICY_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/wire.h"
#include "saring/server_config.h"
#include "saring/verdict.h"

namespace saring::dns {

struct Policy {
  std::vector<Subnet> allow_clients;
  std::vector<ClientZone> zones;
  BlockAnswer block;
  std::vector<BlockOverride> overrides;
  std::uint32_t block_ttl = 300;
  bool serve_stale = true;
  bool query_log = false;

  static Policy FromConfig(const ServerConfig& config);

  bool Allowed(const std::array<std::uint8_t, 16>& client) const;
  // Index into `zones`, or zones.size() for "no zone".
  std::size_t ZoneOf(const std::array<std::uint8_t, 16>& client) const;
  // The answer for a verdict: the first override matching its source and
  // category, else the default.
  const BlockAnswer& AnswerFor(const Verdict& verdict) const;
};

// True for use-application-dns.net and its subdomains: the canary browsers
// ask before they switch on their own DNS-over-HTTPS; NXDOMAIN keeps it off.
bool IsDohCanary(std::string_view name);

// Writes the answer to a blocked query into `out` (at most `limit` bytes):
// NXDOMAIN or NODATA with an SOA for the blocked zone, the sinkhole address,
// or a CNAME to the landing host, with an Extended DNS Error (15, Blocked)
// when the client sent EDNS: "blocked by SOURCE (CATEGORY), ref SRG-…", the
// reference code (saring/reference.h) of the verdict in snapshot `serial`.
// Returns its size.
std::size_t WriteBlockedAnswer(const Query& query, const Verdict& verdict, std::uint64_t serial,
                               const Policy& policy, std::span<std::uint8_t> out, std::size_t limit);

// NXDOMAIN for the DoH canary.
std::size_t WriteCanaryAnswer(const Query& query, const Policy& policy,
                              std::span<std::uint8_t> out, std::size_t limit);

}  // namespace saring::dns

#endif  // SARING_DNS_POLICY_H_
