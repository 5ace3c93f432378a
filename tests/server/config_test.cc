#include "saring/server_config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "testing/temp_dir.h"

namespace saring {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  Status Load(const std::string& text, ServerConfig* config) {
    std::string path = dir_.Sub("saringd.toml");
    std::ofstream(path) << text;
    return LoadServerConfig(path, config);
  }
  testing::TempDir dir_;
};

TEST_F(ConfigTest, TheBundledConfigLoads) {
  ServerConfig c;
  Status st = LoadServerConfig(std::string(SARING_SOURCE_DIR) + "/deploy/saringd.toml", &c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(c.dns_listen.size(), 1u);
  EXPECT_EQ(c.dns_listen[0].ToString(), "127.0.0.1:5353");
  EXPECT_EQ(c.block.mode, BlockMode::kNxDomain);
  EXPECT_FALSE(c.query_log);
  EXPECT_EQ(c.cache_bytes, 64u << 20);
  EXPECT_TRUE(c.admin_enabled);
  EXPECT_EQ(c.admin_listen.ToString(), "127.0.0.1:8053");
  ASSERT_EQ(c.feeds.size(), 1u);
  EXPECT_EQ(c.feeds[0].name, "trustpositif");
  EXPECT_EQ(c.feeds[0].every_s, 6 * 3600);
  EXPECT_DOUBLE_EQ(c.feeds[0].max_shrink, 0.2);
}

TEST_F(ConfigTest, AdminAndFeedSettings) {
  ServerConfig c;
  Status st = Load(R"(
[admin]
listen = "127.0.0.1:9000"
tls_cert = "a.crt"
tls_key = "a.key"
metrics_public = true
max_body_mb = 2
reports_per_minute = 9
release_source = "reports"
[feeds]
ca_file = "/x/ca.pem"
schedule = false
[[feed]]
name = "community"
url = "http://127.0.0.1:1/list"
format = "hosts"
action = "block"
category = "gambling"
every = "30m"
max_shrink = 0.5
max_rejected = 0.1
enabled = false
)",
                   &c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(c.admin_listen.port, 9000);
  EXPECT_EQ(c.admin_tls_cert, "a.crt");
  EXPECT_TRUE(c.metrics_public);
  EXPECT_EQ(c.admin_max_body_bytes, 2u << 20);
  EXPECT_EQ(c.reports_per_minute, 9);
  EXPECT_EQ(c.release_source, "reports");
  EXPECT_EQ(c.feeds_ca_file, "/x/ca.pem");
  EXPECT_FALSE(c.feeds_schedule);
  ASSERT_EQ(c.feeds.size(), 1u);
  EXPECT_EQ(c.feeds[0].format, FeedFormat::kHosts);
  EXPECT_EQ(c.feeds[0].every_s, 1800);
  EXPECT_FALSE(c.feeds[0].enabled);

  ServerConfig off;
  ASSERT_TRUE(Load("[admin]\nlisten = \"\"\n", &off).ok());
  EXPECT_FALSE(off.admin_enabled);

  const char* bad[] = {
      "[admin]\nlisten = \"localhost:1\"\n",
      "[admin]\ntls_cert = \"a\"\n",
      "[admin]\nmax_body_mb = 0\n",
      "[admin]\nrelease_source = \"Bad Name\"\n",
      "[feeds]\nbogus = 1\n",
      "[[feed]]\nname = \"x\"\nurl = \"ftp://h/x\"\n",
      "[[feed]]\nname = \"x\"\nurl = \"http://h/x\"\nevery = \"10s\"\n",
      "[[feed]]\nname = \"x\"\nurl = \"http://h/x\"\nformat = \"csv\"\n",
      "[[feed]]\nname = \"x\"\nurl = \"http://h/x\"\nmax_shrink = 2.0\n",
      "[[feed]]\nurl = \"http://h/x\"\n",
      "feed = 3\n",
  };
  for (const char* text : bad) {
    ServerConfig c2;
    Status st2 = Load(text, &c2);
    EXPECT_TRUE(st2.IsInvalidArgument()) << text << " -> " << st2.ToString();
  }
}

TEST_F(ConfigTest, EverySettingIsRead) {
  ServerConfig c;
  Status st = Load(R"(
[server]
dns_listen = ["10.0.0.1", "[2001:db8::1]:5300"]
workers = 3
db = "/var/lib/saring"
allow_clients = ["10.0.0.0/8"]
[upstream]
servers = ["192.0.2.1", "192.0.2.2:5353"]
timeout_ms = 500
query_timeout_ms = 2000
[cache]
size_mb = 8
serve_stale = false
[blocking]
mode = "sinkhole"
sinkhole_ipv4 = "192.0.2.80"
ttl = 60
[[blocking.override]]
category = "doh"
mode = "cname"
cname_target = "blocked.example"
[[zone]]
name = "kec-a"
subnets = ["10.1.0.0/16", "fd00::/8"]
[log]
level = "debug"
query_log = true
)", &c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(c.dns_listen[0].ToString(), "10.0.0.1:53");
  EXPECT_EQ(c.dns_listen[1].ToString(), "[2001:db8::1]:5300");
  EXPECT_EQ(c.workers, 3);
  EXPECT_EQ(c.upstreams[1].port, 5353);
  EXPECT_EQ(c.upstream_timeout_ms, 500);
  EXPECT_EQ(c.cache_bytes, 8u << 20);
  EXPECT_FALSE(c.serve_stale);
  EXPECT_EQ(c.block.mode, BlockMode::kSinkhole);
  EXPECT_EQ(c.block.sinkhole_v4, (std::array<std::uint8_t, 4>{192, 0, 2, 80}));
  ASSERT_EQ(c.overrides.size(), 1u);
  EXPECT_EQ(c.overrides[0].answer.mode, BlockMode::kCname);
  EXPECT_EQ(c.overrides[0].answer.sinkhole_v4, c.block.sinkhole_v4);  // inherits the default
  ASSERT_EQ(c.zones.size(), 1u);
  EXPECT_EQ(c.zones[0].subnets.size(), 2u);
  EXPECT_TRUE(c.query_log);

  std::array<std::uint8_t, 16> v4{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
  EXPECT_TRUE(c.zones[0].subnets[0].Contains(v4));
  v4[13] = 2;
  EXPECT_FALSE(c.zones[0].subnets[0].Contains(v4));
}

TEST_F(ConfigTest, MistakesAreClearErrors) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"[server]\nlisten = [\"127.0.0.1\"]\n", "unknown setting 'listen' in [server]"},
      {"[sever]\n", "unknown setting 'sever'"},
      {"[server]\nworkers = \"two\"\n", "'workers' has the wrong type"},
      {"[server]\nworkers = 100\n", "workers must be 0..64"},
      {"[server]\ndns_listen = \"127.0.0.1\"\n", "must be a list of strings"},
      {"[server]\ndns_listen = [\"localhost:53\"]\n", "not a numeric IP address"},
      {"[server]\ndns_listen = [\"127.0.0.1:99999\"]\n", "bad port"},
      {"[server]\nallow_clients = [\"10.0.0.0/33\"]\n", "bad prefix length"},
      {"[upstream]\ntimeout_ms = 5000\nquery_timeout_ms = 1000\n", "timeout_ms <= query_timeout_ms"},
      {"[blocking]\nmode = \"drop\"\n", "mode 'drop' is not"},
      {"[blocking]\nsinkhole_ipv4 = \"::1\"\n", "not an IPv4 address"},
      {"[blocking.override]\nmode = \"nodata\"\n", "[[blocking.override]]"},
      {"[[zone]]\nsubnets = [\"10.0.0.0/8\"]\n", "needs a name"},
      {"[cache]\nsize_mb = 0\n", "size_mb must be"},
      {"[server\n", "saringd.toml:1"},
  };
  for (const Case& c : cases) {
    ServerConfig config;
    Status st = Load(c.text, &config);
    EXPECT_TRUE(st.IsInvalidArgument()) << c.text;
    EXPECT_NE(st.message().find(c.says), std::string::npos) << c.text << " -> " << st.message();
  }
  ServerConfig config;
  EXPECT_FALSE(LoadServerConfig(dir_.Sub("missing.toml"), &config).ok());
}

