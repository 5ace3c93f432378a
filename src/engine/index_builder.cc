#include "engine/index_builder.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace saring::engine {

bool PreferClass(const std::vector<RuleClass>& classes, ClassId incoming, ClassId existing) {
  auto allow = [&](ClassId id) { return id < classes.size() && classes[id].action == Action::kAllow; };
  return allow(incoming) && !allow(existing);
}

namespace {

// One spilled record: the name's 64-bit hash and its class, packed.
constexpr std::size_t kRecordBytes = sizeof(std::uint64_t) + sizeof(ClassId);

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

Status IoError(const std::string& what, const std::string& path) {
  return Status::IOError(what + " '" + path + "': " + std::strerror(errno));
}

}  // namespace

DomainSpill::~DomainSpill() {
  if (!path_.empty()) std::remove(path_.c_str());
}

Status DomainSpill::Write(const Store& store, std::int64_t now, const std::string& path) {
  path_ = path;
  File f(std::fopen(path.c_str(), "wb"));
  if (!f) return IoError("cannot create", path);
  std::setvbuf(f.get(), nullptr, _IOFBF, 1u << 20);
  bool write_failed = false;
  Status st = store.ScanRules(
      RuleKind::kDomain,
      [&](const StoredRuleView& r) {
        if (write_failed || (r.expires_at != 0 && r.expires_at <= now)) return;
        std::uint64_t hash = match::HashDomain(r.value);
        char record[kRecordBytes];
        std::memcpy(record, &hash, sizeof hash);
        std::memcpy(record + sizeof hash, &r.class_id, sizeof r.class_id);
        write_failed = std::fwrite(record, kRecordBytes, 1, f.get()) != 1;
        ++counts_[match::ShardOf(hash)];
      },
      &serial_);
  SARING_RETURN_IF_ERROR(st);
  if (write_failed || std::fflush(f.get()) != 0) return IoError("cannot write", path);
  return Status::OK();
}

Status DomainSpill::BuildShard(int k, const std::vector<RuleClass>& classes,
                               std::unique_ptr<match::DomainIndex>* out) const {
  File f(std::fopen(path_.c_str(), "rb"));
  if (!f) return IoError("cannot read", path_);
  match::DomainIndex::Builder builder(
      counts_[k], 0.7, [&classes](ClassId in, ClassId ex) { return PreferClass(classes, in, ex); });
  std::vector<char> buffer(kRecordBytes * 65536);
  std::size_t n;
  while ((n = std::fread(buffer.data(), kRecordBytes, buffer.size() / kRecordBytes, f.get())) > 0) {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t hash;
      ClassId cls;
      std::memcpy(&hash, &buffer[i * kRecordBytes], sizeof hash);
      std::memcpy(&cls, &buffer[i * kRecordBytes + sizeof hash], sizeof cls);
      if (match::ShardOf(hash) != k) continue;
      if (!builder.Add(match::InShardHash(hash), cls)) {
        return Status::Internal("domain index shard overflowed its counted size");
      }
    }
  }
  if (std::ferror(f.get())) return IoError("cannot read", path_);
  *out = builder.Finish();
  return Status::OK();
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
  // A cache: failing to fill it costs the next start a compile, nothing more.
  // Only the current set is kept; older sets would pile up with every edit.
  if (result->Serialize(&bytes).ok() && store->PutCached(cache_key, bytes).ok()) {
    store->PruneCached(std::string(ToString(kind)) + "/", cache_key).ok();
  }
  *set = std::move(result);
  return Status::OK();
}

}  // namespace saring::engine
