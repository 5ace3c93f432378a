// RemoteClient: saringctl's way to a saringd on another machine, through the
// admin API (`saringctl --server URL --token T ...`). One blocking HTTP(S)
// call at a time, with libcurl; TLS verification stays on.
#ifndef SARING_CTL_REMOTE_CLIENT_H_
#define SARING_CTL_REMOTE_CLIENT_H_

#include <string>
#include <string_view>

#include "saring/status.h"

namespace saring::ctl {

struct RemoteReply {
  long status = 0;   // HTTP status
  std::string body;  // JSON (or text for /metrics)
};

class RemoteClient {
 public:
  // `server` like "http://127.0.0.1:8053"; `ca_file` "" = the system's CAs.
  RemoteClient(std::string server, std::string token, std::string ca_file = "");

  // Unavailable when the server cannot be reached; an HTTP error is a reply.
  Status Call(std::string_view method, std::string_view path_and_query, std::string_view body,
              std::string_view content_type, RemoteReply* reply) const;

  // Percent-encodes a query value.
  static std::string Escape(std::string_view value);

 private:
  std::string server_, token_, ca_file_;
};

}  // namespace saring::ctl

#endif  // SARING_CTL_REMOTE_CLIENT_H_
