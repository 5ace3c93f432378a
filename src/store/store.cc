#include "saring/store.h"

#include <rocksdb/options.h>
#include <rocksdb/table.h>

#include <filesystem>

#include "store/store_rep.h"

namespace saring {

using namespace store;
namespace fs = std::filesystem;

Store::Store(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Store::~Store() = default;

Status Store::Open(const std::string& dir, const StoreOptions& options,
                   std::unique_ptr<Store>* out) {
  auto rep = std::make_unique<Rep>();
  rep->dir = dir;
  std::error_code ec;
  bool exists = fs::exists(fs::path(dir) / "CURRENT", ec);
  if (!exists && !options.create_if_missing) {
    return Status::NotFound("no store in '" + dir + "' (create one with: saringctl --db " + dir +
                            " init)");
  }
  if (!exists && fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    // Never scatter a store among someone else's files (and never clean them up).
    return Status::FailedPrecondition("'" + dir + "' is not empty and holds no store");
  }
  if (!exists) {
    fs::create_directories(dir, ec);
    if (ec) return Status::IOError("cannot create '" + dir + "': " + ec.message());
  }
  rep->created = !exists;
  // Leftovers of an import that crashed before ingesting.
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().starts_with("ingest-")) fs::remove(entry.path(), ec);
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 3;
  db_options.max_open_files = 256;
  // Flushes and compactions are maintenance: serving threads come first.
  db_options.env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW);
  db_options.env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::HIGH);

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.block_size = 16 * 1024;
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.compression = rocksdb::kLZ4Compression;
  cf_options.write_buffer_size = 16u << 20;

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (const char* name : kCfNames) cfs.emplace_back(name, cf_options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, cfs, &handles, &raw);
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return Status::Unavailable("store '" + dir + "' is in use by another process: " +
                                 s.ToString());
    }
    return FromRocks(s, "opening store '" + dir + "'");
  }
  rep->db.reset(raw);
  raw->DestroyColumnFamilyHandle(handles[0]);  // the default family is unused
  rep->cf.assign(handles.begin() + 1, handles.end());

  std::string bytes;
  s = raw->Get(rocksdb::ReadOptions(), rep->h(kMeta), ToSlice(store::kSchemaKey), &bytes);
  if (s.IsNotFound()) {
    SARING_RETURN_IF_ERROR(FromRocks(
        raw->Put(rocksdb::WriteOptions(), rep->h(kMeta), ToSlice(store::kSchemaKey),
                 ToSlice(store::kSchemaVersion)),
        "initializing store"));
  } else if (!s.ok()) {
    return FromRocks(s, "reading schema");
  } else if (bytes != store::kSchemaVersion) {
    return Status::FailedPrecondition("store schema " + bytes + " is not supported");
  }
  s = raw->Get(rocksdb::ReadOptions(), rep->h(kMeta), ToSlice(store::kSerialKey), &bytes);
  if (s.ok()) {
    if (bytes.size() != 8) return Status::Corruption("bad serial record");
    rep->serial = store::GetBigEndian64(bytes);
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading serial");
  }
  rep->rules_serial = rep->serial.load();  // stores written before rules_serial existed
  s = raw->Get(rocksdb::ReadOptions(), rep->h(kMeta), ToSlice(store::kRulesSerialKey), &bytes);
  if (s.ok() && bytes.size() == 8) rep->rules_serial = store::GetBigEndian64(bytes);
  else if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading rules serial");
  SARING_RETURN_IF_ERROR(rep->LoadClasses());
  out->reset(new Store(std::move(rep)));
  return Status::OK();
}

const std::string& Store::dir() const { return rep_->dir; }
std::uint64_t Store::serial() const { return rep_->serial.load(); }
std::uint64_t Store::rules_serial() const { return rep_->rules_serial.load(); }
bool Store::created() const { return rep_->created; }

std::vector<RuleClass> Store::Classes() const {
  std::lock_guard lock(rep_->classes_mu);
  return rep_->classes;
}

