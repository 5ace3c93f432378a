// Store::ReplaceSource: an import replaces one source's whole set in one
// atomic commit, diffed against what the store holds in a single merge pass.
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "saring/name.h"
#include "store/store_rep.h"

namespace saring {

using namespace store;
namespace fs = std::filesystem;

namespace {

// Writes the operations of one import either into a WriteBatch or, for large
// imports, into SST files (one per column family) ingested in one step.
class ImportWriter {
 public:
  ImportWriter(rocksdb::DB* db, std::string dir, bool bulk) : db_(db), dir_(std::move(dir)), bulk_(bulk) {}

  Status Put(rocksdb::ColumnFamilyHandle* cf, std::string_view key, std::string_view value) {
    if (!bulk_) return batch_.Put(cf, ToSlice(key), ToSlice(value)), Status::OK();
    rocksdb::SstFileWriter* w;
    SARING_RETURN_IF_ERROR(WriterFor(cf, &w));
    return FromRocks(w->Put(ToSlice(key), ToSlice(value)), "writing import file");
  }
  Status Delete(rocksdb::ColumnFamilyHandle* cf, std::string_view key) {
    if (!bulk_) return batch_.Delete(cf, ToSlice(key)), Status::OK();
    rocksdb::SstFileWriter* w;
    SARING_RETURN_IF_ERROR(WriterFor(cf, &w));
    return FromRocks(w->Delete(ToSlice(key)), "writing import file");
  }

  Status Commit() {
    if (!bulk_) {
      rocksdb::WriteOptions wo;
      wo.sync = true;
      return FromRocks(db_->Write(wo, &batch_), "committing import");
    }
    std::vector<rocksdb::IngestExternalFileArg> args;
    for (auto& f : files_) {
      SARING_RETURN_IF_ERROR(FromRocks(f.writer->Finish(), "finishing import file"));
      rocksdb::IngestExternalFileArg arg;
      arg.column_family = f.cf;
      arg.external_files = {f.path};
      arg.options.move_files = true;
      args.push_back(std::move(arg));
    }
    return FromRocks(db_->IngestExternalFiles(args), "ingesting import");
  }

  ~ImportWriter() {
    std::error_code ec;
    for (auto& f : files_) fs::remove(f.path, ec);
  }

 private:
  struct File {
    rocksdb::ColumnFamilyHandle* cf;
    std::string path;
    std::unique_ptr<rocksdb::SstFileWriter> writer;
  };

  Status WriterFor(rocksdb::ColumnFamilyHandle* cf, rocksdb::SstFileWriter** out) {
    for (auto& f : files_) {
      if (f.cf == cf) return *out = f.writer.get(), Status::OK();
    }
    File f{cf, dir_ + "/ingest-" + cf->GetName() + ".sst", nullptr};
    rocksdb::Options options;
    options.compression = rocksdb::kLZ4Compression;
    f.writer = std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(), options, cf);
    SARING_RETURN_IF_ERROR(FromRocks(f.writer->Open(f.path), "creating import file"));
    *out = f.writer.get();
    files_.push_back(std::move(f));
    return Status::OK();
  }

  rocksdb::DB* db_;
  std::string dir_;
  bool bulk_;
  rocksdb::WriteBatch batch_;
  std::vector<File> files_;
};

}  // namespace

