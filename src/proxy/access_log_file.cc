#include "proxy/access_log_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace saring::proxy {

namespace {

constexpr std::size_t kBufferBytes = 64u << 10;
constexpr auto kMaxDelay = std::chrono::seconds(1);

int OpenForAppend(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

}  // namespace

Status AccessLogFile::Open(const std::string& path, std::unique_ptr<AccessLogFile>* out) {
  std::unique_ptr<AccessLogFile> file(new AccessLogFile(path));
  file->fd_ = OpenForAppend(path);
  if (file->fd_ < 0) return Status::IOError("access log " + path + ": " + std::strerror(errno));
  file->buffer_.reserve(kBufferBytes);
  file->last_write_ = std::chrono::steady_clock::now();
  *out = std::move(file);
  return Status::OK();
}

AccessLogFile::~AccessLogFile() {
  Flush();
  if (fd_ >= 0) ::close(fd_);
}

void AccessLogFile::Append(std::string_view line) {
  std::lock_guard<std::mutex> lock(mu_);
  buffer_.append(line);
  if (buffer_.size() >= kBufferBytes || std::chrono::steady_clock::now() - last_write_ >= kMaxDelay) {
    WriteOutLocked();
  }
}

void AccessLogFile::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  WriteOutLocked();
}

Status AccessLogFile::Reopen() {
  int fd = OpenForAppend(path_);
  if (fd < 0) return Status::IOError("access log " + path_ + ": " + std::strerror(errno));
  std::lock_guard<std::mutex> lock(mu_);
  WriteOutLocked();
  ::close(fd_);
  fd_ = fd;
  return Status::OK();
}

void AccessLogFile::WriteOutLocked() {
  last_write_ = std::chrono::steady_clock::now();
  std::size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // disk full or the like: these lines are lost, the proxy goes on
    done += static_cast<std::size_t>(n);
  }
  buffer_.clear();
}

}  // namespace saring::proxy
