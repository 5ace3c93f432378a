// push_latency: how long from sending POST /v1/rules to saringd's admin API
// until (a) its 200 response and (b) the first blocked answer from saringd's
// DNS for the pushed name. Plain sockets, one thread, one event loop: the POST
// goes out on a kept-alive HTTP/1.1 connection, and while it is in flight (and
// after, until the block shows) UDP queries for the name go to saringd back to
// back, one outstanding at a time.
//
//   push_latency --api-port P --dns-port D --token srg_... [--count 200]
//
// Before each push the name is queried once and must NOT be blocked (the
// answer then sits in saringd's cache, as for a name people were using). A
// "blocked answer" is NXDOMAIN carrying EDE 15 (Blocked), unless --rcode-only.
// Prints one summary block; --csv FILE writes every sample.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int api_port = 0, dns_port = 0;
  std::string token;
  int count = 200;
  std::string source = "bench-api";
  std::string zone = "push.test";
  std::string prefix;  // default: from the clock, so runs against one store do not collide
  int pause_ms = 20;
  int timeout_ms = 5000;
  bool rcode_only = false;
  std::string csv;
};

[[noreturn]] void Die(const std::string& why) {
  std::cerr << "push_latency: " << why << "\n";
  std::exit(1);
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// ---------------------------------------------------------------- DNS

std::string Query(std::uint16_t id, const std::string& name) {
  std::string q;
  auto u16 = [&](std::uint16_t v) {
    q.push_back(static_cast<char>(v >> 8));
    q.push_back(static_cast<char>(v));
  };
  u16(id);
  u16(0x0100);  // RD
  u16(1);
  u16(0);
  u16(0);
  u16(1);  // the OPT record: EDNS, so the answer can carry EDE
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<char>(dot - start));
    q += name.substr(start, dot - start);
    start = dot + 1;
  }
  q.push_back(0);
  u16(1);  // A
  u16(1);  // IN
  q.push_back(0);  // root
  u16(41);
  u16(1232);
  u16(0);
  u16(0);
  u16(0);
  return q;
}

struct Answer {
  bool ok = false;
  std::uint16_t id = 0;
  int rcode = -1;
  int ede = -1;  // the first EDE info-code, -1 = none
};

bool SkipName(const std::string& m, std::size_t* pos) {
  while (*pos < m.size()) {
    auto len = static_cast<unsigned char>(m[*pos]);
    if (len == 0) return ++*pos, true;
    if ((len & 0xc0) == 0xc0) return *pos += 2, *pos <= m.size();
    *pos += 1 + len;
  }
  return false;
}

Answer Parse(const std::string& m) {
  Answer a;
  if (m.size() < 12) return a;
  auto u16 = [&](std::size_t at) {
    return static_cast<std::uint16_t>((static_cast<unsigned char>(m[at]) << 8) | static_cast<unsigned char>(m[at + 1]));
  };
  a.id = u16(0);
  if (!(u16(2) & 0x8000)) return a;
  a.rcode = u16(2) & 0x0f;
  std::size_t pos = 12;
  for (int i = 0; i < u16(4); ++i) {
    if (!SkipName(m, &pos)) return a;
    pos += 4;
  }
  int records = u16(6) + u16(8) + u16(10);
  for (int i = 0; i < records; ++i) {
    if (!SkipName(m, &pos) || pos + 10 > m.size()) return a;
    std::uint16_t type = u16(pos), rdlen = u16(pos + 8);
    pos += 10;
    if (pos + rdlen > m.size()) return a;
    if (type == 41) {
      for (std::size_t o = pos; o + 4 <= pos + rdlen;) {
        std::uint16_t code = u16(o), len = u16(o + 2);
        if (code == 15 && len >= 2 && a.ede < 0) a.ede = u16(o + 4);
        o += 4 + len;
      }
    }
    pos += rdlen;
  }
  a.ok = true;
  return a;
}

class DnsClient {
 public:
  explicit DnsClient(int port) {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) Die("connect (udp)");
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  ~DnsClient() { close(fd_); }
  int fd() const { return fd_; }