Status Store::ReplaceSource(const ImportOptions& options, ImportSet* set, const ChangeContext& ctx,
                            ImportReport* report) {
  *report = ImportReport{};
  SARING_RETURN_IF_ERROR(ValidateSourceName(options.source));
  SARING_RETURN_IF_ERROR(ValidateCategoryName(options.category));
  SARING_RETURN_IF_ERROR(set->Finish());

  std::lock_guard lock(rep_->write_mu);
  PendingChange change = rep_->BeginChange(ctx);
  SourceInfo* info;
  SARING_RETURN_IF_ERROR(rep_->TouchSource(&change, options.source, &info));
  report->before = info->total();
  report->after = set->size();
  report->serial = rep_->serial.load();
  if (report->before > 0 && !options.force &&
      static_cast<double>(report->after) <
          static_cast<double>(report->before) * (1.0 - options.max_shrink)) {
    double lost = 100.0 * static_cast<double>(report->before - report->after) /
                  static_cast<double>(report->before);
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.1f%%", lost);
    return Status::FailedPrecondition(
        "import would shrink source '" + options.source + "' from " +
        std::to_string(report->before) + " to " + std::to_string(report->after) + " rules (-" +
        pct + "), more than the " + std::to_string(static_cast<int>(options.max_shrink * 100)) +
        "% limit; nothing was changed (force it to apply anyway)");
  }

  ClassId class_ids[2];
  bool have_class[2] = {false, false};
  auto class_for = [&](Action action, ClassId* id) -> Status {
    int a = static_cast<int>(action);
    if (!have_class[a]) {
      SARING_RETURN_IF_ERROR(
          rep_->ClassFor({options.source, options.category, action}, &change, &class_ids[a]));
      have_class[a] = true;
    }
    *id = class_ids[a];
    return Status::OK();
  };

  ImportWriter writer(rep_->db.get(), rep_->dir, set->size() + report->before > kBulkThreshold);
  std::string prefix = store::SourcePrefix(options.source);
  std::string upper = prefix;
  upper.back() = '\1';
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.iterate_upper_bound = &upper_slice;
  ro.readahead_size = 2u << 20;
  std::unique_ptr<rocksdb::Iterator> it(rep_->db->NewIterator(ro, rep_->h(kRules)));
  it->Seek(prefix);

  auto track = [&](RuleKind kind, std::string_view value) {
    if (!report->changes_tracked) return;
    if (report->changes.size() >= options.max_tracked_changes) {
      report->changes.clear();
      report->changes.shrink_to_fit();
      report->changes_tracked = false;
      return;
    }
    report->changes.emplace_back(kind, std::string(value));
  };
  // Meta keys (expiries of removed rules, then serial and classes) must reach
  // an SST file in key order, so they are gathered and sorted first.
  std::vector<std::pair<std::string, std::optional<std::string>>> meta_ops;
  std::string new_key = prefix;
  ImportSet::Entry entry{};
  bool have_entry = set->Next(&entry);
  auto next_entry = [&]() -> Status {
    if (!have_entry) return Status::OK();
    if (entry.kind == RuleKind::kDomain && !IsNormalizedDomain(entry.value)) {
      return Status::InvalidArgument("import holds a name that is not normalized: '" + std::string(entry.value) +
                                     "'; nothing was changed");
    }
    new_key.resize(prefix.size());
    new_key.push_back(store::KindLetter(entry.kind));
    new_key.append(entry.value);
    return Status::OK();
  };
  SARING_RETURN_IF_ERROR(next_entry());
  while (have_entry || it->Valid()) {
    int cmp;
    if (!have_entry) cmp = 1;
    else if (!it->Valid()) cmp = -1;
    else cmp = rocksdb::Slice(new_key).compare(it->key());

    if (cmp > 0) {  // only in the store: removed
      SARING_RETURN_IF_ERROR(writer.Delete(rep_->h(kRules), ToView(it->key())));
      std::string_view source, value;
      RuleKind kind;
      if (store::ParseRuleKey(ToView(it->key()), &source, &kind, &value)) track(kind, value);
      store::RuleValue old;
      if (store::DecodeRuleValue(ToView(it->value()), &old) && old.expires_at) {
        meta_ops.emplace_back(store::ExpiryKey(old.expires_at, ToView(it->key())), std::nullopt);
      }
      ++report->removed;
      it->Next();
      continue;
    }
    ClassId id = 0;
    SARING_RETURN_IF_ERROR(class_for(entry.action, &id));
    if (cmp == 0) {
      store::RuleValue old;
      if (!store::DecodeRuleValue(ToView(it->value()), &old)) {
        return Status::Corruption("unreadable rule record in source '" + options.source + "'");
      }
      if (old.class_id == id && old.expires_at == 0) {
        ++report->unchanged;
      } else {
        ++report->changed;
        track(entry.kind, entry.value);
        store::RuleValue value{id, change.now, 0, change.by, ""};
        SARING_RETURN_IF_ERROR(writer.Put(rep_->h(kRules), new_key, store::EncodeRuleValue(value)));
      }
      it->Next();
    } else {
      ++report->added;
      track(entry.kind, entry.value);
      store::RuleValue value{id, change.now, 0, change.by, ""};
      SARING_RETURN_IF_ERROR(writer.Put(rep_->h(kRules), new_key, store::EncodeRuleValue(value)));
    }
    have_entry = set->Next(&entry);
    SARING_RETURN_IF_ERROR(next_entry());
  }
  SARING_RETURN_IF_ERROR(set->status());
  SARING_RETURN_IF_ERROR(FromRocks(it->status(), "reading source"));
  it.reset();

  report->applied = true;
  if (report->added + report->removed + report->changed == 0) {
    // Nothing changed, but the caller's records (a feed's new ETag) still count.
    return change.records.empty() ? Status::OK() : rep_->WriteRecordsOnly(change);
  }

  info->domains = set->CountKind(RuleKind::kDomain);
  info->patterns = set->CountKind(RuleKind::kPattern);
  info->urls = set->CountKind(RuleKind::kUrl);
  json summary = {{"source", options.source},     {"format", options.format},
                  {"category", options.category}, {"added", report->added},
                  {"removed", report->removed},   {"changed", report->changed},
                  {"unchanged", report->unchanged}, {"before", report->before},
                  {"after", report->after},       {"forced", options.force},
                  {"at", change.now},             {"by", change.by}};
  info->last_import = summary.dump();
  rep_->AddAudit(&change, "import", summary);
  for (auto& [k, v] : rep_->BookkeepingFor(kMeta, change)) meta_ops.emplace_back(k, v);
  std::sort(meta_ops.begin(), meta_ops.end());
  for (const auto& [k, v] : meta_ops) {
    SARING_RETURN_IF_ERROR(v ? writer.Put(rep_->h(kMeta), k, *v) : writer.Delete(rep_->h(kMeta), k));
  }
  for (CfIndex cf : {kSources, kAudit}) {
    for (const auto& [k, v] : rep_->BookkeepingFor(cf, change)) {
      SARING_RETURN_IF_ERROR(writer.Put(rep_->h(cf), k, v));
    }
  }
  for (const auto& [k, v] : change.records) {
    SARING_RETURN_IF_ERROR(v ? writer.Put(rep_->h(kRecords), k, *v) : writer.Delete(rep_->h(kRecords), k));
  }
  SARING_RETURN_IF_ERROR(writer.Commit());
  rep_->Committed(change);
  report->serial = change.serial;
  return Status::OK();
}
}  // namespace saring
