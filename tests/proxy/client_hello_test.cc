// ParseClientHello and TlsAlert (src/proxy/client_hello.h) against the ClientHellos real
// clients send (openssl s_client and curl, captured from a loopback listener), the same
// hellos re-fragmented by hand, and hand-built hostile variants.
//
// Set SARING_HELLO_SEED_DIR=<dir> to also write the captured hellos there as files: that is
// how tests/fuzz/corpus/client_hello/ was made.
#include "proxy/client_hello.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "testing/process.h"

namespace saring::proxy {
namespace {

using Bytes = std::vector<std::uint8_t>;

// ---------------------------------------------------------------------------------------------
// Capturing real ClientHellos.

std::string FindProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// Listens on 127.0.0.1 (ephemeral port), runs the client (argv with "PORT" replaced), reads
// its first bytes until they hold a whole hello (or 5 s pass), then kills the client by PID.
Bytes CaptureHello(std::vector<std::string> argv) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, 4) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(listener);
    return {};
  }
  const std::string port = std::to_string(ntohs(addr.sin_port));
  for (std::string& arg : argv) {
    for (std::size_t at; (at = arg.find("PORT")) != std::string::npos;) arg.replace(at, 4, port);
  }
  const pid_t pid = testing::Spawn(argv, "/dev/null", "/dev/null", "/dev/null");

  Bytes bytes;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto ms_left = [&] {
    return static_cast<int>(std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(
               deadline - std::chrono::steady_clock::now())
               .count()));
  };
  pollfd p{listener, POLLIN, 0};
  if (poll(&p, 1, ms_left()) == 1) {
    const int conn = accept(listener, nullptr, nullptr);
    ClientHelloInfo info;
    std::uint8_t buf[4096];
    while (conn >= 0) {
      pollfd q{conn, POLLIN, 0};
      if (poll(&q, 1, ms_left()) != 1) break;
      const ssize_t n = read(conn, buf, sizeof buf);
      if (n <= 0) break;
      bytes.insert(bytes.end(), buf, buf + n);
      if (ParseClientHello(bytes, &info) != HelloResult::kNeedMore) break;
    }
    if (conn >= 0) close(conn);
  }
  close(listener);
  if (pid > 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  return bytes;
}

struct RealClient {
  const char* name;
  std::vector<std::string> args;  // after the program
  const char* sni;                // expected, "" for none
  bool alpn_h2, alpn_http11;
};

const std::vector<RealClient>& RealClients() {
  static const std::vector<RealClient> clients = {
      {"openssl", {"s_client", "-connect", "127.0.0.1:PORT", "-servername", "slot88.com"},
       "slot88.com", false, false},
      {"openssl",
       {"s_client", "-connect", "127.0.0.1:PORT", "-servername", "slot88.com", "-tls1_2"},
       "slot88.com", false, false},
      {"openssl",
       {"s_client", "-connect", "127.0.0.1:PORT", "-servername", "Slot88.COM", "-tls1_3", "-alpn",
        "h2,http/1.1"},
       "Slot88.COM", true, true},
      {"openssl", {"s_client", "-connect", "127.0.0.1:PORT", "-noservername"}, "", false, false},
      {"openssl",
       {"s_client", "-connect", "127.0.0.1:PORT", "-noservername", "-tls1_2", "-alpn", "http/1.1"},
       "", false, true},
      {"curl",
       {"-sk", "--max-time", "2", "--resolve", "slot88.example:PORT:127.0.0.1",
        "https://slot88.example:PORT/"},
       "slot88.example", true, true},
  };
  return clients;
}

struct Capture {
  const RealClient* client;
  Bytes hello;
};