Status Store::AddRules(std::vector<Rule> rules, const ChangeContext& ctx, std::size_t* changed) {
  for (std::size_t i = 0; i < rules.size(); ++i) {
    Status st = ValidateRule(&rules[i]);
    if (!st.ok()) {
      return rules.size() == 1 ? st : st.WithContext("rule " + std::to_string(i + 1));
    }
  }
  std::lock_guard lock(rep_->write_mu);
  PendingChange change = rep_->BeginChange(ctx);
  rocksdb::WriteBatch batch;
  std::map<std::string, bool> seen;  // rule keys in this change: the last one wins
  std::size_t n_changed = 0;
  for (Rule& rule : rules) {
    if (rule.added_at == 0) rule.added_at = change.now;
    if (rule.added_by.empty()) rule.added_by = change.by;
    std::string key = store::RuleKeyBytes(rule.source, rule.kind, rule.value);
    ClassId class_id;
    SARING_RETURN_IF_ERROR(
        rep_->ClassFor({rule.source, rule.category, rule.action}, &change, &class_id));

    std::string old_bytes;
    bool found = false;
    SARING_RETURN_IF_ERROR(rep_->GetRuleValue(key, &old_bytes, &found));
    if (seen.count(key)) {
      return Status::InvalidArgument(std::string(ToString(rule.kind)) + " rule '" + rule.value +
                                     "' given twice for source '" + rule.source + "'");
    }
    seen[key] = true;
    json detail = {{"after", RuleToJson(rule)}};
    if (found) {
      Rule before;
      SARING_RETURN_IF_ERROR(rep_->DecodeRule(key, old_bytes, &before));
      if (before.action == rule.action && before.category == rule.category &&
          before.expires_at == rule.expires_at && before.note == rule.note) {
        continue;  // same rule again: nothing to change, nothing to audit
      }
      if (before.expires_at) batch.Delete(rep_->h(kMeta), store::ExpiryKey(before.expires_at, key));
      detail["before"] = RuleToJson(before);
    }
    store::RuleValue value{class_id, rule.added_at, rule.expires_at, rule.added_by, rule.note};
    batch.Put(rep_->h(kRules), key, store::EncodeRuleValue(value));
    if (rule.expires_at) batch.Put(rep_->h(kMeta), store::ExpiryKey(rule.expires_at, key), "");
    SourceInfo* info;
    SARING_RETURN_IF_ERROR(rep_->TouchSource(&change, rule.source, &info));
    if (!found) ++KindCount(info, rule.kind);
    rep_->AddAudit(&change, found ? "update" : "add", std::move(detail));
    ++n_changed;
  }
  if (changed) *changed = n_changed;
  if (n_changed == 0) return Status::OK();
  return rep_->CommitBatch(&batch, change);
}

Status Store::RemoveRules(std::span<const RuleKey> keys, const ChangeContext& ctx) {
  std::lock_guard lock(rep_->write_mu);
  PendingChange change = rep_->BeginChange(ctx);
  rocksdb::WriteBatch batch;
  std::map<std::string, bool> seen;
  for (const RuleKey& key : keys) {
    RuleKey normalized = key;
    if (key.kind == RuleKind::kDomain) {
      Rule probe;
      probe.value = key.value;
      probe.source = key.source;
      SARING_RETURN_IF_ERROR(ValidateRule(&probe));
      normalized.value = probe.value;
    }
    if (!seen.emplace(store::RuleKeyBytes(normalized.source, normalized.kind, normalized.value),
                      true).second) {
      continue;
    }
    SARING_RETURN_IF_ERROR(rep_->RemoveFromBatch(&batch, &change, normalized, "remove"));
  }
  if (change.audit.empty()) return Status::OK();
  return rep_->CommitBatch(&batch, change);
}

Status Store::RemoveExpired(const ChangeContext& ctx, std::vector<RuleKey>* removed) {
  removed->clear();
  std::lock_guard lock(rep_->write_mu);
  PendingChange change = rep_->BeginChange(ctx);
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(
      rep_->db->NewIterator(rocksdb::ReadOptions(), rep_->h(kMeta)));
  for (it->Seek(ToSlice(store::kExpiryPrefix));
       it->Valid() && it->key().starts_with(ToSlice(store::kExpiryPrefix)); it->Next()) {
    std::string_view key = ToView(it->key()).substr(store::kExpiryPrefix.size());
    if (key.size() < 8) return Status::Corruption("bad expiry record");
    auto expires_at = static_cast<std::int64_t>(store::GetBigEndian64(key));
    if (expires_at > change.now) break;
    RuleKey rule_key;
    std::string_view source, value;
    if (!store::ParseRuleKey(key.substr(8), &source, &rule_key.kind, &value)) {
      return Status::Corruption("bad expiry record");
    }
    rule_key.source = source;
    rule_key.value = value;
    SARING_RETURN_IF_ERROR(rep_->RemoveFromBatch(&batch, &change, rule_key, "expire"));
    removed->push_back(std::move(rule_key));
  }
  SARING_RETURN_IF_ERROR(FromRocks(it->status(), "reading expiries"));
  if (removed->empty()) return Status::OK();
  return rep_->CommitBatch(&batch, change);
}

