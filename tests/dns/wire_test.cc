#include "dns/wire.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace saring::dns {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Builds packets byte by byte, so every test says exactly what is on the wire.
class Packet {
 public:
  Packet& U8(unsigned v) {
    b_.push_back(static_cast<std::uint8_t>(v));
    return *this;
  }
  Packet& U16(unsigned v) { return U8(v >> 8).U8(v & 0xff); }
  Packet& U32(std::uint32_t v) { return U16(v >> 16).U16(v & 0xffff); }
  Packet& Raw(std::string_view s) {
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  Packet& Append(const Bytes& bytes) {
    b_.insert(b_.end(), bytes.begin(), bytes.end());
    return *this;
  }
  Packet& Label(std::string_view s) { return U8(static_cast<unsigned>(s.size())).Raw(s); }
  // The labels of "a.b.c", without the root: for names that end in a pointer.
  Packet& Labels(std::string_view dotted) {
    while (!dotted.empty()) {
      const std::size_t dot = std::min(dotted.find('.'), dotted.size());
      Label(dotted.substr(0, dot));
      dotted.remove_prefix(std::min(dot + 1, dotted.size()));
    }
    return *this;
  }
  Packet& Name(std::string_view dotted) { return Labels(dotted).U8(0); }
  Packet& Ptr(unsigned offset) { return U16(0xc000 | offset); }
  Packet& Header(unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns,
                 unsigned ar) {
    return U16(id).U16(flags).U16(qd).U16(an).U16(ns).U16(ar);
  }
  Packet& Question(std::string_view name, unsigned type, unsigned cls = kClassIn) {
    return Name(name).U16(type).U16(cls);
  }
  Packet& Opt(unsigned udp = 1232, unsigned version = 0, bool dnssec_ok = false,
              const Bytes& options = {}, unsigned ext_rcode = 0) {
    U8(0).U16(41).U16(udp).U8(ext_rcode).U8(version).U16(dnssec_ok ? 0x8000 : 0);
    return U16(static_cast<unsigned>(options.size())).Append(options);
  }
  // Type, class IN, TTL and RDATA of a record whose owner was just written.
  Packet& Rr(unsigned type, std::uint32_t ttl, const Bytes& rdata) {
    return U16(type).U16(kClassIn).U32(ttl).U16(static_cast<unsigned>(rdata.size())).Append(rdata);
  }
  // The same with RDATA built by the next calls, up to EndRr.
  Packet& BeginRr(unsigned type, std::uint32_t ttl) {
    U16(type).U16(kClassIn).U32(ttl);
    rdlength_at_ = b_.size();
    return U16(0);
  }
  Packet& EndRr() {
    const std::size_t n = b_.size() - rdlength_at_ - 2;
    b_[rdlength_at_] = static_cast<std::uint8_t>(n >> 8);
    b_[rdlength_at_ + 1] = static_cast<std::uint8_t>(n);
    return *this;
  }
  Packet& Soa(std::uint32_t ttl, std::uint32_t minimum) {
    return BeginRr(6, ttl).Name("ns.example").Name("admin.example").U32(7).U32(1).U32(2).U32(3)
        .U32(minimum).EndRr();
  }

  std::size_t size() const { return b_.size(); }
  const Bytes& bytes() const { return b_; }
  Bytes& bytes() { return b_; }

 private:
  Bytes b_;
  std::size_t rdlength_at_ = 0;
};

constexpr unsigned kQueryFlags = 0x0100;     // RD
constexpr unsigned kResponseFlags = 0x8180;  // QR RD RA

Bytes Copy(std::span<const std::uint8_t> s) { return Bytes(s.begin(), s.end()); }

std::uint64_t SplitMix(std::uint64_t* state) {
  std::uint64_t x = *state += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// ---- ParseQuery ---------------------------------------------------------------------------

TEST(ParseQueryTest, ParsesAQueryKeepingTheQuestionsLetterCase) {
  Packet p;
  p.Header(0xbeef, 0x0110, 1, 0, 0, 0).Question("wWw.ExAmple.COM", 28);
  Query q;
  ASSERT_EQ(ParseQuery(p.bytes(), &q), ParseStatus::kOk);
  EXPECT_EQ(q.id, 0xbeef);
  EXPECT_EQ(q.opcode, 0);
  EXPECT_TRUE(q.rd);
  EXPECT_TRUE(q.cd);
  EXPECT_EQ(q.qtype, 28);
  EXPECT_EQ(q.qclass, kClassIn);
  EXPECT_EQ(q.name.view(), "www.example.com");
  EXPECT_EQ(q.question.data(), p.bytes().data() + kHeaderSize);
  EXPECT_EQ(Copy(q.question), Bytes(p.bytes().begin() + kHeaderSize, p.bytes().end()));
  EXPECT_FALSE(q.has_edns);
  EXPECT_FALSE(q.dnssec_ok);
  EXPECT_EQ(q.udp_payload, kMinUdpPayload);
}

TEST(ParseQueryTest, RootName) {
  Packet p;
  p.Header(1, 0, 1, 0, 0, 0).Question("", 2);
  Query q;
  ASSERT_EQ(ParseQuery(p.bytes(), &q), ParseStatus::kOk);
  EXPECT_EQ(q.name.view(), "");
  EXPECT_EQ(q.question.size(), 5u);
  EXPECT_FALSE(q.rd);
}

TEST(ParseQueryTest, DropsShortPacketsAndResponses) {
  Packet p;
  p.Header(1, kQueryFlags, 1, 0, 0, 0);
  Query q;
  for (std::size_t n = 0; n < kHeaderSize; ++n) {
    EXPECT_EQ(ParseQuery(std::span(p.bytes()).first(n), &q), ParseStatus::kDrop) << n;
  }
  Packet r;
  r.Header(1, kResponseFlags, 1, 0, 0, 0).Question("a.example", 1);
  EXPECT_EQ(ParseQuery(r.bytes(), &q), ParseStatus::kDrop);
}

TEST(ParseQueryTest, OtherOpcodesAreNotImplementedButEchoTheQuestion) {
  Packet status;  // opcode 2, STATUS
  status.Header(7, 0x1000 | kQueryFlags, 1, 0, 0, 0).Question("Example.com", 1);
  Query q;
  ASSERT_EQ(ParseQuery(status.bytes(), &q), ParseStatus::kNotImp);
  EXPECT_EQ(q.opcode, 2);
  EXPECT_EQ(q.id, 7);
  EXPECT_TRUE(q.rd);
  EXPECT_EQ(q.name.view(), "example.com");
  EXPECT_EQ(q.question.size(), 13u + 4);

  Packet update;  // opcode 5: the counts mean other sections, which are not looked at
  update.Header(8, 5 << 11, 1, 0, 3, 0).Question("zone.example", 6).Raw("whatever");
  ASSERT_EQ(ParseQuery(update.bytes(), &q), ParseStatus::kNotImp);
  EXPECT_EQ(q.opcode, 5);
  EXPECT_EQ(q.name.view(), "zone.example");

  Packet notify;
  notify.Header(9, 4 << 11, 0, 0, 0, 0);
  ASSERT_EQ(ParseQuery(notify.bytes(), &q), ParseStatus::kNotImp);
  EXPECT_TRUE(q.question.empty());
}

TEST(ParseQueryTest, QuestionCountMustBeOne) {
  Query q;
  Packet none;
  none.Header(0x4321, kQueryFlags, 0, 0, 0, 0);
  ASSERT_EQ(ParseQuery(none.bytes(), &q), ParseStatus::kFormErr);
  EXPECT_EQ(q.id, 0x4321);
  EXPECT_TRUE(q.rd);
  EXPECT_TRUE(q.question.empty());

  Packet two;
  two.Header(1, kQueryFlags, 2, 0, 0, 0).Question("a.example", 1).Question("b.example", 1);
  ASSERT_EQ(ParseQuery(two.bytes(), &q), ParseStatus::kFormErr);
  EXPECT_TRUE(q.question.empty());
}

TEST(ParseQueryTest, AnswerOrAuthorityRecordsAreFormErrWithTheQuestionParsed) {
  Query q;
  Packet answer;
  answer.Header(1, kQueryFlags, 1, 1, 0, 0).Question("a.example", 1).Ptr(12).Rr(1, 5, {1, 2, 3, 4});
  ASSERT_EQ(ParseQuery(answer.bytes(), &q), ParseStatus::kFormErr);
  EXPECT_EQ(q.name.view(), "a.example");
  EXPECT_FALSE(q.question.empty());

  Packet authority;
  authority.Header(1, kQueryFlags, 1, 0, 1, 0).Question("a.example", 1).Ptr(12).Soa(5, 5);
  ASSERT_EQ(ParseQuery(authority.bytes(), &q), ParseStatus::kFormErr);
  EXPECT_FALSE(q.question.empty());
}

TEST(ParseQueryTest, LabelLengthLimit) {
  Query q;
  Packet ok;
  ok.Header(1, 0, 1, 0, 0, 0).Label(std::string(63, 'A')).Label("com").U8(0).U16(1).U16(1);
  ASSERT_EQ(ParseQuery(ok.bytes(), &q), ParseStatus::kOk);
  EXPECT_EQ(q.name.view(), std::string(63, 'a') + ".com");

  Packet bad;
  bad.Header(1, 0, 1, 0, 0, 0).Label(std::string(64, 'a')).Label("com").U8(0).U16(1).U16(1);
  EXPECT_EQ(ParseQuery(bad.bytes(), &q), ParseStatus::kFormErr);
  EXPECT_TRUE(q.question.empty());
  EXPECT_EQ(q.name.size, 0);
}

TEST(ParseQueryTest, NameLengthLimit) {
  // 3 * 64 + 62 + 1 = 255 bytes in wire form.
  const std::string l63(63, 'x');
  const std::string name255 = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'y');
  Query q;
  Packet ok;
  ok.Header(1, 0, 1, 0, 0, 0).Question(name255, 1);
  ASSERT_EQ(ParseQuery(ok.bytes(), &q), ParseStatus::kOk);
  EXPECT_EQ(q.name.view(), name255);
  EXPECT_EQ(q.name.size, 253);
  EXPECT_EQ(q.question.size(), 255u + 4);

  Packet bad;
  bad.Header(1, 0, 1, 0, 0, 0).Question(name255 + "y", 1);
  EXPECT_EQ(ParseQuery(bad.bytes(), &q), ParseStatus::kFormErr);
}

TEST(ParseQueryTest, ExtendedLabelTypesAreFormErr) {
  Query q;
  for (unsigned tag : {0x41u, 0x80u, 0xbfu}) {
    Packet p;
    p.Header(1, 0, 1, 0, 0, 0).U8(tag).Raw(std::string(tag & 0x3f, 'a')).U8(0).U16(1).U16(1);
    EXPECT_EQ(ParseQuery(p.bytes(), &q), ParseStatus::kFormErr) << tag;
  }
}

TEST(ParseQueryTest, CompressedQuestionIsFormErr) {
  // Offset 7 is the low byte of ANCOUNT, 0: a valid backward pointer to the root name.
  Query q;
  Packet root;
  root.Header(1, 0, 1, 0, 0, 0).Ptr(7).U16(1).U16(1);
  EXPECT_EQ(ParseQuery(root.bytes(), &q), ParseStatus::kFormErr);
  EXPECT_TRUE(q.question.empty());

  Packet tail;
  tail.Header(1, 0, 1, 0, 0, 0).Labels("www").Ptr(7).U16(1).U16(1);
  EXPECT_EQ(ParseQuery(tail.bytes(), &q), ParseStatus::kFormErr);
}

TEST(ParseQueryTest, BadPointersAreFormErr) {
  Query q;
  Packet forward;
  forward.Header(1, 0, 1, 0, 0, 0).Labels("a").Ptr(20).U16(1).U16(1).Name("b");
  EXPECT_EQ(ParseQuery(forward.bytes(), &q), ParseStatus::kFormErr);

  Packet itself;
  itself.Header(1, 0, 1, 0, 0, 0).Ptr(12).U16(1).U16(1);
  EXPECT_EQ(ParseQuery(itself.bytes(), &q), ParseStatus::kFormErr);

  Packet loop;  // "a" then back to "a": a.a.a.a...
  loop.Header(1, 0, 1, 0, 0, 0).Labels("a").Ptr(12).U16(1).U16(1);
  EXPECT_EQ(ParseQuery(loop.bytes(), &q), ParseStatus::kFormErr);

  Packet cut;  // half a pointer
  cut.Header(1, 0, 1, 0, 0, 0).Labels("a").U8(0xc0);
  EXPECT_EQ(ParseQuery(cut.bytes(), &q), ParseStatus::kFormErr);
}

TEST(ParseQueryTest, QuestionRunningOffTheEndIsFormErr) {
  Query q;
  Packet no_type;
  no_type.Header(1, 0, 1, 0, 0, 0).Name("a.example").U16(1);
  EXPECT_EQ(ParseQuery(no_type.bytes(), &q), ParseStatus::kFormErr);
  Packet no_root;
  no_root.Header(1, 0, 1, 0, 0, 0).Labels("a.example");
  EXPECT_EQ(ParseQuery(no_root.bytes(), &q), ParseStatus::kFormErr);
  Packet long_label;
  long_label.Header(1, 0, 1, 0, 0, 0).U8(10).Raw("abc");
  EXPECT_EQ(ParseQuery(long_label.bytes(), &q), ParseStatus::kFormErr);
}

TEST(ParseQueryTest, NameTextIsLowerCasedButNotEscaped) {
  Packet p;
  p.Header(1, 0, 1, 0, 0, 0).Label("A.B").Label("\xC4\x7f z").Label("COM").U8(0).U16(1).U16(1);
  Query q;
  ASSERT_EQ(ParseQuery(p.bytes(), &q), ParseStatus::kOk);
  EXPECT_EQ(q.name.view(), std::string_view("a.b.\xc4\x7f z.com"));
}

TEST(ParseQueryTest, EdnsPayloadIsClampedAndDoBitRead) {
  const std::pair<unsigned, unsigned> cases[] = {
      {0, 512}, {100, 512}, {512, 512}, {1232, 1232}, {4096, 4096}, {4097, 4096}, {65535, 4096}};
  for (auto [asked, got] : cases) {
    for (bool dnssec_ok : {false, true}) {
      Packet p;
      p.Header(1, kQueryFlags, 1, 0, 0, 1).Question("a.example", 1).Opt(asked, 0, dnssec_ok);
      Query q;
      ASSERT_EQ(ParseQuery(p.bytes(), &q), ParseStatus::kOk) << asked;
      EXPECT_TRUE(q.has_edns);
      EXPECT_EQ(q.udp_payload, got) << asked;
      EXPECT_EQ(q.dnssec_ok, dnssec_ok);
      EXPECT_EQ(q.edns_version, 0);
    }
  }
}

TEST(ParseQueryTest, OnlyTheDoBitCountsAsDo) {
  Packet p;
  p.Header(1, 0, 1, 0, 0, 1).Question("a.example", 1).U8(0).U16(41).U16(1232).U8(0).U8(0)
      .U16(0x7fff).U16(0);
  Query q;
  ASSERT_EQ(ParseQuery(p.bytes(), &q), ParseStatus::kOk);
  EXPECT_FALSE(q.dnssec_ok);
}

TEST(ParseQueryTest, EdnsVersionAboveZeroIsBadVers) {
  Packet p;
  p.Header(3, kQueryFlags, 1, 0, 0, 1).Question("a.example", 1).Opt(4096, 1, true);
  Query q;
  ASSERT_EQ(ParseQuery(p.bytes(), &q), ParseStatus::kBadVers);
  EXPECT_TRUE(q.has_edns);
  EXPECT_EQ(q.edns_version, 1);
  EXPECT_TRUE(q.dnssec_ok);
  EXPECT_EQ(q.name.view(), "a.example");
}

TEST(ParseQueryTest, EdnsOptionsAreValidated) {
  const Bytes cookie = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  const Bytes padding = {0, 12, 0, 0};
  const Bytes overrun = {0, 10, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8};
  const Bytes half_header = {0, 10, 0};
  const std::pair<Bytes, ParseStatus> cases[] = {
      {cookie, ParseStatus::kOk},
      {padding, ParseStatus::kOk},
      {overrun, ParseStatus::kFormErr},
      {half_header, ParseStatus::kFormErr},
  };
  for (const auto& [options, want] : cases) {
    Packet p;
    p.Header(1, 0, 1, 0, 0, 1).Question("a.example", 1).Opt(1232, 0, false, options);
    Query q;
    EXPECT_EQ(ParseQuery(p.bytes(), &q), want) << options.size();
  }
}

TEST(ParseQueryTest, AdditionalSectionProblemsAreFormErrWithoutEdns) {
  Query q;
  Packet two_opts;
  two_opts.Header(1, 0, 1, 0, 0, 2).Question("a.example", 1).Opt().Opt();
  EXPECT_EQ(ParseQuery(two_opts.bytes(), &q), ParseStatus::kFormErr);
  EXPECT_FALSE(q.has_edns);
  EXPECT_FALSE(q.question.empty());

  Packet owner;
  owner.Header(1, 0, 1, 0, 0, 1).Question("a.example", 1).Labels("x").U8(0).U16(41).U16(1232)
      .U32(0).U16(0);
  EXPECT_EQ(ParseQuery(owner.bytes(), &q), ParseStatus::kFormErr);

  Packet tsig;  // not supported
  tsig.Header(1, 0, 1, 0, 0, 1).Question("a.example", 1).Name("key").Rr(250, 0, {0, 0});
  EXPECT_EQ(ParseQuery(tsig.bytes(), &q), ParseStatus::kFormErr);

  Packet missing;
  missing.Header(1, 0, 1, 0, 0, 1).Question("a.example", 1);
  EXPECT_EQ(ParseQuery(missing.bytes(), &q), ParseStatus::kFormErr);

  Packet rdata_overrun;
  rdata_overrun.Header(1, 0, 1, 0, 0, 1).Question("a.example", 1).U8(0).U16(41).U16(1232)
      .U32(0).U16(4).U16(0);
  EXPECT_EQ(ParseQuery(rdata_overrun.bytes(), &q), ParseStatus::kFormErr);
}

TEST(ParseQueryTest, TrailingBytesAreFormErr) {
  Query q;
  Packet plain;
  plain.Header(1, 0, 1, 0, 0, 0).Question("a.example", 1).U8(0);
  EXPECT_EQ(ParseQuery(plain.bytes(), &q), ParseStatus::kFormErr);
  Packet edns;
  edns.Header(1, 0, 1, 0, 0, 1).Question("a.example", 1).Opt(1232, 0, true).U8(0);
  EXPECT_EQ(ParseQuery(edns.bytes(), &q), ParseStatus::kFormErr);
  EXPECT_FALSE(q.has_edns);
}

TEST(ParseQueryTest, EveryPrefixOfAValidQueryIsRejected) {
  Packet p;
  p.Header(0x55aa, kQueryFlags, 1, 0, 0, 1).Question("www.Example.co.id", 65)
      .Opt(1232, 0, true, {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8});
  Query q;
  ASSERT_EQ(ParseQuery(p.bytes(), &q), ParseStatus::kOk);
  for (std::size_t n = 0; n < p.size(); ++n) {
    const ParseStatus status = ParseQuery(std::span(p.bytes()).first(n), &q);
    EXPECT_EQ(status, n < kHeaderSize ? ParseStatus::kDrop : ParseStatus::kFormErr) << n;
  }
}

TEST(ParseQueryTest, RandomGarbageNeverCrashes) {
  std::uint64_t state = 42;
  Bytes packet;
  int ok = 0;
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t r = SplitMix(&state);
    auto random_byte = [&] { return static_cast<std::uint8_t>(SplitMix(&state)); };
    if (r & 1) {
      packet.resize(r % 300);
      for (auto& b : packet) b = random_byte();
    } else {
      // A plausible header and a question of random labels, so that the walk goes deep.
      packet.assign({random_byte(), random_byte(), static_cast<std::uint8_t>(r & 0x01), 0, 0, 1,
                     0, 0, 0, 0, 0, 0});
      for (std::uint64_t labels = (r >> 8) % 6; labels > 0; --labels) {
        const std::uint8_t len = random_byte() % 70;
        packet.push_back(len);
        for (int k = 0; k < len; ++k) packet.push_back(random_byte());
      }
      packet.push_back((r >> 16) % 8 == 0 ? random_byte() : 0);
      for (int k = 0; k < 4; ++k) packet.push_back(random_byte());
      if ((r >> 20) % 4 == 0) packet.push_back(random_byte());
    }
    Query q;
    const ParseStatus status = ParseQuery(packet, &q);
    if (status == ParseStatus::kOk) {
      ++ok;
      ASSERT_FALSE(q.question.empty());
      ASSERT_LE(q.name.size, 253);
      ASSERT_LE(q.question.data() + q.question.size(), packet.data() + packet.size());
    }
    ResponseInfo info;
    ParseResponse(packet, q, &info);
    ForEachCnameTarget(packet, [](const NameText&, void*) { return false; }, nullptr);
  }
  EXPECT_GT(ok, 0);  // the random names did sometimes parse
}

