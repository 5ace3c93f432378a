// HOT PATH (Allowed, ZoneOf, AnswerFor, Write*): no allocation, no locks.
#include "dns/policy.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "saring/name.h"
#include "saring/reference.h"

namespace saring::dns {
namespace {

constexpr std::string_view kCanary = "use-application-dns.net";

// The zone whose SOA goes with a negative answer: the blocking domain rule's
// name, so resolvers cache the block for every name under it; otherwise the
// name itself.
std::string_view NegativeZone(const Query& query, const Verdict& verdict) {
  if (verdict.kind == RuleKind::kDomain && IsSameOrSubdomain(query.name.view(), verdict.rule)) {
    return verdict.rule;
  }
  return query.name.view();  // a pattern, or a rule on a CNAME target elsewhere
}

}  // namespace

Policy Policy::FromConfig(const ServerConfig& c) {
  Policy p;
  p.allow_clients = c.allow_clients;
  p.zones = c.zones;
  p.block = c.block;
  p.overrides = c.overrides;
  p.block_ttl = c.block_ttl;
  p.serve_stale = c.serve_stale;
  p.query_log = c.query_log;
  return p;
}

bool Policy::Allowed(const std::array<std::uint8_t, 16>& client) const {
  for (const Subnet& s : allow_clients) {
    if (s.Contains(client)) return true;
  }
  return false;
}

std::size_t Policy::ZoneOf(const std::array<std::uint8_t, 16>& client) const {
  for (std::size_t i = 0; i < zones.size(); ++i) {
    for (const Subnet& s : zones[i].subnets) {
      if (s.Contains(client)) return i;
    }
  }
  return zones.size();
}

const BlockAnswer& Policy::AnswerFor(const Verdict& verdict) const {
  for (const BlockOverride& o : overrides) {
    if ((o.source.empty() || o.source == verdict.source) &&
        (o.category.empty() || o.category == verdict.category)) {
      return o.answer;
    }
  }
  return block;
}

bool IsDohCanary(std::string_view name) { return IsSameOrSubdomain(name, kCanary); }

std::size_t WriteBlockedAnswer(const Query& query, const Verdict& verdict, std::uint64_t serial,
                               const Policy& policy, std::span<std::uint8_t> out, std::size_t limit) {
  const BlockAnswer& answer = policy.AnswerFor(verdict);
  AnswerWriter w(out, limit, query);
  w.SetAuthoritative(true);
  bool negative = true;
  bool is_in = query.qclass == kClassIn;
  switch (answer.mode) {
    case BlockMode::kNxDomain:
      w.SetRcode(Rcode::kNxDomain);
      break;
    case BlockMode::kNoData:
      break;
    case BlockMode::kSinkhole:
      if (is_in && query.qtype == static_cast<std::uint16_t>(QType::kA)) {
        w.AddA(policy.block_ttl, answer.sinkhole_v4);
        negative = false;
      } else if (is_in && query.qtype == static_cast<std::uint16_t>(QType::kAaaa)) {
        w.AddAaaa(policy.block_ttl, answer.sinkhole_v6);
        negative = false;
      }
      break;
    case BlockMode::kCname:
      w.AddCname(policy.block_ttl, answer.cname_target);
      negative = false;
      break;
  }
  if (negative) w.AddSoa(NegativeZone(query, verdict), policy.block_ttl, policy.block_ttl);
  // The reference goes first into the buffer's budget: the names are cut
  // before it is (EDE text is at most 127 bytes here).
  std::array<char, kMaxReferenceLength> reference;
  std::size_t ref_size = EncodeReference(serial, verdict.class_id, verdict.kind, &reference);
  int name_room = static_cast<int>(127 - ref_size - sizeof("blocked by  (), ref ") + 1);
  int source_size = std::min(static_cast<int>(verdict.source.size()), name_room / 2);
  int category_size = std::min(static_cast<int>(verdict.category.size()), name_room - source_size);
  char text[128];
  int n = std::snprintf(text, sizeof text, "blocked by %.*s (%.*s), ref %.*s", source_size, verdict.source.data(),
                        category_size, verdict.category.data(), static_cast<int>(ref_size), reference.data());
  w.AddEde(kEdeBlocked, std::string_view(text, n > 0 ? std::min<std::size_t>(n, sizeof text - 1) : 0));
  return w.Finish();
}

std::size_t WriteCanaryAnswer(const Query& query, const Policy& policy,
                              std::span<std::uint8_t> out, std::size_t limit) {
  AnswerWriter w(out, limit, query);
  w.SetAuthoritative(true);
  w.SetRcode(Rcode::kNxDomain);
  w.AddSoa(kCanary, policy.block_ttl, policy.block_ttl);
  return w.Finish();
}

}  // namespace saring::dns
