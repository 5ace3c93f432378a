// Internal (src/, not include/): the scaffolding the admin HTTP server and the
// forward proxy share. Asio only; no Beast.
#ifndef SARING_NET_SERVER_CORE_H_
#define SARING_NET_SERVER_CORE_H_

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace saring::net {

// What the registry knows of a connection: enough to start and to close it.
class ServerSession : public std::enable_shared_from_this<ServerSession> {
 public:
  virtual ~ServerSession() = default;
  virtual void Run() = 0;    // once, right after it is registered
  virtual void Close() = 0;  // any thread: closes the connection (on its strand)
};

// The io_context, the worker threads, the listening socket and the registry of
// live sessions of one TCP server, and the order in which they are stopped.
//
// Ownership: the core owns the io_context, the listening sockets (each on its
// own strand, with a timer on that strand for retrying a failed accept), and
// the threads. Sessions are owned by their pending operations (shared_ptr); the
// registry holds only weak_ptrs, and a session unregisters itself (by id) in
// its destructor, so the core must outlive every session: declare it after
// anything sessions refer to (options, TLS context), so that it is destroyed
// first, and destroy the io_context (Stop does) while the core is alive.
//
// Threading: StartThreads/Stop/the destructor from one owning thread, never
// from a worker thread. Register/Unregister/Stopping/connections from any
// thread. The accept loops (async_accept on acceptor(i), retrying on
// accept_retry(i)) belong to the server; it must check Stopping() before
// re-arming, and Register returns null once Stop has begun.
class ServerCore {
 public:
  // Stop: how long connections get to wind down before the threads are stopped.
  static constexpr std::chrono::milliseconds kStopGrace{2000};

  // Each worker thread calls `run_loop` (which runs `ioc`, the thread's
  // io_context) through this, e.g. to set thread-local state around it; by
  // default it just calls it.
  using ThreadWrapper = std::function<void(boost::asio::io_context& ioc, const std::function<void()>& run_loop)>;

  // `concurrency_hint`: the io_context's. `what`: the log prefix of an
  // exception escaping a handler ("proxy: unexpected exception").
  // `contexts` > 1: that many io_contexts, each run by its own threads
  // (StartThreads spreads them round-robin), so a session placed on one
  // (session_context()) runs on one thread and needs no strand; 1: one
  // io_context shared by every thread (sessions need strands).
  ServerCore(int concurrency_hint, std::string what, int contexts = 1);
  ~ServerCore();  // Stop()
  ServerCore(const ServerCore&) = delete;
  ServerCore& operator=(const ServerCore&) = delete;

  boost::asio::io_context& ioc() { return *contexts_[0]; }  // the acceptors' context
  // The context for a new session: round-robin over the contexts.
  boost::asio::io_context& session_context();
  // The listening sockets, in the order Listen opened them.
  boost::asio::ip::tcp::acceptor& acceptor(std::size_t i = 0) { return *listeners_[i].acceptor; }
  boost::asio::steady_timer& accept_retry(std::size_t i = 0) { return *listeners_[i].retry; }

  // Opens one more listening socket on `endpoint` (SO_REUSEADDR), binds and
  // listens; before StartThreads only. On failure returns the step that failed
  // ("socket", "SO_REUSEADDR", "bind", "listen", "getsockname") with *ec set;
  // null once listening, with the bound port in *port (and the socket is
  // acceptor(n) for the n-th successful call, from 0).
  const char* Listen(const boost::asio::ip::tcp::endpoint& endpoint, std::uint16_t* port,
                     boost::system::error_code* ec);

  // Runs the io_context on `threads` threads, each with `nice` added to its
  // nice value (0: unchanged).
  void StartThreads(int threads, int nice = 0, ThreadWrapper wrapper = {});

  // Under the registry lock: unless stopping, calls make(id) with a fresh id,
  // counts and registers what it returns and returns it (null once stopping).
  // The session is not started: call Run() on it, outside any lock.
  std::shared_ptr<ServerSession> Register(
      const std::function<std::shared_ptr<ServerSession>(std::uint64_t id)>& make);
  // From the session's destructor.
  void Unregister(std::uint64_t id);

  bool Stopping();
  int connections() const { return connections_.load(); }

  // Closes each acceptor (and cancels its accept_retry) on its strand, closes every
  // live session, gives the threads kStopGrace to run out of work, then stops
  // the io_context, joins the threads and destroys the acceptor and the
  // io_context (and with it what was still pending). Idempotent.
  void Stop();

 private:
  void RunThread(boost::asio::io_context* ioc, int nice, const ThreadWrapper& wrapper);

  const std::string what_;

  std::mutex mu_;
  bool stopping_ = false;       // guarded by mu_
  std::uint64_t next_id_ = 0;   // guarded by mu_
  std::unordered_map<std::uint64_t, std::weak_ptr<ServerSession>> sessions_;  // guarded by mu_
  std::atomic<int> connections_{0};

  std::mutex threads_mu_;
  std::condition_variable threads_cv_;
  int running_threads_ = 0;  // guarded by threads_mu_
  bool stopped_ = false;     // the owner's thread only

  struct Listener {
    std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor;
    std::unique_ptr<boost::asio::steady_timer> retry;  // on the acceptor's strand
  };
  // Destroyed in reverse: listeners, io_contexts, then the registry.
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  // Keeps a context's run() going while it has no session yet (Stop drops them).
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::atomic<std::size_t> next_context_{0};
  std::vector<Listener> listeners_;
  std::vector<std::thread> threads_;
};

}  // namespace saring::net

#endif  // SARING_NET_SERVER_CORE_H_
