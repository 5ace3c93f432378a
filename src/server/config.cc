#include "saring/server_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <initializer_list>
#include <set>
#include <toml++/toml.h>

#include "saring/name.h"

namespace saring {
namespace {

bool ToMapped(std::string_view text, std::array<std::uint8_t, 16>* out, bool* v4) {
  char buf[64];
  if (text.size() >= sizeof buf) return false;
  text.copy(buf, text.size());
  buf[text.size()] = '\0';
  std::uint8_t raw[16];
  if (inet_pton(AF_INET, buf, raw) == 1) {
    *out = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, raw[0], raw[1], raw[2], raw[3]};
    *v4 = true;
    return true;
  }
  if (inet_pton(AF_INET6, buf, raw) == 1) {
    std::copy(raw, raw + 16, out->begin());
    *v4 = false;
    return true;
  }
  return false;
}

Status CheckKeys(const toml::table& table, std::string_view where,
                 std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : table) {
    bool ok = false;
    for (std::string_view k : known) ok |= key.str() == k;
    if (!ok) {
      return Status::InvalidArgument("unknown setting '" + std::string(key.str()) + "' in [" +
                                     std::string(where) + "]");
    }
  }
  return Status::OK();
}

template <class T>
Status Get(const toml::table& t, std::string_view key, T* out) {
  const toml::node* node = t.get(key);
  if (!node) return Status::OK();
  std::optional<T> v = node->value<T>();
  if (!v) return Status::InvalidArgument("'" + std::string(key) + "' has the wrong type");
  *out = *v;
  return Status::OK();
}

Status GetStrings(const toml::table& t, std::string_view key, std::vector<std::string>* out,
                  bool* present) {
  *present = false;
  const toml::node* node = t.get(key);
  if (!node) return Status::OK();
  const toml::array* array = node->as_array();
  if (!array) return Status::InvalidArgument("'" + std::string(key) + "' must be a list of strings");
  *present = true;
  for (const toml::node& item : *array) {
    std::optional<std::string> s = item.value<std::string>();
    if (!s) return Status::InvalidArgument("'" + std::string(key) + "' must be a list of strings");
    out->push_back(*s);
  }
  return Status::OK();
}

// A list of strings, each parsed into a T; *out is replaced only when the key
// is present, so defaults survive a file that does not mention it.
template <class T, class Parse>
Status GetList(const toml::table& t, std::string_view key, Parse parse, std::vector<T>* out) {
  std::vector<std::string> texts;
  bool present;
  SARING_RETURN_IF_ERROR(GetStrings(t, key, &texts, &present));
  if (!present) return Status::OK();
  out->clear();
  for (const std::string& text : texts) {
    T value;
    SARING_RETURN_IF_ERROR(parse(text, &value));
    out->push_back(std::move(value));
  }
  return Status::OK();
}

Status GetSubnets(const toml::table& t, std::string_view key, std::vector<Subnet>* out) {
  return GetList(t, key, [](std::string_view text, Subnet* s) { return ParseSubnet(text, s); }, out);
}

Status GetEndpoints(const toml::table& t, std::string_view key, std::uint16_t default_port,
                    std::vector<Endpoint>* out) {
  return GetList(
      t, key,
      [default_port](std::string_view text, Endpoint* e) { return ParseEndpoint(text, default_port, e); },
      out);
}

Status ParseAddressInto(std::string_view text, bool want_v4, std::uint8_t* out) {
  std::array<std::uint8_t, 16> mapped;
  bool v4;
  if (!ToMapped(text, &mapped, &v4) || v4 != want_v4) {
    return Status::InvalidArgument("'" + std::string(text) + "' is not an IPv" +
                                   (want_v4 ? "4" : "6") + " address");
  }
  if (want_v4) std::copy(mapped.begin() + 12, mapped.end(), out);
  else std::copy(mapped.begin(), mapped.end(), out);
  return Status::OK();
}

