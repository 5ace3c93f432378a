#include "net/server_core.h"

#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <exception>
#include <utility>

namespace saring::net {

namespace asio = boost::asio;

ServerCore::ServerCore(int concurrency_hint, std::string what, int contexts) : what_(std::move(what)) {
  if (contexts < 1) contexts = 1;
  for (int i = 0; i < contexts; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(contexts > 1 ? 1 : concurrency_hint));
    if (contexts > 1) work_.push_back(asio::make_work_guard(*contexts_.back()));
  }
}

asio::io_context& ServerCore::session_context() {
  return *contexts_[next_context_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

ServerCore::~ServerCore() { Stop(); }

const char* ServerCore::Listen(const asio::ip::tcp::endpoint& endpoint, std::uint16_t* port,
                               boost::system::error_code* ec) {
  Listener listener;
  listener.acceptor = std::make_unique<asio::ip::tcp::acceptor>(asio::make_strand(*contexts_[0]));
  listener.retry = std::make_unique<asio::steady_timer>(listener.acceptor->get_executor());
  asio::ip::tcp::acceptor& a = *listener.acceptor;
  a.open(endpoint.protocol(), *ec);
  if (*ec) return "socket";
  a.set_option(asio::socket_base::reuse_address(true), *ec);
  if (*ec) return "SO_REUSEADDR";
  a.bind(endpoint, *ec);
  if (*ec) return "bind";
  a.listen(asio::socket_base::max_listen_connections, *ec);
  if (*ec) return "listen";
  asio::ip::tcp::endpoint bound = a.local_endpoint(*ec);
  if (*ec) return "getsockname";
  *port = bound.port();
  listeners_.push_back(std::move(listener));
  return nullptr;
}

void ServerCore::StartThreads(int threads, int nice, ThreadWrapper wrapper) {
  {
    std::lock_guard<std::mutex> lock(threads_mu_);
    running_threads_ += threads;
  }
  for (int i = 0; i < threads; ++i) {
    asio::io_context* ioc = contexts_[i % contexts_.size()].get();
    threads_.emplace_back([this, ioc, nice, wrapper] { RunThread(ioc, nice, wrapper); });
  }
}

void ServerCore::RunThread(asio::io_context* ioc, int nice, const ThreadWrapper& wrapper) {
  if (nice != 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice);
  auto run_loop = [this, ioc] {
    for (;;) {
      try {
        ioc->run();
        break;
      } catch (const std::exception& e) {
        spdlog::error("{}: {}", what_, e.what());
      }
    }
  };
  if (wrapper) {
    wrapper(*ioc, run_loop);
  } else {
    run_loop();
  }
  std::lock_guard<std::mutex> lock(threads_mu_);
  --running_threads_;
  threads_cv_.notify_all();
}

std::shared_ptr<ServerSession> ServerCore::Register(
    const std::function<std::shared_ptr<ServerSession>(std::uint64_t id)>& make) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return nullptr;
  std::uint64_t id = next_id_++;
  connections_.fetch_add(1);
  std::shared_ptr<ServerSession> session = make(id);
  sessions_[id] = session;
  return session;
}

void ServerCore::Unregister(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(id);
  connections_.fetch_sub(1);
}

bool ServerCore::Stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

void ServerCore::Stop() {
  if (stopped_) return;
  stopped_ = true;
  std::vector<std::shared_ptr<ServerSession>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [id, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (Listener& l : listeners_) {
    asio::post(l.acceptor->get_executor(), [&l] {
      boost::system::error_code ignored;
      l.acceptor->close(ignored);
      l.retry->cancel();
    });
  }
  for (auto& s : live) s->Close();
  live.clear();
  work_.clear();
  {
    // Closed connections finish their pending steps and the threads run out of
    // work; a handler still running is waited for below.
    std::unique_lock<std::mutex> lock(threads_mu_);
    threads_cv_.wait_for(lock, kStopGrace, [this] { return running_threads_ == 0; });
  }
  for (auto& ioc : contexts_) ioc->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  listeners_.clear();
  contexts_.clear();  // destroys what was still pending, and with it the last sessions
}

}  // namespace saring::net
