// udp_responder: the packet-I/O ceiling for bench/dns/run.sh. Answers every
// UDP datagram on ADDR:PORT with the datagram itself, turned into an NXDOMAIN
// answer (QR bit set, RCODE 3): no parsing, no lookup, no allocation. N
// threads, each with its own SO_REUSEPORT socket, loop recvmmsg -> sendmmsg on
// batches of up to 32 datagrams, as saringd's workers do.
//
//   udp_responder [--addr 127.0.0.1] [--port 5399] [--threads 2]
//
// Prints "udp_responder ready on ADDR:PORT (N threads)" once every socket is
// bound; stops on SIGTERM or SIGINT.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kBatch = 32;
constexpr std::size_t kPacketBytes = 4096;

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

int OpenSocket(const std::string& addr, int port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1 ||
      bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void Serve(int fd) {
  struct Batch {
    std::array<std::array<std::uint8_t, kPacketBytes>, kBatch> buf;
    std::array<mmsghdr, kBatch> in, out;
    std::array<iovec, kBatch> in_iov, out_iov;
    std::array<sockaddr_storage, kBatch> addr;
  };
  auto b = std::make_unique<Batch>();
  for (int i = 0; i < kBatch; ++i) {
    b->in_iov[i] = {b->buf[i].data(), kPacketBytes};
    b->in[i].msg_hdr = {};
    b->in[i].msg_hdr.msg_iov = &b->in_iov[i];
    b->in[i].msg_hdr.msg_iovlen = 1;
    b->in[i].msg_hdr.msg_name = &b->addr[i];
  }
  pollfd pfd{fd, POLLIN, 0};
  while (!g_stop.load(std::memory_order_relaxed)) {
    for (int i = 0; i < kBatch; ++i) {
      b->in[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      b->in[i].msg_len = 0;
    }
    int n = recvmmsg(fd, b->in.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) {
      poll(&pfd, 1, 200);  // wakes up now and then to notice a stop
      continue;
    }
    int m = 0;
    for (int i = 0; i < n; ++i) {
      std::uint8_t* p = b->buf[i].data();
      unsigned len = b->in[i].msg_len;
      if (len < 12) continue;
      p[2] |= 0x80;                                      // QR
      p[3] = static_cast<std::uint8_t>((p[3] & 0xf0) | 3);  // RCODE = NXDOMAIN
      b->out_iov[m] = {p, len};
      b->out[m].msg_hdr = {};
      b->out[m].msg_hdr.msg_iov = &b->out_iov[m];
      b->out[m].msg_hdr.msg_iovlen = 1;
      b->out[m].msg_hdr.msg_name = &b->addr[i];
      b->out[m].msg_hdr.msg_namelen = b->in[i].msg_hdr.msg_namelen;
      ++m;
    }
    for (int sent = 0; sent < m;) {
      int r = sendmmsg(fd, b->out.data() + sent, m - sent, 0);
      if (r <= 0) break;  // a full send buffer drops the rest, as a server would
      sent += r;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1";
  int port = 5399, threads = 2;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "udp_responder: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--addr") addr = next();
    else if (a == "--port") port = std::atoi(next().c_str());
    else if (a == "--threads") threads = std::atoi(next().c_str());
    else {
      std::fprintf(stderr, "usage: udp_responder [--addr A] [--port P] [--threads N]\n");
      return 2;
    }
  }
  if (port <= 0 || port > 65535 || threads < 1 || threads > 64) {
    std::fprintf(stderr, "udp_responder: bad --port or --threads\n");
    return 2;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::vector<int> fds;
  for (int i = 0; i < threads; ++i) {
    int fd = OpenSocket(addr, port);
    if (fd < 0) {
      std::fprintf(stderr, "udp_responder: cannot bind %s:%d: %s\n", addr.c_str(), port,
                   std::strerror(errno));
      return 1;
    }
    fds.push_back(fd);
  }
  std::vector<std::thread> workers;
  for (int fd : fds) workers.emplace_back(Serve, fd);
  std::printf("udp_responder ready on %s:%d (%d threads)\n", addr.c_str(), port, threads);
  std::fflush(stdout);
  for (auto& t : workers) t.join();
  for (int fd : fds) close(fd);
  return 0;
}
