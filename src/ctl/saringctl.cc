// saringctl: the operator's command line for a saring store. With saringd
// running on the store, commands go to it over its control socket (it owns
// the store); otherwise they run here on the store itself. Same output both
// ways. With --server URL --token T they go to a saringd's admin API instead.
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "ctl/commands.h"
#include "ctl/control_channel.h"

#ifndef SARING_DEFAULT_RULES_DIR
#define SARING_DEFAULT_RULES_DIR "rules"
#endif

namespace {

// Who makes a change: the person behind sudo, else the account running this.
std::string LoginName() {
  if (const char* v = std::getenv("SUDO_USER"); v && *v) return v;
  if (const passwd* pw = getpwuid(geteuid())) return pw->pw_name;
  return "saringctl";
}

// The value of "--db" in args ("--db DIR" or "--db=DIR"), or "".
std::string DbOf(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--db" && i + 1 < args.size()) return args[i + 1];
    if (args[i].starts_with("--db=")) return args[i].substr(5);
  }
  return "";
}

bool ReadsStdin(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "-" || a == "--stdin") return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace saring::ctl;
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string db = DbOf(args);
  char cwd[4096];
  std::string here = getcwd(cwd, sizeof cwd) ? cwd : "";

  bool remote = false;
  for (const std::string& a : args) remote |= a == "--server" || a.starts_with("--server=");
  if (!db.empty() && !remote) {
    ControlRequest request;
    request.args = args;
    request.args.insert(request.args.begin(), {"--by", LoginName()});  // a later --by wins
    request.cwd = here;
    ControlResponse response;
    std::string input;
    bool reads_stdin = ReadsStdin(args);
    if (reads_stdin) {
      input.assign(std::istreambuf_iterator<char>(std::cin), {});
      request.input = input;
    }
    saring::Status st = SendControlRequest(ControlSocketPath(db), request, &response);
    if (st.ok()) {
      std::cout << response.out;
      std::cerr << response.err;
      return response.exit_status;
    }
    if (!st.IsNotFound()) {
      std::cerr << "saringctl: " << st.ToString() << "\n";
      return kExitFailed;
    }
    if (reads_stdin) {  // no saringd: run here, on what was already read
      std::istringstream in(input);
      Invocation ctx{"", SARING_DEFAULT_RULES_DIR, LoginName(), "", in, std::cout, std::cerr};
      return RunCommand(args, ctx);
    }
  }
  Invocation ctx{"", SARING_DEFAULT_RULES_DIR, LoginName(), "", std::cin, std::cout, std::cerr};
  return RunCommand(args, ctx);
}
