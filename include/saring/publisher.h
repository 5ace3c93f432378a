// Publisher<T> / Reader<T>: how an immutable object (the rule snapshot, the
// server policy) reaches worker threads without a lock on their path.
//
// Writers call Publish, rarely. Each worker thread keeps its own Reader, which
// holds that thread's reference to the current object and refreshes it only
// when the publisher's version moves: the per-query cost is one atomic load.
#ifndef SARING_PUBLISHER_H_
#define SARING_PUBLISHER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace saring {

template <class T>
class Publisher {
 public:
  void Publish(std::shared_ptr<const T> object) {
    std::lock_guard lock(mu_);
    current_ = std::move(object);
    version_.fetch_add(1, std::memory_order_release);
  }
  // The current object (null before the first Publish). Takes a mutex: not for
  // the per-query path; use a Reader there.
  std::shared_ptr<const T> Current() const {
    std::lock_guard lock(mu_);
    return current_;
  }
  // Bumped by every Publish.
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const T> current_;
  std::atomic<std::uint64_t> version_{0};
};

// One per worker thread; not thread-safe itself.
template <class T>
class Reader {
 public:
  explicit Reader(const Publisher<T>* publisher) : publisher_(publisher) {}

  // The current object, or null if none has been published yet (a worker then
  // answers nothing rather than failing open).
  const T* Get() {
    std::uint64_t v = publisher_->version();
    if (v != version_) {
      cached_ = publisher_->Current();
      version_ = v;
    }
    return cached_.get();
  }

 private:
  const Publisher<T>* publisher_;
  std::uint64_t version_ = 0;
  std::shared_ptr<const T> cached_;
};

}  // namespace saring

#endif  // SARING_PUBLISHER_H_