// Captured once per test program; empty when neither openssl nor curl is installed.
const std::vector<Capture>& Captures() {
  static const std::vector<Capture> captures = [] {
    std::vector<Capture> out;
    const char* seed_dir = std::getenv("SARING_HELLO_SEED_DIR");
    int index = 0;
    for (const RealClient& client : RealClients()) {
      const std::string program = FindProgram(client.name);
      if (program.empty()) continue;
      std::vector<std::string> argv = {program};
      argv.insert(argv.end(), client.args.begin(), client.args.end());
      out.push_back({&client, CaptureHello(argv)});
      if (seed_dir != nullptr) {
        std::string name = std::string(seed_dir) + "/real_" + std::to_string(index) + "_" +
                           client.name;
        for (std::size_t i = 1; i < client.args.size(); ++i) {
          if (client.args[i][0] == '-' && client.args[i] != "-connect" &&
              client.args[i] != "-servername" && client.args[i] != "--resolve" &&
              client.args[i] != "--max-time" && client.args[i] != "-sk") {
            name += "_" + client.args[i].substr(1);
          }
        }
        std::ofstream(name, std::ios::binary)
            .write(reinterpret_cast<const char*>(out.back().hello.data()),
                   static_cast<std::streamsize>(out.back().hello.size()));
      }
      ++index;
    }
    return out;
  }();
  return captures;
}

std::string Describe(const Capture& c) {
  std::string s = c.client->name;
  for (const std::string& a : c.client->args) s += " " + a;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Records by hand.

// The handshake message carried by the records of a complete hello.
Bytes Message(const Bytes& records, std::size_t consumed) {
  Bytes message;
  for (std::size_t pos = 0; pos + 5 <= consumed;) {
    const std::size_t len = records[pos + 3] << 8 | records[pos + 4];
    message.insert(message.end(), records.begin() + static_cast<std::ptrdiff_t>(pos + 5),
                   records.begin() + static_cast<std::ptrdiff_t>(pos + 5 + len));
    pos += 5 + len;
  }
  return message;
}

// `message` in records whose payloads end at the `cuts` (ascending offsets in the message).
Bytes Fragment(const Bytes& message, const std::vector<std::size_t>& cuts,
               std::uint16_t version = 0x0301) {
  Bytes out;
  std::size_t from = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(message.size());
  for (std::size_t end : ends) {
    const std::size_t len = end - from;
    out.insert(out.end(), {22, static_cast<std::uint8_t>(version >> 8),
                           static_cast<std::uint8_t>(version), static_cast<std::uint8_t>(len >> 8),
                           static_cast<std::uint8_t>(len)});
    out.insert(out.end(), message.begin() + static_cast<std::ptrdiff_t>(from),
               message.begin() + static_cast<std::ptrdiff_t>(end));
    from = end;
  }
  return out;
}

Bytes Record(const Bytes& message) { return Fragment(message, {}); }

void Put(Bytes* b, std::uint64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) b->push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

void Set(Bytes* b, std::size_t at, std::uint64_t value, int width) {
  for (int i = 0; i < width; ++i) {
    (*b)[at + static_cast<std::size_t>(i)] =
        static_cast<std::uint8_t>(value >> (8 * (width - 1 - i)));
  }
}

std::uint64_t Get(const Bytes& b, std::size_t at) { return std::uint64_t{b[at]} << 8 | b[at + 1]; }

struct Extension {
  std::uint16_t type;
  Bytes data;
};

Extension Sni(std::string_view name, std::uint8_t type = 0) {
  Bytes d;
  Put(&d, name.size() + 3, 2);
  d.push_back(type);
  Put(&d, name.size(), 2);
  d.insert(d.end(), name.begin(), name.end());
  return {0, d};
}

Extension Alpn(const std::vector<std::string>& protocols) {
  Bytes list;
  for (const std::string& p : protocols) {
    list.push_back(static_cast<std::uint8_t>(p.size()));
    list.insert(list.end(), p.begin(), p.end());
  }
  Bytes d;
  Put(&d, list.size(), 2);
  d.insert(d.end(), list.begin(), list.end());
  return {16, d};
}

// A length field of a built hello: where it is, how wide, what it holds.
struct Field {
  std::string name;
  std::size_t at;
  int width;
  std::uint64_t value;
};

struct Built {
  Bytes bytes;  // one record
  std::vector<Field> fields;
};

struct HelloSpec {
  std::uint16_t client_version = 0x0303;
  std::size_t session_id = 32;
  std::size_t suites = 4;  // bytes
  std::size_t compressions = 1;
  bool extensions_block = true;
  std::vector<Extension> extensions = {{10, {0, 2, 0, 29}}, Sni("slot88.com"),
                                       Alpn({"h2", "http/1.1"}), {43, {2, 3, 4}}};
};

Built Build(const HelloSpec& spec) {
  Built built;
  Bytes& b = built.bytes;
  auto field = [&](std::string name, std::uint64_t value, int width) {
    built.fields.push_back({std::move(name), b.size(), width, value});
    Put(&b, value, width);
  };
  b = {22, 3, 1};
  field("record", 0, 2);
  b.push_back(1);
  field("handshake", 0, 3);
  Put(&b, spec.client_version, 2);
  b.insert(b.end(), 32, 0xab);  // random
  field("session_id", spec.session_id, 1);
  b.insert(b.end(), spec.session_id, 0x5e);
  field("cipher_suites", spec.suites, 2);
  for (std::size_t i = 0; i < spec.suites; ++i) b.push_back(i % 2 == 0 ? 0x13 : 0x01);
  field("compression", spec.compressions, 1);
  b.insert(b.end(), spec.compressions, 0);
  if (spec.extensions_block) {
    std::size_t total = 0;
    for (const Extension& e : spec.extensions) total += 4 + e.data.size();
    field("extensions", total, 2);
    for (const Extension& e : spec.extensions) {
      Put(&b, e.type, 2);
      const std::string tag = "extension " + std::to_string(e.type);
      field(tag, e.data.size(), 2);
      const std::size_t data_at = b.size();
      b.insert(b.end(), e.data.begin(), e.data.end());
      if (e.type == 0 && e.data.size() >= 5) {
        built.fields.push_back({"server_name_list", data_at, 2, Get(e.data, 0)});
        built.fields.push_back({"host_name", data_at + 3, 2, Get(e.data, 3)});
      }
      if (e.type == 16 && e.data.size() >= 3) {
        built.fields.push_back({"protocol_name_list", data_at, 2, Get(e.data, 0)});
        built.fields.push_back({"protocol_name", data_at + 2, 1, e.data[2]});
      }
    }
  }
  built.fields[0].value = b.size() - 5;
  built.fields[1].value = b.size() - 9;
  Set(&b, 3, b.size() - 5, 2);
  Set(&b, 6, b.size() - 9, 3);
  return built;
}

Bytes BuildBytes(const HelloSpec& spec) { return Build(spec).bytes; }

HelloResult Parse(const Bytes& b, ClientHelloInfo* info = nullptr) {
  ClientHelloInfo local;
  return ParseClientHello(b, info != nullptr ? info : &local);
}

bool Inside(std::string_view v, const void* begin, std::size_t size) {
  const auto* p = static_cast<const char*>(begin);
  return v.data() >= p && v.data() + v.size() <= p + size;
}

// ---------------------------------------------------------------------------------------------
// Real hellos.

class RealHelloTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Captures().empty()) GTEST_SKIP() << "neither openssl nor curl found";
  }
};

