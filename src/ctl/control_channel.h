// The control channel: how saringctl hands a command to a running saringd
// (which owns the store) over a Unix socket beside the store, and gets back
// exactly what the command printed and its exit status, as unbound-control
// and rndc do. One request per connection:
//   request:  {"args": [...], "cwd": "...", "stdin": N} "\n"  then N bytes
//   response: {"exit": E, "out": A, "err": B} "\n"  then A + B bytes
#ifndef SARING_CTL_CONTROL_CHANNEL_H_
#define SARING_CTL_CONTROL_CHANNEL_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "saring/status.h"

namespace saring::ctl {

// The socket's place for a store folder.
std::string ControlSocketPath(const std::string& db_dir);

struct ControlRequest {
  std::vector<std::string> args;
  std::string cwd;
  std::string input;  // the client's standard input, when the command reads it
};

struct ControlResponse {
  int exit_status = 1;
  std::string out, err;
};

// Sends a request to the saringd listening at `socket_path`. NotFound when
// nothing listens there (no saringd runs on this store).
Status SendControlRequest(const std::string& socket_path, const ControlRequest& request,
                          ControlResponse* response);

// Serves requests on a thread of its own, one at a time (changes to the store
// are serialized anyway). The socket is created mode 0600: only the store's
// owner may change rules through it.
class ControlServer {
 public:
  using Handler = std::function<ControlResponse(const ControlRequest&)>;

  static Status Start(const std::string& socket_path, Handler handler,
                      std::unique_ptr<ControlServer>* out);
  ~ControlServer();  // stops and removes the socket

 private:
  ControlServer(std::string path, int fd, Handler handler);
  void Serve();

  std::string path_;
  int fd_;
  Handler handler_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace saring::ctl

#endif  // SARING_CTL_CONTROL_CHANNEL_H_
