#include "proxy/block_page.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace saring::proxy {
namespace {

bool Has(const std::string& page, std::string_view text) { return page.find(text) != std::string::npos; }

BlockPageInfo Typical() {
  BlockPageInfo info;
  info.host = "slot88gacor.com";
  info.url = "http://slot88gacor.com/daftar?ref=wa";
  info.rule = "slot88gacor.com";
  info.source = "trustpositif";
  info.category = "gambling";
  info.reference = "SRG-0050-16J0";
  info.report_url = "http://10.0.0.1:8053/v1/reports";
  info.toggle_url = "http://slot88gacor.com/daftar?ref=wa&saring_lang=en";
  return info;
}

// ---------------------------------------------------------------- language

TEST(PickLanguageTest, Table) {
  struct Case {
    std::string_view accept, param;
    Language want;
  };
  const Case cases[] = {
      {"", "", Language::kIndonesian},
      {"en-US,en;q=0.9", "", Language::kEnglish},
      {"id-ID,id;q=0.9,en-US;q=0.8,en;q=0.7", "", Language::kIndonesian},
      {"en-US,en;q=0.9,id;q=0.8", "", Language::kEnglish},
      {"id;q=0.5,en;q=0.8", "", Language::kEnglish},        // by q-value, not order
      {"en;q=0.5,id;q=0.5", "", Language::kEnglish},        // tie: first listed
      {"fr-FR,fr;q=0.9,en;q=0.5", "", Language::kEnglish},  // skips languages we lack
      {"fr-FR,de;q=0.9", "", Language::kIndonesian},
      {"*", "", Language::kIndonesian},
      {"en;q=0", "", Language::kIndonesian},                // q=0: not acceptable
      {"en;q=0.000,id;q=0.1", "", Language::kIndonesian},
      {"EN-gb", "", Language::kEnglish},
      {" en-GB ; q=1.0 , id ; q=0.3", "", Language::kEnglish},
      {"in-ID,en;q=0.5", "", Language::kIndonesian},        // legacy code for Indonesian
      {"en;q=abc,id;q=0.2", "", Language::kIndonesian},     // malformed q ignored
      {"en;q=1.5", "", Language::kIndonesian},              // out of range
      {"english,en-US;q=0.1", "", Language::kEnglish},
      {"id-ID", "en", Language::kEnglish},                   // the parameter wins
      {"en-US", "id", Language::kIndonesian},
      {"en-US", "ID", Language::kIndonesian},
      {"id", "en-US", Language::kEnglish},
      {"en-US", "xx", Language::kEnglish},                   // unknown parameter: header decides
      {"en-US", "", Language::kEnglish},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PickLanguage(c.accept, c.param), c.want) << "'" << c.accept << "' lang=" << c.param;
  }
}

// ---------------------------------------------------------------- page

TEST(BlockPageTest, IndonesianGambling) {
  std::string page = RenderBlockPage(Typical(), Language::kIndonesian);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_TRUE(Has(page, "<html lang=\"id\">"));
  EXPECT_TRUE(Has(page, "<meta charset=\"utf-8\">"));
  EXPECT_TRUE(Has(page, "name=\"viewport\""));
  EXPECT_TRUE(Has(page, "diblokir"));
  EXPECT_TRUE(Has(page, "judi online"));
  EXPECT_TRUE(Has(page, "Laporkan"));
  EXPECT_TRUE(Has(page, "Kode referensi"));
  EXPECT_TRUE(Has(page, "SRG-0050-16J0"));
  EXPECT_TRUE(Has(page, "trustpositif"));
  EXPECT_TRUE(Has(page, ">gambling<"));
  EXPECT_TRUE(Has(page, "<code>slot88gacor.com</code>"));
  EXPECT_TRUE(Has(page, ">English</a>"));
  EXPECT_TRUE(Has(page, "hreflang=\"en\""));
  EXPECT_FALSE(Has(page, "<script"));
  EXPECT_FALSE(Has(page, "src="));  // no external resources
  EXPECT_FALSE(Has(page, "Report a mistake"));
  EXPECT_TRUE(Has(page, "</html>"));
}

TEST(BlockPageTest, EnglishGambling) {
  std::string page = RenderBlockPage(Typical(), Language::kEnglish);
  EXPECT_TRUE(Has(page, "<html lang=\"en\">"));
  EXPECT_TRUE(Has(page, "is blocked"));
  EXPECT_TRUE(Has(page, "online gambling"));
  EXPECT_TRUE(Has(page, "judi online"));
  EXPECT_TRUE(Has(page, "Report a mistake"));
  EXPECT_TRUE(Has(page, "Reference code"));
  EXPECT_TRUE(Has(page, ">Bahasa Indonesia</a>"));
  EXPECT_TRUE(Has(page, "hreflang=\"id\""));
  EXPECT_FALSE(Has(page, "diblokir"));
}