// ---- AnswerWriter ---------------------------------------------------------------------------

std::array<std::uint8_t, 65535> out;

Packet EdnsQuery(std::string_view name, unsigned type, unsigned udp = 1232,
                 bool dnssec_ok = false) {
  Packet p;
  p.Header(0xabcd, kQueryFlags, 1, 0, 0, 1).Question(name, type).Opt(udp, 0, dnssec_ok);
  return p;
}

Packet PlainQuery(std::string_view name, unsigned type) {
  Packet p;
  p.Header(0xabcd, kQueryFlags, 1, 0, 0, 0).Question(name, type);
  return p;
}

Bytes Written(std::size_t size) { return Bytes(out.begin(), out.begin() + size); }

TEST(AnswerWriterTest, BlockAnswerBytesAndRoundTrip) {
  const Packet query = EdnsQuery("Slot88.COM", 1, 4096, true);
  Query q;
  ASSERT_EQ(ParseQuery(query.bytes(), &q), ParseStatus::kOk);
  AnswerWriter w(out, q.udp_payload, q);
  w.SetAuthoritative(true);
  w.AddA(300, {10, 1, 2, 3});
  w.AddEde(kEdeBlocked, "TrustPositif");
  const std::size_t size = w.Finish();

  Packet want;
  want.Header(0xabcd, 0x8580, 1, 1, 0, 1).Question("Slot88.COM", 1);
  want.Ptr(12).Rr(1, 300, {10, 1, 2, 3});
  want.U8(0).U16(41).U16(1232).U8(0).U8(0).U16(0x8000).U16(18);
  want.U16(15).U16(14).U16(kEdeBlocked).Raw("TrustPositif");
  EXPECT_EQ(Written(size), want.bytes());

  ResponseInfo info;
  ASSERT_TRUE(ParseResponse(std::span(out).first(size), q, &info));
  EXPECT_EQ(info.rcode, Rcode::kNoError);
  EXPECT_EQ(info.answer_count, 1);
  EXPECT_FALSE(info.truncated);
  EXPECT_TRUE(info.cacheable);
  EXPECT_EQ(info.cache_ttl, 300u);
  ASSERT_EQ(info.ttl_offset_count, 1);
  EXPECT_EQ(info.ttl_offsets[0], 12 + 16 + 2 + 4);
}

