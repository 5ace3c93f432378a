#include "engine/index_builder.h"

#include <algorithm>

namespace saring::engine {

bool PreferClass(const std::vector<RuleClass>& classes, ClassId incoming, ClassId existing) {
  auto allow = [&](ClassId id) { return id < classes.size() && classes[id].action == Action::kAllow; };
  return allow(incoming) && !allow(existing);
}

Status BuildDomainIndex(const Store& store, std::int64_t now,
                        std::unique_ptr<match::DomainIndex>* out, std::uint64_t* serial) {
  std::vector<SourceInfo> sources;
  SARING_RETURN_IF_ERROR(store.ListSources(&sources));
  std::size_t expected = 0;
  for (const SourceInfo& s : sources) expected += s.domains;
  std::vector<RuleClass> classes = store.Classes();

  // Source counts can lag a crash-free but concurrent change by a little; a
  // table that fills up is simply built again, larger.
  for (int attempt = 0;; ++attempt) {
    match::DomainIndex::Builder builder(
        expected + expected / 8 + 64, 0.7,
        [&classes](ClassId in, ClassId ex) { return PreferClass(classes, in, ex); });
    bool full = false;
    Status st = store.ScanRules(
        RuleKind::kDomain,
        [&](const StoredRuleView& r) {
          if (full || (r.expires_at != 0 && r.expires_at <= now)) return;
          if (!builder.Add(match::HashDomain(r.value), r.class_id)) full = true;
        },
        serial);
    SARING_RETURN_IF_ERROR(st);
    if (!full) {
      *out = builder.Finish();
      return Status::OK();
    }
    if (attempt == 3) return Status::Internal("domain index kept filling up while building");
    expected = expected * 2 + 1024;
  }
}

Status LoadRegexRules(const Store& store, RuleKind kind, std::int64_t now, RegexRules* out) {
  out->clear();
  std::uint64_t serial;
  return store.ScanRules(
      kind,
      [&](const StoredRuleView& r) {
        if (r.expires_at != 0 && r.expires_at <= now) return;
        std::string key(r.source);
        key.push_back('\0');
        key.append(r.value);
        (*out)[std::move(key)] = r.class_id;
      },
      &serial);
}

Status CompileRegexRules(Store* store, RuleKind kind, const RegexRules& rules,
                         std::shared_ptr<const match::PatternSet>* set,
                         std::shared_ptr<const std::vector<CompiledRegexRule>>* compiled,
                         std::vector<std::string>* skipped) {
  auto list = std::make_shared<std::vector<CompiledRegexRule>>();
  std::vector<match::PatternSet::Pattern> patterns;
  auto collect = [&](bool validate) {
    list->clear();
    patterns.clear();
    for (const auto& [key, class_id] : rules) {
      std::string value = key.substr(key.find('\0') + 1);
      if (validate && !match::PatternSet::Validate(value).ok()) {
        skipped->push_back(value);
        continue;
      }
      patterns.push_back({value, static_cast<std::uint32_t>(list->size())});
      list->push_back({std::move(value), class_id});
    }
  };
  collect(false);
  *compiled = list;
  set->reset();
  if (patterns.empty()) return Status::OK();

  std::string cache_key = std::string(ToString(kind)) + "/" + match::PatternSet::CacheKey(patterns);
  std::string bytes;
  std::unique_ptr<match::PatternSet> result;
  if (store->GetCached(cache_key, &bytes).ok() &&
      match::PatternSet::Deserialize(bytes, &result).ok()) {
    *set = std::move(result);
    return Status::OK();
  }
  if (!match::PatternSet::Compile(patterns, &result).ok()) {
    // Only a stored rule this Hyperscan build refuses gets here: find it
    // (one compile per rule) and compile the rest.
    collect(true);
    if (patterns.empty()) return Status::OK();
    cache_key = std::string(ToString(kind)) + "/" + match::PatternSet::CacheKey(patterns);
    SARING_RETURN_IF_ERROR(match::PatternSet::Compile(patterns, &result));
  }
  if (result->Serialize(&bytes).ok()) store->PutCached(cache_key, bytes).ok();  // best effort
  *set = std::move(result);
  return Status::OK();
}

}  // namespace saring::engine