Status Store::GetRule(const RuleKey& key, Rule* rule) const {
  std::string rule_key = store::RuleKeyBytes(key.source, key.kind, key.value);
  std::string bytes;
  bool found = false;
  SARING_RETURN_IF_ERROR(rep_->GetRuleValue(rule_key, &bytes, &found));
  if (!found) return Status::NotFound("no such rule");
  return rep_->DecodeRule(rule_key, bytes, rule);
}

Status Store::FindRules(RuleKind kind, std::string_view value, std::vector<Rule>* rules) const {
  rules->clear();
  std::vector<SourceInfo> sources;
  SARING_RETURN_IF_ERROR(ListSources(&sources));
  for (const SourceInfo& source : sources) {
    Rule rule;
    Status st = GetRule({source.name, kind, std::string(value)}, &rule);
    if (st.ok()) rules->push_back(std::move(rule));
    else if (!st.IsNotFound()) return st;
  }
  return Status::OK();
}

Status Store::ListRules(std::string_view source, const RuleKey* after, std::size_t limit,
                        std::vector<Rule>* rules) const {
  rules->clear();
  std::string prefix = source.empty() ? "" : store::SourcePrefix(source);
  std::unique_ptr<rocksdb::Iterator> it(
      rep_->db->NewIterator(rocksdb::ReadOptions(), rep_->h(kRules)));
  if (after) {
    std::string start = store::RuleKeyBytes(after->source, after->kind, after->value);
    it->Seek(start);
    if (it->Valid() && it->key() == rocksdb::Slice(start)) it->Next();
  } else {
    it->Seek(prefix);
  }
  for (; it->Valid() && rules->size() < limit; it->Next()) {
    if (!it->key().starts_with(prefix)) break;
    Rule rule;
    SARING_RETURN_IF_ERROR(rep_->DecodeRule(ToView(it->key()), ToView(it->value()), &rule));
    rules->push_back(std::move(rule));
  }
  return FromRocks(it->status(), "listing rules");
}

Status Store::ScanRules(RuleKind kind, const std::function<void(const StoredRuleView&)>& fn,
                        std::uint64_t* serial) const {
  const rocksdb::Snapshot* snap = rep_->db->GetSnapshot();
  struct Release {
    rocksdb::DB* db;
    const rocksdb::Snapshot* s;
    ~Release() { db->ReleaseSnapshot(s); }
  } release{rep_->db.get(), snap};

  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::string bytes;
  rocksdb::Status s = rep_->db->Get(ro, rep_->h(kMeta), ToSlice(store::kSerialKey), &bytes);
  if (s.ok() && bytes.size() == 8) *serial = store::GetBigEndian64(bytes);
  else if (s.IsNotFound()) *serial = 0;
  else return FromRocks(s, "reading serial");

  // Keys are ordered by source first, so each source's rules of one kind are
  // one contiguous range: seek to it rather than read the other kinds.
  std::vector<std::string> sources;
  std::unique_ptr<rocksdb::Iterator> src(rep_->db->NewIterator(ro, rep_->h(kSources)));
  for (src->SeekToFirst(); src->Valid(); src->Next()) sources.emplace_back(ToView(src->key()));
  SARING_RETURN_IF_ERROR(FromRocks(src->status(), "listing sources"));

  ro.fill_cache = false;
  ro.readahead_size = 2u << 20;
  std::unique_ptr<rocksdb::Iterator> it(rep_->db->NewIterator(ro, rep_->h(kRules)));
  for (const std::string& source : sources) {
    std::string prefix = store::SourcePrefix(source);
    prefix.push_back(store::KindLetter(kind));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      StoredRuleView view;
      store::RuleValue v;
      if (!store::ParseRuleKey(ToView(it->key()), &view.source, &view.kind, &view.value) ||
          !store::DecodeRuleValue(ToView(it->value()), &v)) {
        return Status::Corruption("unreadable rule record");
      }
      view.class_id = v.class_id;
      view.expires_at = v.expires_at;
      fn(view);
    }
    SARING_RETURN_IF_ERROR(FromRocks(it->status(), "scanning rules"));
  }
  return Status::OK();
}