Status ParseBlockAnswer(const toml::table& t, std::string_view where, BlockAnswer* answer) {
  std::string mode, v4, v6;
  SARING_RETURN_IF_ERROR(Get(t, "mode", &mode));
  if (!mode.empty() && !ParseBlockMode(mode, &answer->mode)) {
    return Status::InvalidArgument("[" + std::string(where) + "] mode '" + mode +
                                   "' is not nxdomain, nodata, sinkhole or cname");
  }
  SARING_RETURN_IF_ERROR(Get(t, "sinkhole_ipv4", &v4));
  SARING_RETURN_IF_ERROR(Get(t, "sinkhole_ipv6", &v6));
  if (!v4.empty()) SARING_RETURN_IF_ERROR(ParseAddressInto(v4, true, answer->sinkhole_v4.data()));
  if (!v6.empty()) SARING_RETURN_IF_ERROR(ParseAddressInto(v6, false, answer->sinkhole_v6.data()));
  return Get(t, "cname_target", &answer->cname_target);
}

// An optional listen address: "" = off.
Status GetListen(const toml::table& t, const char* key, std::uint16_t default_port, Endpoint* out) {
  if (!t.contains(key)) return Status::OK();
  std::string text;
  SARING_RETURN_IF_ERROR(Get(t, key, &text));
  if (text.empty()) {
    *out = Endpoint{};
    return Status::OK();
  }
  return ParseEndpoint(text, default_port, out).WithContext(std::string("[proxy] ") + key);
}

Status GetIntIn(const toml::table& t, const char* key, int min, int max, int* out) {
  std::int64_t v = *out;
  SARING_RETURN_IF_ERROR(Get(t, key, &v));
  if (v < min || v > max) {
    return Status::InvalidArgument("[proxy] " + std::string(key) + " must be " + std::to_string(min) + ".." +
                                   std::to_string(max));
  }
  *out = static_cast<int>(v);
  return Status::OK();
}

Status ParseProxy(const toml::table& t, ServerConfig* c) {
  SARING_RETURN_IF_ERROR(CheckKeys(
      t, "proxy",
      {"listen", "transparent_http", "transparent_https", "block_page", "allow_clients", "connect_ports", "threads",
       "max_connections", "max_header_kb", "header_timeout_s", "idle_timeout_s", "connect_timeout_s", "allow_no_sni",
       "allow_sni_mismatch", "access_log", "log_client_address", "report_url", "hosts"}));
  SARING_RETURN_IF_ERROR(GetListen(t, "listen", 3128, &c->proxy_listen));
  SARING_RETURN_IF_ERROR(GetListen(t, "transparent_http", 3129, &c->proxy_transparent_http));
  SARING_RETURN_IF_ERROR(GetListen(t, "transparent_https", 3130, &c->proxy_transparent_https));
  SARING_RETURN_IF_ERROR(GetListen(t, "block_page", 80, &c->proxy_block_page));
  if (t.contains("allow_clients")) {
    c->proxy_allow_clients_set = true;
    SARING_RETURN_IF_ERROR(GetSubnets(t, "allow_clients", &c->proxy_allow_clients));
  }
  if (t.contains("connect_ports")) {
    const toml::array* ports = t["connect_ports"].as_array();
    if (!ports) return Status::InvalidArgument("[proxy] connect_ports must be an array of ports");
    c->proxy_connect_ports.clear();
    for (const toml::node& n : *ports) {
      std::optional<std::int64_t> p = n.value<std::int64_t>();
      if (!p || *p < 1 || *p > 65535) return Status::InvalidArgument("[proxy] connect_ports must be ports 1..65535");
      c->proxy_connect_ports.push_back(static_cast<std::uint16_t>(*p));
    }
  }
  SARING_RETURN_IF_ERROR(GetIntIn(t, "threads", 1, 64, &c->proxy_threads));
  SARING_RETURN_IF_ERROR(GetIntIn(t, "max_connections", 1, 1000000, &c->proxy_max_connections));
  int header_kb = static_cast<int>(c->proxy_max_header_bytes >> 10);
  SARING_RETURN_IF_ERROR(GetIntIn(t, "max_header_kb", 1, 1024, &header_kb));
  c->proxy_max_header_bytes = static_cast<std::size_t>(header_kb) << 10;
  SARING_RETURN_IF_ERROR(GetIntIn(t, "header_timeout_s", 1, 3600, &c->proxy_header_timeout_s));
  SARING_RETURN_IF_ERROR(GetIntIn(t, "idle_timeout_s", 1, 86400, &c->proxy_idle_timeout_s));
  SARING_RETURN_IF_ERROR(GetIntIn(t, "connect_timeout_s", 1, 600, &c->proxy_connect_timeout_s));
  SARING_RETURN_IF_ERROR(Get(t, "allow_no_sni", &c->proxy_allow_no_sni));
  SARING_RETURN_IF_ERROR(Get(t, "allow_sni_mismatch", &c->proxy_allow_sni_mismatch));
  SARING_RETURN_IF_ERROR(Get(t, "access_log", &c->proxy_access_log));
  SARING_RETURN_IF_ERROR(Get(t, "log_client_address", &c->proxy_log_client_address));
  SARING_RETURN_IF_ERROR(Get(t, "report_url", &c->proxy_report_url));
  if (!c->proxy_report_url.empty() && !c->proxy_report_url.starts_with("http://") &&
      !c->proxy_report_url.starts_with("https://")) {
    return Status::InvalidArgument("[proxy] report_url must be an http:// or https:// URL");
  }
  if (t.contains("hosts")) {
    const toml::table* hosts = t["hosts"].as_table();
    if (!hosts) return Status::InvalidArgument("[proxy] hosts must be a table: { \"name\" = \"IP\" }");
    for (const auto& [name, value] : *hosts) {
      std::optional<std::string> ip = value.value<std::string>();
      std::array<std::uint8_t, 16> bytes;
      bool v4;
      if (!ip || !ToMapped(*ip, &bytes, &v4)) {
        return Status::InvalidArgument("[proxy] hosts: '" + std::string(name.str()) + "' needs a numeric IP address");
      }
      std::string normalized;
      SARING_RETURN_IF_ERROR(NormalizeDomain(name.str(), &normalized).WithContext("[proxy] hosts"));
      c->proxy_hosts.emplace_back(normalized, *ip);
    }
  }
  return Status::OK();
}

