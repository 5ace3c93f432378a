// Internal to src/proxy: the session of an HTTP listener (explicit proxy,
// transparent port 80, block-page server) and of the TLS listener
// (transparent port 443). Each is one client connection; see session_base.h.
#ifndef SARING_PROXY_HTTP_SESSION_H_
#define SARING_PROXY_HTTP_SESSION_H_

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>

#include "net/server_core.h"
#include "proxy/proxy_context.h"
#include "proxy/request_check.h"

namespace saring::proxy {

// HTTP/1.1 with keep-alive: each request head is decided (request_check.h),
// then answered with a page or forwarded with both bodies streamed (chunked
// kept chunked); the upstream connection is kept for the next request to the
// same origin. CONNECT (explicit listener) is checked by name, connected,
// answered 200, and then the SNI gate decides before the splice.
// `original` (transparent listener only): where the client was going.
std::shared_ptr<saring::net::ServerSession> MakeHttpSession(ProxyContext* context, std::uint64_t id,
                                                            ProxySocket socket,
                                                            ListenerKind listener,
                                                            const boost::asio::ip::tcp::endpoint& original);

// Transparent port 443: the ClientHello's SNI decides; then a splice to
// `original` or a TLS alert.
std::shared_ptr<saring::net::ServerSession> MakeTlsSession(ProxyContext* context, std::uint64_t id,
                                                           ProxySocket socket,
                                                           const boost::asio::ip::tcp::endpoint& original);

}  // namespace saring::proxy

#endif  // SARING_PROXY_HTTP_SESSION_H_
