// HOT PATH (Scan): no locks and no heap allocation once the calling thread has
// scanned this set before. Each thread owns one Hyperscan scratch space, grown
// (hs_alloc_scratch) the first time it meets a database and then reused; a
// small per-thread list of set ids remembers which databases it already fits,
// because hs_alloc_scratch itself allocates even when nothing needs to grow.
#include "match/pattern_set.h"

#include <hs.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

namespace saring::match {
namespace {

// Caseless because names reach us lower-cased but URLs and admin-typed
// patterns need not be; single-match because callers want "which rules hit",
// not every offset. HS_FLAG_ALLOWEMPTY is left out on purpose: a pattern that
// matches the empty string matches every name, which is never what an admin
// means. HS_FLAG_UTF8 is not needed: host names are ASCII (IDNs are punycode).
constexpr unsigned kFlags = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;

// Serialized form: our header, then Hyperscan's bytes (absent for an empty
// set, which has no database). The pattern count is not recoverable from a
// Hyperscan database, hence our own header.
constexpr char kMagic[8] = {'s', 'a', 'r', 'i', 'n', 'g', 'P', 'S'};
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::size_t kHeaderSize = sizeof(kMagic) + 4 + 4;

std::atomic<std::uint64_t> g_next_set_id{1};

const char* HsErrorName(hs_error_t err) {
  switch (err) {
    case HS_SUCCESS: return "success";
    case HS_INVALID: return "invalid parameter or data";
    case HS_NOMEM: return "out of memory";
    case HS_SCAN_TERMINATED: return "scan terminated";
    case HS_COMPILER_ERROR: return "compile error";
    case HS_DB_VERSION_ERROR: return "database built by another Hyperscan version";
    case HS_DB_PLATFORM_ERROR: return "database built for another CPU";
    case HS_DB_MODE_ERROR: return "database built for another scan mode";
    case HS_BAD_ALIGN: return "bad alignment";
    case HS_BAD_ALLOC: return "allocator returned misaligned memory";
    case HS_SCRATCH_IN_USE: return "scratch in use (Scan called from a match callback?)";
    case HS_ARCH_ERROR: return "CPU lacks the instructions Hyperscan needs";
    case HS_INSUFFICIENT_SPACE: return "insufficient space";
    case HS_UNKNOWN_ERROR: return "unknown error";
  }
  return "unrecognized error code";
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  out += s;
  out += '"';
  return out;
}

// Hyperscan's message for an empty-matching pattern tells the reader to set a
// flag they cannot set; say what it means instead. Recompiling with the flag
// and asking for the minimum width tells the two cases apart on every
// Hyperscan/Vectorscan version without parsing message text.
bool MatchesEmpty(const char* expression) {
  hs_expr_info_t* info = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_expression_info(expression, kFlags | HS_FLAG_ALLOWEMPTY, &info, &err) != HS_SUCCESS) {
    hs_free_compile_error(err);
    return false;
  }
  bool empty = info->min_width == 0;
  std::free(info);
  return empty;
}

std::string DescribeCompileError(const char* expression, const char* hs_message) {
  if (MatchesEmpty(expression)) {
    return std::string("matches the empty string, so it would match every name (") +
           hs_message + ")";
  }
  return hs_message;
}

Status CheckNoNul(const PatternSet::Pattern& p) {
  if (p.expression.find('\0') != std::string::npos) {
    return Status::InvalidArgument("pattern " + std::to_string(p.id) +
                                   ": NUL byte in expression");
  }
  return Status::OK();
}

// FNV-1a, 64-bit: stable across builds and machines, which std::hash is not.
class Fnv64 {
 public:
  void Add(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
      h_ ^= p[i];
      h_ *= 0x100000001b3ULL;
    }
  }
  void AddU64(std::uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    Add(b, sizeof(b));
  }
  std::uint64_t value() const { return h_; }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

void PutU32(std::string* out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

std::uint32_t GetU32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

// One scratch per thread, grown for every database the thread scans.
struct ThreadScratch {
  static constexpr std::size_t kRemembered = 8;

  hs_scratch_t* scratch = nullptr;
  // Ids of the sets `scratch` is known to fit (0 = free slot). When full, the
  // oldest is forgotten; scanning that set again costs one hs_alloc_scratch
  // call, which does not shrink the scratch, so older sets stay covered.
  std::array<std::uint64_t, kRemembered> fits{};
  std::size_t next = 0;

  ~ThreadScratch() { hs_free_scratch(scratch); }

  hs_error_t Prepare(std::uint64_t set_id, const hs_database_t* db) {
    for (std::uint64_t id : fits) {
      if (id == set_id) return HS_SUCCESS;
    }
    hs_error_t err = hs_alloc_scratch(db, &scratch);
    if (err != HS_SUCCESS) return err;
    fits[next] = set_id;
    next = (next + 1) % kRemembered;
    return HS_SUCCESS;
  }
};

thread_local ThreadScratch t_scratch;

struct ScanContext {
  PatternSet::MatchFn on_match;
  void* context;
};

int OnHsMatch(unsigned int id, unsigned long long /*from*/, unsigned long long /*to*/,
              unsigned int /*flags*/, void* ctx) {
  auto* sc = static_cast<ScanContext*>(ctx);
  return sc->on_match(id, sc->context) ? 1 : 0;
}

}  // namespace

struct PatternSet::Rep {
  // Null for an empty set.
  hs_database_t* db = nullptr;
  std::size_t pattern_count = 0;
  std::size_t db_bytes = 0;
  // Names this set in the threads' scratch bookkeeping; never reused, unlike
  // the database's address.
  std::uint64_t id = g_next_set_id.fetch_add(1, std::memory_order_relaxed);

