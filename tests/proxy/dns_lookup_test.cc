// The proxy's DNS stub: query building, answer parsing against hostile
// packets, and lookups against a real unbound serving a local zone.
#include "proxy/dns_lookup.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <vector>

#include "testing/process.h"
#include "testing/temp_dir.h"
#include "testing/unbound.h"

namespace saring::proxy {
namespace {

namespace net = boost::asio;

std::vector<std::uint8_t> Answer(std::uint16_t id, std::uint8_t rcode, const std::vector<std::vector<std::uint8_t>>& records) {
  std::array<std::uint8_t, 512> q{};
  std::size_t n = BuildAddressQuery("a.test", 1, id, q);
  std::vector<std::uint8_t> p(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(n) - 11);  // without the OPT
  p[2] |= 0x80;  // QR
  p[3] = rcode;
  p[7] = static_cast<std::uint8_t>(records.size());  // ANCOUNT
  p[11] = 0;                                         // ARCOUNT
  for (const auto& r : records) p.insert(p.end(), r.begin(), r.end());
  return p;
}

// An A record whose owner is a pointer to the question name.
std::vector<std::uint8_t> ARecord(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, a, b, c, d};
}

TEST(DnsLookupTest, BuildsAQueryAndRefusesBadNames) {
  std::array<std::uint8_t, 512> out{};
  std::size_t n = BuildAddressQuery("www.kota.go.id", 28, 0xBEEF, out);
  ASSERT_GT(n, 12u);
  EXPECT_EQ(out[0], 0xBE);
  EXPECT_EQ(out[1], 0xEF);
  EXPECT_EQ(out[2], 0x01);  // RD
  EXPECT_EQ(out[12], 3);    // "www"
  EXPECT_EQ(BuildAddressQuery("", 1, 1, out), 0u);
  EXPECT_EQ(BuildAddressQuery("a..b", 1, 1, out), 0u);
  EXPECT_EQ(BuildAddressQuery(std::string(64, 'x') + ".test", 1, 1, out), 0u);
  EXPECT_EQ(BuildAddressQuery(std::string(260, 'x'), 1, 1, out), 0u);
}

TEST(DnsLookupTest, ParsesAddressesAndRefusesHostilePackets) {
  std::vector<net::ip::address> got;
  int rcode = -1;
  auto ok = Answer(7, 0, {ARecord(10, 0, 0, 1), ARecord(10, 0, 0, 2)});
  ASSERT_TRUE(ParseAddressAnswer(ok, 7, 1, &got, &rcode));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].to_string(), "10.0.0.2");
  EXPECT_EQ(rcode, 0);

  got.clear();
  EXPECT_FALSE(ParseAddressAnswer(ok, 8, 1, &got, &rcode));  // another ID
  auto nx = Answer(7, 3, {});
  ASSERT_TRUE(ParseAddressAnswer(nx, 7, 1, &got, &rcode));
  EXPECT_EQ(rcode, 3);
  EXPECT_TRUE(got.empty());
  // Every truncation of a good answer: false or fewer addresses, never a read past the end.
  for (std::size_t cut = 0; cut < ok.size(); ++cut) {
    std::vector<std::uint8_t> part(ok.begin(), ok.begin() + static_cast<std::ptrdiff_t>(cut));
    got.clear();
    if (ParseAddressAnswer(part, 7, 1, &got, &rcode)) EXPECT_LT(got.size(), 2u) << cut;
  }
  // A record claiming more RDATA than the packet holds.
  auto lying = Answer(7, 0, {{0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0xFF, 0xFF, 1, 2}});
  got.clear();
  EXPECT_FALSE(ParseAddressAnswer(lying, 7, 1, &got, &rcode));
  // An A record of the wrong size is ignored.
  auto odd = Answer(7, 0, {{0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 3, 1, 2, 3}});
  got.clear();
  ASSERT_TRUE(ParseAddressAnswer(odd, 7, 1, &got, &rcode));
  EXPECT_TRUE(got.empty());
}

TEST(DnsLookupTest, LooksUpThroughARealServer) {
  saring::testing::TempDir dir;
  saring::testing::ChildProcess unbound;
  int port = saring::testing::FreePort();
  saring::testing::StartUnbound(dir.Sub("unbound"), port,
                                "  local-zone: \"test.\" static\n"
                                "  local-data: \"both.test. A 127.0.0.7\"\n"
                                "  local-data: \"both.test. AAAA ::7\"\n"
                                "  local-data: \"v6only.test. AAAA ::8\"\n",
                                &unbound);
  net::io_context io;
  net::ip::udp::endpoint server(net::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port));
  struct Result {
    boost::system::error_code ec;
    std::vector<net::ip::address> addresses;
  };
  auto lookup = [&](const char* name, std::chrono::milliseconds timeout, const net::ip::udp::endpoint& at) {
    Result r;
    AsyncDnsLookup(io.get_executor(), at, name, timeout, [&](boost::system::error_code ec, std::vector<net::ip::address> a) {
      r.ec = ec;
      r.addresses = std::move(a);
    });
    io.restart();
    io.run_for(std::chrono::seconds(10));
    return r;
  };
  Result both = lookup("both.test", std::chrono::seconds(3), server);
  ASSERT_FALSE(both.ec) << both.ec.message();
  ASSERT_EQ(both.addresses.size(), 2u);
  EXPECT_EQ(both.addresses[0].to_string(), "127.0.0.7");  // IPv4 first
  EXPECT_EQ(both.addresses[1].to_string(), "::7");
  Result v6 = lookup("v6only.test", std::chrono::seconds(3), server);
  ASSERT_FALSE(v6.ec);
  ASSERT_EQ(v6.addresses.size(), 1u);
  Result missing = lookup("missing.test", std::chrono::seconds(3), server);
  EXPECT_EQ(missing.ec, net::error::host_not_found);
  // Nobody answering: a timeout, in about the time given.
  net::ip::udp::endpoint dead(net::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(saring::testing::FreePort()));
  Result silent = lookup("both.test", std::chrono::milliseconds(300), dead);
  EXPECT_EQ(silent.ec, net::error::timed_out);
}

}  // namespace
}  // namespace saring::proxy