TEST(AppendEdeTest, AddsTheOptionToTheOptOfAStoredAnswer) {
  const Packet query = EdnsQuery("www.example.test", 1, 4096, false);
  Query q;
  ASSERT_EQ(ParseQuery(query.bytes(), &q), ParseStatus::kOk);
  AnswerWriter w(out, q.udp_payload, q);
  w.AddA(30, {192, 0, 2, 77});
  const std::size_t size = w.Finish();
  const Bytes before = Written(size);

  const std::size_t grown = AppendEde(out, size, q.udp_payload, kEdeStaleAnswer, "stale");
  ASSERT_EQ(grown, size + 6 + 5);
  Bytes want = before;
  want[want.size() - 1] = 6 + 5;  // the OPT's RDLENGTH (it had no options)
  Packet option;
  option.U16(15).U16(2 + 5).U16(kEdeStaleAnswer).Raw("stale");
  want.insert(want.end(), option.bytes().begin(), option.bytes().end());
  EXPECT_EQ(Written(grown), want);
  ResponseInfo info;
  EXPECT_TRUE(ParseResponse(std::span(out).first(grown), q, &info));

  // No room, no OPT, or a malformed answer: left as it is.
  EXPECT_EQ(AppendEde(out, size, size + 5, kEdeStaleAnswer, "stale"), size);
  const Packet plain = PlainQuery("www.example.test", 1);
  Query pq;
  ASSERT_EQ(ParseQuery(plain.bytes(), &pq), ParseStatus::kOk);
  AnswerWriter pw(out, pq.udp_payload, pq);
  pw.AddA(30, {192, 0, 2, 77});
  const std::size_t plain_size = pw.Finish();
  EXPECT_EQ(AppendEde(out, plain_size, 512, kEdeStaleAnswer, "stale"), plain_size);
  EXPECT_EQ(AppendEde(out, 7, 512, kEdeStaleAnswer, "stale"), 7u);
}

