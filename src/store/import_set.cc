#include "saring/import_set.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace saring {

namespace {

// A spilled entry: kind | action << 2, the value's length (little-endian
// 16 bits), the value.
constexpr std::size_t kRecordHeader = 3;
constexpr std::size_t kReadBuffer = 64 << 10;
constexpr std::size_t kWriteBuffer = 1 << 20;

Status ErrnoStatus(const std::string& what, const std::string& dir) {
  return Status::IOError(what + " (the import's spill file in " + dir + "): " + std::strerror(errno));
}

// An unnamed file in `dir`: O_TMPFILE where the file system has it, else a
// named one unlinked at once. Either way it is gone when closed.
int OpenSpillFile(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string path = dir + "/import-spill-XXXXXX";
  fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd >= 0) ::unlink(path.c_str());
  return fd;
}

Status WriteAll(int fd, std::uint64_t offset, const std::string& data, const std::string& dir) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoStatus("cannot write", dir);
    done += static_cast<std::size_t>(n);
  }
  return Status::OK();
}

}  // namespace

// Reads one sorted run: the part in memory, or a stretch of the spill file.
class ImportSet::RunReader {
 public:
  explicit RunReader(const ImportSet* memory) : memory_(memory) {}
  RunReader(const ImportSet* set, Run run) : file_set_(set), run_(run) {}

  Status Reset() {
    index_ = 0;
    offset_ = run_.begin;
    buffer_begin_ = buffer_end_ = 0;
    return Advance();
  }

  Status Advance() {
    if (memory_ != nullptr) {
      valid_ = index_ < memory_->items_.size();
      if (valid_) {
        const Item& item = memory_->items_[index_++];
        kind_ = KindOf(item);
        action_ = ActionOf(item);
        value_ = memory_->ValueOf(item);
      }
      return Status::OK();
    }
    valid_ = offset_ - (buffer_end_ - buffer_begin_) < run_.end;
    if (!valid_) return Status::OK();
    char header[kRecordHeader];
    SARING_RETURN_IF_ERROR(Read(header, kRecordHeader));
    kind_ = header[0] & 3;
    action_ = (header[0] >> 2) & 1;
    std::size_t length = static_cast<unsigned char>(header[1]) | static_cast<unsigned char>(header[2]) << 8;
    value_buffer_.resize(length);
    SARING_RETURN_IF_ERROR(Read(value_buffer_.data(), length));
    value_ = value_buffer_;
    return Status::OK();
  }

  bool valid() const { return valid_; }
  std::uint8_t kind() const { return kind_; }
  std::uint8_t action() const { return action_; }
  std::string_view value() const { return value_; }

 private:
  Status Read(char* out, std::size_t n) {
    while (n > 0) {
      if (buffer_begin_ == buffer_end_) {
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kReadBuffer, run_.end - offset_));
        if (want == 0) return Status::Corruption("the import's spill file ends inside an entry");
        buffer_.resize(kReadBuffer);
        ssize_t got = ::pread(file_set_->spill_fd_, buffer_.data(), want, static_cast<off_t>(offset_));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return ErrnoStatus("cannot read back", file_set_->spill_dir_);
        offset_ += static_cast<std::uint64_t>(got);
        buffer_begin_ = 0;
        buffer_end_ = static_cast<std::size_t>(got);
      }
      std::size_t take = std::min(n, buffer_end_ - buffer_begin_);
      std::memcpy(out, buffer_.data() + buffer_begin_, take);
      buffer_begin_ += take;
      out += take;
      n -= take;
    }
    return Status::OK();
  }

  const ImportSet* memory_ = nullptr;
  const ImportSet* file_set_ = nullptr;
  Run run_{0, 0};
  std::size_t index_ = 0;
  std::uint64_t offset_ = 0;  // the file offset after what the buffer holds
  std::string buffer_;
  std::size_t buffer_begin_ = 0, buffer_end_ = 0;
  std::string value_buffer_;

  bool valid_ = false;
  std::uint8_t kind_ = 0, action_ = 0;
  std::string_view value_;
};

// Orders the merge's min-heap: the reader at the smallest (kind, value) on top.
struct ImportSet::RunOrder {
  bool operator()(const RunReader* a, const RunReader* b) const {
    if (a->kind() != b->kind()) return a->kind() > b->kind();
    return a->value() > b->value();
  }
};

ImportSet::ImportSet(std::string spill_dir, std::size_t memory_budget)
    : spill_dir_(std::move(spill_dir)), memory_budget_(memory_budget) {}

ImportSet::~ImportSet() {
  if (spill_fd_ >= 0) ::close(spill_fd_);
}

Status ImportSet::Add(RuleKind kind, Action action, std::string_view value) {
  if (!status_.ok()) return status_;
  if (finished_) return Status::FailedPrecondition("the import set is finished");
  if (value.size() > kMaxValue) return Status::InvalidArgument("value too long");
  std::size_t used_after = MemoryUsed() + value.size() + sizeof(Item);
  if (!spill_dir_.empty() && used_after > memory_budget_ && !items_.empty()) {
    status_ = Spill();
    SARING_RETURN_IF_ERROR(status_);
  }
  if (block_used_ + value.size() > kBlockSize) {
    if (blocks_in_use_ == blocks_.size()) blocks_.push_back(std::make_unique_for_overwrite<char[]>(kBlockSize));
    ++blocks_in_use_;
    block_used_ = 0;
  }
  std::memcpy(blocks_[blocks_in_use_ - 1].get() + block_used_, value.data(), value.size());
  auto position = static_cast<std::uint32_t>(((blocks_in_use_ - 1) << kBlockBits) | block_used_);
  block_used_ += value.size();
  items_.push_back({static_cast<std::uint16_t>(position >> 16), static_cast<std::uint16_t>(position),
                    static_cast<std::uint16_t>(value.size() | static_cast<unsigned>(kind) << 13 |
                                               static_cast<unsigned>(action) << 15)});
  return Status::OK();
}

