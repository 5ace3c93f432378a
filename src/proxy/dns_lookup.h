// Name resolution for the proxy through saringd's own DNS path: A and AAAA
// queries over UDP to saringd's DNS listener, so the proxy gets exactly the
// answers clients get (blocked names never resolve, CNAME targets are checked,
// the shared cache and upstreams are used) and never asks anyone else.
#ifndef SARING_PROXY_DNS_LOOKUP_H_
#define SARING_PROXY_DNS_LOOKUP_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace saring::proxy {

// Writes a recursive query (RD, EDNS with a 1232-byte payload) for
// `name` / `qtype` with `id` into `out`; returns its size, 0 if the name is
// not a valid host name or does not fit (512 bytes are always enough).
std::size_t BuildAddressQuery(std::string_view name, std::uint16_t qtype, std::uint16_t id,
                              std::span<std::uint8_t> out);

// Reads the addresses of type `qtype` (A = 1, AAAA = 28) from the answer
// section of `packet` if it answers query `id`; every length is checked.
// False for a malformed packet or another ID. *rcode gets the response code.
// `blocked_by` (if not null) gets the extra text of an Extended DNS Error
// "Blocked" (RFC 8914 code 15: saringd's DNS says why, "blocked by SOURCE
// (CATEGORY)"), or "blocked" without text; it is left alone otherwise.
bool ParseAddressAnswer(std::span<const std::uint8_t> packet, std::uint16_t id, std::uint16_t qtype,
                        std::vector<boost::asio::ip::address>* out, int* rcode, std::string* blocked_by = nullptr);

// Looks `name` up (A and AAAA in parallel) at `server`, resending every
// second (loopback loses packets only under overload), until both are
// answered or `timeout` has passed. `done` runs on `executor` with the IPv4
// addresses first; errors: host_not_found (NXDOMAIN, or no address in the
// answers), timed_out, or a socket error. `blocked_by` is not empty when the
// DNS blocked the name (see ParseAddressAnswer): a name allowed itself whose
// CNAME chain leads to a blocked one. Cancelled by destroying nothing: the
// lookup owns itself until it calls done.
using DnsLookupDone =
    std::function<void(boost::system::error_code, std::vector<boost::asio::ip::address>, std::string blocked_by)>;
void AsyncDnsLookup(const boost::asio::any_io_executor& executor, const boost::asio::ip::udp::endpoint& server,
                    std::string_view name, std::chrono::milliseconds timeout, DnsLookupDone done);

}  // namespace saring::proxy

#endif  // SARING_PROXY_DNS_LOOKUP_H_