TEST_F(RealHelloTest, ParsesWhatRealClientsSend) {
  for (const Capture& c : Captures()) {
    SCOPED_TRACE(Describe(c));
    ASSERT_GT(c.hello.size(), 100u);
    ClientHelloInfo info;
    ASSERT_EQ(Parse(c.hello, &info), HelloResult::kOk);
    EXPECT_EQ(info.server_name, c.client->sni);
    EXPECT_EQ(info.has_sni, *c.client->sni != '\0');
    if (info.has_sni) {
      EXPECT_TRUE(Inside(info.server_name, c.hello.data(), c.hello.size()));
    }
    EXPECT_EQ(info.consumed, c.hello.size());  // the client waits for the server after it
    EXPECT_EQ(info.record_version >> 8, 3);
    EXPECT_EQ(info.client_version, 0x0303);
    EXPECT_EQ(info.alpn_h2, c.client->alpn_h2);
    EXPECT_EQ(info.alpn_http11, c.client->alpn_http11);
  }
}

TEST_F(RealHelloTest, EveryProperPrefixNeedsMore) {
  for (const Capture& c : Captures()) {
    SCOPED_TRACE(Describe(c));
    for (std::size_t n = 0; n < c.hello.size(); ++n) {
      const Bytes prefix(c.hello.begin(), c.hello.begin() + static_cast<std::ptrdiff_t>(n));
      ASSERT_EQ(Parse(prefix), HelloResult::kNeedMore) << "prefix of " << n;
    }
  }
}

