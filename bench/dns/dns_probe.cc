// dns_probe: the two small measurements bench/dns/run.sh needs besides dnsperf.
//
//   dns_probe wait --port P --name NAME [--rcode 3] [--since-ns T] [--interval-ms 10]
//                  [--timeout-s 300]
//     Asks NAME (type A) every interval until an answer with that RCODE comes
//     back, then prints the seconds from T (CLOCK_REALTIME in ns, e.g. from
//     `date +%s%N` just before the server was started; default: now) to that
//     answer. Exit 1 on timeout.
//
//   dns_probe stream --port P --queries FILE --rate QPS [--duration S] [--sockets 4]
//                    [--timeout-ms 1000]
//     Open loop: sends the queries of FILE (dnsperf format, "name type" a line;
//     only the name is used, type A) round robin over N sockets at a fixed
//     rate, whatever the server does, until S seconds pass or SIGINT/SIGTERM,
//     then waits timeout for the last answers. Prints one line of key=value:
//     sent, answered (within the timeout), lost, rcode counts, latency
//     percentiles of the answered queries (microseconds, send to receive; also
//     apart for NOERROR and NXDOMAIN answers), and
//     the longest run of unanswered queries (gap_ms: from the first unanswered
//     query's send to the next answered one's; gap_start_ns/gap_end_ns on
//     CLOCK_REALTIME, to line it up with a reload).
//
// Loopback only in the benchmark; the address is a parameter (--addr).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

std::int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

std::int64_t RealNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// A query for `name`, type A, class IN, RD set; ID 0 (set per send).
bool BuildQuery(const std::string& name, std::vector<std::uint8_t>* out) {
  out->assign({0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0});
  std::string n = name;
  if (!n.empty() && n.back() == '.') n.pop_back();
  std::size_t start = 0;
  while (start <= n.size() && !n.empty()) {
    std::size_t dot = n.find('.', start);
    if (dot == std::string::npos) dot = n.size();
    std::size_t len = dot - start;
    if (len == 0 || len > 63) return false;
    out->push_back(static_cast<std::uint8_t>(len));
    out->insert(out->end(), n.begin() + start, n.begin() + dot);
    start = dot + 1;
  }
  out->push_back(0);
  out->insert(out->end(), {0, 1, 0, 1});
  return out->size() <= 512;
}

int Connect(const std::string& addr, int port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1 ||
      connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

struct Args {
  std::string mode, addr = "127.0.0.1", name, queries;
  int port = 0, rcode = 3, interval_ms = 10, sockets = 4, timeout_ms = 1000;
  double timeout_s = 300, rate = 1000, duration = 10;
  std::int64_t since_ns = 0;
};

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: dns_probe wait --port P --name NAME [--rcode 3] [--since-ns T] "
               "[--interval-ms 10] [--timeout-s 300] [--addr A]\n"
               "       dns_probe stream --port P --queries FILE --rate QPS [--duration S] "
               "[--sockets 4] [--timeout-ms 1000] [--addr A]\n");
  std::exit(2);
}

int Wait(const Args& a) {
  std::int64_t since = a.since_ns ? a.since_ns : RealNs();
  std::vector<std::uint8_t> q;
  if (!BuildQuery(a.name, &q)) Usage();
  int fd = Connect(a.addr, a.port);
  if (fd < 0) {
    std::perror("dns_probe: socket");
    return 1;
  }
  std::int64_t deadline = MonoNs() + static_cast<std::int64_t>(a.timeout_s * 1e9);
  std::uint16_t id = static_cast<std::uint16_t>(getpid());
  std::uint8_t in[4096];
  int last_rcode = -1;
  while (MonoNs() < deadline && !g_stop.load()) {
    ++id;
    q[0] = static_cast<std::uint8_t>(id >> 8);
    q[1] = static_cast<std::uint8_t>(id);
    std::int64_t next = MonoNs() + a.interval_ms * 1000000LL;
    send(fd, q.data(), q.size(), 0);  // ECONNREFUSED until the server listens: ignored
    for (;;) {
      std::int64_t left = next - MonoNs();
      if (left <= 0) break;
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>((left + 999999) / 1000000)) <= 0) continue;
      ssize_t n = recv(fd, in, sizeof in, MSG_DONTWAIT);
      if (n < 12) continue;
      if (((in[0] << 8) | in[1]) != id || !(in[2] & 0x80)) continue;
      last_rcode = in[3] & 0x0f;
      if (last_rcode == a.rcode) {
        std::printf("%.3f\n", static_cast<double>(RealNs() - since) / 1e9);
        close(fd);
        return 0;
      }
    }
  }
  std::fprintf(stderr, "dns_probe: no rcode %d for %s within %.0f s (last rcode %d)\n", a.rcode,
               a.name.c_str(), a.timeout_s, last_rcode);
  close(fd);
  return 1;
}

