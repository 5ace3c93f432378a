// NetnsTopology: two network namespaces made by a test for transparent-proxy
// tests, owned by it, and deleted (with their veth pair and nftables rules)
// when it is destroyed.
//
//   client ns  "srg-cli-<pid>"   veth-cli 10.199.0.2/24, fd99:199::2/64,
//       |  veth pair                      default routes via the gateway
//   gateway ns "srg-gw-<pid>"    veth-gw  10.199.0.1/24, fd99:199::1/64
//                                lo       127.0.0.1, ::1, 10.199.1.1/32 and
//                                         fd99:199:1::1/128 ("origin")
//
// The gateway ns is where saringd and the test's origin servers run; the
// client ns is where curl or Chromium run. The gateway has nftables tables
// `ip saring_test` and `ip6 saring_test`, each with a nat prerouting chain (AddRedirect: what the client
// sends to port D goes to a local listener on port P, which reads the
// original destination with getsockopt(SOL_IP, SO_ORIGINAL_DST)) and a nat
// output chain (AddOriginRedirect). Neither ip_forward nor route_localnet is
// needed: redirected connections end in the gateway itself.
//
// Processes go into a namespace by wrapping their argv with InClient /
// InGateway (`ip netns exec NS prog...` execs prog: the PID Spawn returns is
// the program's, so ChildProcess owns and stops it as usual). Sockets go into
// one with RunInNamespace. The topology starts no process of its own beyond
// the short `ip`/`nft` commands it waits for; stop the test's processes in
// the namespaces before it is destroyed (declare the topology first), since a
// namespace lives on while a process is inside it.
//
// Needs root, iproute2 and nft. Not thread-safe; one object per topology.
#ifndef SARING_TESTS_TESTING_NETNS_H_
#define SARING_TESTS_TESTING_NETNS_H_

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace saring::testing {

class NetnsTopology {
 public:
  static constexpr const char* kIp = "/usr/sbin/ip";
  static constexpr const char* kNft = "/usr/sbin/nft";
  static constexpr const char* kClientAddress = "10.199.0.2";
  static constexpr const char* kGatewayAddress = "10.199.0.1";
  static constexpr const char* kOriginAddress = "10.199.1.1";
  static constexpr const char* kClientAddress6 = "fd99:199::2";
  static constexpr const char* kGatewayAddress6 = "fd99:199::1";
  static constexpr const char* kOriginAddress6 = "fd99:199:1::1";
  // Interface names, the same in every topology: each is made directly in
  // its own namespace, so they never meet in the host's namespace.
  static constexpr const char* kClientVeth = "veth-cli";
  static constexpr const char* kGatewayVeth = "veth-gw";

  NetnsTopology() = default;
  NetnsTopology(const NetnsTopology&) = delete;
  NetnsTopology& operator=(const NetnsTopology&) = delete;
  ~NetnsTopology() { Destroy(); }

  // Builds the topology into `*out` (which must not hold one yet). On failure
  // removes whatever it made and returns false with the refused command and
  // its message in `*error`; a test may GTEST_SKIP with it.
  static bool Create(NetnsTopology* out, std::string* error) {
    std::string unused;
    if (!error) error = &unused;
    if (out->created_) return Fail(error, "NetnsTopology::Create: already created");
    if (geteuid() != 0) return Fail(error, "NetnsTopology needs root (euid is not 0)");
    for (const char* tool : {kIp, kNft}) {
      if (access(tool, X_OK) != 0) return Fail(error, std::string(tool) + " not found (install iproute2/nftables)");
    }
    static std::atomic<int> counter{0};
    int n = counter++;
    std::string suffix = std::to_string(getpid()) + (n ? "-" + std::to_string(n) : "");
    out->scratch_ = std::make_unique<TempDir>();
    out->client_ = "srg-cli-" + suffix;
    out->gateway_ = "srg-gw-" + suffix;
    // The PID is ours, so namespaces of that name are left over from a dead
    // process that had it: remove them.
    for (const std::string& ns : {out->client_, out->gateway_}) {
      if (access(("/run/netns/" + ns).c_str(), F_OK) == 0) out->Run({kIp, "netns", "del", ns}, "", nullptr);
    }
    out->created_ = true;  // from here on Destroy() cleans up
    const std::string& c = out->client_;
    const std::string& g = out->gateway_;
    const std::vector<std::vector<std::string>> steps = {
        {kIp, "netns", "add", c},
        {kIp, "netns", "add", g},
        {kIp, "link", "add", kClientVeth, "netns", c, "type", "veth", "peer", "name", kGatewayVeth, "netns", g},
        {kIp, "-n", c, "link", "set", "lo", "up"},
        {kIp, "-n", g, "link", "set", "lo", "up"},
        {kIp, "-n", c, "addr", "add", std::string(kClientAddress) + "/24", "dev", kClientVeth},
        {kIp, "-n", g, "addr", "add", std::string(kGatewayAddress) + "/24", "dev", kGatewayVeth},
        {kIp, "-n", g, "addr", "add", std::string(kOriginAddress) + "/32", "dev", "lo"},
        {kIp, "-n", c, "link", "set", kClientVeth, "up"},
        {kIp, "-n", g, "link", "set", kGatewayVeth, "up"},
        {kIp, "-n", c, "route", "add", "default", "via", kGatewayAddress},
        // IPv6 without duplicate address detection, so the addresses work at once.
        {kIp, "-n", c, "addr", "add", std::string(kClientAddress6) + "/64", "dev", kClientVeth, "nodad"},
        {kIp, "-n", g, "addr", "add", std::string(kGatewayAddress6) + "/64", "dev", kGatewayVeth, "nodad"},
        {kIp, "-n", g, "addr", "add", std::string(kOriginAddress6) + "/128", "dev", "lo", "nodad"},
        {kIp, "-n", c, "-6", "route", "add", "default", "via", kGatewayAddress6},
    };
    for (const auto& step : steps) {
      if (!out->Run(step, "", error)) {
        out->Destroy();
        return false;
      }
    }
    std::string table;
    for (const char* family : {"ip", "ip6"}) {
      table += std::string("table ") + family +
               " saring_test {\n"
               "  chain prerouting {\n"
               "    type nat hook prerouting priority dstnat; policy accept;\n"
               "  }\n"
               "  chain output {\n"
               "    type nat hook output priority -100; policy accept;\n"
               "  }\n"
               "}\n";
    }
    if (!out->Run(out->InGateway({kNft, "-f", "-"}), table, error)) {
      out->Destroy();
      return false;
    }
    return true;
  }

  // TCP from the client ns to any address, IPv4 or IPv6, port `dport`, goes
  // to the gateway ns's port `to_port` (listen on [::] there for both, or
  // 0.0.0.0 for IPv4 only); the listener finds the original destination with
  // SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST.
  bool AddRedirect(std::uint16_t dport, std::uint16_t to_port, std::string* error = nullptr) {
    std::string rule = " saring_test prerouting iifname \"" + std::string(kGatewayVeth) + "\" tcp dport " +
                       std::to_string(dport) + " redirect to :" + std::to_string(to_port) + "\n";
    return Nft("add rule ip" + rule + "add rule ip6" + rule, error);
  }

  // Connections made inside the gateway ns (by saringd, say) to
  // `address`:`dport` go to 127.0.0.1:`to_port` there instead: for an origin
  // that only listens on loopback (HttpOrigin started with RunInNamespace).
  // The IPv6 origin address goes to [::1]:`to_port` (an origin on [::]).
  bool AddOriginRedirect(std::uint16_t dport, std::uint16_t to_port, std::string* error = nullptr,
                         const std::string& address = kOriginAddress) {
    std::string family = address.find(':') == std::string::npos ? "ip" : "ip6";
    return Nft("add rule " + family + " saring_test output " + family + " daddr " + address + " tcp dport " +
                   std::to_string(dport) + " redirect to :" + std::to_string(to_port) + "\n",
               error);
  }

  // One more origin address (e.g. "10.199.1.2") on the gateway's lo.
  bool AddOriginAddress(const std::string& address, std::string* error = nullptr) {
    return Run({kIp, "-n", gateway_, "addr", "add", address + "/32", "dev", "lo"}, "", error);
  }

  // `argv` to run inside the namespace: {"/usr/sbin/ip", "netns", "exec",
  // NS, argv...}. InClient({}) is the bare prefix.
  std::vector<std::string> InClient(std::vector<std::string> argv) const { return In(client_, std::move(argv)); }
  std::vector<std::string> InGateway(std::vector<std::string> argv) const { return In(gateway_, std::move(argv)); }

  // Runs `fn` on a new thread that has joined namespace `ns` and waits for
  // it: sockets `fn` creates (a listener, HttpOrigin::Start's acceptor, and
  // threads it starts) live in `ns`, and stay there when used from other
  // threads. The calling thread's namespace is untouched.
  static bool RunInNamespace(const std::string& ns, const std::function<void()>& fn, std::string* error = nullptr) {
    bool joined = false;
    std::string why;
    std::thread t([&] {
      int fd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
        why = "setns(" + ns + "): " + std::string(strerror(errno));
        if (fd >= 0) close(fd);
        return;
      }
      close(fd);
      joined = true;
      fn();
    });
    t.join();
    if (!joined && error) *error = why;
    return joined;
  }
  bool RunInClient(const std::function<void()>& fn, std::string* error = nullptr) const {
    return RunInNamespace(client_, fn, error);
  }
  bool RunInGateway(const std::function<void()>& fn, std::string* error = nullptr) const {
    return RunInNamespace(gateway_, fn, error);
  }

  const std::string& client_ns() const { return client_; }
  const std::string& gateway_ns() const { return gateway_; }
  bool created() const { return created_; }

  // Deletes both namespaces; the veth pair and the rules go with them once
  // no process is left inside. Idempotent; the destructor calls it.
  void Destroy() {
    if (!created_) return;
    for (const std::string& ns : {client_, gateway_}) {
      if (access(("/run/netns/" + ns).c_str(), F_OK) == 0) Run({kIp, "netns", "del", ns}, "", nullptr);
    }
    created_ = false;
  }

 private:
  static bool Fail(std::string* error, std::string message) {
    *error = std::move(message);
    return false;
  }

  static std::vector<std::string> In(const std::string& ns, std::vector<std::string> argv) {
    std::vector<std::string> out = {kIp, "netns", "exec", ns};
    out.insert(out.end(), std::make_move_iterator(argv.begin()), std::make_move_iterator(argv.end()));
    return out;
  }

  bool Nft(const std::string& script, std::string* error) {
    if (!created_) {
      if (error) *error = "NetnsTopology: not created";
      return false;
    }
    return Run(InGateway({kNft, "-f", "-"}), script, error);
  }

  // Runs one command to completion; on failure puts it and its output in
  // `*error` (when not null).
  bool Run(const std::vector<std::string>& argv, const std::string& input, std::string* error) {
    ProgramResult r = RunProgram(argv, input, scratch_->path());
    if (r.status == 0) return true;
    if (error) {
      std::string cmd;
      for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
      *error = "`" + cmd + "` exited " + std::to_string(r.status) + ": " + r.err + r.out;
      if (!input.empty()) *error += " (input: " + input + ")";
    }
    return false;
  }

  bool created_ = false;
  std::string client_;
  std::string gateway_;
  std::unique_ptr<TempDir> scratch_;  // stdin/stdout/stderr files of Run
};

}  // namespace saring::testing

#endif  // SARING_TESTS_TESTING_NETNS_H_
