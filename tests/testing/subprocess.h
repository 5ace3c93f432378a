// RunProgram: runs a real program to completion with the given standard input
// and returns its exit status and output. For tests of the command-line tools.
#ifndef SARING_TESTS_TESTING_SUBPROCESS_H_
#define SARING_TESTS_TESTING_SUBPROCESS_H_

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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
  pid_t pid = fork();
  if (pid == 0) {
    int in = open(in_path.c_str(), O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  ProgramResult result;
  int wstatus = 0;
  if (waitpid(pid, &wstatus, 0) != pid) return result;
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
