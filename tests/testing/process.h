// ChildProcess: a real program (saringd, unbound) started by a test, owned by
// it, and ended by PID when the test is done, whatever happens.
#ifndef SARING_TESTS_TESTING_PROCESS_H_
#define SARING_TESTS_TESTING_PROCESS_H_

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace saring::testing {

// Forks and runs argv[0] with standard input from `in_path` and output to
// `out_path` / `err_path` (one file when they are the same path).
inline pid_t Spawn(const std::vector<std::string>& argv, const std::string& in_path,
                   const std::string& out_path, const std::string& err_path) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  int in = open(in_path.c_str(), O_RDONLY);
  int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int err = err_path == out_path ? out : open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(in, 0);
  dup2(out, 1);
  dup2(err, 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { Stop(); }

  // Starts argv[0] with its output (stdout and stderr) in `log_path`.
  bool Start(const std::vector<std::string>& argv, const std::string& log_path) {
    log_path_ = log_path;
    pid_ = Spawn(argv, "/dev/null", log_path, log_path);
    return pid_ > 0;
  }

  // Waits for the program to end; returns its exit status, or 128 + signal.
  int Wait() {
    if (pid_ > 0) {
      int status;
      waitpid(pid_, &status, 0);
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
    }
    return exit_status_;
  }

  // Waits (bounded) until the log holds `text`; false on timeout or exit.
  bool WaitForLog(const std::string& text, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Log().find(text) != std::string::npos) return true;
      if (!Running()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::string Log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  bool Running() {
    if (pid_ <= 0) return false;
    int status;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
      return false;
    }
    return true;
  }

  void Signal(int signo) {
    if (pid_ > 0) kill(pid_, signo);
  }

  // SIGTERM, then SIGKILL after `grace`. Returns the exit status.
  int Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000)) {
    if (pid_ <= 0) return exit_status_;
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (Running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status;
      waitpid(pid_, &status, 0);
      exit_status_ = 128 + SIGKILL;
      pid_ = -1;
    }
    return exit_status_;
  }

  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
  std::string log_path_;
};

// A loopback port nothing listens on right now (UDP and TCP), for a server
// the test is about to start.
inline int FreePort() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a);
    getsockname(u, reinterpret_cast<sockaddr*>(&a), &len);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    bool tcp_free = bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(t);
    close(u);
    if (tcp_free) return ntohs(a.sin_port);
  }
  return -1;
}

}  // namespace saring::testing

#endif  // SARING_TESTS_TESTING_PROCESS_H_