TEST(AnswerWriterTest, HeaderCopiesOpcodeRdCdAndId) {
  Packet p;
  p.Header(0x0102, 0x0010, 1, 0, 0, 0).Question("a.example", 1);  // CD, no RD
  Query q;
  ASSERT_EQ(ParseQuery(p.bytes(), &q), ParseStatus::kOk);
  AnswerWriter w(out, q.udp_payload, q);
  w.SetRcode(Rcode::kNxDomain);
  const std::size_t size = w.Finish();
  ASSERT_EQ(size, p.size());
  EXPECT_EQ(out[0], 0x01);
  EXPECT_EQ(out[1], 0x02);
  EXPECT_EQ(out[2], 0x80);         // QR only
  EXPECT_EQ(out[3], 0x80 | 0x10 | 3);  // RA CD NXDOMAIN
}

TEST(AnswerWriterTest, EdeTextIsCutAt127BytesOnACharacterBoundary) {
  const Packet query = EdnsQuery("a.example", 1);
  Query q;
  ASSERT_EQ(ParseQuery(query.bytes(), &q), ParseStatus::kOk);
  const std::size_t opt = query.size() - 11;  // the answer's OPT sits where the query's did

  AnswerWriter ascii(out, q.udp_payload, q);
  ascii.AddEde(kEdeFiltered, std::string(200, 'x'));
  std::size_t size = ascii.Finish();
  EXPECT_EQ(size, opt + 11 + 6 + 127);
  EXPECT_EQ(out[opt + 13] << 8 | out[opt + 14], 2 + 127);

  // 126 bytes then "é" (C3 A9): byte 127 would split it.
  AnswerWriter utf8(out, q.udp_payload, q);
  utf8.AddEde(kEdeFiltered, std::string(126, 'x') + "\xc3\xa9");
  size = utf8.Finish();
  EXPECT_EQ(size, opt + 11 + 6 + 126);
  EXPECT_EQ(out[size - 1], 'x');

  AnswerWriter fits(out, q.udp_payload, q);
  fits.AddEde(kEdeFiltered, std::string(125, 'x') + "\xc3\xa9");
  size = fits.Finish();
  EXPECT_EQ(size, opt + 11 + 6 + 127);
  EXPECT_EQ(out[size - 1], 0xa9);
}

TEST(AnswerWriterTest, WithoutEdnsThereIsNoOptAndNoEde) {
  const Packet query = PlainQuery("a.example", 1);
  Query q;
  ASSERT_EQ(ParseQuery(query.bytes(), &q), ParseStatus::kOk);
  AnswerWriter w(out, q.udp_payload, q);
  w.AddA(60, {1, 2, 3, 4});
  w.AddEde(kEdeBlocked, "blocked");
  const std::size_t size = w.Finish();
  EXPECT_EQ(size, query.size() + 16);
  EXPECT_EQ(out[11], 0);  // ARCOUNT
}

TEST(AnswerWriterTest, RecordsBeyondTheLimitAreDroppedWithTc) {
  for (bool edns : {false, true}) {
    const Packet query =
        edns ? EdnsQuery("many.example", 28, 100) : PlainQuery("many.example", 28);
    Query q;
    ASSERT_EQ(ParseQuery(query.bytes(), &q), ParseStatus::kOk);
    ASSERT_EQ(q.udp_payload, 512);
    AnswerWriter w(out, q.udp_payload, q);
    if (edns) w.AddEde(kEdeBlocked, "ede");
    for (int i = 0; i < 40; ++i) w.AddAaaa(60, {0x20, 0x01, 0x0d, 0xb8});
    w.AddA(60, {1, 2, 3, 4});  // would fit, but comes after a dropped record
    const std::size_t size = w.Finish();

    const std::size_t question = 12 + 1 + 4 + 1 + 7 + 1 + 4;
    const std::size_t opt = edns ? 11 + 6 + 3 : 0;
    const std::size_t fit = (512 - question - opt) / 28;
    EXPECT_EQ(size, question + fit * 28 + opt) << edns;
    EXPECT_LE(size, 512u);
    EXPECT_EQ(out[2] & 0x02, 0x02);  // TC
    EXPECT_EQ(out[6] << 8 | out[7], static_cast<int>(fit));
    EXPECT_EQ(out[11], edns ? 1 : 0);

    // The records that are there are whole: without TC the answer parses completely.
    out[2] &= ~0x02;
    ResponseInfo info;
    ASSERT_TRUE(ParseResponse(std::span(out).first(size), q, &info)) << edns;
    EXPECT_EQ(info.ttl_offset_count, fit);
  }
}

TEST(AnswerWriterTest, TcpLimitHoldsEverything) {
  const Packet query = PlainQuery("many.example", 28);
  Query q;
  ASSERT_EQ(ParseQuery(query.bytes(), &q), ParseStatus::kOk);
  AnswerWriter w(out, 65535, q);
  for (int i = 0; i < 40; ++i) w.AddAaaa(60, {});
  const std::size_t size = w.Finish();
  EXPECT_EQ(size, query.size() + 40 * 28);
  EXPECT_EQ(out[2] & 0x02, 0);
}

TEST(AnswerWriterTest, CnameTargetIsWrittenUncompressedAsGiven) {
  const Packet query = EdnsQuery("Judi.example", 1);
  Query q;
  ASSERT_EQ(ParseQuery(query.bytes(), &q), ParseStatus::kOk);
  AnswerWriter w(out, q.udp_payload, q);
  w.AddCname(60, "Landing.Saring.Example.");
  w.AddA(30, {192, 0, 2, 1});
  const std::size_t size = w.Finish();

  Packet want;
  want.Header(0xabcd, 0x8180, 1, 2, 0, 1).Question("Judi.example", 1);
  want.Ptr(12).BeginRr(5, 60).Name("Landing.Saring.Example").EndRr();
  want.Ptr(12).Rr(1, 30, {192, 0, 2, 1}).Opt(1232);
  EXPECT_EQ(Written(size), want.bytes());

  std::vector<std::string> targets;
  ForEachCnameTarget(
      std::span(out).first(size),
      [](const NameText& t, void* c) {
        static_cast<std::vector<std::string>*>(c)->emplace_back(t.view());
        return false;
      },
      &targets);
  EXPECT_EQ(targets, std::vector<std::string>{"landing.saring.example"});
  ResponseInfo info;
  ASSERT_TRUE(ParseResponse(std::span(out).first(size), q, &info));
  EXPECT_EQ(info.cache_ttl, 30u);
}

TEST(AnswerWriterTest, InvalidCnameTargetsAreLeftOut) {
  const Packet query = PlainQuery("a.example", 1);
  Query q;
  ASSERT_EQ(ParseQuery(query.bytes(), &q), ParseStatus::kOk);
  const std::string l63(63, 'x');
  for (const std::string& target :
       {std::string("a..b"), std::string(".a"), std::string(".."), std::string("a.."),
        std::string(64, 'x') + ".com", l63 + "." + l63 + "." + l63 + "." + std::string(62, 'y')}) {
    AnswerWriter w(out, q.udp_payload, q);
    w.AddCname(60, target);
    EXPECT_EQ(w.Finish(), query.size()) << target;
  }
  AnswerWriter longest(out, q.udp_payload, q);  // 255 bytes: fits
  longest.AddCname(60, l63 + "." + l63 + "." + l63 + "." + std::string(61, 'y') + ".");
  EXPECT_EQ(longest.Finish(), query.size() + 12 + 255);
}