TEST(BlockPageTest, CategoryWording) {
  BlockPageInfo info = Typical();
  info.category = "doh";
  info.host = "dns.google";
  std::string id = RenderBlockPage(info, Language::kIndonesian);
  std::string en = RenderBlockPage(info, Language::kEnglish);
  EXPECT_TRUE(Has(id, "DNS terenkripsi"));
  EXPECT_FALSE(Has(id, "judi online"));
  EXPECT_TRUE(Has(en, "encrypted DNS"));
  EXPECT_FALSE(Has(en, "gambling"));

  info.category = "malware";
  id = RenderBlockPage(info, Language::kIndonesian);
  en = RenderBlockPage(info, Language::kEnglish);
  EXPECT_TRUE(Has(id, "kebijakan penyaringan"));
  EXPECT_TRUE(Has(id, "(kategori: malware)"));
  EXPECT_FALSE(Has(id, "judi online"));
  EXPECT_TRUE(Has(en, "(category: malware)"));

  // A URL rule on a hacked legitimate site: only the page is blocked.
  info = Typical();
  info.host = "dinas.bogorkota.go.id";
  info.url = "http://dinas.bogorkota.go.id/wp-content/slot-gacor/";
  info.kind = RuleKind::kUrl;
  id = RenderBlockPage(info, Language::kIndonesian);
  en = RenderBlockPage(info, Language::kEnglish);
  EXPECT_TRUE(Has(id, "Halaman ini"));
  EXPECT_TRUE(Has(id, "judi online"));
  EXPECT_TRUE(Has(en, "This page on"));
}

TEST(BlockPageTest, ReportForm) {
  BlockPageInfo info = Typical();
  std::string page = RenderBlockPage(info, Language::kIndonesian);
  EXPECT_TRUE(Has(page, "<form method=\"post\" action=\"http://10.0.0.1:8053/v1/reports\""));
  EXPECT_TRUE(Has(page, "<input type=\"hidden\" name=\"name\" value=\"slot88gacor.com\">"));
  EXPECT_TRUE(Has(page, "<input type=\"hidden\" name=\"url\" value=\"http://slot88gacor.com/daftar?ref=wa\">"));
  EXPECT_TRUE(Has(page, "<input type=\"hidden\" name=\"reference\" value=\"SRG-0050-16J0\">"));
  EXPECT_TRUE(Has(page, "<textarea id=\"msg\" name=\"message\""));
  EXPECT_TRUE(Has(page, "<button type=\"submit\">Laporkan kesalahan</button>"));

  info.report_url = "";
  page = RenderBlockPage(info, Language::kIndonesian);
  EXPECT_FALSE(Has(page, "<form"));
  EXPECT_FALSE(Has(page, "<button"));
  EXPECT_FALSE(Has(page, "<textarea"));
  EXPECT_TRUE(Has(page, "hubungi admin"));

  // Not an http(s) URL: no form rather than a "javascript:" action.
  info.report_url = "javascript:alert(1)";
  info.toggle_url = "javascript:alert(2)";
  page = RenderBlockPage(info, Language::kIndonesian);
  EXPECT_FALSE(Has(page, "<form"));
  EXPECT_FALSE(Has(page, "javascript:"));
  EXPECT_FALSE(Has(page, "English</a>"));

  // HTTPS / CONNECT: no URL known, no url field.
  info = Typical();
  info.url = "";
  page = RenderBlockPage(info, Language::kEnglish);
  EXPECT_TRUE(Has(page, "<form"));
  EXPECT_FALSE(Has(page, "name=\"url\""));
  EXPECT_FALSE(Has(page, "<dt>Address</dt>"));

  info.toggle_url = "";
  page = RenderBlockPage(info, Language::kEnglish);
  EXPECT_FALSE(Has(page, "<a "));
}