TEST_F(RealHelloTest, BytesAfterTheHelloAreLeftAlone) {
  for (const Capture& c : Captures()) {
    SCOPED_TRACE(Describe(c));
    Bytes more = c.hello;
    more.insert(more.end(), {20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 5, 1, 2});  // CCS, early data
    ClientHelloInfo info;
    ASSERT_EQ(Parse(more, &info), HelloResult::kOk);
    EXPECT_EQ(info.consumed, c.hello.size());
    EXPECT_EQ(info.server_name, c.client->sni);
  }
}

TEST_F(RealHelloTest, RefragmentedOverTwoToFiveRecords) {
  for (const Capture& c : Captures()) {
    SCOPED_TRACE(Describe(c));
    ClientHelloInfo whole;
    ASSERT_EQ(Parse(c.hello, &whole), HelloResult::kOk);
    const Bytes message = Message(c.hello, whole.consumed);
    const std::size_t sni_at =
        whole.has_sni ? static_cast<std::size_t>(whole.server_name.data() -
                                                 reinterpret_cast<const char*>(c.hello.data())) -
                            5
                      : 0;
    auto check = [&](const std::vector<std::size_t>& cuts) {
      const Bytes records = Fragment(message, cuts, whole.record_version);
      ASSERT_EQ(records.size(), message.size() + 5 * (cuts.size() + 1));
      char scratch[kMaxServerName];
      ClientHelloInfo info;
      ASSERT_EQ(ParseClientHello(records, &info, scratch), HelloResult::kOk) << cuts.front();
      EXPECT_EQ(info.server_name, whole.server_name);
      EXPECT_EQ(info.has_sni, whole.has_sni);
      EXPECT_EQ(info.consumed, records.size());
      EXPECT_EQ(info.record_version, whole.record_version);
      EXPECT_EQ(info.client_version, whole.client_version);
      EXPECT_EQ(info.alpn_h2, whole.alpn_h2);
      EXPECT_EQ(info.alpn_http11, whole.alpn_http11);
      bool split = false;
      for (std::size_t cut : cuts) {
        split |= whole.has_sni && cut > sni_at && cut < sni_at + whole.server_name.size();
      }
      if (info.has_sni) {
        EXPECT_TRUE(split ? Inside(info.server_name, scratch, sizeof scratch)
                          : Inside(info.server_name, records.data(), records.size()));
      }
      // Without scratch a split name fails closed; an unsplit one does not need it.
      ClientHelloInfo bare;
      EXPECT_EQ(ParseClientHello(records, &bare),
                split ? HelloResult::kMalformed : HelloResult::kOk);
      // Still kNeedMore for every proper prefix.
      for (std::size_t n = 0; n < records.size(); n += 1 + n % 7) {
        ASSERT_EQ(ParseClientHello(std::span(records).first(n), &info, scratch),
                  HelloResult::kNeedMore);
      }
    };
    // Two records, cut at every place (inside the handshake header and every length field).
    for (std::size_t cut = 1; cut < message.size(); ++cut) check({cut});
    // Three to five records at deterministic places, and through the host name.
    std::uint64_t x = 88;
    for (int round = 0; round < 200; ++round) {
      std::vector<std::size_t> cuts;
      const std::size_t count = 2 + static_cast<std::size_t>(round % 4);  // 2..5 cuts -> 3..6
      while (cuts.size() < std::min<std::size_t>(count, 4)) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        const std::size_t cut = 1 + (x >> 33) % (message.size() - 1);
        if (std::find(cuts.begin(), cuts.end(), cut) == cuts.end()) cuts.push_back(cut);
      }
      std::sort(cuts.begin(), cuts.end());
      check(cuts);
    }
    if (whole.has_sni) {
      check({sni_at + 1, sni_at + 2, sni_at + 5});  // the name over four records
      check({4, sni_at - 2, sni_at + 3});           // the name's length field split
    }
  }
}

TEST_F(RealHelloTest, CutInHalfNeedsMoreAndTruncatedRecordIsNotOk) {
  for (const Capture& c : Captures()) {
    SCOPED_TRACE(Describe(c));
    const std::span<const std::uint8_t> all(c.hello);
    ClientHelloInfo info;
    EXPECT_EQ(ParseClientHello(all.first(all.size() / 2), &info), HelloResult::kNeedMore);
    // The record claims less than the message: the rest is garbage after it.
    Bytes shorter = c.hello;
    Set(&shorter, 3, c.hello.size() - 5 - 20, 2);
    EXPECT_NE(Parse(shorter), HelloResult::kOk);
  }
}