TEST(AnswerWriterTest, SoaOwnerPointsIntoTheQuestionWhenItCan) {
  // Question name at 12: 3 w w w 4 J u d i 7 e x a m p l e 0.
  const Packet query = PlainQuery("www.Judi.example", 1);
  Query q;
  ASSERT_EQ(ParseQuery(query.bytes(), &q), ParseStatus::kOk);
  const std::size_t at = query.size();
  const std::pair<std::string, unsigned> pointed[] = {
      {"judi.EXAMPLE", 12 + 4}, {"www.judi.example.", 12}, {"example", 12 + 9}};
  for (const auto& [zone, target] : pointed) {
    AnswerWriter w(out, q.udp_payload, q);
    w.SetRcode(Rcode::kNxDomain);
    w.AddSoa(zone, 3600, 60);
    const std::size_t size = w.Finish();
    Packet want;
    want.Ptr(target).BeginRr(6, 3600).Ptr(target).Label("hostmaster").Ptr(target);
    want.U32(1).U32(3600).U32(600).U32(86400).U32(60).EndRr();
    EXPECT_EQ(Bytes(out.begin() + at, out.begin() + size), want.bytes()) << zone;
    EXPECT_EQ(out[8] << 8 | out[9], 1);  // NSCOUNT

    ResponseInfo info;
    ASSERT_TRUE(ParseResponse(std::span(out).first(size), q, &info)) << zone;
    EXPECT_EQ(info.rcode, Rcode::kNxDomain);
    EXPECT_TRUE(info.cacheable);
    EXPECT_EQ(info.cache_ttl, 60u);
    EXPECT_EQ(info.ttl_offset_count, 1);
  }
}

TEST(AnswerWriterTest, SoaOwnerIsWrittenOutOtherwise) {
  const Packet query = PlainQuery("xjudi.example", 1);
  Query q;
  ASSERT_EQ(ParseQuery(query.bytes(), &q), ParseStatus::kOk);
  const std::size_t at = query.size();
  // "judi.example" ends the qname's text but is not one of its label suffixes.
  for (std::string_view zone : {"judi.example", "blocked.invalid"}) {
    AnswerWriter w(out, q.udp_payload, q);
    w.AddSoa(zone, 30, 60);
    const std::size_t size = w.Finish();
    Packet want;
    want.Name(zone).BeginRr(6, 30).Ptr(static_cast<unsigned>(at)).Label("hostmaster");
    want.Ptr(static_cast<unsigned>(at)).U32(1).U32(3600).U32(600).U32(86400).U32(60).EndRr();
    EXPECT_EQ(Bytes(out.begin() + at, out.begin() + size), want.bytes()) << zone;
    ResponseInfo info;
    ASSERT_TRUE(ParseResponse(std::span(out).first(size), q, &info));
    EXPECT_EQ(info.cache_ttl, 30u);  // NODATA: min(SOA TTL, minimum)
  }

  AnswerWriter root(out, q.udp_payload, q);
  root.AddSoa(".", 30, 60);
  const std::size_t size = root.Finish();
  Packet want;
  want.U8(0).BeginRr(6, 30).U8(0).Label("hostmaster").U8(0);
  want.U32(1).U32(3600).U32(600).U32(86400).U32(60).EndRr();
  EXPECT_EQ(Bytes(out.begin() + at, out.begin() + size), want.bytes());
}

TEST(AnswerWriterTest, SoaRnameStaysWithin255Bytes) {
  // 64 * 3 + 58 + 1 = 251 bytes: hostmaster.<zone> would be 262.
  const std::string l63(63, 'x');
  const std::string zone = l63 + "." + l63 + "." + l63 + "." + std::string(57, 'y');
  const Packet query = PlainQuery(zone, 1);
  Query q;
  ASSERT_EQ(ParseQuery(query.bytes(), &q), ParseStatus::kOk);
  AnswerWriter w(out, 4096, q);
  w.SetRcode(Rcode::kNxDomain);
  w.AddSoa(zone, 30, 60);
  const std::size_t size = w.Finish();
  Packet want;
  want.Ptr(12).BeginRr(6, 30).Ptr(12).Label("hostmaster").U8(0);
  want.U32(1).U32(3600).U32(600).U32(86400).U32(60).EndRr();
  EXPECT_EQ(Bytes(out.begin() + query.size(), out.begin() + size), want.bytes());
  ResponseInfo info;
  EXPECT_TRUE(ParseResponse(std::span(out).first(size), q, &info));
}

TEST(AnswerWriterTest, AnswersAfterTheSoaAreLeftOut) {
  const Packet query = PlainQuery("a.example", 1);
  Query q;
  ASSERT_EQ(ParseQuery(query.bytes(), &q), ParseStatus::kOk);
  AnswerWriter w(out, q.udp_payload, q);
  w.AddSoa("example", 30, 60);
  w.AddA(60, {1, 2, 3, 4});
  const std::size_t size = w.Finish();
  EXPECT_EQ(out[7], 0);  // ANCOUNT
  EXPECT_EQ(out[9], 1);  // NSCOUNT
  ResponseInfo info;
  EXPECT_TRUE(ParseResponse(std::span(out).first(size), q, &info));
}

TEST(AnswerWriterTest, EdeAddedLateShrinksToTheRoomLeft) {
  const Packet query = EdnsQuery("many.example", 28, 512);
  Query q;
  ASSERT_EQ(ParseQuery(query.bytes(), &q), ParseStatus::kOk);
  AnswerWriter w(out, q.udp_payload, q);
  for (int i = 0; i < 40; ++i) w.AddAaaa(60, {});
  w.AddEde(kEdeBlocked, std::string(100, 'x'));
  const std::size_t size = w.Finish();
  EXPECT_LE(size, 512u);
  EXPECT_GE(size, 512u - 27);
  ResponseInfo info;
  out[2] &= ~0x02;
  EXPECT_TRUE(ParseResponse(std::span(out).first(size), q, &info));
}

// ---- WriteError -----------------------------------------------------------------------------

TEST(WriteErrorTest, FormErrWithoutAQuestionIsAHeader) {
  Packet p;
  p.Header(0x0102, kQueryFlags, 0, 0, 0, 1).Opt();
  Query q;
  ASSERT_EQ(ParseQuery(p.bytes(), &q), ParseStatus::kFormErr);
  const std::size_t size = WriteError(out, q, ParseStatus::kFormErr, Rcode::kFormErr, kEdeBlocked);
  Packet want;
  want.Header(0x0102, 0x8181, 0, 0, 0, 0);
  EXPECT_EQ(Written(size), want.bytes());
}

TEST(WriteErrorTest, FormErrEchoesAParsedQuestionButNoOpt) {
  Packet p;
  p.Header(5, kQueryFlags, 1, 0, 0, 2).Question("A.example", 1).Opt().Opt();
  Query q;
  ASSERT_EQ(ParseQuery(p.bytes(), &q), ParseStatus::kFormErr);
  const std::size_t size = WriteError(out, q, ParseStatus::kFormErr, Rcode::kFormErr, kEdeBlocked);
  Packet want;
  want.Header(5, 0x8181, 1, 0, 0, 0).Question("A.example", 1);
  EXPECT_EQ(Written(size), want.bytes());
}

TEST(WriteErrorTest, NotImpKeepsTheOpcode) {
  Packet p;
  p.Header(6, 0x1000 | kQueryFlags, 1, 0, 0, 0).Question("a.example", 1);
  Query q;
  ASSERT_EQ(ParseQuery(p.bytes(), &q), ParseStatus::kNotImp);
  const std::size_t size = WriteError(out, q, ParseStatus::kNotImp, Rcode::kNotImp);
  Packet want;
  want.Header(6, 0x9184, 1, 0, 0, 0).Question("a.example", 1);
  EXPECT_EQ(Written(size), want.bytes());
  ResponseInfo info;
  ASSERT_TRUE(ParseResponse(std::span(out).first(size), q, &info));
  EXPECT_EQ(info.rcode, Rcode::kNotImp);
  EXPECT_FALSE(info.cacheable);
}