  std::uint16_t Send(const std::string& name) {
    std::uint16_t id = ++id_;
    std::string q = Query(id, name);
    if (send(fd_, q.data(), q.size(), 0) < 0) Die(std::string("send (udp): ") + std::strerror(errno));
    return id;
  }
  // One waiting datagram, parsed; !ok when none.
  Answer Receive() {
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return {};
    return Parse(std::string(buf, static_cast<std::size_t>(n)));
  }
  // A blocking exchange for the priming query.
  Answer Exchange(const std::string& name, int timeout_ms) {
    std::uint16_t id = Send(name);
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) != 1) continue;
      Answer a = Receive();
      if (a.ok && a.id == id) return a;
    }
    return {};
  }

 private:
  int fd_ = -1;
  std::uint16_t id_ = static_cast<std::uint16_t>(getpid());
};

// ---------------------------------------------------------------- HTTP

class HttpConnection {
 public:
  explicit HttpConnection(int port) : port_(port) {}
  ~HttpConnection() { Close(); }

  int fd() {
    if (fd_ < 0) Connect();
    return fd_;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    in_.clear();
  }

  void Send(const std::string& request) {
    std::size_t sent = 0;
    while (sent < request.size()) {
      ssize_t n = send(fd(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) {
        pollfd p{fd_, POLLOUT, 0};
        poll(&p, 1, 100);
        continue;
      }
      if (n <= 0) Die(std::string("send (http): ") + std::strerror(errno));
      sent += static_cast<std::size_t>(n);
    }
  }

  // Reads what is there; true with *status/*body once a whole response is in.
  bool Read(int* status, std::string* body, bool* closed) {
    char buf[16384];
    for (;;) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        in_.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) *closed = true;
      break;
    }
    std::size_t end = in_.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    std::string head = in_.substr(0, end);
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    std::size_t cl = lower.find("\r\ncontent-length:");
    if (cl == std::string::npos) Die("response without Content-Length: " + head);
    std::size_t length = std::strtoul(head.c_str() + cl + 17, nullptr, 10);
    if (in_.size() < end + 4 + length) return false;
    *status = head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
    *body = in_.substr(end + 4, length);
    if (lower.find("\r\nconnection: close") != std::string::npos) *closed = true;
    in_.erase(0, end + 4 + length);
    return true;
  }

 private:
  void Connect() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(port_));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      Die(std::string("connect (http): ") + std::strerror(errno));
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }

  int port_;
  int fd_ = -1;
  std::string in_;
};

// ---------------------------------------------------------------- the run

struct Sample {
  std::string name;
  double response_ms = -1;  // send → 200
  double enforced_ms = -1;  // send → first blocked answer
  int probes = 0;           // DNS queries sent for it
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  std::size_t rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::min(v.size(), std::max<std::size_t>(rank, 1)) - 1];
}

