#include "proxy/head_writer.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <string>

namespace saring::proxy {
namespace {

namespace http = boost::beast::http;

// What Beast's serializer writes for the head of `message`.
template <bool isRequest>
std::string BeastHead(http::message<isRequest, http::empty_body>& message) {
  http::serializer<isRequest, http::empty_body> sr(message);
  sr.split(true);
  std::string out;
  boost::system::error_code ec;
  while (!sr.is_header_done()) {
    sr.next(ec, [&](boost::system::error_code&, const auto& buffers) {
      out += boost::beast::buffers_to_string(buffers);
      sr.consume(boost::asio::buffer_size(buffers));
    });
    EXPECT_FALSE(ec) << ec.message();
  }
  return out;
}

TEST(HeadWriterTest, RequestHeadsAreWhatBeastWrites) {
  http::request<http::empty_body> req(http::verb::get, "/a/b?c=d", 11);
  req.set(http::field::host, "example.go.id:8080");
  req.set("X-Custom", "value with  spaces");
  req.insert(http::field::cookie, "a=1");
  req.insert(http::field::cookie, "b=2");
  req.chunked(true);
  std::string ours;
  WriteHead(req, &ours);
  EXPECT_EQ(ours, BeastHead(req));
  EXPECT_TRUE(ours.starts_with("GET /a/b?c=d HTTP/1.1\r\nHost: example.go.id:8080\r\n")) << ours;
  EXPECT_TRUE(ours.ends_with("Transfer-Encoding: chunked\r\n\r\n")) << ours;

  http::request<http::empty_body> odd;
  odd.method_string("PROPFIND");  // not a verb Beast knows by name
  odd.target("/dav/");
  odd.version(10);
  WriteHead(odd, &ours);  // replaces what was there
  EXPECT_EQ(ours, BeastHead(odd));
  EXPECT_EQ(ours, "PROPFIND /dav/ HTTP/1.0\r\n\r\n");
}

TEST(HeadWriterTest, ResponseHeadsAreWhatBeastWrites) {
  http::response<http::empty_body> ok(http::status::ok, 11);
  ok.set(http::field::content_type, "text/html");
  ok.set(http::field::via, "1.1 saring");
  std::string ours;
  WriteHead(ok, &ours);
  EXPECT_EQ(ours, BeastHead(ok));
  EXPECT_EQ(ours, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nVia: 1.1 saring\r\n\r\n");

  // The origin's own reason phrase, and a code Beast has no name for, as parsed.
  for (const char* raw : {"HTTP/1.1 404 Gone Fishing\r\nContent-Length: 0\r\n\r\n",
                          "HTTP/1.0 299 \r\nX-A: b\r\n\r\n", "HTTP/1.1 599 Whatever\r\n\r\n"}) {
    http::response_parser<http::empty_body> parser;
    boost::system::error_code ec;
    parser.put(boost::asio::buffer(std::string_view(raw)), ec);
    ASSERT_FALSE(ec) << raw << ": " << ec.message();
    auto& res = parser.get();
    WriteHead(res, &ours);
    EXPECT_EQ(ours, BeastHead(res)) << raw;
  }
}

TEST(HeadWriterTest, ChunkFramingParsesBack) {
  std::array<char, 20> scratch;
  EXPECT_EQ(ChunkSizeLine(1, &scratch), "1\r\n");
  EXPECT_EQ(ChunkSizeLine(16384, &scratch), "4000\r\n");
  EXPECT_EQ(ChunkSizeLine(0xabcdef, &scratch), "abcdef\r\n");

  std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string body;
  for (std::size_t size : {1u, 15u, 16u, 4096u, 16384u}) {
    std::string piece(size, static_cast<char>('a' + size % 26));
    wire += ChunkSizeLine(size, &scratch);
    wire += piece;
    wire += kChunkEnd;
    body += piece;
  }
  wire += kLastChunk;
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  boost::system::error_code ec;
  std::size_t used = parser.put(boost::asio::buffer(wire), ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(used, wire.size());
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(parser.get().body(), body);
}

}  // namespace
}  // namespace saring::proxy