int Stream(const Args& a) {
  std::vector<std::vector<std::uint8_t>> wire;
  {
    std::ifstream in(a.queries);
    if (!in) {
      std::fprintf(stderr, "dns_probe: cannot read %s\n", a.queries.c_str());
      return 1;
    }
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string name;
      if (!(ls >> name)) continue;
      std::vector<std::uint8_t> q;
      if (BuildQuery(name, &q)) wire.push_back(std::move(q));
    }
  }
  if (wire.empty() || a.rate <= 0 || a.sockets < 1) Usage();
  std::vector<int> fds;
  for (int i = 0; i < a.sockets; ++i) {
    int fd = Connect(a.addr, a.port);
    if (fd < 0) {
      std::perror("dns_probe: socket");
      return 1;
    }
    fds.push_back(fd);
  }
  const std::size_t cap = static_cast<std::size_t>(a.rate * a.duration) + 16;
  // Per query: send time, answer time (0 = none), rcode. Atomics: the receiver
  // thread reads what the sender wrote.
  std::unique_ptr<std::atomic<std::int64_t>[]> sent_ns(new std::atomic<std::int64_t>[cap]);
  std::unique_ptr<std::atomic<std::int64_t>[]> recv_ns(new std::atomic<std::int64_t>[cap]);
  std::unique_ptr<std::uint8_t[]> rcode(new std::uint8_t[cap]);
  std::unique_ptr<std::atomic<std::int64_t>[]> seq_of_id(new std::atomic<std::int64_t>[65536]);
  for (std::size_t i = 0; i < cap; ++i) sent_ns[i] = 0, recv_ns[i] = 0, rcode[i] = 0;
  for (int i = 0; i < 65536; ++i) seq_of_id[i] = -1;
  std::atomic<std::int64_t> sent{0};
  std::atomic<bool> receiving{true};
  const std::int64_t timeout_ns = a.timeout_ms * 1000000LL;
  std::int64_t late = 0, unmatched = 0;

  std::thread receiver([&] {
    std::vector<pollfd> pfds;
    for (int fd : fds) pfds.push_back({fd, POLLIN, 0});
    std::uint8_t in[4096];
    while (receiving.load(std::memory_order_relaxed)) {
      if (poll(pfds.data(), pfds.size(), 50) <= 0) continue;
      for (std::size_t k = 0; k < pfds.size(); ++k) {
        if (!(pfds[k].revents & POLLIN)) continue;
        for (;;) {
          ssize_t n = recv(pfds[k].fd, in, sizeof in, MSG_DONTWAIT);
          if (n < 0 && errno == ECONNREFUSED) continue;
          if (n < 0) break;
          std::int64_t now = MonoNs();
          if (n < 12) continue;
          std::uint16_t id = static_cast<std::uint16_t>((in[0] << 8) | in[1]);
          std::int64_t seq = seq_of_id[id].load();
          if (seq < 0) { ++unmatched; continue; }
          const auto& q = wire[static_cast<std::size_t>(seq) % wire.size()];
          if (static_cast<std::size_t>(n) < q.size() ||
              std::memcmp(in + 12, q.data() + 12, q.size() - 12) != 0 ||
              recv_ns[seq].load() != 0) {
            ++unmatched;
            continue;
          }
          if (now - sent_ns[seq].load() > timeout_ns) { ++late; continue; }
          rcode[seq] = in[3] & 0x0f;
          recv_ns[seq].store(now);
        }
      }
    }
  });

  const std::int64_t start = MonoNs(), start_real = RealNs();
  const std::int64_t end = start + static_cast<std::int64_t>(a.duration * 1e9);
  const double per_ns = a.rate / 1e9;
  std::int64_t seq = 0, send_errors = 0;
  std::vector<std::uint8_t> buf(512);
  while (!g_stop.load(std::memory_order_relaxed)) {
    std::int64_t now = MonoNs();
    if (now >= end) break;
    std::int64_t due = static_cast<std::int64_t>((now - start) * per_ns) + 1;
    if (due > static_cast<std::int64_t>(cap)) due = cap;
    for (; seq < due; ++seq) {
      const auto& q = wire[static_cast<std::size_t>(seq) % wire.size()];
      std::uint16_t id = static_cast<std::uint16_t>(seq);
      std::memcpy(buf.data(), q.data(), q.size());
      buf[0] = static_cast<std::uint8_t>(id >> 8);
      buf[1] = static_cast<std::uint8_t>(id);
      seq_of_id[id].store(seq);
      sent_ns[seq].store(MonoNs());
      if (send(fds[seq % fds.size()], buf.data(), q.size(), 0) < 0) ++send_errors;
      sent.store(seq + 1);
    }
    timespec ts{0, 200000};  // 0.2 ms: fine enough pacing for 1k..50k qps
    nanosleep(&ts, nullptr);
  }
  std::int64_t stop_mono = MonoNs();
  std::int64_t wait_until = stop_mono + timeout_ns;
  for (std::int64_t first_open = 0; MonoNs() < wait_until; usleep(10000)) {
    while (first_open < seq && recv_ns[first_open].load() != 0) ++first_open;
    if (first_open == seq) break;
  }
  receiving.store(false);
  receiver.join();

  std::int64_t answered = 0, counts[16] = {};
  std::vector<std::int64_t> lat, lat_noerror, lat_nxdomain;
  lat.reserve(seq);
  std::int64_t gap_best = 0, gap_start = -1, gap_end = -1, runs = 0;
  std::int64_t run_first = -1;
  for (std::int64_t i = 0; i < seq; ++i) {
    std::int64_t r = recv_ns[i].load();
    if (r != 0) {
      ++answered;
      ++counts[rcode[i]];
      lat.push_back(r - sent_ns[i].load());
      if (rcode[i] == 0) lat_noerror.push_back(lat.back());
      if (rcode[i] == 3) lat_nxdomain.push_back(lat.back());
      if (run_first >= 0) {
        std::int64_t g = sent_ns[i].load() - sent_ns[run_first].load();
        if (g > gap_best) gap_best = g, gap_start = run_first, gap_end = i;
        run_first = -1;
      }
    } else if (run_first < 0) {
      run_first = i;
      ++runs;
    }
  }
  if (run_first >= 0) {  // unanswered until the end
    std::int64_t g = stop_mono - sent_ns[run_first].load();
    if (g > gap_best) gap_best = g, gap_start = run_first, gap_end = -1;
  }
  std::sort(lat.begin(), lat.end());
  std::sort(lat_noerror.begin(), lat_noerror.end());
  std::sort(lat_nxdomain.begin(), lat_nxdomain.end());
  auto pct_of = [](const std::vector<std::int64_t>& v, double p) -> double {
    if (v.empty()) return 0;
    std::size_t i = static_cast<std::size_t>(p * (v.size() - 1) + 0.5);
    return v[i] / 1000.0;
  };
  auto pct = [&](double p) { return pct_of(lat, p); };
  auto to_real = [&](std::int64_t mono) { return mono - start + start_real; };
  double secs = (stop_mono - start) / 1e9;
  std::printf(
      "sent=%lld answered=%lld lost=%lld late=%lld unmatched=%lld send_errors=%lld "
      "seconds=%.3f rate=%.0f noerror=%lld nxdomain=%lld servfail=%lld refused=%lld "
      "other_rcode=%lld p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
      "unanswered_runs=%lld gap_ms=%.1f gap_start_ns=%lld gap_end_ns=%lld start_ns=%lld "
      "p50_noerror_us=%.1f p99_noerror_us=%.1f p50_nxdomain_us=%.1f p99_nxdomain_us=%.1f\n",
      (long long)seq, (long long)answered, (long long)(seq - answered), (long long)late,
      (long long)unmatched, (long long)send_errors, secs, seq / secs, (long long)counts[0],
      (long long)counts[3], (long long)counts[2], (long long)counts[5],
      (long long)(answered - counts[0] - counts[2] - counts[3] - counts[5]), pct(0.5), pct(0.9),
      pct(0.99), pct(0.999), lat.empty() ? 0.0 : lat.back() / 1000.0, (long long)runs,
      gap_best / 1e6, gap_start < 0 ? 0LL : (long long)to_real(sent_ns[gap_start].load()),
      gap_start < 0 ? 0LL
                    : (long long)(gap_end < 0 ? to_real(stop_mono) : to_real(sent_ns[gap_end].load())),
      (long long)start_real, pct_of(lat_noerror, 0.5), pct_of(lat_noerror, 0.99),
      pct_of(lat_nxdomain, 0.5), pct_of(lat_nxdomain, 0.99));
  for (int fd : fds) close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Usage();
  Args a;
  a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) Usage();
    std::string v = argv[++i];
    if (k == "--addr") a.addr = v;
    else if (k == "--port") a.port = std::atoi(v.c_str());
    else if (k == "--name") a.name = v;
    else if (k == "--rcode") a.rcode = std::atoi(v.c_str());
    else if (k == "--since-ns") a.since_ns = std::atoll(v.c_str());
    else if (k == "--interval-ms") a.interval_ms = std::atoi(v.c_str());
    else if (k == "--timeout-s") a.timeout_s = std::atof(v.c_str());
    else if (k == "--queries") a.queries = v;
    else if (k == "--rate") a.rate = std::atof(v.c_str());
    else if (k == "--duration") a.duration = std::atof(v.c_str());
    else if (k == "--sockets") a.sockets = std::atoi(v.c_str());
    else if (k == "--timeout-ms") a.timeout_ms = std::atoi(v.c_str());
    else Usage();
  }
  if (a.port <= 0 || a.port > 65535) Usage();
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  if (a.mode == "wait" && !a.name.empty()) return Wait(a);
  if (a.mode == "stream" && !a.queries.empty()) return Stream(a);
  Usage();
}