Status Parse(const toml::table& root, ServerConfig* c) {
  SARING_RETURN_IF_ERROR(CheckKeys(root, "top level", {"server", "upstream", "cache", "blocking", "zone", "admin", "feeds", "feed", "proxy", "log"}));
  if (const toml::table* t = root["server"].as_table()) {
    SARING_RETURN_IF_ERROR(
        CheckKeys(*t, "server", {"dns_listen", "workers", "db", "rules", "allow_clients"}));
    SARING_RETURN_IF_ERROR(GetEndpoints(*t, "dns_listen", 53, &c->dns_listen));
    std::int64_t workers = c->workers;
    SARING_RETURN_IF_ERROR(Get(*t, "workers", &workers));
    if (workers < 0 || workers > 64) return Status::InvalidArgument("workers must be 0..64");
    c->workers = static_cast<int>(workers);
    SARING_RETURN_IF_ERROR(Get(*t, "db", &c->db_dir));
    SARING_RETURN_IF_ERROR(Get(*t, "rules", &c->rules_dir));
    SARING_RETURN_IF_ERROR(GetSubnets(*t, "allow_clients", &c->allow_clients));
  }
  if (const toml::table* t = root["upstream"].as_table()) {
    SARING_RETURN_IF_ERROR(CheckKeys(*t, "upstream", {"servers", "timeout_ms", "query_timeout_ms"}));
    SARING_RETURN_IF_ERROR(GetEndpoints(*t, "servers", 53, &c->upstreams));
    std::int64_t a = c->upstream_timeout_ms, q = c->query_timeout_ms;
    SARING_RETURN_IF_ERROR(Get(*t, "timeout_ms", &a));
    SARING_RETURN_IF_ERROR(Get(*t, "query_timeout_ms", &q));
    if (a < 10 || q < a || q > 60000) {
      return Status::InvalidArgument("need 10 <= timeout_ms <= query_timeout_ms <= 60000");
    }
    c->upstream_timeout_ms = static_cast<int>(a);
    c->query_timeout_ms = static_cast<int>(q);
  }
  if (const toml::table* t = root["cache"].as_table()) {
    SARING_RETURN_IF_ERROR(CheckKeys(*t, "cache", {"size_mb", "serve_stale"}));
    std::int64_t mb = static_cast<std::int64_t>(c->cache_bytes >> 20);
    SARING_RETURN_IF_ERROR(Get(*t, "size_mb", &mb));
    if (mb < 1 || mb > 65536) return Status::InvalidArgument("cache size_mb must be 1..65536");
    c->cache_bytes = static_cast<std::size_t>(mb) << 20;
    SARING_RETURN_IF_ERROR(Get(*t, "serve_stale", &c->serve_stale));
  }
  if (const toml::table* t = root["blocking"].as_table()) {
    SARING_RETURN_IF_ERROR(CheckKeys(
        *t, "blocking", {"mode", "sinkhole_ipv4", "sinkhole_ipv6", "cname_target", "ttl", "override"}));
    SARING_RETURN_IF_ERROR(ParseBlockAnswer(*t, "blocking", &c->block));
    std::int64_t ttl = c->block_ttl;
    SARING_RETURN_IF_ERROR(Get(*t, "ttl", &ttl));
    if (ttl < 0 || ttl > 86400) return Status::InvalidArgument("blocking ttl must be 0..86400");
    c->block_ttl = static_cast<std::uint32_t>(ttl);
    if (t->contains("override") && !(*t)["override"].as_array()) {
      return Status::InvalidArgument("write overrides as [[blocking.override]] tables");
    }
    if (const toml::array* overrides = (*t)["override"].as_array()) {
      for (const toml::node& node : *overrides) {
        const toml::table* o = node.as_table();
        if (!o) return Status::InvalidArgument("[[blocking.override]] must be tables");
        SARING_RETURN_IF_ERROR(CheckKeys(*o, "blocking.override",
                                         {"source", "category", "mode", "sinkhole_ipv4",
                                          "sinkhole_ipv6", "cname_target"}));
        BlockOverride bo;
        bo.answer = c->block;
        SARING_RETURN_IF_ERROR(Get(*o, "source", &bo.source));
        SARING_RETURN_IF_ERROR(Get(*o, "category", &bo.category));
        SARING_RETURN_IF_ERROR(ParseBlockAnswer(*o, "blocking.override", &bo.answer));
        c->overrides.push_back(std::move(bo));
      }
    }
  }
  if (const toml::array* zones = root["zone"].as_array()) {
    for (const toml::node& node : *zones) {
      const toml::table* z = node.as_table();
      if (!z) return Status::InvalidArgument("[[zone]] must be tables");
      SARING_RETURN_IF_ERROR(CheckKeys(*z, "zone", {"name", "subnets"}));
      ClientZone zone;
      SARING_RETURN_IF_ERROR(Get(*z, "name", &zone.name));
      if (zone.name.empty()) return Status::InvalidArgument("[[zone]] needs a name");
      SARING_RETURN_IF_ERROR(GetSubnets(*z, "subnets", &zone.subnets));
      c->zones.push_back(std::move(zone));
    }
  }
  if (const toml::table* t = root["admin"].as_table()) {
    SARING_RETURN_IF_ERROR(CheckKeys(*t, "admin", {"listen", "tls_cert", "tls_key", "metrics_public", "max_body_mb",
                                                   "reports_per_minute", "release_source"}));
    std::string listen = c->admin_listen.ToString();
    SARING_RETURN_IF_ERROR(Get(*t, "listen", &listen));
    c->admin_enabled = !listen.empty();
    if (c->admin_enabled) SARING_RETURN_IF_ERROR(ParseEndpoint(listen, 8053, &c->admin_listen).WithContext("[admin] listen"));
    SARING_RETURN_IF_ERROR(Get(*t, "tls_cert", &c->admin_tls_cert));
    SARING_RETURN_IF_ERROR(Get(*t, "tls_key", &c->admin_tls_key));
    if (c->admin_tls_cert.empty() != c->admin_tls_key.empty()) {
      return Status::InvalidArgument("[admin] tls_cert and tls_key go together");
    }
    SARING_RETURN_IF_ERROR(Get(*t, "metrics_public", &c->metrics_public));
    std::int64_t mb = static_cast<std::int64_t>(c->admin_max_body_bytes >> 20);
    SARING_RETURN_IF_ERROR(Get(*t, "max_body_mb", &mb));
    if (mb < 1 || mb > 4096) return Status::InvalidArgument("[admin] max_body_mb must be 1..4096");
    c->admin_max_body_bytes = static_cast<std::size_t>(mb) << 20;
    std::int64_t rate = c->reports_per_minute;
    SARING_RETURN_IF_ERROR(Get(*t, "reports_per_minute", &rate));
    if (rate < 1 || rate > 10000) return Status::InvalidArgument("[admin] reports_per_minute must be 1..10000");
    c->reports_per_minute = static_cast<int>(rate);
    SARING_RETURN_IF_ERROR(Get(*t, "release_source", &c->release_source));
    SARING_RETURN_IF_ERROR(ValidateSourceName(c->release_source).WithContext("[admin] release_source"));
  }
  if (const toml::table* t = root["feeds"].as_table()) {
    SARING_RETURN_IF_ERROR(CheckKeys(*t, "feeds", {"ca_file", "work_dir", "schedule", "stall_timeout_s",
                                                   "connect_timeout_s", "attempts"}));
    SARING_RETURN_IF_ERROR(Get(*t, "ca_file", &c->feeds_ca_file));
    SARING_RETURN_IF_ERROR(Get(*t, "work_dir", &c->feeds_work_dir));
    SARING_RETURN_IF_ERROR(Get(*t, "schedule", &c->feeds_schedule));
    std::int64_t stall = c->feeds_stall_timeout_s, connect = c->feeds_connect_timeout_s,
                 attempts = c->feeds_attempts;
    SARING_RETURN_IF_ERROR(Get(*t, "stall_timeout_s", &stall));
    SARING_RETURN_IF_ERROR(Get(*t, "connect_timeout_s", &connect));
    SARING_RETURN_IF_ERROR(Get(*t, "attempts", &attempts));
    if (stall < 1 || stall > 3600) return Status::InvalidArgument("[feeds] stall_timeout_s must be 1..3600");
    if (connect < 1 || connect > 600) return Status::InvalidArgument("[feeds] connect_timeout_s must be 1..600");
    if (attempts < 1 || attempts > 10) return Status::InvalidArgument("[feeds] attempts must be 1..10");
    c->feeds_stall_timeout_s = static_cast<int>(stall);
    c->feeds_connect_timeout_s = static_cast<int>(connect);
    c->feeds_attempts = static_cast<int>(attempts);
  }
  if (root.contains("feed") && !root["feed"].as_array()) {
    return Status::InvalidArgument("write feeds as [[feed]] tables");
  }
  if (const toml::array* feeds = root["feed"].as_array()) {
    for (const toml::node& node : *feeds) {
      const toml::table* f = node.as_table();
      if (!f) return Status::InvalidArgument("[[feed]] must be tables");
      SARING_RETURN_IF_ERROR(CheckKeys(*f, "feed", {"name", "url", "format", "action", "category", "every",
                                                    "max_shrink", "max_rejected", "enabled"}));
      FeedSource feed;
      std::string format = "plain", action = "block", every = "6h";
      SARING_RETURN_IF_ERROR(Get(*f, "name", &feed.name));
      SARING_RETURN_IF_ERROR(Get(*f, "url", &feed.url));
      SARING_RETURN_IF_ERROR(Get(*f, "format", &format));
      SARING_RETURN_IF_ERROR(Get(*f, "action", &action));
      SARING_RETURN_IF_ERROR(Get(*f, "category", &feed.category));
      SARING_RETURN_IF_ERROR(Get(*f, "every", &every));
      SARING_RETURN_IF_ERROR(Get(*f, "max_shrink", &feed.max_shrink));
      SARING_RETURN_IF_ERROR(Get(*f, "max_rejected", &feed.max_rejected));
      SARING_RETURN_IF_ERROR(Get(*f, "enabled", &feed.enabled));
      if (!ParseFeedFormat(format, &feed.format)) return Status::InvalidArgument("[[feed]] format '" + format + "' is unknown");
      if (!ParseAction(action, &feed.action)) return Status::InvalidArgument("[[feed]] action must be block or allow");
      SARING_RETURN_IF_ERROR(ParseInterval(every, &feed.every_s).WithContext("[[feed]] every"));
      SARING_RETURN_IF_ERROR(ValidateFeedSource(feed).WithContext("[[feed]] " + feed.name));
      c->feeds.push_back(std::move(feed));
    }
  }
  if (const toml::table* t = root["proxy"].as_table()) {
    SARING_RETURN_IF_ERROR(ParseProxy(*t, c));
  }
  if (const toml::table* t = root["log"].as_table()) {
    SARING_RETURN_IF_ERROR(CheckKeys(*t, "log", {"level", "query_log"}));
    SARING_RETURN_IF_ERROR(Get(*t, "level", &c->log_level));
    SARING_RETURN_IF_ERROR(Get(*t, "query_log", &c->query_log));
  }
  return Status::OK();
}

}  // namespace

