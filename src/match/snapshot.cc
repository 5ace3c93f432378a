// HOT PATH: Snapshot::Check* run for every DNS query and proxied request.
// No locks, no heap allocation: suffix hashes live on the stack, pattern scans
// use the thread's own Hyperscan scratch.
#include "saring/snapshot.h"

#include <algorithm>

#include "match/snapshot_parts.h"

namespace saring {
namespace {

using match::DomainIndex;

// Names checked together in CheckNames; enough to overlap the memory fetches
// of one batch's buckets without spilling the stack.
constexpr std::size_t kBatch = 16;

DomainIndex::ClassId Lookup(const Snapshot::Parts& p, std::uint64_t hash) {
  if (p.delta) {
    DomainIndex::ClassId c = p.delta->Find(hash);
    if (c != DomainIndex::kNotFound) return c == DomainIndex::kTombstone ? DomainIndex::kNotFound : c;
  }
  return p.base.Find(hash);
}

bool IsAllow(const Snapshot::Parts& p, ClassId id) {
  return id < p.classes->size() && (*p.classes)[id].action == Action::kAllow;
}

void Fill(const Snapshot::Parts& p, ClassId id, RuleKind kind, std::string_view rule, Verdict* v) {
  v->decision = IsAllow(p, id) ? Decision::kAllow : Decision::kBlock;
  v->kind = kind;
  v->rule = rule;
  v->class_id = id;
  if (id < p.classes->size()) {
    v->source = (*p.classes)[id].source;
    v->category = (*p.classes)[id].category;
  }
}

// Scans a regex rule set; remembers the first allow (and stops) or the first block.
struct RegexHits {
  const Snapshot::Parts* parts;
  const std::vector<CompiledRegexRule>* rules;
  int allow = -1;
  int block = -1;

  static bool OnMatch(std::uint32_t id, void* ctx) {
    auto* self = static_cast<RegexHits*>(ctx);
    if (IsAllow(*self->parts, (*self->rules)[id].class_id)) {
      self->allow = static_cast<int>(id);
      return true;
    }
    if (self->block < 0) self->block = static_cast<int>(id);
    return false;
  }
};

RegexHits ScanRegexes(const Snapshot::Parts& p, const match::PatternSet* set,
                      const std::vector<CompiledRegexRule>* rules, std::string_view text) {
  RegexHits hits{&p, rules};
  if (set) set->Scan(text, &RegexHits::OnMatch, &hits).ok();
  return hits;
}

// Resolves one name whose suffix hashes are known: domain rules (an allow on
// any suffix wins; otherwise the most specific block), then host patterns.
Verdict Resolve(const Snapshot::Parts& p, std::string_view name, const match::NameSuffixes& s) {
  Verdict v;
  int block_at = -1;
  ClassId block_class = 0;
  for (int i = 0; i < s.count; ++i) {
    DomainIndex::ClassId c = Lookup(p, s.hash[i]);
    if (c == DomainIndex::kNotFound) continue;
    if (IsAllow(p, c)) {
      Fill(p, c, RuleKind::kDomain, name.substr(s.start[i]), &v);
      return v;
    }
    block_at = i;
    block_class = c;
  }
  RegexHits hits = ScanRegexes(p, p.host_patterns.get(), p.host_rules.get(), name);
  if (hits.allow >= 0) {
    const CompiledRegexRule& r = (*p.host_rules)[hits.allow];
    Fill(p, r.class_id, RuleKind::kPattern, r.value, &v);
  } else if (block_at >= 0) {
    Fill(p, block_class, RuleKind::kDomain, name.substr(s.start[block_at]), &v);
  } else if (hits.block >= 0) {
    const CompiledRegexRule& r = (*p.host_rules)[hits.block];
    Fill(p, r.class_id, RuleKind::kPattern, r.value, &v);
  }
  return v;
}

}  // namespace

Snapshot::Snapshot(std::shared_ptr<const Parts> parts) : parts_(std::move(parts)) {}
Snapshot::~Snapshot() = default;

std::uint64_t Snapshot::serial() const { return parts_->serial; }

Verdict Snapshot::CheckName(std::string_view name) const {
  match::NameSuffixes s;
  match::HashSuffixes(name, &s);
  return Resolve(*parts_, name, s);
}

void Snapshot::CheckNames(std::span<const std::string_view> names, std::span<Verdict> out) const {
  match::NameSuffixes s[kBatch];
  for (std::size_t begin = 0; begin < names.size(); begin += kBatch) {
    std::size_t n = std::min(kBatch, names.size() - begin);
    for (std::size_t i = 0; i < n; ++i) {
      match::HashSuffixes(names[begin + i], &s[i]);
      for (int j = 0; j < s[i].count; ++j) parts_->base.Prefetch(s[i].hash[j]);
    }
    for (std::size_t i = 0; i < n; ++i) out[begin + i] = Resolve(*parts_, names[begin + i], s[i]);
  }
}

Verdict Snapshot::CheckUrl(std::string_view host, std::string_view url) const {
  Verdict host_verdict = CheckName(host);
  if (host_verdict.decision == Decision::kAllow) return host_verdict;
  const Parts& p = *parts_;
  RegexHits hits = ScanRegexes(p, p.url_patterns.get(), p.url_rules.get(), url);
  Verdict v;
  if (hits.allow >= 0) {
    const CompiledRegexRule& r = (*p.url_rules)[hits.allow];
    Fill(p, r.class_id, RuleKind::kUrl, r.value, &v);
    return v;
  }
  if (host_verdict.blocked()) return host_verdict;
  if (hits.block >= 0) {
    const CompiledRegexRule& r = (*p.url_rules)[hits.block];
    Fill(p, r.class_id, RuleKind::kUrl, r.value, &v);
  }
  return v;
}

Snapshot::Stats Snapshot::stats() const {
  const Parts& p = *parts_;
  Stats st;
  st.serial = p.serial;
  st.base_serial = p.base_serial;
  st.base_domains = p.base.size();
  st.delta_domains = p.delta ? p.delta->size() : 0;
  st.patterns = p.host_rules ? p.host_rules->size() : 0;
  st.urls = p.url_rules ? p.url_rules->size() : 0;
  st.index_bytes = p.base.memory_bytes() + (p.delta ? p.delta->memory_bytes() : 0);
  st.pattern_bytes = (p.host_patterns ? p.host_patterns->database_bytes() : 0) +
                     (p.url_patterns ? p.url_patterns->database_bytes() : 0);
  return st;
}

}  // namespace saring
