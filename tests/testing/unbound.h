// StartUnbound: Debian's unbound as a test's upstream resolver, on loopback,
// answering only from the local data it is given and refusing everything
// else, so nothing leaves the machine. The test owns the process.
#ifndef SARING_TESTS_TESTING_UNBOUND_H_
#define SARING_TESTS_TESTING_UNBOUND_H_

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "testing/process.h"

namespace saring::testing {

// `local_data` is unbound.conf server lines ("  local-zone: ...\n").
inline void StartUnbound(const std::string& dir, int port, const std::string& local_data,
                         ChildProcess* process) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/unbound.conf")
      << "server:\n  interface: 127.0.0.1\n  port: " << port
      << "\n  do-daemonize: no\n  use-syslog: no\n  logfile: \"\"\n  username: \"\"\n"
         "  chroot: \"\"\n  directory: \""
      << dir
      << "\"\n  pidfile: \"\"\n  num-threads: 1\n  verbosity: 1\n"
         "  access-control: 127.0.0.0/8 allow\n  local-zone: \".\" refuse\n"
      << local_data << "remote-control:\n  control-enable: no\n";
  ASSERT_TRUE(process->Start({"/usr/sbin/unbound", "-d", "-c", dir + "/unbound.conf"}, dir + "/log"));
  ASSERT_TRUE(process->WaitForLog("start of service", std::chrono::seconds(10))) << process->Log();
}

}  // namespace saring::testing

#endif  // SARING_TESTS_TESTING_UNBOUND_H_