std::string Endpoint::ToString() const {
  bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

Status ParseEndpoint(std::string_view text, std::uint16_t default_port, Endpoint* out) {
  std::string_view host = text, port;
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("bad address '" + std::string(text) + "'");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Status::InvalidArgument("bad address '" + std::string(text) + "'");
      port = rest.substr(1);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    std::size_t colon = text.find(':');
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  std::array<std::uint8_t, 16> ip;
  bool v4;
  if (!ToMapped(host, &ip, &v4)) {
    return Status::InvalidArgument("'" + std::string(text) + "' is not a numeric IP address[:port]");
  }
  out->address = host;
  out->port = default_port;
  if (!port.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      return Status::InvalidArgument("bad port in '" + std::string(text) + "'");
    }
    out->port = static_cast<std::uint16_t>(value);
  }
  return Status::OK();
}

bool Subnet::Contains(const std::array<std::uint8_t, 16>& ip) const {
  int bits = prefix;
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((ip[i] & mask) != (address[i] & mask)) return false;
  }
  return true;
}

Status ParseSubnet(std::string_view text, Subnet* out) {
  std::size_t slash = text.find('/');
  std::string_view host = text.substr(0, slash);
  bool v4;
  if (!ToMapped(host, &out->address, &v4)) {
    return Status::InvalidArgument("'" + std::string(text) + "' is not a subnet like 10.0.0.0/8");
  }
  unsigned prefix = v4 ? 32 : 128;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc() || ptr != p.data() + p.size() || prefix > (v4 ? 32u : 128u)) {
      return Status::InvalidArgument("bad prefix length in '" + std::string(text) + "'");
    }
  }
  out->prefix = static_cast<std::uint8_t>(v4 ? prefix + 96 : prefix);
  return Status::OK();
}