Status Store::ListSources(std::vector<SourceInfo>* sources) const {
  sources->clear();
  std::unique_ptr<rocksdb::Iterator> it(
      rep_->db->NewIterator(rocksdb::ReadOptions(), rep_->h(kSources)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    SourceInfo info;
    if (!SourceFromJson(ToView(it->key()), ToView(it->value()), &info)) {
      return Status::Corruption("unreadable source record");
    }
    sources->push_back(std::move(info));
  }
  return FromRocks(it->status(), "listing sources");
}

Status Store::GetSource(std::string_view name, SourceInfo* info) const {
  std::string bytes;
  rocksdb::Status s =
      rep_->db->Get(rocksdb::ReadOptions(), rep_->h(kSources), ToSlice(name), &bytes);
  if (s.IsNotFound()) return Status::NotFound("no source '" + std::string(name) + "'");
  SARING_RETURN_IF_ERROR(FromRocks(s, "reading source"));
  if (!SourceFromJson(name, bytes, info)) return Status::Corruption("unreadable source record");
  return Status::OK();
}

Status Store::ReadAudit(std::uint64_t from_serial, std::size_t limit,
                        std::vector<AuditRecord>* records) const {
  records->clear();
  std::unique_ptr<rocksdb::Iterator> it(
      rep_->db->NewIterator(rocksdb::ReadOptions(), rep_->h(kAudit)));
  for (it->Seek(store::AuditKey(from_serial, 0)); it->Valid() && records->size() < limit;
       it->Next()) {
    std::string_view key = ToView(it->key());
    json j = json::parse(ToView(it->value()), nullptr, false);
    if (key.size() != 12 || !j.is_object()) return Status::Corruption("unreadable audit record");
    AuditRecord r;
    r.serial = store::GetBigEndian64(key);
    r.seq = store::GetBigEndian32(key.substr(8));
    r.at = j.value("at", std::int64_t{0});
    r.by = j.value("by", "");
    r.op = j.value("op", "");
    r.detail = j.contains("detail") ? j["detail"].dump() : "{}";
    r.link = j.value("link", "");
    records->push_back(std::move(r));
  }
  return FromRocks(it->status(), "reading audit log");
}

Status Store::WriteRecords(std::span<const RecordWrite> writes, std::string_view audit_op,
                           std::string_view audit_detail, const ChangeContext& ctx) {
  json detail;
  if (!audit_op.empty()) {
    detail = json::parse(audit_detail, nullptr, false);
    if (detail.is_discarded()) return Status::Internal("audit detail is not JSON");
  }
  ChangeContext with = ctx;
  with.records.insert(with.records.end(), writes.begin(), writes.end());
  std::lock_guard lock(rep_->write_mu);
  PendingChange change = rep_->BeginChange(with);
  change.touches_rules = false;
  if (audit_op.empty()) return rep_->WriteRecordsOnly(change);
  rocksdb::WriteBatch batch;
  rep_->AddAudit(&change, audit_op, std::move(detail));
  return rep_->CommitBatch(&batch, change);
}

Status Store::GetRecord(RecordTable table, std::string_view key, std::string* value) const {
  rocksdb::Status s = rep_->db->Get(rocksdb::ReadOptions(), rep_->h(kRecords),
                                    store::RecordKey(table, key), value);
  if (s.IsNotFound()) return Status::NotFound("no record '" + std::string(key) + "'");
  return FromRocks(s, "reading record");
}

Status Store::ListRecords(RecordTable table, std::string_view prefix, std::string_view after,
                          std::size_t limit,
                          std::vector<std::pair<std::string, std::string>>* out) const {
  out->clear();
  std::string full_prefix = store::RecordKey(table, prefix);
  std::unique_ptr<rocksdb::Iterator> it(
      rep_->db->NewIterator(rocksdb::ReadOptions(), rep_->h(kRecords)));
  if (after.empty()) {
    it->Seek(full_prefix);
  } else {
    std::string start = store::RecordKey(table, after);
    it->Seek(start);
    if (it->Valid() && it->key() == rocksdb::Slice(start)) it->Next();
  }
  for (; it->Valid() && out->size() < limit; it->Next()) {
    if (!it->key().starts_with(full_prefix)) break;
    out->emplace_back(std::string(ToView(it->key()).substr(1)), it->value().ToString());
  }
  return FromRocks(it->status(), "listing records");
}

Status Store::GetCached(std::string_view key, std::string* value) const {
  return FromRocks(rep_->db->Get(rocksdb::ReadOptions(), rep_->h(kCache), ToSlice(key), value),
                   "reading cache");
}

Status Store::PutCached(std::string_view key, std::string_view value) {
  return FromRocks(
      rep_->db->Put(rocksdb::WriteOptions(), rep_->h(kCache), ToSlice(key), ToSlice(value)),
      "writing cache");
}

Status Store::PruneCached(std::string_view prefix, std::string_view keep) {
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(
      rep_->db->NewIterator(rocksdb::ReadOptions(), rep_->h(kCache)));
  for (it->Seek(ToSlice(prefix)); it->Valid() && it->key().starts_with(ToSlice(prefix)); it->Next()) {
    if (ToView(it->key()) != keep) batch.Delete(rep_->h(kCache), it->key());
  }
  SARING_RETURN_IF_ERROR(FromRocks(it->status(), "reading cache"));
  return FromRocks(rep_->db->Write(rocksdb::WriteOptions(), &batch), "pruning cache");
}

}  // namespace saring
