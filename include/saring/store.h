// Store: the durable source of truth (RocksDB) for rules, rule sources, the
// audit log and metadata. Feeds and admins write here; the snapshot builder
// reads from here; DNS and proxy workers never touch it.
//
// Column families: "rules" (one key per source + kind + value), "sources"
// (per-source counts and last import), "audit" (every change, keyed by serial),
// "meta" (store serial, rule classes, schema version), "records" (feeds,
// tokens, reports: see RecordTable) and "cache" (compiled pattern databases). Every change bumps the store serial and is one atomic
// RocksDB commit (a WriteBatch, or for bulk imports SST files ingested across
// column families at once), so a crash leaves the old or the new state, never
// a mix.
//
// One process opens a store at a time (RocksDB's lock). Within it any thread
// may call any method: writers are serialized by an internal mutex, readers
// work on RocksDB snapshots and never wait for writers.
#ifndef SARING_STORE_H_
#define SARING_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "saring/import_set.h"
#include "saring/rule.h"
#include "saring/status.h"

namespace saring {

struct StoreOptions {
  bool create_if_missing = true;  // false: NotFound if there is no store in the folder
  std::size_t block_cache_bytes = 8u << 20;  // RocksDB block cache; reads are rare
};

// The (source, category, action) triple a rule belongs to. The store numbers
// classes densely from 0 and never renumbers them, so a compiled index can
// hold a 12-bit class id per domain instead of the strings.
struct RuleClass {
  std::string source;
  std::string category;
  Action action = Action::kBlock;
};
using ClassId = std::uint16_t;
inline constexpr ClassId kMaxClassId = 0x0FFE;

// Non-rule state kept beside the rules as small JSON documents in named
// tables: feed definitions and their download state, feed run history, API
// tokens (hashed) and block-page reports. The typed views live with their
// users (src/update, src/admin); the store only keeps the bytes.
enum class RecordTable : std::uint8_t { kFeeds = 0, kFeedRuns, kTokens, kReports };

// One record written (or erased) as part of a commit.
struct RecordWrite {
  RecordTable table = RecordTable::kFeeds;
  std::string key;
  std::string value;  // JSON text
  bool erase = false;
};

// Who makes a change, and when (0 = now).
struct ChangeContext {
  std::string by = "system";
  std::int64_t now = 0;
  // Written in the same commit as the change, so both or neither happen (a
  // feed's state with its import; a report's resolution with its allow rule).
  std::vector<RecordWrite> records;
  // Put into each audit record of the change as "link" (e.g. "report/17").
  std::string link;
};

// What one source holds, kept up to date by every change.
struct SourceInfo {
  std::string name;
  std::uint64_t domains = 0, patterns = 0, urls = 0;
  std::int64_t created_at = 0, updated_at = 0;
  std::string last_import;  // JSON summary of the last import, if any
  std::uint64_t total() const { return domains + patterns + urls; }
};

// One entry of the audit log. `detail` is a JSON object saying what changed
// (for a rule: the rule before and after; for an import: the counts).
struct AuditRecord {
  std::uint64_t serial = 0;
  std::uint32_t seq = 0;  // several records may share a serial (a batch of rules)
  std::int64_t at = 0;
  std::string by;
  std::string op;  // "add", "update", "remove", "import", "expire", "feed.add", "token.create", ...
  std::string detail;
  std::string link;  // what the change answers, e.g. "report/17" (see ChangeContext::link)
};

// How an import (a whole source replaced) went.
struct ImportReport {
  std::uint64_t added = 0, removed = 0, changed = 0, unchanged = 0;
  std::uint64_t before = 0, after = 0;  // rules in the source
  std::uint64_t serial = 0;             // store serial after the import
  bool applied = false;
  // The (kind, value) of every added, removed or changed rule, while there are
  // at most ImportOptions::max_tracked_changes of them; beyond that the list
  // is cleared and `changes_tracked` is false.
  std::vector<std::pair<RuleKind, std::string>> changes;
  bool changes_tracked = true;
};

struct ImportOptions {
  std::string source;
  std::string category{kDefaultCategory};
  std::string format;     // recorded in the audit log only
  double max_shrink = 0.2;  // refuse when the source would lose more than this share
  bool force = false;       // apply even if it shrinks more than max_shrink
  // Refuse when more than this share of the non-blank lines were rejected (a
  // "list" that is mostly junk); checked by Engine::Import, not by the store.
  double max_rejected = 1.0;
  bool refuse_empty = false;  // refuse input that yields no entry at all (Engine::Import)
  std::size_t max_tracked_changes = 20000;  // see ImportReport::changes
};

// A rule as the snapshot builder sees it while scanning (views valid during
// the callback only).
struct StoredRuleView {
  std::string_view source;
  RuleKind kind;
  std::string_view value;
  ClassId class_id;
  std::int64_t expires_at;
};

// Identifies one stored rule.
struct RuleKey {
  std::string source;
  RuleKind kind = RuleKind::kDomain;
  std::string value;
};

class Store {
 public:
  static Status Open(const std::string& dir, const StoreOptions& options,
                     std::unique_ptr<Store>* out);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& dir() const;
  // The serial of the last committed change (0 for a new store).
  std::uint64_t serial() const;
  // The serial of the last change that touched rules (<= serial(): feed and
  // token changes move only serial()). A compiled index built from a view at
  // serial S is current while rules_serial() <= S.
  std::uint64_t rules_serial() const;
  // True if the store was created by this Open (so defaults may be loaded).
  bool created() const;

