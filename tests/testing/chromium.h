// RunChromium: loads one URL in Debian's headless Chromium (/usr/bin/chromium),
// optionally through an HTTP proxy, and returns the DOM after load
// (--dump-dom) and, if asked, a PNG screenshot; both come from the same run.
//
// Each call owns a fresh profile folder (removed afterwards) and the process
// group of the browser it starts (browser, zygotes, renderers, GPU and network
// utilities): the group is killed by its id when the run ends or when it
// exceeds the timeout, so nothing outlives the call.
//
// The browser is kept off the Internet: background networking, component and
// Gaia (accounts.google.com) requests are switched off or pointed at
// unresolvable *.invalid hosts that are never proxied, so a proxy in the test
// sees only the page's own requests.
#ifndef SARING_TESTS_TESTING_CHROMIUM_H_
#define SARING_TESTS_TESTING_CHROMIUM_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/temp_dir.h"

namespace saring::testing {

struct ChromiumOptions {
  std::string url;
  // "host:port" of an HTTP proxy, used for every URL including loopback
  // ones; "" for direct connections (--no-proxy-server).
  std::string proxy;
  // Where to write a PNG of the page; "" for none.
  std::string screenshot_path;
  int width = 1280;
  int height = 800;
  int timeout_ms = 30000;
  // Appended after the defaults (a later switch of the same name wins).
  std::vector<std::string> extra_args;
  // Put before the browser's argv, e.g. NetnsTopology::InClient({}) to run
  // it inside the client namespace.
  std::vector<std::string> command_prefix;
  std::string binary = "/usr/bin/chromium";
};

struct ChromiumResult {
  int status = -1;         // exit status, or 128 + signal; -1 if not started
  bool timed_out = false;  // killed after timeout_ms
  std::string dom;         // --dump-dom output: the serialized DOM after load
  std::string stderr_tail; // last 4 KiB of the browser's standard error
  long elapsed_ms = 0;
  std::vector<std::string> argv;  // what was run, for failure messages

  // One line for a test's failure message.
  std::string Describe() const {
    std::string cmd;
    for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    return "chromium status " + std::to_string(status) + (timed_out ? " (timed out)" : "") + " after " +
           std::to_string(elapsed_ms) + " ms: " + cmd + "\n--- stderr tail:\n" + stderr_tail;
  }
};

// The browser's argv for `options` with profile folder `profile_dir`.
inline std::vector<std::string> ChromiumArgv(const ChromiumOptions& options, const std::string& profile_dir) {
  std::vector<std::string> argv = options.command_prefix;
  argv.push_back(options.binary);
  for (const char* a : {
           "--headless",
           "--no-sandbox",  // required as root
           "--disable-gpu",
           "--disable-dev-shm-usage",
           "--no-first-run",
           "--no-default-browser-check",
           "--hide-scrollbars",
           "--mute-audio",
           "--password-store=basic",
           // Nothing of its own to the network.
           "--disable-background-networking",
           "--disable-component-update",
           "--disable-sync",
           "--disable-extensions",
           "--disable-default-apps",
           "--disable-domain-reliability",
           "--disable-client-side-phishing-detection",
           "--disable-breakpad",
           "--metrics-recording-only",
           "--no-pings",
           "--allow-browser-signin=false",
           "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,OptimizationGuideModelDownloading,"
           "MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
           // Gaia's ListAccounts and the component updater's check still run
           // despite the switches above: send them to hosts that never
           // resolve and are never proxied.
           "--gaia-url=http://gaia.invalid/",
           "--component-updater=url-source=http://update.invalid/",
           "--host-resolver-rules=MAP *.invalid ~NOTFOUND",
       }) {
    argv.push_back(a);
  }
  argv.push_back("--user-data-dir=" + profile_dir);
  argv.push_back("--window-size=" + std::to_string(options.width) + "," + std::to_string(options.height));
  if (options.proxy.empty()) {
    argv.push_back("--no-proxy-server");
  } else {
    argv.push_back("--proxy-server=http://" + options.proxy);
    // Without <-loopback> Chromium never proxies localhost / 127.0.0.1.
    argv.push_back("--proxy-bypass-list=<-loopback>;*.invalid");
  }
  if (!options.screenshot_path.empty()) argv.push_back("--screenshot=" + options.screenshot_path);
  argv.push_back("--dump-dom");
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  argv.push_back(options.url);
  return argv;
}

inline ChromiumResult RunChromium(const ChromiumOptions& options) {
  TempDir scratch;
  std::string out_path = scratch.Sub("dom.html"), err_path = scratch.Sub("stderr");
  ChromiumResult result;
  result.argv = ChromiumArgv(options, scratch.Sub("profile"));
  auto start = std::chrono::steady_clock::now();

  pid_t pid = fork();
  if (pid < 0) return result;
  if (pid == 0) {
    setpgid(0, 0);  // its own group, so every helper process is killed with it
    int in = open("/dev/null", O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> args;
    for (const std::string& a : result.argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  setpgid(pid, pid);  // also here: no window where a kill could miss the group

  auto deadline = start + std::chrono::milliseconds(options.timeout_ms);
  int wstatus = 0;
  bool exited = false;
  while (!exited) {
    pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == pid || r < 0) {
      exited = r == pid;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      exited = waitpid(pid, &wstatus, 0) == pid;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Helpers still alive after the browser itself ended (rare) go too.
  kill(-pid, SIGKILL);
  result.elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  if (exited) result.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);

  auto slurp = [](const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  result.dom = slurp(out_path);
  std::string err = slurp(err_path);
  result.stderr_tail = err.size() > 4096 ? err.substr(err.size() - 4096) : err;
  return result;
}

}  // namespace saring::testing

#endif  // SARING_TESTS_TESTING_CHROMIUM_H_
