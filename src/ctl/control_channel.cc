#include "ctl/control_channel.h"

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace saring::ctl {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxHeader = 1 << 20;
constexpr std::size_t kMaxBody = std::size_t{1} << 30;  // a national list fits many times over
constexpr int kClientTimeoutMs = 10000;  // a silent client cannot hold the channel
constexpr int kMaintenanceNice = 10;

bool WriteAll(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Reads exactly `size` bytes, waiting at most `timeout_ms` for each chunk
// (-1: forever, for the client waiting on a long import).
bool ReadExactly(int fd, std::size_t size, std::string* out, int timeout_ms) {
  out->resize(size);
  std::size_t got = 0;
  while (got < size) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return false;
    ssize_t n = recv(fd, out->data() + got, size - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return true;
}

bool ReadLine(int fd, std::string* line, int timeout_ms) {
  line->clear();
  char c;
  while (line->size() < kMaxHeader) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return false;
    ssize_t n = recv(fd, &c, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (c == '\n') return true;
    line->push_back(c);
  }
  return false;
}

Status Address(const std::string& path, sockaddr_un* addr) {
  *addr = {};
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof addr->sun_path) {
    return Status::InvalidArgument("control socket path too long: " + path);
  }
  std::memcpy(addr->sun_path, path.c_str(), path.size() + 1);
  return Status::OK();
}

void HandleConnection(int fd, const ControlServer::Handler& handler) {
  std::string line, input;
  if (!ReadLine(fd, &line, kClientTimeoutMs)) return;
  json header = json::parse(line, nullptr, false);
  ControlResponse response;
  ControlRequest request;
  bool ok = header.is_object() && header.contains("args") && header["args"].is_array();
  std::size_t stdin_size = ok ? header.value("stdin", std::size_t{0}) : 0;
  if (ok && stdin_size <= kMaxBody && ReadExactly(fd, stdin_size, &request.input, kClientTimeoutMs)) {
    for (const json& a : header["args"]) {
      if (!a.is_string()) ok = false;
      else request.args.push_back(a.get<std::string>());
    }
    request.cwd = header.value("cwd", "");
  } else {
    ok = false;
  }
  if (ok) {
    response = handler(request);
  } else {
    response.err = "saringd: malformed control request\n";
  }
  json reply = {{"exit", response.exit_status}, {"out", response.out.size()}, {"err", response.err.size()}};
  std::string head = reply.dump() + "\n";
  WriteAll(fd, head.data(), head.size()) && WriteAll(fd, response.out.data(), response.out.size()) &&
      WriteAll(fd, response.err.data(), response.err.size());
}

}  // namespace

std::string ControlSocketPath(const std::string& db_dir) { return db_dir + "/control.sock"; }

Status SendControlRequest(const std::string& socket_path, const ControlRequest& request,
                          ControlResponse* response) {
  sockaddr_un addr;
  SARING_RETURN_IF_ERROR(Address(socket_path, &addr));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError(std::string("socket: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) {
      return Status::NotFound("no saringd listens on " + socket_path);
    }
    return Status::Unavailable("cannot reach saringd at " + socket_path + ": " + std::strerror(errno));
  }
  json header = {{"args", request.args}, {"cwd", request.cwd}, {"stdin", request.input.size()}};
  std::string head = header.dump() + "\n";
  if (!WriteAll(fd, head.data(), head.size()) ||
      !WriteAll(fd, request.input.data(), request.input.size())) {
    return Status::Unavailable("saringd closed the control socket");
  }
  std::string line;
  if (!ReadLine(fd, &line, -1)) return Status::Unavailable("saringd gave no answer");
  json reply = json::parse(line, nullptr, false);
  if (!reply.is_object()) return Status::Corruption("malformed answer from saringd");
  response->exit_status = reply.value("exit", 1);
  std::size_t out_size = reply.value("out", std::size_t{0}), err_size = reply.value("err", std::size_t{0});
  if (out_size > kMaxBody || err_size > kMaxBody || !ReadExactly(fd, out_size, &response->out, -1) ||
      !ReadExactly(fd, err_size, &response->err, -1)) {
    return Status::Unavailable("saringd's answer was cut off");
  }
  return Status::OK();
}

ControlServer::ControlServer(std::string path, int fd, Handler handler)
    : path_(std::move(path)), fd_(fd), handler_(std::move(handler)) {
  thread_ = std::thread([this] { Serve(); });
}

Status ControlServer::Start(const std::string& socket_path, Handler handler,
                            std::unique_ptr<ControlServer>* out) {
  sockaddr_un addr;
  SARING_RETURN_IF_ERROR(Address(socket_path, &addr));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError(std::string("socket: ") + std::strerror(errno));
  // A socket left by a saringd that died: the caller holds the store's lock,
  // so no other saringd can be using it.
  unlink(socket_path.c_str());
  mode_t old_mask = umask(0077);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  umask(old_mask);
  if (rc != 0 || chmod(socket_path.c_str(), 0600) != 0 || listen(fd, 16) != 0) {
    std::string why = std::strerror(errno);
    close(fd);
    return Status::IOError("control socket " + socket_path + ": " + why);
  }
  out->reset(new ControlServer(socket_path, fd, std::move(handler)));
  return Status::OK();
}

ControlServer::~ControlServer() {
  stopping_ = true;
  shutdown(fd_, SHUT_RDWR);  // wakes the accepting thread
  if (thread_.joinable()) thread_.join();
  close(fd_);
  unlink(path_.c_str());
}

void ControlServer::Serve() {
  // Imports and rebuilds run on this thread: on a busy 2-core box the DNS
  // workers must win the CPU from them, never the other way round.
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kMaintenanceNice);
  while (!stopping_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 200) != 1) continue;
    int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    HandleConnection(client, handler_);
    close(client);
  }
}

}  // namespace saring::ctl