TEST(WriteErrorTest, BadVersPutsTheExtendedRcodeInTheOpt) {
  Packet p;
  p.Header(7, kQueryFlags, 1, 0, 0, 1).Question("a.example", 1).Opt(4096, 2, true);
  Query q;
  ASSERT_EQ(ParseQuery(p.bytes(), &q), ParseStatus::kBadVers);
  const std::size_t size = WriteError(out, q, ParseStatus::kBadVers, Rcode::kFormErr);
  Packet want;
  want.Header(7, 0x8180, 1, 0, 0, 1).Question("a.example", 1).Opt(1232, 0, true, {}, 1);
  EXPECT_EQ(Written(size), want.bytes());
  ResponseInfo info;
  ASSERT_TRUE(ParseResponse(std::span(out).first(size), q, &info));
  EXPECT_EQ(static_cast<int>(info.rcode), 16);
  EXPECT_FALSE(info.cacheable);
}

TEST(WriteErrorTest, RefusedCarriesTheEdeWhenTheQueryHadEdns) {
  const Packet query = EdnsQuery("a.example", 1);
  Query q;
  ASSERT_EQ(ParseQuery(query.bytes(), &q), ParseStatus::kOk);
  const std::size_t size =
      WriteError(out, q, ParseStatus::kOk, Rcode::kRefused, kEdeProhibited, "admin");
  Packet want;
  want.Header(0xabcd, 0x8185, 1, 0, 0, 1).Question("a.example", 1);
  want.Opt(1232, 0, false, {0, 15, 0, 7, 0, 18, 'a', 'd', 'm', 'i', 'n'});
  EXPECT_EQ(Written(size), want.bytes());
}

TEST(WriteErrorTest, ServFailWithoutEdnsHasNoOpt) {
  const Packet query = PlainQuery("a.example", 1);
  Query q;
  ASSERT_EQ(ParseQuery(query.bytes(), &q), ParseStatus::kOk);
  const std::size_t size =
      WriteError(out, q, ParseStatus::kOk, Rcode::kServFail, kEdeNetworkError, "down");
  Packet want;
  want.Header(0xabcd, 0x8182, 1, 0, 0, 0).Question("a.example", 1);
  EXPECT_EQ(Written(size), want.bytes());
}

// ---- ParseResponse --------------------------------------------------------------------------

// The query the responses below answer: www.Example.com A, ID 0x7777.
class ParseResponseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    query_.Header(0x7777, kQueryFlags, 1, 0, 0, 0).Question("www.Example.com", 1);
    ASSERT_EQ(ParseQuery(query_.bytes(), &q_), ParseStatus::kOk);
  }
  // Header and question of a response with the given counts; the question is at 12, with
  // "example.com" at 16 and "com" at 24.
  Packet Response(unsigned rcode, unsigned an, unsigned ns, unsigned ar,
                  std::string_view name = "WWW.example.COM") {
    Packet p;
    p.Header(0x7777, kResponseFlags | rcode, 1, an, ns, ar).Question(name, 1);
    return p;
  }
  bool Check(const Packet& p) { return ParseResponse(p.bytes(), q_, &info_); }

  Packet query_;
  Query q_;
  ResponseInfo info_;
};

TEST_F(ParseResponseTest, PositiveAnswerTtlOffsetsAndMinimum) {
  Packet p = Response(0, 3, 1, 2);
  std::vector<std::size_t> ttls;
  ttls.push_back(p.size() + 6);
  p.Ptr(12).BeginRr(5, 300).Labels("cdn").Ptr(16).EndRr();  // www.example.com CNAME cdn.example.com
  const std::size_t cdn = p.size() - 2 - 4;
  ttls.push_back(p.size() + 6);
  p.Ptr(static_cast<unsigned>(cdn)).Rr(1, 60, {192, 0, 2, 1});
  ttls.push_back(p.size() + 6);
  p.Ptr(static_cast<unsigned>(cdn)).Rr(1, 90, {192, 0, 2, 2});
  ttls.push_back(p.size() + 5);
  const std::size_t ns = p.size() + 1 + 10;
  p.U8(0).BeginRr(2, 10).Name("a.root-servers.net").EndRr();  // NS TTLs do not bound it
  ttls.push_back(p.size() + 6);
  p.Ptr(static_cast<unsigned>(ns)).Rr(1, 5, {198, 41, 0, 4});
  p.Opt(1232, 0, true);
  ASSERT_TRUE(Check(p));
  EXPECT_EQ(info_.id, 0x7777);
  EXPECT_EQ(info_.rcode, Rcode::kNoError);
  EXPECT_EQ(info_.answer_count, 3);
  EXPECT_FALSE(info_.truncated);
  EXPECT_TRUE(info_.cacheable);
  EXPECT_EQ(info_.cache_ttl, 60u);
  ASSERT_EQ(info_.ttl_offset_count, ttls.size());
  for (std::size_t i = 0; i < ttls.size(); ++i) EXPECT_EQ(info_.ttl_offsets[i], ttls[i]) << i;
}

TEST_F(ParseResponseTest, TtlsWithTheTopBitSetCountAsZero) {
  Packet p = Response(0, 2, 0, 0);
  p.Ptr(12).Rr(1, 60, {1, 2, 3, 4}).Ptr(12).Rr(1, 0x80000100, {1, 2, 3, 5});
  ASSERT_TRUE(Check(p));
  EXPECT_EQ(info_.cache_ttl, 0u);
}

TEST_F(ParseResponseTest, NxDomainIsCachedForTheSoaTtlOrMinimum) {
  const std::pair<std::uint32_t, std::uint32_t> cases[] = {{300, 60}, {30, 60}, {300, 0x90000000}};
  const std::uint32_t want[] = {60, 30, 0};
  for (int i = 0; i < 3; ++i) {
    Packet p = Response(3, 0, 1, 0);
    p.Ptr(16).Soa(cases[i].first, cases[i].second);
    ASSERT_TRUE(Check(p));
    EXPECT_EQ(info_.rcode, Rcode::kNxDomain);
    EXPECT_TRUE(info_.cacheable);
    EXPECT_EQ(info_.cache_ttl, want[i]) << i;
    EXPECT_EQ(info_.ttl_offset_count, 1);
  }
}

TEST_F(ParseResponseTest, NoDataUsesTheSoaOrNothing) {
  Packet with_soa = Response(0, 0, 1, 1);
  with_soa.Ptr(16).Soa(900, 120).Opt();
  ASSERT_TRUE(Check(with_soa));
  EXPECT_TRUE(info_.cacheable);
  EXPECT_EQ(info_.cache_ttl, 120u);

  Packet without = Response(0, 0, 1, 0);
  without.Ptr(16).BeginRr(2, 900).Name("ns.example.com").EndRr();
  ASSERT_TRUE(Check(without));
  EXPECT_EQ(info_.cache_ttl, 0u);
}

TEST_F(ParseResponseTest, CnameIntoNxDomainIsBoundedByBoth) {
  Packet p = Response(3, 1, 1, 0);
  const std::size_t target = p.size() + 12;
  p.Ptr(12).BeginRr(5, 20).Name("gone.example.net").EndRr();
  p.Ptr(static_cast<unsigned>(target + 5)).Soa(300, 60);  // "example.net" in the CNAME target
  ASSERT_TRUE(Check(p));
  EXPECT_EQ(info_.cache_ttl, 20u);
  EXPECT_EQ(info_.ttl_offset_count, 2);
}

