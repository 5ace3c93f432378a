// RunProgram: runs a real program to completion with the given standard input
// and returns its exit status and output. For tests of the command-line tools.
#ifndef SARING_TESTS_TESTING_SUBPROCESS_H_
#define SARING_TESTS_TESTING_SUBPROCESS_H_

#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "testing/process.h"

namespace saring::testing {

struct ProgramResult {
  int status = -1;  // exit status, or 128 + signal
  std::string out;
  std::string err;
};

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
  auto slurp = [](const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  return result;
}

}  // namespace saring::testing

#endif  // SARING_TESTS_TESTING_SUBPROCESS_H_