Sample PushOne(const Options& o, int i, HttpConnection& http, DnsClient& dns) {
  Sample s;
  s.name = o.prefix + "-" + std::to_string(i) + "." + o.zone;
  auto blocked = [&](const Answer& a) { return a.rcode == 3 && (o.rcode_only || a.ede == 15); };

  Answer before = dns.Exchange(s.name, 2000);
  if (!before.ok) Die("no DNS answer for " + s.name + " before the push");
  if (blocked(before)) Die(s.name + " is blocked before the push");

  std::string body = "{\"kind\": \"domain\", \"action\": \"block\", \"value\": \"" + s.name + "\", \"source\": \"" +
                     o.source + "\", \"note\": \"push_latency\"}";
  std::string request = "POST /v1/rules HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(o.api_port) +
                        "\r\nAuthorization: Bearer " + o.token +
                        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body;
  int http_fd = http.fd();  // connected (kept alive) before the clock starts
  Clock::time_point t0 = Clock::now();
  http.Send(request);
  std::uint16_t outstanding = dns.Send(s.name);
  Clock::time_point probe_sent = Clock::now();
  ++s.probes;
  bool have_response = false, enforced = false;
  auto deadline = t0 + std::chrono::milliseconds(o.timeout_ms);
  while (!(have_response && enforced)) {
    Clock::time_point now = Clock::now();
    if (now > deadline) {
      Die(s.name + ": " + (have_response ? "never blocked by DNS" : "no HTTP response") + " within " +
          std::to_string(o.timeout_ms) + " ms");
    }
    pollfd p[2] = {{dns.fd(), POLLIN, 0}, {http_fd, static_cast<short>(have_response ? 0 : POLLIN), 0}};
    poll(p, 2, 20);
    if (p[0].revents & POLLIN) {
      Answer a = dns.Receive();
      Clock::time_point at = Clock::now();
      if (a.ok && a.id == outstanding) {
        if (blocked(a)) {
          if (!enforced) s.enforced_ms = Ms(at - t0);
          enforced = true;
        }
        outstanding = 0;
      }
    }
    // Back to back: the next query as soon as the last is answered (or lost for 200 ms).
    if (!enforced && (outstanding == 0 || Clock::now() - probe_sent > std::chrono::milliseconds(200))) {
      outstanding = dns.Send(s.name);
      probe_sent = Clock::now();
      ++s.probes;
    }
    if (!have_response && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      int status = 0;
      std::string response;
      bool closed = false;
      if (http.Read(&status, &response, &closed)) {
        s.response_ms = Ms(Clock::now() - t0);
        have_response = true;
        if (status != 200) Die(s.name + ": HTTP " + std::to_string(status) + " " + response);
      } else if (closed) {
        Die(s.name + ": the admin API closed the connection without a response");
      }
      if (closed) http.Close();
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--api-port") o.api_port = std::atoi(next().c_str());
    else if (a == "--dns-port") o.dns_port = std::atoi(next().c_str());
    else if (a == "--token") o.token = next();
    else if (a == "--count") o.count = std::atoi(next().c_str());
    else if (a == "--source") o.source = next();
    else if (a == "--zone") o.zone = next();
    else if (a == "--prefix") o.prefix = next();
    else if (a == "--pause-ms") o.pause_ms = std::atoi(next().c_str());
    else if (a == "--timeout-ms") o.timeout_ms = std::atoi(next().c_str());
    else if (a == "--rcode-only") o.rcode_only = true;
    else if (a == "--csv") o.csv = next();
    else Die("unknown argument " + a + " (see the comment at the top of push_latency.cc)");
  }
  if (o.api_port <= 0 || o.dns_port <= 0 || o.token.empty() || o.count <= 0) {
    Die("usage: push_latency --api-port P --dns-port D --token T [--count N] [--source S] [--zone Z] "
        "[--prefix P] [--pause-ms MS] [--timeout-ms MS] [--rcode-only] [--csv FILE]");
  }
  if (o.prefix.empty()) {
    o.prefix = "p" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
  }
  HttpConnection http(o.api_port);
  DnsClient dns(o.dns_port);
  std::vector<Sample> samples;
  for (int i = 0; i < o.count; ++i) {
    samples.push_back(PushOne(o, i, http, dns));
    if (o.pause_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o.pause_ms));
  }
  std::vector<double> response, enforced, after;
  double probes = 0;
  for (const Sample& s : samples) {
    response.push_back(s.response_ms);
    enforced.push_back(s.enforced_ms);
    after.push_back(s.enforced_ms - s.response_ms);
    probes += s.probes;
  }
  auto row = [](const char* what, const std::vector<double>& v) {
    std::printf("%-34s p50 %8.3f ms   p99 %8.3f ms   max %8.3f ms   min %8.3f ms\n", what, Percentile(v, 50),
                Percentile(v, 99), *std::max_element(v.begin(), v.end()), *std::min_element(v.begin(), v.end()));
  };
  std::printf("pushes: %zu (one rule per POST, kept-alive connection, %d ms apart), DNS probes per push: %.1f\n",
              samples.size(), o.pause_ms, probes / static_cast<double>(samples.size()));
  row("send -> 200 response", response);
  row("send -> first blocked DNS answer", enforced);
  row("200 response -> blocked (a)-(b)", after);
  std::size_t before_200 = std::count_if(after.begin(), after.end(), [](double d) { return d <= 0; });
  std::printf("blocked by DNS no later than the 200 arrived: %zu of %zu; worst after it: %.3f ms (target <= 100 ms)\n",
              before_200, after.size(), *std::max_element(after.begin(), after.end()));
  if (!o.csv.empty()) {
    std::ofstream out(o.csv);
    out << "name,response_ms,enforced_ms,probes\n";
    for (const Sample& s : samples) out << s.name << "," << s.response_ms << "," << s.enforced_ms << "," << s.probes << "\n";
  }
  return 0;
}