TEST_F(ConfigTest, ProxySettings) {
  ServerConfig bundled;
  ASSERT_TRUE(LoadServerConfig(std::string(SARING_SOURCE_DIR) + "/deploy/saringd.toml", &bundled).ok());
  EXPECT_EQ(bundled.proxy_listen.ToString(), "127.0.0.1:3128");
  EXPECT_TRUE(bundled.proxy_transparent_http.address.empty());
  EXPECT_FALSE(bundled.proxy_allow_no_sni);

  ServerConfig c;
  Status st = Load(
      "[proxy]\nlisten = \"\"\ntransparent_http = \"0.0.0.0\"\ntransparent_https = \"[::]:8443\"\n"
      "block_page = \"10.0.0.1:80\"\nallow_clients = [\"10.0.0.0/8\"]\nconnect_ports = [443, 8443]\n"
      "threads = 4\nmax_connections = 100\nmax_header_kb = 8\nheader_timeout_s = 3\nidle_timeout_s = 30\n"
      "connect_timeout_s = 2\nallow_no_sni = true\nallow_sni_mismatch = true\naccess_log = \"/var/log/saring/access.log\"\n"
      "log_client_address = false\nreport_url = \"https://lapor.kota.go.id/v1/reports\"\n"
      "hosts = { \"Intranet.Kota.go.id.\" = \"10.0.0.10\" }\n",
      &c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(c.proxy_listen.address.empty());
  EXPECT_EQ(c.proxy_transparent_http.ToString(), "0.0.0.0:3129");  // default ports per listener
  EXPECT_EQ(c.proxy_transparent_https.ToString(), "[::]:8443");
  EXPECT_EQ(c.proxy_block_page.ToString(), "10.0.0.1:80");
  EXPECT_TRUE(c.proxy_allow_clients_set);
  EXPECT_EQ(c.proxy_connect_ports, (std::vector<std::uint16_t>{443, 8443}));
  EXPECT_EQ(c.proxy_threads, 4);
  EXPECT_EQ(c.proxy_max_header_bytes, 8u << 10);
  EXPECT_EQ(c.proxy_header_timeout_s, 3);
  EXPECT_TRUE(c.proxy_allow_no_sni && c.proxy_allow_sni_mismatch);
  EXPECT_FALSE(c.proxy_log_client_address);
  ASSERT_EQ(c.proxy_hosts.size(), 1u);
  EXPECT_EQ(c.proxy_hosts[0].first, "intranet.kota.go.id");  // normalized like every rule
  EXPECT_EQ(c.proxy_hosts[0].second, "10.0.0.10");

  // Unset: the proxy takes [server] allow_clients, and the report form the admin API.
  ServerConfig d;
  ASSERT_TRUE(Load("[admin]\nlisten = \"192.168.7.1:8053\"\n", &d).ok());
  d.upstreams.push_back({"127.0.0.1", 5300});
  ASSERT_TRUE(FinishServerConfig(&d).ok());
  EXPECT_EQ(d.proxy_allow_clients.size(), d.allow_clients.size());
  EXPECT_EQ(d.proxy_report_url, "http://192.168.7.1:8053/v1/reports");
  ServerConfig wildcard;
  ASSERT_TRUE(Load("[admin]\nlisten = \"0.0.0.0:8053\"\n", &wildcard).ok());
  wildcard.upstreams.push_back({"127.0.0.1", 5300});
  ASSERT_TRUE(FinishServerConfig(&wildcard).ok());
  EXPECT_EQ(wildcard.proxy_report_url, "");  // no address a client could be sent to

  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"[proxy]\nlisten = \"proxy.local:3128\"\n", "[proxy] listen"},
      {"[proxy]\nconnect_ports = [0]\n", "connect_ports must be ports"},
      {"[proxy]\nconnect_ports = 443\n", "connect_ports must be an array"},
      {"[proxy]\nthreads = 0\n", "threads must be 1..64"},
      {"[proxy]\nheader_timeout_s = 0\n", "header_timeout_s must be"},
      {"[proxy]\nreport_url = \"javascript:alert(1)\"\n", "report_url must be an http"},
      {"[proxy]\nhosts = { \"a.test\" = \"not-an-ip\" }\n", "needs a numeric IP address"},
      {"[proxy]\nhosts = [\"a.test\"]\n", "hosts must be a table"},
      {"[proxy]\nlisten_on = \"127.0.0.1:3128\"\n", "unknown setting 'listen_on' in [proxy]"},
  };
  for (const Case& k : cases) {
    ServerConfig config;
    Status bad = Load(k.text, &config);
    EXPECT_TRUE(bad.IsInvalidArgument()) << k.text;
    EXPECT_NE(bad.message().find(k.says), std::string::npos) << k.text << " -> " << bad.message();
  }
}

TEST_F(ConfigTest, DefaultsFillWhatTheFileLeavesOut) {
  ServerConfig c;
  ASSERT_TRUE(Load("", &c).ok());
  c.upstreams.push_back({"127.0.0.1", 5300});  // resolv.conf is the machine's: not read here
  ASSERT_TRUE(FinishServerConfig(&c).ok());
  ASSERT_EQ(c.dns_listen.size(), 1u);
  EXPECT_EQ(c.dns_listen[0].ToString(), "127.0.0.1:5353");
  std::array<std::uint8_t, 16> public_v4{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 8, 8, 8, 8};
  std::array<std::uint8_t, 16> lan_v4{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 9};
  bool public_allowed = false, lan_allowed = false;
  for (const Subnet& s : c.allow_clients) {
    public_allowed |= s.Contains(public_v4);
    lan_allowed |= s.Contains(lan_v4);
  }
  EXPECT_FALSE(public_allowed);  // never an open resolver
  EXPECT_TRUE(lan_allowed);
}

}  // namespace
}  // namespace saring