TEST_F(ParseResponseTest, RejectsAnswersToOtherQuestions) {
  EXPECT_TRUE(Check(Response(0, 0, 0, 0)));
  EXPECT_FALSE(Check(Response(0, 0, 0, 0, "www.example.org")));
  EXPECT_FALSE(Check(Response(0, 0, 0, 0, "ww.example.com")));
  EXPECT_FALSE(Check(Response(0, 0, 0, 0, "www.example.com.x")));
  EXPECT_FALSE(Check(Response(0, 0, 0, 0, "example.com")));

  Packet id = Response(0, 0, 0, 0);
  id.bytes()[1] ^= 1;
  EXPECT_FALSE(Check(id));
  Packet qr = Response(0, 0, 0, 0);
  qr.bytes()[2] &= 0x7f;
  EXPECT_FALSE(Check(qr));
  Packet opcode = Response(0, 0, 0, 0);
  opcode.bytes()[2] |= 0x08;
  EXPECT_FALSE(Check(opcode));
  Packet type = Response(0, 0, 0, 0);
  type.bytes()[type.size() - 3] = 28;
  EXPECT_FALSE(Check(type));
  Packet cls = Response(0, 0, 0, 0);
  cls.bytes()[cls.size() - 1] = 3;
  EXPECT_FALSE(Check(cls));
  Packet no_question;
  no_question.Header(0x7777, kResponseFlags | 2, 0, 0, 0, 0);
  EXPECT_FALSE(Check(no_question));

  // The same bytes as the query's question, but one label: "www\x07example\x03com".
  Packet one_label;
  one_label.Header(0x7777, kResponseFlags, 1, 0, 0, 0).Label("www\x07" "example\x03" "com")
      .U8(0).U16(1).U16(1);
  ASSERT_EQ(one_label.size(), query_.size());
  EXPECT_FALSE(Check(one_label));
}

TEST_F(ParseResponseTest, OnlyNoErrorAndNxDomainAreCacheable) {
  for (unsigned rcode : {1u, 2u, 4u, 5u, 9u}) {
    ASSERT_TRUE(Check(Response(rcode, 0, 0, 0)));
    EXPECT_EQ(static_cast<unsigned>(info_.rcode), rcode);
    EXPECT_FALSE(info_.cacheable) << rcode;
  }
  Packet badvers = Response(0, 0, 0, 1);
  badvers.Opt(1232, 0, false, {}, 1);
  ASSERT_TRUE(Check(badvers));
  EXPECT_EQ(static_cast<int>(info_.rcode), 16);
  EXPECT_FALSE(info_.cacheable);
}

TEST_F(ParseResponseTest, MoreThan64RecordsAreNotCacheable) {
  Packet p = Response(0, 70, 0, 0);
  for (int i = 0; i < 70; ++i) p.Ptr(12).Rr(1, 60, {10, 0, 0, static_cast<std::uint8_t>(i)});
  ASSERT_TRUE(Check(p));
  EXPECT_EQ(info_.ttl_offset_count, 64);
  EXPECT_FALSE(info_.cacheable);
}

TEST_F(ParseResponseTest, TruncatedAnswersAreCheckedUpToTheQuestion) {
  Packet p = Response(0, 5, 0, 0);
  p.bytes()[2] |= 0x02;
  p.Ptr(12).U16(1);  // cut in the first record
  ASSERT_TRUE(Check(p));
  EXPECT_TRUE(info_.truncated);
  EXPECT_FALSE(info_.cacheable);
  EXPECT_EQ(info_.ttl_offset_count, 0);
}

TEST_F(ParseResponseTest, RejectsMalformedRecords) {
  Packet trailing = Response(0, 1, 0, 0);
  trailing.Ptr(12).Rr(1, 60, {1, 2, 3, 4}).U8(0);
  EXPECT_FALSE(Check(trailing));

  Packet opt_in_answer = Response(0, 1, 0, 0);
  opt_in_answer.Opt();
  EXPECT_FALSE(Check(opt_in_answer));

  Packet two_opts = Response(0, 0, 0, 2);
  two_opts.Opt().Opt();
  EXPECT_FALSE(Check(two_opts));

  Packet opt_owner = Response(0, 0, 0, 1);
  opt_owner.Ptr(12).U16(41).U16(1232).U32(0).U16(0);
  EXPECT_FALSE(Check(opt_owner));

  Packet cname_short = Response(0, 1, 0, 0);  // RDATA one byte longer than the name
  cname_short.Ptr(12).BeginRr(5, 60).Name("a.example").U8(0).EndRr();
  EXPECT_FALSE(Check(cname_short));

  Packet soa_short = Response(3, 0, 1, 0);
  soa_short.Ptr(16).BeginRr(6, 60).Name("ns").Name("admin").U32(1).U32(2).U32(3).U32(4)
      .EndRr();
  EXPECT_FALSE(Check(soa_short));

  Packet rdata_overrun = Response(0, 1, 0, 0);
  rdata_overrun.Ptr(12).U16(1).U16(1).U32(60).U16(5).U32(0);
  EXPECT_FALSE(Check(rdata_overrun));
}

TEST_F(ParseResponseTest, RejectsCompressionLoopsAndForwardPointers) {
  const std::size_t at = Response(0, 0, 0, 0).size();
  Packet loop = Response(0, 1, 0, 0);  // "a" then back to "a"
  loop.Labels("a").Ptr(static_cast<unsigned>(at)).Rr(1, 60, {1, 2, 3, 4});
  EXPECT_FALSE(Check(loop));

  Packet itself = Response(0, 1, 0, 0);
  itself.Ptr(static_cast<unsigned>(at)).Rr(1, 60, {1, 2, 3, 4});
  EXPECT_FALSE(Check(itself));

  Packet forward = Response(0, 2, 0, 0);  // the first owner points at the second
  forward.Ptr(static_cast<unsigned>(at + 16)).Rr(1, 60, {1, 2, 3, 4});
  forward.Ptr(12).Rr(1, 60, {1, 2, 3, 4});
  EXPECT_FALSE(Check(forward));

  // Two names pointing at each other: the CNAME target forward to the next owner, which
  // points back to the target.
  Packet pair = Response(0, 2, 0, 0);
  pair.Ptr(12).BeginRr(5, 60).Labels("x").Ptr(static_cast<unsigned>(at + 16)).EndRr();
  pair.Labels("y").Ptr(static_cast<unsigned>(at + 12)).Rr(1, 60, {1, 2, 3, 4});
  EXPECT_FALSE(Check(pair));

  // Backward, but into the part of the name already read: x.x.x...
  Packet inner = Response(0, 1, 0, 0);
  inner.Ptr(12).BeginRr(5, 60).Labels("x").Ptr(static_cast<unsigned>(at + 12)).EndRr();
  EXPECT_FALSE(Check(inner));

  // Backward into a TXT record's RDATA, whose byte 3 is read as a label length: the label
  // then runs over the pointer itself and the record's type and class, and the name ends
  // in the first byte of its TTL. Runs must stay below the pointer that led to them.
  Packet overrun = Response(0, 2, 0, 0);
  overrun.Ptr(12).Rr(16, 60, {3});
  overrun.Ptr(static_cast<unsigned>(at + 12)).Rr(1, 60, {1, 2, 3, 4});
  EXPECT_FALSE(Check(overrun));
  Packet fine = Response(0, 2, 0, 0);  // the same with a real name there
  fine.Ptr(12).BeginRr(16, 60).Name("x").EndRr();
  fine.Ptr(static_cast<unsigned>(at + 12)).Rr(1, 60, {1, 2, 3, 4});
  EXPECT_TRUE(Check(fine));
}

TEST_F(ParseResponseTest, RejectsNamesReadThroughTheHeaderOrATtl) {
  Packet header = Response(0, 1, 0, 0);  // at 7, the bytes 1 0 0 read as the name "\x00"
  header.Ptr(12).BeginRr(5, 60).Ptr(7).EndRr();
  EXPECT_FALSE(Check(header));

  // ReuseAnswer rewrites TTLs, so a name read through one would change once cached. TTL
  // 0x3c (60) starts with a root label, 0xc00c0000 with a pointer to the question, and
  // 0x100 ends with a root label.
  const std::pair<std::uint32_t, unsigned> ttls[] = {{0x3c, 0}, {0xc00c0000, 0}, {0x100, 3}};
  for (auto [ttl, into] : ttls) {
    Packet through = Response(0, 2, 0, 0);
    const std::size_t ttl_at = through.size() + 2 + 4;
    through.Ptr(12).Rr(1, ttl, {1, 2, 3, 4});
    through.Ptr(12).BeginRr(5, 60).Ptr(static_cast<unsigned>(ttl_at + into)).EndRr();
    EXPECT_FALSE(Check(through)) << ttl;
  }
  Packet own_ttl = Response(0, 1, 0, 0);  // a CNAME target pointing at its own TTL
  const std::size_t ttl_at = own_ttl.size() + 2 + 4;
  own_ttl.Ptr(12).BeginRr(5, 0).Ptr(static_cast<unsigned>(ttl_at)).EndRr();
  EXPECT_FALSE(Check(own_ttl));

  Packet beside = Response(0, 2, 0, 0);  // the RDATA right after a TTL is fine
  const std::size_t rdata_at = beside.size() + 2 + 10;
  beside.Ptr(12).BeginRr(5, 60).Name("x").EndRr();
  beside.Ptr(static_cast<unsigned>(rdata_at)).Rr(1, 60, {1, 2, 3, 4});
  EXPECT_TRUE(Check(beside));
}