  Rep(hs_database_t* database, std::size_t count) : db(database), pattern_count(count) {
    if (db != nullptr && hs_database_size(db, &db_bytes) != HS_SUCCESS) db_bytes = 0;
  }
  ~Rep() { hs_free_database(db); }
  Rep(const Rep&) = delete;
  Rep& operator=(const Rep&) = delete;
};

PatternSet::PatternSet(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
PatternSet::~PatternSet() = default;

Status PatternSet::Compile(std::span<const Pattern> patterns, std::unique_ptr<PatternSet>* out) {
  out->reset();
  if (patterns.empty()) {
    *out = std::unique_ptr<PatternSet>(new PatternSet(std::make_unique<Rep>(nullptr, 0)));
    return Status::OK();
  }
  std::vector<const char*> expressions;
  std::vector<unsigned> flags(patterns.size(), kFlags);
  std::vector<unsigned> ids;
  expressions.reserve(patterns.size());
  ids.reserve(patterns.size());
  for (const Pattern& p : patterns) {
    SARING_RETURN_IF_ERROR(CheckNoNul(p));
    expressions.push_back(p.expression.c_str());
    ids.push_back(p.id);
  }

  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(expressions.data(), flags.data(), ids.data(),
                       static_cast<unsigned>(patterns.size()), HS_MODE_BLOCK, nullptr, &db,
                       &err) != HS_SUCCESS) {
    std::string msg;
    if (err != nullptr && err->expression >= 0 &&
        static_cast<std::size_t>(err->expression) < patterns.size()) {
      const Pattern& bad = patterns[static_cast<std::size_t>(err->expression)];
      msg = "pattern " + std::to_string(bad.id) + " " + Quote(bad.expression) + ": " +
            DescribeCompileError(bad.expression.c_str(), err->message);
    } else {
      // Not tied to one expression: e.g. the whole set is too large.
      msg = std::string("pattern set: ") + (err != nullptr ? err->message : "compile failed");
    }
    hs_free_compile_error(err);
    return Status::InvalidArgument(std::move(msg));
  }
  *out = std::unique_ptr<PatternSet>(new PatternSet(std::make_unique<Rep>(db, patterns.size())));
  return Status::OK();
}

Status PatternSet::Validate(std::string_view expression) {
  std::string expr(expression);
  if (expr.find('\0') != std::string::npos) {
    return Status::InvalidArgument("NUL byte in expression");
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile(expr.c_str(), kFlags, HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
    std::string msg = Quote(expr) + ": " +
                      DescribeCompileError(expr.c_str(), err != nullptr ? err->message : "");
    hs_free_compile_error(err);
    return Status::InvalidArgument(std::move(msg));
  }
  hs_free_database(db);
  return Status::OK();
}

std::string PatternSet::CacheKey(std::span<const Pattern> patterns) {
  Fnv64 h;
  h.AddU64(kFormatVersion);
  h.AddU64(kFlags);
  h.AddU64(HS_MODE_BLOCK);
  h.AddU64(patterns.size());
  for (const Pattern& p : patterns) {
    h.AddU64(p.id);
    h.AddU64(p.expression.size());
    h.Add(p.expression.data(), p.expression.size());
  }
  hs_platform_info_t platform{};
  if (hs_populate_platform(&platform) != HS_SUCCESS) platform = hs_platform_info_t{};

  // hs_version() is "5.4.0 2023-..." ; keep the key free of spaces.
  std::string version = hs_version();
  for (char& c : version) {
    if (c == ' ') c = '_';
  }
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%016llx-tune%x-cpu%llx-hs",
                static_cast<unsigned long long>(h.value()), platform.tune,
                static_cast<unsigned long long>(platform.cpu_features));
  return buf + version;
}

Status PatternSet::Serialize(std::string* out) const {
  out->clear();
  out->append(kMagic, sizeof(kMagic));
  PutU32(out, kFormatVersion);
  PutU32(out, static_cast<std::uint32_t>(rep_->pattern_count));
  if (rep_->db == nullptr) return Status::OK();

  char* bytes = nullptr;
  std::size_t length = 0;
  hs_error_t err = hs_serialize_database(rep_->db, &bytes, &length);
  if (err != HS_SUCCESS) {
    out->clear();
    return Status::Internal(std::string("hs_serialize_database: ") + HsErrorName(err));
  }
  out->append(bytes, length);
  std::free(bytes);
  return Status::OK();
}

Status PatternSet::Deserialize(std::string_view bytes, std::unique_ptr<PatternSet>* out) {
  out->reset();
  if (bytes.size() < kHeaderSize || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return Status::Corruption("not a serialized pattern set");
  }
  std::uint32_t version = GetU32(bytes.data() + sizeof(kMagic));
  if (version != kFormatVersion) {
    return Status::Corruption("pattern set format version " + std::to_string(version) +
                              ", expected " + std::to_string(kFormatVersion));
  }
  std::uint32_t count = GetU32(bytes.data() + sizeof(kMagic) + 4);
  std::string_view db_bytes = bytes.substr(kHeaderSize);
  if (count == 0 || db_bytes.empty()) {
    if (count != 0 || !db_bytes.empty()) {
      return Status::Corruption("pattern set: pattern count and database disagree");
    }
    *out = std::unique_ptr<PatternSet>(new PatternSet(std::make_unique<Rep>(nullptr, 0)));
    return Status::OK();
  }

  // Checks magic, version and that the length is exactly what the header
  // claims, before anything reads the body.
  std::size_t unpacked = 0;
  hs_error_t err = hs_serialized_database_size(db_bytes.data(), db_bytes.size(), &unpacked);
  if (err != HS_SUCCESS) {
    return Status::Corruption(std::string("pattern set database header: ") + HsErrorName(err));
  }
  hs_database_t* db = nullptr;
  // Also checks the platform and the body's CRC.
  err = hs_deserialize_database(db_bytes.data(), db_bytes.size(), &db);
  if (err != HS_SUCCESS) {
    return Status::Corruption(std::string("pattern set database: ") + HsErrorName(err));
  }
  auto rep = std::make_unique<Rep>(db, count);
  // A valid stream- or vectored-mode database would only fail later, at scan
  // time; hs_database_info names the mode.
  char* info = nullptr;
  if (hs_database_info(db, &info) != HS_SUCCESS) {
    return Status::Corruption("pattern set database: unreadable info");
  }
  bool block = std::strstr(info, "BLOCK") != nullptr;
  std::free(info);
  if (!block) return Status::Corruption("pattern set database is not a block-mode database");

  *out = std::unique_ptr<PatternSet>(new PatternSet(std::move(rep)));
  return Status::OK();
}

Status PatternSet::Scan(std::string_view text, MatchFn on_match, void* context) const {
  // No pattern matches the empty string (Compile refuses those), and an empty
  // view may have a null data pointer, which hs_scan rejects.
  if (rep_->db == nullptr || text.empty()) return Status::OK();
  if (text.size() > std::numeric_limits<unsigned>::max()) {
    return Status::InvalidArgument("text too long to scan");
  }

  ThreadScratch& ts = t_scratch;
  hs_error_t err = ts.Prepare(rep_->id, rep_->db);
  if (err != HS_SUCCESS) {
    return Status::Internal(std::string("hs_alloc_scratch: ") + HsErrorName(err));
  }
  ScanContext sc{on_match, context};
  err = hs_scan(rep_->db, text.data(), static_cast<unsigned>(text.size()), 0, ts.scratch,
                OnHsMatch, &sc);
  if (err != HS_SUCCESS && err != HS_SCAN_TERMINATED) {
    return Status::Internal(std::string("hs_scan: ") + HsErrorName(err));
  }
  return Status::OK();
}

std::size_t PatternSet::pattern_count() const { return rep_->pattern_count; }

std::size_t PatternSet::database_bytes() const { return rep_->db_bytes; }

}  // namespace saring::match
