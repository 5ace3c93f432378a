#include "proxy/original_dst.h"

#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace saring::proxy {

namespace net = boost::asio;

Status OriginalDestination(int fd, bool ipv6, net::ip::tcp::endpoint* out) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int rc = ipv6 ? getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &ss, &len)
                : getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len);
  if (rc != 0) {
    return Status::NotFound(std::string("no original destination (not a redirected connection?): ") +
                            std::strerror(errno));
  }
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    net::ip::address_v4::bytes_type b;
    std::memcpy(b.data(), &a->sin_addr, 4);
    *out = net::ip::tcp::endpoint(net::ip::address_v4(b), ntohs(a->sin_port));
    return Status::OK();
  }
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    net::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), &a->sin6_addr, 16);
    *out = net::ip::tcp::endpoint(net::ip::address_v6(b), ntohs(a->sin6_port));
    return Status::OK();
  }
  return Status::NotFound("no original destination: unknown address family");
}

}  // namespace saring::proxy