TEST_F(ParseResponseTest, FollowsLongLegitimatePointerChains) {
  // Each name is one label in front of the previous: 40 pointers deep at the end.
  Packet p = Response(0, 40, 0, 0);
  unsigned previous = 16;  // example.com
  for (int i = 0; i < 40; ++i) {
    const unsigned here = static_cast<unsigned>(p.size()) + 12;
    p.Ptr(12).BeginRr(5, 60).Labels("n").Ptr(previous).EndRr();
    previous = here;
  }
  ASSERT_TRUE(Check(p));
  int count = 0;
  ForEachCnameTarget(
      p.bytes(), [](const NameText&, void* c) { return ++*static_cast<int*>(c) < 0; }, &count);
  EXPECT_EQ(count, 16);  // the first 16 of them
}

TEST_F(ParseResponseTest, EveryPrefixOfAValidResponseIsRejected) {
  Packet p = Response(3, 1, 1, 1);
  p.Ptr(12).BeginRr(5, 20).Name("gone.example.net").EndRr();
  p.Ptr(16).Soa(300, 60).Opt();
  ASSERT_TRUE(Check(p));
  for (std::size_t n = 0; n < p.size(); ++n) {
    EXPECT_FALSE(ParseResponse(std::span(p.bytes()).first(n), q_, &info_)) << n;
  }
}

// ---- ForEachCnameTarget ---------------------------------------------------------------------

bool Collect(const NameText& target, void* context) {
  static_cast<std::vector<std::string>*>(context)->emplace_back(target.view());
  return false;
}

Packet CnameChain(int length) {
  Packet p;
  p.Header(1, kResponseFlags, 1, length + 1, 0, 0).Question("Start.Example", 1);
  unsigned owner = 12;
  for (int i = 0; i < length; ++i) {
    const unsigned target = static_cast<unsigned>(p.size()) + 12;
    p.Ptr(owner).BeginRr(5, 60).Label("Hop" + std::to_string(i)).Ptr(12 + 6).EndRr();
    owner = target;
  }
  p.Ptr(owner).Rr(1, 60, {1, 2, 3, 4});
  return p;
}

TEST(ForEachCnameTargetTest, DecompressesEveryTargetInLowerCase) {
  std::vector<std::string> targets;
  EXPECT_FALSE(ForEachCnameTarget(CnameChain(3).bytes(), Collect, &targets));
  EXPECT_EQ(targets, (std::vector<std::string>{"hop0.example", "hop1.example", "hop2.example"}));
}

TEST(ForEachCnameTargetTest, StopsWhenTheCallbackSaysSo) {
  std::vector<std::string> targets;
  EXPECT_TRUE(ForEachCnameTarget(
      CnameChain(5).bytes(),
      [](const NameText& t, void* c) {
        static_cast<std::vector<std::string>*>(c)->emplace_back(t.view());
        return t.view() == "hop1.example";
      },
      &targets));
  EXPECT_EQ(targets.size(), 2u);
}

TEST(ForEachCnameTargetTest, AtMostSixteen) {
  std::vector<std::string> targets;
  EXPECT_FALSE(ForEachCnameTarget(CnameChain(17).bytes(), Collect, &targets));
  EXPECT_EQ(targets.size(), 16u);
  targets.clear();
  ForEachCnameTarget(CnameChain(16).bytes(), Collect, &targets);
  EXPECT_EQ(targets.size(), 16u);
}

TEST(ForEachCnameTargetTest, StopsAtTheFirstMalformedRecord) {
  const Packet chain = CnameChain(3);
  for (std::size_t n = 0; n < chain.size(); ++n) {
    std::vector<std::string> targets;
    EXPECT_FALSE(ForEachCnameTarget(std::span(chain.bytes()).first(n), Collect, &targets));
    EXPECT_LE(targets.size(), 3u);
  }
}

// ---- ReuseAnswer ----------------------------------------------------------------------------

TEST(ReuseAnswerTest, RewritesIdQuestionCaseAndAgesTtls) {
  const Packet first = PlainQuery("www.EXAMPLE.com", 1);
  Query q;
  ASSERT_EQ(ParseQuery(first.bytes(), &q), ParseStatus::kOk);
  AnswerWriter w(out, q.udp_payload, q);
  for (std::uint32_t ttl : {300u, 50u, 120u, 0x80000200u, 100u}) w.AddA(ttl, {1, 2, 3, 4});
  const std::size_t size = w.Finish();
  Bytes stored = Written(size);
  ResponseInfo info;
  ASSERT_TRUE(ParseResponse(stored, q, &info));
  ASSERT_EQ(info.ttl_offset_count, 5);

  const Packet second = PlainQuery("WwW.example.COM", 1);
  Query q2;
  ASSERT_EQ(ParseQuery(second.bytes(), &q2), ParseStatus::kOk);
  ReuseAnswer(stored, 0x9999, q2.question, {info.ttl_offsets.data(), info.ttl_offset_count}, 100,
              30);
  EXPECT_EQ(stored[0], 0x99);
  EXPECT_EQ(stored[1], 0x99);
  EXPECT_EQ(stored[2], out[2]);  // flags kept
  EXPECT_EQ(stored[3], out[3]);
  EXPECT_EQ(Bytes(stored.begin() + 12, stored.begin() + 12 + q2.question.size()),
            Copy(q2.question));

  q2.id = 0x9999;
  ASSERT_TRUE(ParseResponse(stored, q2, &info));
  const std::uint32_t want[] = {200, 30, 30, 30, 30};
  for (int i = 0; i < 5; ++i) {
    const std::size_t at = info.ttl_offsets[i];
    const std::uint32_t ttl = std::uint32_t{stored[at]} << 24 | stored[at + 1] << 16 |
                              stored[at + 2] << 8 | stored[at + 3];
    EXPECT_EQ(ttl, want[i]) << i;
  }
}

TEST(ReuseAnswerTest, LeavesAQuestionOfAnotherLengthAlone) {
  const Packet first = PlainQuery("www.example.com", 1);
  Query q;
  ASSERT_EQ(ParseQuery(first.bytes(), &q), ParseStatus::kOk);
  AnswerWriter w(out, q.udp_payload, q);
  w.AddA(300, {1, 2, 3, 4});
  Bytes stored = Written(w.Finish());
  const Bytes before = stored;

  const Packet other = PlainQuery("WWW.EXAMPLE.CO", 1);
  Query q2;
  ASSERT_EQ(ParseQuery(other.bytes(), &q2), ParseStatus::kOk);
  // The A record's TTL is 10 bytes from the end; the other offsets run past it.
  const std::uint16_t offsets[] = {static_cast<std::uint16_t>(stored.size() - 10),
                                   static_cast<std::uint16_t>(stored.size() - 3), 60000};
  ReuseAnswer(stored, 0xabcd, q2.question, offsets, 1000, 0);
  EXPECT_EQ(stored[0], 0xab);
  EXPECT_EQ(Bytes(stored.begin() + 2, stored.end() - 10),
            Bytes(before.begin() + 2, before.end() - 10));
  EXPECT_EQ(Bytes(stored.end() - 10, stored.end() - 6), Bytes(4, 0));  // 300 - 1000: floor 0
  EXPECT_EQ(Bytes(stored.end() - 6, stored.end()), Bytes(before.end() - 6, before.end()));
}

}  // namespace
}  // namespace saring::dns