// ---------------------------------------------------------------------------------------------
// Not TLS.

TEST(ClientHelloTest, NotTls) {
  const std::string get = "GET / HTTP/1.1\r\nHost: slot88.com\r\n\r\n";
  EXPECT_EQ(Parse(Bytes(get.begin(), get.end())), HelloResult::kNotTls);
  EXPECT_EQ(Parse(Bytes{'G'}), HelloResult::kNotTls);
  // SSLv2-style ClientHello (two-byte header with the top bit set, msg type 1).
  EXPECT_EQ(Parse(Bytes{0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10}),
            HelloResult::kNotTls);
  EXPECT_EQ(Parse(Bytes{0x80}), HelloResult::kNotTls);
  EXPECT_EQ(Parse(Bytes{0x16, 0x02}), HelloResult::kNotTls);  // not major version 3
  EXPECT_EQ(Parse(Bytes{0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28}), HelloResult::kNotTls);
  EXPECT_EQ(Parse(Bytes{}), HelloResult::kNeedMore);
  EXPECT_EQ(Parse(Bytes{0x16}), HelloResult::kNeedMore);
  EXPECT_EQ(Parse(Bytes{0x16, 0x03, 0x01, 0x02}), HelloResult::kNeedMore);
}

// ---------------------------------------------------------------------------------------------
// Built hellos.

TEST(ClientHelloTest, BuiltHelloParses) {
  const Bytes b = BuildBytes({});
  ClientHelloInfo info;
  info.has_sni = true;  // reset by the parser
  info.server_name = "stale";
  ASSERT_EQ(Parse(b, &info), HelloResult::kOk);
  EXPECT_EQ(info.server_name, "slot88.com");
  EXPECT_TRUE(info.has_sni);
  EXPECT_EQ(info.record_version, 0x0301);
  EXPECT_EQ(info.client_version, 0x0303);
  EXPECT_EQ(info.consumed, b.size());
  EXPECT_TRUE(info.alpn_h2);
  EXPECT_TRUE(info.alpn_http11);
}

TEST(ClientHelloTest, EveryLengthFieldWrongIsNeverOk) {
  const Built built = Build({});
  ASSERT_EQ(Parse(built.bytes), HelloResult::kOk);
  for (const Field& f : built.fields) {
    const std::uint64_t max = (std::uint64_t{1} << (8 * f.width)) - 1;
    for (std::uint64_t v : {f.value + 1, f.value - 1, std::uint64_t{0}, max, f.value + 2,
                            f.value - 2, f.value + 256, f.value - 256}) {
      if (v > max || v == f.value) continue;
      SCOPED_TRACE(f.name + " = " + std::to_string(v));
      Bytes b = built.bytes;
      Set(&b, f.at, v, f.width);
      ClientHelloInfo info;
      const HelloResult r = Parse(b, &info);
      if (f.name == "extension 10") {
        // An opaque extension's length may land on a later extension boundary; the bytes
        // then parse, as they would for the origin, but never with a name from elsewhere.
        if (r == HelloResult::kOk && info.has_sni) {
          EXPECT_EQ(info.server_name, "slot88.com");
        }
        continue;
      }
      EXPECT_NE(r, HelloResult::kOk);
      // Inside a complete record and message, a wrong length is an inconsistency.
      if (f.name != "record" && f.name != "handshake") {
        EXPECT_EQ(r, HelloResult::kMalformed);
      }
      // With more bytes after it still never kOk, and never kNotTls.
      b.insert(b.end(), 64, 0x16);
      const HelloResult more = Parse(b);
      EXPECT_NE(more, HelloResult::kOk);
      EXPECT_NE(more, HelloResult::kNotTls);
    }
  }
}

