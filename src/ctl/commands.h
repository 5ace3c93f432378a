// The saringctl commands (init, import, check, rules, stats, export, audit, feeds, tokens),
// runnable in two places with the same output: in saringctl on a stopped
// store, and in saringd for a request on its control socket while it owns
// the store.
#ifndef SARING_CTL_COMMANDS_H_
#define SARING_CTL_COMMANDS_H_

#include <iosfwd>
#include <string>
#include <vector>

namespace saring {
class DnsServer;
class Engine;
class FeedService;
}  // namespace saring
namespace saring::proxy {
class ProxyServer;
}  // namespace saring::proxy

namespace saring::ctl {

// Where a command runs and talks.
struct Invocation {
  std::string db;         // --db
  std::string rules_dir;  // --rules: bundled defaults for init
  std::string by;         // --by: who makes a change
  std::string cwd;        // relative file names are taken from here ("" = the process's)
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  Engine* running = nullptr;  // saringd's engine: the command uses it instead of opening --db
  const DnsServer* dns = nullptr;  // saringd's DNS server: `stats` adds its counters
  const proxy::ProxyServer* proxy = nullptr;  // saringd's proxy: `stats` adds its counters
  FeedService* feeds = nullptr;    // saringd's feeds: `feeds` commands use it (and its turn to run)
  std::string server;  // --server URL: run the command through that saringd's admin API
  std::string token;   // --token (or SARING_TOKEN) for --server
  std::string cacert;  // --cacert: CA bundle for an https --server ("" = the system's)
};

// Exit statuses: 0 done, 1 refused or failed, 2 bad command line.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// Parses `args` (without the program name) and runs the command.
int RunCommand(const std::vector<std::string>& args, Invocation& ctx);

}  // namespace saring::ctl

#endif  // SARING_CTL_COMMANDS_H_