  // Adds or updates rules (validated with ValidateRule) in one commit; all or
  // nothing. `changed` (optional) gets how many were new or different.
  Status AddRules(std::vector<Rule> rules, const ChangeContext& ctx, std::size_t* changed = nullptr);
  // Removes rules in one commit. NotFound (and nothing removed) if one is absent.
  Status RemoveRules(std::span<const RuleKey> keys, const ChangeContext& ctx);
  // Removes every rule whose expiry is at or before ctx.now, in one commit;
  // `removed` gets their keys.
  Status RemoveExpired(const ChangeContext& ctx, std::vector<RuleKey>* removed);

  // Replaces the whole set of `options.source` with `set` (sorted and
  // de-duplicated by the call) in one commit.
  Status ReplaceSource(const ImportOptions& options, ImportSet* set, const ChangeContext& ctx,
                       ImportReport* report);

  Status GetRule(const RuleKey& key, Rule* rule) const;
  // Every source's rule for (kind, value), in source name order.
  Status FindRules(RuleKind kind, std::string_view value, std::vector<Rule>* rules) const;
  // Rules in key order (source, kind, value) after `after` (exclusive; empty =
  // from the start), at most `limit`, optionally of one source only.
  Status ListRules(std::string_view source, const RuleKey* after, std::size_t limit,
                   std::vector<Rule>* rules) const;

  // Calls `fn` for every stored rule of `kind`, all sources, on one
  // consistent view; `*serial` gets that view's serial.
  Status ScanRules(RuleKind kind, const std::function<void(const StoredRuleView&)>& fn,
                   std::uint64_t* serial) const;

  Status ListSources(std::vector<SourceInfo>* sources) const;
  Status GetSource(std::string_view name, SourceInfo* info) const;

  // All classes, indexed by ClassId.
  std::vector<RuleClass> Classes() const;

  // Audit records with serial >= from_serial, oldest first, at most `limit`.
  Status ReadAudit(std::uint64_t from_serial, std::size_t limit,
                   std::vector<AuditRecord>* records) const;

  // Writes records in one commit. With an `audit_op` this is a change: the
  // serial moves and the audit log gets (op, audit_detail as JSON). Without,
  // it is bookkeeping (feed run history, reports filed by the public): no
  // serial, no audit record.
  Status WriteRecords(std::span<const RecordWrite> writes, std::string_view audit_op,
                      std::string_view audit_detail, const ChangeContext& ctx);
  // NotFound if absent.
  Status GetRecord(RecordTable table, std::string_view key, std::string* value) const;
  // Records of `table` whose key starts with `prefix`, in key order, after
  // `after` (exclusive; "" = from the first), at most `limit`.
  Status ListRecords(RecordTable table, std::string_view prefix, std::string_view after,
                     std::size_t limit, std::vector<std::pair<std::string, std::string>>* out) const;

  // The compiled-artifact cache (pattern databases). Not part of the serial.
  Status GetCached(std::string_view key, std::string* value) const;
  Status PutCached(std::string_view key, std::string_view value);
  // Drops every cached entry whose key starts with `prefix`, except `keep`.
  Status PruneCached(std::string_view prefix, std::string_view keep);

 private:
  struct Rep;
  explicit Store(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace saring

#endif  // SARING_STORE_H_