TEST(ClientHelloTest, OuterLengths) {
  const Bytes b = BuildBytes({});
  Bytes x = b;
  Set(&x, 3, 0, 2);  // empty record
  EXPECT_EQ(Parse(x), HelloResult::kMalformed);
  x = b;
  Set(&x, 3, 0xffff, 2);  // larger than any TLS record
  EXPECT_EQ(Parse(x), HelloResult::kMalformed);
  x = b;
  Set(&x, 3, b.size() - 5 + 1, 2);  // the record holds a byte after the message
  EXPECT_EQ(Parse(x), HelloResult::kMalformed);
  x.push_back(0);
  EXPECT_EQ(Parse(x), HelloResult::kMalformed);
  x = b;
  Set(&x, 6, 0x100000, 3);  // a 1 MB hello
  EXPECT_EQ(Parse(x), HelloResult::kTooLarge);
  x = b;
  Set(&x, 6, 0xffffff, 3);
  EXPECT_EQ(Parse(x), HelloResult::kTooLarge);
  x = b;
  Set(&x, 6, b.size() - 9 + 1, 3);  // the message continues in a next record
  EXPECT_EQ(Parse(x), HelloResult::kNeedMore);
  x = b;
  Set(&x, 6, 10, 3);  // too short for any ClientHello
  EXPECT_EQ(Parse(x), HelloResult::kMalformed);
  x = b;
  x[5] = 2;  // a ServerHello
  EXPECT_EQ(Parse(x), HelloResult::kMalformed);
  EXPECT_EQ(Parse(Bytes(x.begin(), x.begin() + 6)), HelloResult::kMalformed);
  // The record version is known even so, for the alert.
  ClientHelloInfo info;
  EXPECT_EQ(Parse(x, &info), HelloResult::kMalformed);
  EXPECT_EQ(info.record_version, 0x0301);
}

TEST(ClientHelloTest, LaterRecordHeadersAreChecked) {
  const Bytes message = Message(BuildBytes({}), BuildBytes({}).size());
  Bytes b = Fragment(message, {20});
  const std::size_t second = 5 + 20;
  ASSERT_EQ(Parse(b), HelloResult::kOk);
  Bytes x = b;
  x[second] = 21;  // an alert in the middle of the hello
  EXPECT_EQ(Parse(x), HelloResult::kMalformed);
  x = b;
  x[second] = 23;  // application data
  EXPECT_EQ(Parse(x), HelloResult::kMalformed);
  x = b;
  x[second + 1] = 2;
  EXPECT_EQ(Parse(x), HelloResult::kMalformed);
  x = b;
  Set(&x, second + 3, 0, 2);  // an empty record
  EXPECT_EQ(Parse(x), HelloResult::kMalformed);
  // An empty record between the fragments is no better.
  x = Fragment(message, {20});
  x.insert(x.begin() + static_cast<std::ptrdiff_t>(second), {22, 3, 1, 0, 0});
  EXPECT_EQ(Parse(x), HelloResult::kMalformed);
  // The last record carries more than the rest of the message.
  x = b;
  Set(&x, second + 3, message.size() - 20 + 1, 2);
  x.push_back(0);
  EXPECT_EQ(Parse(x), HelloResult::kMalformed);
}

TEST(ClientHelloTest, LargeHellosAndTheLimit) {
  // A padding extension fills the message up to the largest record.
  auto with_padding = [](std::size_t message_size) {
    HelloSpec spec;
    const std::size_t base = BuildBytes(spec).size() - 5 + 4;  // + the padding's header
    spec.extensions.push_back({21, Bytes(message_size - base, 0)});
    return Message(BuildBytes(spec), BuildBytes(spec).size());
  };
  Bytes message = with_padding(kMaxRecordPayload);
  ASSERT_EQ(message.size(), kMaxRecordPayload);
  ClientHelloInfo info;
  EXPECT_EQ(Parse(Record(message), &info), HelloResult::kOk);
  EXPECT_EQ(info.server_name, "slot88.com");
  message = with_padding(kMaxRecordPayload + 1);
  EXPECT_EQ(Parse(Record(message)), HelloResult::kMalformed);  // record too large
  EXPECT_EQ(Parse(Fragment(message, {8000})), HelloResult::kOk);
  // The largest message that fits kMaxHelloBytes in two records, and one byte more.
  message = with_padding(kMaxHelloBytes - 10);
  EXPECT_EQ(Parse(Fragment(message, {kMaxRecordPayload})), HelloResult::kOk);
  message = with_padding(kMaxHelloBytes - 9);
  EXPECT_EQ(Parse(Fragment(message, {kMaxRecordPayload})), HelloResult::kTooLarge);
  // Known too large from the first header already.
  const Bytes one = Fragment(message, {kMaxRecordPayload});
  EXPECT_EQ(Parse(Bytes(one.begin(), one.begin() + 9)), HelloResult::kTooLarge);
  // An ordinary hello in one-byte records needs 6 bytes per byte: too large.
  message = with_padding(3000);
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < message.size(); ++i) cuts.push_back(i);
  const Bytes tiny = Fragment(message, cuts);
  EXPECT_EQ(Parse(tiny), HelloResult::kTooLarge);
  // ... and it says so before the listener has read more than kMaxHelloBytes.
  EXPECT_EQ(Parse(Bytes(tiny.begin(), tiny.begin() + kMaxHelloBytes)), HelloResult::kTooLarge);
  // A small hello in one-byte records is fine.
  message = Message(BuildBytes({}), BuildBytes({}).size());
  cuts.clear();
  for (std::size_t i = 1; i < message.size(); ++i) cuts.push_back(i);
  char scratch[kMaxServerName];
  EXPECT_EQ(ParseClientHello(Fragment(message, cuts), &info, scratch), HelloResult::kOk);
  EXPECT_EQ(info.server_name, "slot88.com");
}