TEST(BlockPageTest, HostileValuesEscaped) {
  BlockPageInfo info;
  info.host = "evil.com\"><script>alert(1)</script>";
  info.url = "http://evil.com/?a=1&b=<script>alert('x')</script>\"onload=\"x";
  info.rule = "(slot|gacor)<img src=x onerror=alert(1)>";
  info.source = "city'\"";
  info.category = "<b>gambling</b>";
  info.reference = "\"><svg onload=alert(1)>";
  info.report_url = "http://10.0.0.1:8053/v1/reports?x=\"><script>1</script>&y=2";
  info.toggle_url = "?lang=en&x=\"><script>2</script>";
  for (Language lang : {Language::kIndonesian, Language::kEnglish}) {
    std::string page = RenderBlockPage(info, lang);
    EXPECT_FALSE(Has(page, "<script")) << page;
    EXPECT_FALSE(Has(page, "<img")) << page;
    EXPECT_FALSE(Has(page, "<svg")) << page;
    EXPECT_FALSE(Has(page, "<b>gambling")) << page;
    EXPECT_FALSE(Has(page, "\"onload")) << page;
    EXPECT_TRUE(Has(page, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    EXPECT_TRUE(Has(page, "a=1&amp;b=&lt;script&gt;alert(&#39;x&#39;)"));
    EXPECT_TRUE(Has(page, "action=\"http://10.0.0.1:8053/v1/reports?x=&quot;&gt;&lt;script&gt;1&lt;/script&gt;&amp;y=2\""));
    EXPECT_TRUE(Has(page, "href=\"?lang=en&amp;x=&quot;&gt;"));
    EXPECT_TRUE(Has(page, "city&#39;&quot;"));
    // Every '&' in the output starts an entity.
    for (std::size_t i = page.find('&'); i != std::string::npos; i = page.find('&', i + 1)) {
      std::string_view rest = std::string_view(page).substr(i, 6);
      EXPECT_TRUE(rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;") ||
                  rest.starts_with("&quot;") || rest.starts_with("&#39;"))
          << rest;
    }
  }
  // Control characters never reach the page.
  info = Typical();
  info.url = std::string_view("http://x/\0\r\n<a>", 15);
  std::string page = RenderBlockPage(info, Language::kIndonesian);
  EXPECT_EQ(page.find('\0'), std::string::npos);
  EXPECT_EQ(page.find('\r'), std::string::npos);
  EXPECT_TRUE(Has(page, "http://x/\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD&lt;a&gt;"));
}

TEST(BlockPageTest, Size) {
  std::string host(253, 'a');
  std::string url = "http://" + host + "/" + std::string(300, 'b');
  std::string rule(400, 'c');
  for (Language lang : {Language::kIndonesian, Language::kEnglish}) {
    std::string page = RenderBlockPage(Typical(), lang);
    EXPECT_LT(page.size(), 6u * 1024) << page.size();
    BlockPageInfo big = Typical();
    big.host = host;
    big.rule = rule;
    big.url = url;
    page = RenderBlockPage(big, lang);
    EXPECT_LT(page.size(), 6u * 1024) << page.size();  // display copies are cut
    EXPECT_TRUE(Has(page, std::string(50, 'c') + "\xE2\x80\xA6</code>"));  // the rule, cut at 200
  }
  // The hidden url keeps what the report API takes (2048 bytes), no more.
  BlockPageInfo huge = Typical();
  std::string long_url = "http://a.com/" + std::string(5000, 'z');
  huge.url = long_url;
  std::string page = RenderBlockPage(huge, Language::kIndonesian);
  std::size_t start = page.find("name=\"url\" value=\"");
  ASSERT_NE(start, std::string::npos);
  start += 18;
  std::size_t end = page.find('"', start);
  EXPECT_EQ(end - start, 2048u);
  EXPECT_LT(page.size(), 10u * 1024);

  // A cut never splits a UTF-8 character.
  BlockPageInfo utf = Typical();
  std::string u = "http://a.com/";
  while (u.size() < 400) u += "\xC3\xA9";  // é
  utf.url = u;
  page = RenderBlockPage(utf, Language::kEnglish);
  std::size_t dd = page.find("<dt>Address</dt><dd>");
  ASSERT_NE(dd, std::string::npos);
  std::string_view shown = std::string_view(page).substr(dd + 20, page.find("</dd>", dd) - dd - 20);
  ASSERT_TRUE(shown.ends_with("\xE2\x80\xA6"));
  shown.remove_suffix(3);
  EXPECT_EQ((shown.size() - 13) % 2, 0u);
  EXPECT_LE(shown.size(), 160u);
}

TEST(BlockPageTest, WriteSample) {
  // For a look in a browser: /tmp/saring_block_page_{id,en}.html.
  for (Language lang : {Language::kIndonesian, Language::kEnglish}) {
    std::ofstream(lang == Language::kIndonesian ? "/tmp/saring_block_page_id.html"
                                                : "/tmp/saring_block_page_en.html")
        << RenderBlockPage(Typical(), lang);
  }
}

}  // namespace
}  // namespace saring::proxy
