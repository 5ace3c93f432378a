// The proxy's DNS stub: query building, answer parsing against hostile
// packets, and lookups against a real unbound serving a local zone.
#include "proxy/dns_lookup.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <string>
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

// NXDOMAIN with an OPT record carrying `options` (code, length, data each).
std::vector<std::uint8_t> NxWithOpt(const std::vector<std::uint8_t>& options) {
  std::vector<std::uint8_t> p = Answer(7, 3, {});
  p[11] = 1;  // ARCOUNT
  std::vector<std::uint8_t> opt = {0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0,
                                   static_cast<std::uint8_t>(options.size() >> 8),
                                   static_cast<std::uint8_t>(options.size())};
  opt.insert(opt.end(), options.begin(), options.end());
  p.insert(p.end(), opt.begin(), opt.end());
  return p;
}

// Extended DNS Error "Blocked" (RFC 8914, info code 15) with `text`.
std::vector<std::uint8_t> EdeBlocked(const std::string& text) {
  std::size_t len = 2 + text.size();
  std::vector<std::uint8_t> o = {0, 15, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len), 0, 15};
  for (char c : text) o.push_back(static_cast<std::uint8_t>(c));
  return o;
}

TEST(DnsLookupTest, ReadsTheBlockedExtendedErrorAndSurvivesHostileOptions) {
  std::vector<net::ip::address> got;
  int rcode = -1;
  std::string blocked_by;
  // Another option first (padding, code 12), then the EDE.
  std::vector<std::uint8_t> options = {0, 12, 0, 2, 0, 0};
  auto ede = EdeBlocked("blocked by city (gambling)");
  options.insert(options.end(), ede.begin(), ede.end());
  auto p = NxWithOpt(options);
  ASSERT_TRUE(ParseAddressAnswer(p, 7, 1, &got, &rcode, &blocked_by));
  EXPECT_EQ(rcode, 3);
  EXPECT_EQ(blocked_by, "blocked by city (gambling)");

  blocked_by.clear();
  ASSERT_TRUE(ParseAddressAnswer(NxWithOpt(EdeBlocked("")), 7, 1, &got, &rcode, &blocked_by));
  EXPECT_EQ(blocked_by, "blocked");  // no text: still a block

  // Another EDE code (18, Prohibited) is not a block of ours.
  blocked_by.clear();
  ASSERT_TRUE(ParseAddressAnswer(NxWithOpt({0, 15, 0, 2, 0, 18}), 7, 1, &got, &rcode, &blocked_by));
  EXPECT_EQ(blocked_by, "");

  // An option longer than the OPT's RDATA, and every truncation of the good
  // packet: no read past the end, and never a block read from half an option.
  ASSERT_TRUE(ParseAddressAnswer(NxWithOpt({0, 15, 0, 40, 0, 15, 'x'}), 7, 1, &got, &rcode, &blocked_by));
  EXPECT_EQ(blocked_by, "");
  for (std::size_t cut = 12; cut < p.size(); ++cut) {
    std::vector<std::uint8_t> part(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(cut));
    blocked_by.clear();
    ParseAddressAnswer(part, 7, 1, &got, &rcode, &blocked_by);
    EXPECT_EQ(blocked_by, "") << cut;
  }
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
    std::string blocked_by;
  };
  auto lookup = [&](const char* name, std::chrono::milliseconds timeout, const net::ip::udp::endpoint& at) {
    Result r;
    AsyncDnsLookup(io.get_executor(), at, name, timeout,
                   [&](boost::system::error_code ec, std::vector<net::ip::address> a, std::string blocked_by) {
                     r.ec = ec;
                     r.addresses = std::move(a);
                     r.blocked_by = std::move(blocked_by);
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
  EXPECT_EQ(missing.blocked_by, "");  // plain NXDOMAIN, no Extended DNS Error
  // Nobody answering: a timeout, in about the time given.
  net::ip::udp::endpoint dead(net::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(saring::testing::FreePort()));
  Result silent = lookup("both.test", std::chrono::milliseconds(300), dead);
  EXPECT_EQ(silent.ec, net::error::timed_out);
}

}  // namespace
}  // namespace saring::proxy