TEST(ClientHelloTest, ServerNameRules) {
  auto parse_sni = [](std::vector<Extension> extensions, ClientHelloInfo* info = nullptr) {
    HelloSpec spec;
    spec.extensions = std::move(extensions);
    return Parse(BuildBytes(spec), info);
  };
  ClientHelloInfo info;
  EXPECT_EQ(parse_sni({Sni("WWW.Slot88.Com")}, &info), HelloResult::kOk);
  EXPECT_EQ(info.server_name, "WWW.Slot88.Com");  // as sent
  EXPECT_EQ(parse_sni({Sni("_dmarc.x-y.example")}, &info), HelloResult::kOk);
  EXPECT_EQ(parse_sni({Sni(std::string(255, 'a'))}, &info), HelloResult::kOk);
  EXPECT_EQ(info.server_name.size(), 255u);
  EXPECT_EQ(parse_sni({Alpn({"h2"})}, &info), HelloResult::kOk);
  EXPECT_FALSE(info.has_sni);
  EXPECT_TRUE(info.server_name.empty());
  EXPECT_TRUE(info.alpn_h2);
  EXPECT_FALSE(info.alpn_http11);

  EXPECT_EQ(parse_sni({Sni(std::string(256, 'a'))}), HelloResult::kMalformed);
  EXPECT_EQ(parse_sni({Sni(std::string(300, 'a'))}), HelloResult::kMalformed);
  EXPECT_EQ(parse_sni({Sni("")}), HelloResult::kMalformed);
  EXPECT_EQ(parse_sni({Sni(std::string("slot88\0.com", 11))}), HelloResult::kMalformed);
  EXPECT_EQ(parse_sni({Sni("slot88 .com")}), HelloResult::kMalformed);
  EXPECT_EQ(parse_sni({Sni("slot88.com/")}), HelloResult::kMalformed);
  EXPECT_EQ(parse_sni({Sni("sl\xc3\xb6t.com")}), HelloResult::kMalformed);
  EXPECT_EQ(parse_sni({Sni("slot88.com", 1)}), HelloResult::kMalformed);  // not host_name
  EXPECT_EQ(parse_sni({Sni("slot88.com"), Sni("example.org")}), HelloResult::kMalformed);
  EXPECT_EQ(parse_sni({Sni("slot88.com"), {10, {0, 2, 0, 29}}, Sni("slot88.com")}),
            HelloResult::kMalformed);
  EXPECT_EQ(parse_sni({{0, {}}}), HelloResult::kMalformed);      // empty extension
  EXPECT_EQ(parse_sni({{0, {0, 0}}}), HelloResult::kMalformed);  // empty list
  // Two host names in one list: the filter and the origin could pick different ones.
  Extension two = Sni("slot88.com");
  two.data.insert(two.data.end(), {0, 0, 11});
  two.data.insert(two.data.end(), {'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'o', 'r', 'g'});
  Set(&two.data, 0, two.data.size() - 2, 2);
  EXPECT_EQ(parse_sni({two}), HelloResult::kMalformed);
  // A list with a trailing byte.
  Extension trailing = Sni("slot88.com");
  trailing.data.push_back(0);
  Set(&trailing.data, 0, trailing.data.size() - 2, 2);
  EXPECT_EQ(parse_sni({trailing}), HelloResult::kMalformed);
}

TEST(ClientHelloTest, AlpnRules) {
  auto parse = [](std::vector<Extension> extensions, ClientHelloInfo* info = nullptr) {
    HelloSpec spec;
    spec.extensions = std::move(extensions);
    return Parse(BuildBytes(spec), info);
  };
  ClientHelloInfo info;
  EXPECT_EQ(parse({Alpn({"http/1.0", "http/1.1", "h2c", "spdy/3"})}, &info), HelloResult::kOk);
  EXPECT_TRUE(info.alpn_http11);
  EXPECT_FALSE(info.alpn_h2);
  EXPECT_EQ(parse({Alpn({"http/1.1x", std::string(255, 'z')})}, &info), HelloResult::kOk);
  EXPECT_FALSE(info.alpn_http11);
  EXPECT_EQ(parse({Alpn({"h2"}), Alpn({"http/1.1"})}), HelloResult::kMalformed);
  EXPECT_EQ(parse({Alpn({"h2", ""})}), HelloResult::kMalformed);
  EXPECT_EQ(parse({{16, {0, 0}}}), HelloResult::kMalformed);
}

TEST(ClientHelloTest, BodyRules) {
  HelloSpec spec;
  spec.extensions_block = false;  // SSL 3.0 / old TLS 1.0 style: no extensions at all
  ClientHelloInfo info;
  EXPECT_EQ(Parse(BuildBytes(spec), &info), HelloResult::kOk);
  EXPECT_FALSE(info.has_sni);
  spec = {};
  spec.extensions.clear();  // an empty extensions block
  EXPECT_EQ(Parse(BuildBytes(spec)), HelloResult::kOk);
  spec = {};
  spec.session_id = 0;
  EXPECT_EQ(Parse(BuildBytes(spec)), HelloResult::kOk);
  spec.session_id = 33;
  EXPECT_EQ(Parse(BuildBytes(spec)), HelloResult::kMalformed);
  spec = {};
  spec.suites = 3;
  EXPECT_EQ(Parse(BuildBytes(spec)), HelloResult::kMalformed);
  spec.suites = 0;
  spec.session_id = 34;  // keeps the message above the minimum size
  EXPECT_EQ(Parse(BuildBytes(spec)), HelloResult::kMalformed);
  spec = {};
  spec.compressions = 0;
  EXPECT_EQ(Parse(BuildBytes(spec)), HelloResult::kMalformed);
  spec = {};
  spec.client_version = 0x0200;
  EXPECT_EQ(Parse(BuildBytes(spec)), HelloResult::kMalformed);
  // One byte where the extensions block length should be.
  Bytes b = BuildBytes({.extensions_block = false});
  b.push_back(0);
  Set(&b, 3, b.size() - 5, 2);
  Set(&b, 6, b.size() - 9, 3);
  EXPECT_EQ(Parse(b), HelloResult::kMalformed);
  // An extension header cut short at the end of the block.
  spec = {};
  spec.extensions = {{10, {0, 2, 0, 29}}};
  b = BuildBytes(spec);
  b.insert(b.end(), {0, 5});
  Set(&b, 3, b.size() - 5, 2);
  Set(&b, 6, b.size() - 9, 3);
  const std::size_t ext_block = 9 + 2 + 32 + 1 + 32 + 2 + 4 + 1 + 1;
  Set(&b, ext_block, b.size() - ext_block - 2, 2);
  EXPECT_EQ(Parse(b), HelloResult::kMalformed);
}

// ---------------------------------------------------------------------------------------------

TEST(ClientHelloTest, TlsAlertBytes) {
  using A = std::array<std::uint8_t, 7>;
  EXPECT_EQ(TlsAlert(kAlertAccessDenied), (A{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 49}));
  EXPECT_EQ(TlsAlert(kAlertUnrecognizedName, 0x0301), (A{0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 112}));
  EXPECT_EQ(TlsAlert(kAlertHandshakeFailure, 0x0300), (A{0x15, 0x03, 0x00, 0x00, 0x02, 0x02, 40}));
  EXPECT_EQ(TlsAlert(kAlertProtocolVersion, 0), (A{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 70}));
  EXPECT_EQ(TlsAlert(kAlertInternalError, 0x0203), (A{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 80}));
}

}  // namespace
}  // namespace saring::proxy
