// RunProgram: runs a real program to completion with the given standard input
// and returns its exit status and output. For tests of the command-line tools.
// RunBounded: the same with a time limit, after which the program is killed
// (by PID): for programs a test expects to end, but must not wait on forever.
#ifndef SARING_TESTS_TESTING_SUBPROCESS_H_
#define SARING_TESTS_TESTING_SUBPROCESS_H_

#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/process.h"

namespace saring::testing {

struct ProgramResult {
  int status = -1;  // exit status, or 128 + signal
  std::string out;
  std::string err;
};

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// `scratch` is a folder for the input and output files.
inline ProgramResult RunProgram(const std::vector<std::string>& argv, const std::string& input,
                                const std::string& scratch) {
  std::string in_path = scratch + "/stdin", out_path = scratch + "/stdout",
              err_path = scratch + "/stderr";
  std::ofstream(in_path, std::ios::binary) << input;
  ProgramResult result;
  pid_t pid = Spawn(argv, in_path, out_path, err_path);
  int wstatus = 0;
  if (pid <= 0 || waitpid(pid, &wstatus, 0) != pid) return result;
  result.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  result.out = ReadWholeFile(out_path);
  result.err = ReadWholeFile(err_path);
  return result;
}

struct BoundedRun {
  int status = -1;  // exit status, 128 + signal, or -1 when it had to be killed
  bool timed_out = false;
  std::string out, err;
  double seconds = 0;
  std::string Show() const {
    return "status " + std::to_string(status) + (timed_out ? " (timed out)" : "") + "\n--- stdout:\n" + out +
           "\n--- stderr:\n" + err;
  }
};

// Runs argv[0] to completion, at most `timeout`; then SIGKILLs it (by PID).
// `scratch` is a folder for its input and output files (removed afterwards);
// several may run at once.
inline BoundedRun RunBounded(const std::vector<std::string>& argv, const std::string& scratch,
                             std::chrono::milliseconds timeout, const std::string& input = "") {
  static std::atomic<int> seq{0};
  std::string stem = scratch + "/run" + std::to_string(++seq);
  std::ofstream(stem + ".in", std::ios::binary) << input;
  BoundedRun r;
  auto start = std::chrono::steady_clock::now();
  pid_t pid = Spawn(argv, stem + ".in", stem + ".out", stem + ".err");
  if (pid <= 0) return r;
  int wstatus = 0;
  for (;;) {
    pid_t w = waitpid(pid, &wstatus, WNOHANG);
    if (w == pid) {
      r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
      break;
    }
    if (std::chrono::steady_clock::now() - start > timeout) {
      kill(pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.out = ReadWholeFile(stem + ".out");
  r.err = ReadWholeFile(stem + ".err");
  std::error_code ec;
  for (const char* ext : {".in", ".out", ".err"}) std::filesystem::remove(stem + ext, ec);
  return r;
}

}  // namespace saring::testing

#endif  // SARING_TESTS_TESTING_SUBPROCESS_H_