std::size_t ImportSet::MemoryUsed() const {
  std::size_t text = blocks_in_use_ == 0 ? 0 : (blocks_in_use_ - 1) * kBlockSize + block_used_;
  return text + items_.size() * sizeof(Item);
}

void ImportSet::SortAndDedupeMemory() {
  // Equal (kind, value) sort with allow first, so the kept first copy is allow.
  std::sort(items_.begin(), items_.end(), [&](const Item& a, const Item& b) {
    if (KindOf(a) != KindOf(b)) return KindOf(a) < KindOf(b);
    int c = ValueOf(a).compare(ValueOf(b));
    if (c != 0) return c < 0;
    return ActionOf(a) > ActionOf(b);
  });
  auto last = std::unique(items_.begin(), items_.end(), [&](const Item& a, const Item& b) {
    return KindOf(a) == KindOf(b) && ValueOf(a) == ValueOf(b);
  });
  items_.erase(last, items_.end());
}

Status ImportSet::Spill() {
  SortAndDedupeMemory();
  if (spill_fd_ < 0) {
    spill_fd_ = OpenSpillFile(spill_dir_);
    if (spill_fd_ < 0) return ErrnoStatus("cannot create", spill_dir_);
  }
  Run run{spill_end_, spill_end_};
  std::string out;
  out.reserve(kWriteBuffer + kRecordHeader + kMaxValue);
  for (const Item& item : items_) {
    std::string_view value = ValueOf(item);
    out.push_back(static_cast<char>(KindOf(item) | ActionOf(item) << 2));
    out.push_back(static_cast<char>(value.size() & 0xff));
    out.push_back(static_cast<char>(value.size() >> 8));
    out.append(value);
    if (out.size() >= kWriteBuffer) {
      SARING_RETURN_IF_ERROR(WriteAll(spill_fd_, run.end, out, spill_dir_));
      run.end += out.size();
      out.clear();
    }
  }
  SARING_RETURN_IF_ERROR(WriteAll(spill_fd_, run.end, out, spill_dir_));
  run.end += out.size();
  spill_end_ = run.end;
  runs_.push_back(run);
  items_.clear();
  blocks_in_use_ = 0;
  block_used_ = kBlockSize;
  return Status::OK();
}

Status ImportSet::Finish() {
  if (!status_.ok()) return status_;
  if (finished_) return Rewind();
  finished_ = true;
  SortAndDedupeMemory();
  for (const Run& run : runs_) readers_.push_back(std::make_unique<RunReader>(this, run));
  if (!items_.empty()) readers_.push_back(std::make_unique<RunReader>(this));
  if (runs_.empty()) {
    size_ = items_.size();
    for (const Item& item : items_) ++kind_counts_[KindOf(item)];
  } else {
    // Duplicates across runs are only known by merging: one counting pass.
    SARING_RETURN_IF_ERROR(Rewind());
    Entry entry;
    while (Next(&entry)) {
      ++size_;
      ++kind_counts_[static_cast<int>(entry.kind)];
    }
    SARING_RETURN_IF_ERROR(status_);
  }
  return Rewind();
}

Status ImportSet::Rewind() {
  if (!finished_) return Status::FailedPrecondition("the import set is not finished");
  heap_.clear();
  for (auto& reader : readers_) {
    status_ = reader->Reset();
    SARING_RETURN_IF_ERROR(status_);
    if (reader->valid()) heap_.push_back(reader.get());
  }
  std::make_heap(heap_.begin(), heap_.end(), RunOrder{});
  return Status::OK();
}

bool ImportSet::Next(Entry* entry) {
  if (heap_.empty() || !status_.ok()) return false;
  auto take = [this]() -> RunReader* {
    std::pop_heap(heap_.begin(), heap_.end(), RunOrder{});
    RunReader* reader = heap_.back();
    heap_.pop_back();
    return reader;
  };
  auto put_back = [this](RunReader* reader) {
    status_ = reader->Advance();
    if (!status_.ok()) return false;
    if (reader->valid()) {
      heap_.push_back(reader);
      std::push_heap(heap_.begin(), heap_.end(), RunOrder{});
    }
    return true;
  };
  RunReader* first = take();
  std::uint8_t kind = first->kind();
  std::uint8_t action = first->action();
  current_.assign(first->value());
  if (!put_back(first)) return false;
  // The same value from other runs: one entry, allow if any run says allow.
  while (!heap_.empty() && heap_.front()->kind() == kind && heap_.front()->value() == current_) {
    RunReader* same = take();
    action = std::max(action, same->action());  // kAllow (1) over kBlock (0)
    if (!put_back(same)) return false;
  }
  *entry = {static_cast<RuleKind>(kind), static_cast<Action>(action), current_};
  return true;
}

}  // namespace saring
