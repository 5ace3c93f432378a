#include "proxy/upstream_pool.h"

#include <sys/socket.h>

#include <cerrno>

namespace saring::proxy {

bool StillIdle(int fd) {
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void UpstreamPool::DropExpired(std::chrono::steady_clock::time_point now) {
  std::size_t expired = 0;
  while (expired < idle_.size() && now - idle_[expired]->parked > kMaxIdleTime) ++expired;
  idle_.erase(idle_.begin(), idle_.begin() + static_cast<std::ptrdiff_t>(expired));
}

void UpstreamPool::Park(const std::string& key, ProxySocket socket, std::string peer) {
  auto now = std::chrono::steady_clock::now();
  DropExpired(now);
  if (idle_.size() >= kMaxIdle) idle_.erase(idle_.begin());
  idle_.push_back(std::make_unique<Idle>(Idle{key, Connection{std::move(socket), std::move(peer)}, now}));
}

std::optional<UpstreamPool::Connection> UpstreamPool::Take(const std::string& key) {
  DropExpired(std::chrono::steady_clock::now());
  for (std::size_t i = idle_.size(); i-- > 0;) {
    if (idle_[i]->key != key) continue;
    Connection c = std::move(idle_[i]->connection);
    idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
    if (StillIdle(c.socket.native_handle())) return c;
  }
  return std::nullopt;
}

}  // namespace saring::proxy