bool ParseBlockMode(std::string_view text, BlockMode* mode) {
  if (text == "nxdomain") *mode = BlockMode::kNxDomain;
  else if (text == "nodata") *mode = BlockMode::kNoData;
  else if (text == "sinkhole") *mode = BlockMode::kSinkhole;
  else if (text == "cname") *mode = BlockMode::kCname;
  else return false;
  return true;
}

Status LoadServerConfig(const std::string& path, ServerConfig* config) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status::InvalidArgument(path + ":" + std::to_string(where.line) + ":" +
                                   std::to_string(where.column) + ": " +
                                   std::string(e.description()));
  }
  config->source_path = path;
  return Parse(root, config).WithContext(path);
}

Status FinishServerConfig(ServerConfig* c) {
  if (c->dns_listen.empty()) c->dns_listen.push_back({"127.0.0.1", 5353});
  if (c->allow_clients.empty()) {
    for (const char* s : {"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12",
                          "192.168.0.0/16", "100.64.0.0/10", "fc00::/7", "fe80::/10"}) {
      Subnet subnet;
      ParseSubnet(s, &subnet);
      c->allow_clients.push_back(subnet);
    }
  }
  if (!c->proxy_allow_clients_set) c->proxy_allow_clients = c->allow_clients;
  if (c->proxy_report_url.empty() && c->admin_enabled) {
    // The block page's form posts to the admin API's public report endpoint,
    // when its address is one clients can be sent to.
    std::array<std::uint8_t, 16> ip{};
    bool v4 = false;
    ToMapped(c->admin_listen.address, &ip, &v4);
    bool unspecified = std::all_of(ip.begin() + (v4 ? 12 : 0), ip.end(), [](std::uint8_t b) { return b == 0; });
    if (!unspecified) {
      c->proxy_report_url = std::string(c->admin_tls_cert.empty() ? "http://" : "https://") +
                            c->admin_listen.ToString() + "/v1/reports";
    }
  }
  if (c->upstreams.empty()) {
    std::ifstream in("/etc/resolv.conf");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("nameserver", 0) != 0) continue;
      std::string address = line.substr(10);
      address.erase(0, address.find_first_not_of(" \t"));
      address.erase(address.find_last_not_of(" \t\r") + 1);
      Endpoint e;
      if (ParseEndpoint(address.find(':') != std::string::npos ? "[" + address + "]" : address, 53, &e).ok()) {
        c->upstreams.push_back(e);
      }
    }
    if (c->upstreams.empty()) {
      return Status::InvalidArgument("no [upstream] servers and none in /etc/resolv.conf");
    }
  }
  return Status::OK();
}

}  // namespace saring
