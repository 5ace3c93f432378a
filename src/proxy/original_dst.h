// The address a redirected connection was originally sent to. When nftables
// (or iptables) redirects port 80/443 traffic to saring's transparent
// listeners, the kernel's connection tracking remembers the real destination;
// SO_ORIGINAL_DST (IPv4) / IP6T_SO_ORIGINAL_DST (IPv6) reads it back.
#ifndef SARING_PROXY_ORIGINAL_DST_H_
#define SARING_PROXY_ORIGINAL_DST_H_

#include <boost/asio/ip/tcp.hpp>

#include "saring/status.h"

namespace saring::proxy {

// The original destination of the accepted socket `fd`. NotFound when the
// connection was not redirected (then the kernel reports no entry, or the
// local address itself, which the caller must refuse to avoid connecting to
// itself).
Status OriginalDestination(int fd, bool ipv6, boost::asio::ip::tcp::endpoint* out);

}  // namespace saring::proxy

#endif  // SARING_PROXY_ORIGINAL_DST_H_
