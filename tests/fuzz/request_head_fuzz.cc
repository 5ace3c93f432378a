// libFuzzer target for the proxy's request-line and header handling: the bytes
// are a request head as a client sends it, parsed by Beast's request parser
// with the proxy's limits, then decided by DecideRequest (src/proxy/request_check.h)
// on every listener against a small rule set (a blocked domain, a URL rule on
// an allowed host, an allow rule). The raw input is also fed as a target to the
// URL and CONNECT-target normalizers. Besides "no crash", it checks what the
// sessions rely on: a forward has a host, a port and an origin-form target
// without a fragment; a block carries a blocking verdict; a tunnel is a CONNECT
// on the explicit listener to an allowed port; framing that two parties could
// read differently (Content-Length with Transfer-Encoding, repeated framing or
// Host fields) is refused with 400; the same head decides the same twice.
// Built with clang by tests/fuzz/CMakeLists.txt; tests/proxy/request_head_fuzz_replay_test.cc
// calls the same entry point over the corpus in every build.
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/request_check.h"
#include "proxy/url.h"
#include "saring/engine.h"

namespace saring::proxy {
namespace {

namespace http = boost::beast::http;

constexpr std::uint16_t kConnectPorts[] = {443, 8443};

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "request_head_fuzz: invariant broken: %s\n", what);
  std::abort();
}

// The rules every input is decided against, in an engine of its own.
struct Rules {
  std::string dir;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<SnapshotReader> reader;

  Rules() {
    char tmpl[] = "/tmp/request-head-fuzz-XXXXXX";
    dir = mkdtemp(tmpl);
    EngineOptions options;
    options.db_dir = dir + "/db";
    Check(Engine::Open(options, &engine).ok(), "engine opens");
    Rule blocked;
    blocked.kind = RuleKind::kDomain;
    blocked.action = Action::kBlock;
    blocked.value = "blocked.test";
    blocked.source = "city";
    blocked.category = "gambling";
    Rule url = blocked;
    url.kind = RuleKind::kUrl;
    url.value = R"(^http://gov\.test(:\d+)?/slot/)";
    Rule allow = blocked;
    allow.action = Action::kAllow;
    allow.value = "allowed.blocked.test";
    ChangeContext ctx;
    ctx.by = "fuzz";
    Check(engine->AddRules({blocked, url, allow}, ctx).ok(), "rules added");
    reader = std::make_unique<SnapshotReader>(&engine->publisher());
  }
  ~Rules() {
    reader.reset();
    engine.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

void CheckDecision(const RequestHead& head, ListenerKind listener, const RequestDecision& d) {
  using Kind = RequestDecision::Kind;
  if (head.content_length_fields > 0 && head.transfer_encoding_fields > 0) {
    Check(d.kind == Kind::kRefuse && d.status == 400, "CL+TE refused");
  }
  if (head.host_fields > 1 || head.content_length_fields > 1 || head.transfer_encoding_fields > 1) {
    Check(d.kind == Kind::kRefuse && d.status == 400, "repeated Host/framing refused");
  }
  switch (d.kind) {
    case Kind::kForward:
      Check(!d.host.empty() && d.port != 0, "forward has host and port");
      Check(!d.origin_target.empty() && d.origin_target.front() == '/', "origin-form target");
      Check(d.origin_target.find('#') == std::string::npos, "no fragment upstream");
      Check(d.url.starts_with("http://"), "forwarded URL is plain http");
      Check(!d.verdict.blocked(), "forward is not blocked");
      Check(head.method != "CONNECT", "CONNECT is never forwarded");
      break;
    case Kind::kBlock:
      Check(d.verdict.blocked() && d.status == 403, "block carries a blocking verdict");
      Check(!d.rule.empty() && d.verdict.rule.empty(), "block names its rule by copy, not by view");
      break;
    case Kind::kTunnel: {
      Check(head.method == "CONNECT" && listener == ListenerKind::kExplicit, "tunnel only for explicit CONNECT");
      bool allowed = false;
      for (std::uint16_t p : kConnectPorts) allowed |= p == d.port;
      Check(allowed, "tunnel port allowed");
      Check(!d.host.empty(), "tunnel has a host");
      break;
    }
    case Kind::kRefuse:
      Check(d.status >= 400 && d.status < 600, "refusal status");
      break;
  }
}

}  // namespace
}  // namespace saring::proxy

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace saring::proxy;
  static Rules* rules = new Rules();  // lives for the process (libFuzzer never returns)
  std::string_view input(reinterpret_cast<const char*>(data), size);

  // The raw bytes as a request target.
  if (size <= 2 * kMaxRequestTarget) {
    NormalizedUrl url;
    if (NormalizeRequestUrl(input, "host.test", &url).ok()) {
      Check(!url.host.empty() && url.path.starts_with("/"), "normalized URL has host and path");
      Check(url.url.find('#') == std::string::npos, "normalized URL has no fragment");
    }
    std::string host;
    std::uint16_t port = 0;
    if (ParseConnectTarget(input, &host, &port)) Check(!host.empty() && port != 0, "CONNECT target");
    std::string origin = "left over";
    OriginFormTarget(input, &origin);
    Check(!origin.empty() && origin.find('#') == std::string::npos, "origin-form has no fragment");
  }

  // The bytes as a request head, with the proxy's limits.
  boost::beast::http::request_parser<boost::beast::http::empty_body> parser;
  parser.header_limit(16u << 10);
  parser.eager(false);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (!parser.is_header_done() && used < size) {
    std::size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec == boost::beast::http::error::need_more) break;
    if (ec || n == 0) break;
    used += n;
  }
  if (ec || !parser.is_header_done()) return 0;
  const auto& req = parser.get();
  RequestHead head;
  head.method = {req.method_string().data(), req.method_string().size()};
  head.target = {req.target().data(), req.target().size()};
  auto host = req[boost::beast::http::field::host];
  head.host = {host.data(), host.size()};
  head.host_fields = static_cast<int>(req.count(boost::beast::http::field::host));
  head.content_length_fields = static_cast<int>(req.count(boost::beast::http::field::content_length));
  head.transfer_encoding_fields = static_cast<int>(req.count(boost::beast::http::field::transfer_encoding));
  head.original_host = "10.1.2.3";
  const saring::Snapshot* snapshot = rules->reader->Get();
  // A session decides every request into the same RequestDecision: nothing
  // of an earlier input's decision may show in a later one's.
  static RequestDecision reused;
  for (ListenerKind listener : {ListenerKind::kExplicit, ListenerKind::kTransparentHttp, ListenerKind::kBlockPage}) {
    RequestDecision d;
    DecideRequest(head, listener, snapshot, kConnectPorts, &d);
    CheckDecision(head, listener, d);
    DecideRequest(head, listener, snapshot, kConnectPorts, &reused);
    Check(reused.kind == d.kind && reused.status == d.status && reused.reason == d.reason && reused.host == d.host &&
              reused.port == d.port && reused.url == d.url && reused.origin_target == d.origin_target &&
              reused.query == d.query && reused.rule == d.rule && reused.serial == d.serial &&
              reused.verdict.class_id == d.verdict.class_id,
          "deterministic, and a reused decision equals a fresh one");
  }
  RequestDecision unloaded;
  DecideRequest(head, ListenerKind::kExplicit, nullptr, kConnectPorts, &unloaded);
  Check(unloaded.kind == RequestDecision::Kind::kRefuse, "no snapshot: refused");
  return 0;
}
