// AccessLogFile: the file the proxy's access log lines go to. Lines are
// appended to a buffer under a short lock (a memcpy) and written out when it
// fills, when a line finds the last write over a second old, and on Flush()
// (saringd calls it every second, and after Stop). Reopen() starts a new file
// at the same path (after logrotate moved the old one; saringd does it on
// SIGHUP). Thread-safe.
#ifndef SARING_PROXY_ACCESS_LOG_FILE_H_
#define SARING_PROXY_ACCESS_LOG_FILE_H_

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "saring/status.h"

namespace saring::proxy {

class AccessLogFile {
 public:
  // Opens `path` for appending (created 0640 if missing).
  static Status Open(const std::string& path, std::unique_ptr<AccessLogFile>* out);
  ~AccessLogFile();  // flushes and closes
  AccessLogFile(const AccessLogFile&) = delete;
  AccessLogFile& operator=(const AccessLogFile&) = delete;

  void Append(std::string_view line);
  void Flush();
  Status Reopen();

 private:
  explicit AccessLogFile(std::string path) : path_(std::move(path)) {}
  void WriteOutLocked();

  const std::string path_;
  std::mutex mu_;
  int fd_ = -1;                                   // guarded by mu_
  std::string buffer_;                            // guarded by mu_
  std::chrono::steady_clock::time_point last_write_;  // guarded by mu_
};

}  // namespace saring::proxy

#endif  // SARING_PROXY_ACCESS_LOG_FILE_H_
