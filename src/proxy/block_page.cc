#include "proxy/block_page.h"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace saring::proxy {
namespace {

// ---------------------------------------------------------------- language

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// The primary subtag of a language tag ("en" of "en-US"), lower-cased into
// `buf`; empty if it is longer than the buffer.
std::string_view PrimaryTag(std::string_view tag, std::array<char, 8>* buf) {
  std::size_t n = 0;
  for (char c : tag) {
    if (c == '-' || c == '_') break;
    if (n == buf->size()) return {};
    (*buf)[n++] = Lower(c);
  }
  return {buf->data(), n};
}

// -1: neither; else the language.
int LanguageOf(std::string_view tag) {
  std::array<char, 8> buf;
  std::string_view primary = PrimaryTag(Trim(tag), &buf);
  if (primary == "id" || primary == "in" || primary == "ind") return static_cast<int>(Language::kIndonesian);
  if (primary == "en" || primary == "eng") return static_cast<int>(Language::kEnglish);
  return -1;
}

// RFC 9110 qvalue: 0, 0.xyz, 1, 1.000 -> thousandths, or -1 if malformed.
int ParseQ(std::string_view q) {
  q = Trim(q);
  if (q.empty() || (q[0] != '0' && q[0] != '1')) return -1;
  int value = (q[0] - '0') * 1000;
  if (q.size() == 1) return value;
  if (q[1] != '.' || q.size() > 5) return -1;
  int scale = 100;
  for (std::size_t i = 2; i < q.size(); ++i, scale /= 10) {
    if (q[i] < '0' || q[i] > '9') return -1;
    value += (q[i] - '0') * scale;
  }
  return value > 1000 ? -1 : value;
}

// ---------------------------------------------------------------- HTML

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Appends `s` escaped for HTML text and quoted attribute values. When `s` is
// longer than `max_bytes`, it is cut at a UTF-8 character boundary and "…"
// is appended.
void AppendEscaped(std::string* out, std::string_view s, std::size_t max_bytes = std::string_view::npos) {
  bool cut = false;
  if (s.size() > max_bytes) {
    std::size_t n = max_bytes;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // not inside a character
    s = s.substr(0, n);
    cut = true;
  }
  for (char c : s) {
    switch (c) {
      case '&': out->append("&amp;"); break;
      case '<': out->append("&lt;"); break;
      case '>': out->append("&gt;"); break;
      case '"': out->append("&quot;"); break;
      case '\'': out->append("&#39;"); break;
      default:
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == '\x7f') {
          out->append(kReplacement);
        } else {
          out->push_back(c);
        }
    }
  }
  if (cut) out->append("\xE2\x80\xA6");  // …
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (Lower(s[i]) != prefix[i]) return false;
  }
  return true;
}

bool SafeAbsoluteUrl(std::string_view url) {
  return StartsWithNoCase(url, "http://") || StartsWithNoCase(url, "https://") ||
         (url.size() >= 1 && url[0] == '/' && !(url.size() >= 2 && url[1] == '/'));
}

bool SafeToggleUrl(std::string_view url) {
  return SafeAbsoluteUrl(url) || (!url.empty() && url[0] == '?');
}

struct Texts {
  std::string_view lang, title, heading;
  // Lead sentence, split around the host name.
  std::string_view gambling_pre, gambling_post;
  std::string_view url_pre, url_post;  // a URL rule: only this page
  std::string_view doh_pre, doh_post;
  std::string_view other_pre, other_post;  // followed by the category and ").</p>"
  std::string_view why;                    // a second paragraph (gambling only)
  std::string_view details, address, site, rule, source, category, reference;
  std::string_view mistake, mistake_text, message_label, button, privacy, no_form;
  std::string_view other_lang_code, other_lang_name;
};

constexpr Texts kIndonesian = {
    "id",
    "Situs diblokir",
    "Akses diblokir",
    "Akses ke ", " diblokir karena dikenali sebagai situs <strong>judi online</strong>.",
    "Halaman ini di ", " diblokir karena berisi konten <strong>judi online</strong>. "
    "Bagian lain situs ini tetap dapat dibuka.",
    "Akses ke ", " diblokir karena merupakan layanan DNS terenkripsi (DNS-over-HTTPS) yang dapat "
    "melewati penyaringan jaringan ini.",
    "Akses ke ", " diblokir oleh kebijakan penyaringan jaringan ini (kategori: ",
    "Judi online dilarang dan merugikan Anda serta keluarga. Jaringan ini menyaringnya untuk "
    "melindungi semua pengguna.",
    "Rincian",
    "Alamat",
    "Situs",
    "Aturan",
    "Sumber",
    "Kategori",
    "Kode referensi",
    "Salah blokir?",
    "Jika menurut Anda situs ini tidak seharusnya diblokir, laporkan kepada admin jaringan. "
    "Kode referensi ikut terkirim.",
    "Pesan (opsional)",
    "Laporkan kesalahan",
    "Laporan tidak mencatat alamat IP perangkat Anda.",
    "Jika menurut Anda situs ini tidak seharusnya diblokir, hubungi admin jaringan dan sebutkan "
    "kode referensi di atas.",
    "en",
    "English",
};

constexpr Texts kEnglish = {
    "en",
    "Site blocked",
    "Access blocked",
    "Access to ", " is blocked because the site is recognised as <strong>online gambling</strong> "
    "(judi online).",
    "This page on ", " is blocked because it carries <strong>online gambling</strong> (judi online) "
    "content. The rest of the site stays reachable.",
    "Access to ", " is blocked because it is an encrypted DNS service (DNS over HTTPS) that can "
    "bypass this network's filtering.",
    "Access to ", " is blocked by this network's filtering policy (category: ",
    "Online gambling is illegal in Indonesia and harms you and your family. This network filters "
    "it to protect everyone who uses it.",
    "Details",
    "Address",
    "Site",
    "Rule",
    "Source",
    "Category",
    "Reference code",
    "Blocked by mistake?",
    "If you think this site should not be blocked, tell the network admins. The reference code is "
    "sent with your report.",
    "Message (optional)",
    "Report a mistake",
    "Reports do not record your device's IP address.",
    "If you think this site should not be blocked, contact the network admins and quote the "
    "reference code above.",
    "id",
    "Bahasa Indonesia",
};

constexpr std::string_view kHead1 =
    "<!DOCTYPE html>\n<html lang=\"";
constexpr std::string_view kHead2 =
    "\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
    "<meta name=\"robots\" content=\"noindex\">\n"
    "<meta name=\"referrer\" content=\"no-referrer\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
    "<title>";
constexpr std::string_view kStyle =
    "</title>\n<style>\n"
    "*{box-sizing:border-box}"
    "body{margin:0;background:#f3f4f6;color:#1f2937;font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}"
    "main{max-width:36rem;margin:1.5rem auto;padding:1.5rem;background:#fff;border-top:6px solid #b91c1c;"
    "border-radius:.5rem;box-shadow:0 1px 4px rgba(0,0,0,.1)}"
    "h1{margin:0 0 .75rem;font-size:1.5rem;color:#b91c1c}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}"
    "p{margin:.5rem 0}.host,code{overflow-wrap:anywhere;word-break:break-all}"
    "dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem .75rem;margin:.5rem 0;font-size:.9rem}"
    "dt{color:#6b7280}dd{margin:0;overflow-wrap:anywhere}"
    "code{font:.9em ui-monospace,Menlo,Consolas,monospace;background:#f3f4f6;padding:0 .2em;border-radius:.2em}"
    ".ref{font-size:1.05rem;font-weight:bold;letter-spacing:.05em}"
    "label{display:block;font-size:.9rem;margin-top:.5rem}"
    "textarea{width:100%;font:inherit;padding:.4rem;border:1px solid #9ca3af;border-radius:.3rem}"
    "button{margin-top:.5rem;padding:.6rem 1.2rem;font:inherit;font-weight:bold;color:#fff;background:#1d4ed8;"
    "border:0;border-radius:.3rem;cursor:pointer}"
    ".small{font-size:.85rem;color:#6b7280}.lang{text-align:right;margin-top:1rem}\n"
    "</style>\n</head>\n<body>\n<main>\n";

void AppendRow(std::string* out, std::string_view label, std::string_view value, std::size_t max_bytes,
               bool code = false, std::string_view cls = {}) {
  if (value.empty()) return;
  out->append("<dt>").append(label).append("</dt><dd>");
  if (code) {
    out->append("<code");
    if (!cls.empty()) out->append(" class=\"").append(cls).append("\"");
    out->append(">");
  }
  AppendEscaped(out, value, max_bytes);
  if (code) out->append("</code>");
  out->append("</dd>\n");
}

}  // namespace

Language PickLanguage(std::string_view accept_language, std::string_view lang_param) {
  if (int l = LanguageOf(lang_param); l >= 0) return static_cast<Language>(l);
  int best = -1, best_q = 0;
  while (!accept_language.empty()) {
    std::size_t comma = accept_language.find(',');
    std::string_view item = accept_language.substr(0, comma);
    accept_language = comma == std::string_view::npos ? std::string_view{} : accept_language.substr(comma + 1);
    std::size_t semi = item.find(';');
    std::string_view tag = item.substr(0, semi);
    int q = 1000;
    while (semi != std::string_view::npos) {
      item = item.substr(semi + 1);
      semi = item.find(';');
      std::string_view param = Trim(item.substr(0, semi));
      if (param.size() >= 2 && Lower(param[0]) == 'q' && param[1] == '=') q = ParseQ(param.substr(2));
    }
    int l = LanguageOf(tag);
    if (l < 0 || q <= 0) continue;
    if (q > best_q) {
      best = l;
      best_q = q;
    }
  }
  return best < 0 ? Language::kIndonesian : static_cast<Language>(best);
}

std::string RenderBlockPage(const BlockPageInfo& info, Language language) {
  const Texts& t = language == Language::kEnglish ? kEnglish : kIndonesian;
  std::string out;
  out.reserve(4096 + 2 * info.url.size());
  out.append(kHead1).append(t.lang).append(kHead2).append(t.title);
  out.append(" \xE2\x80\x94 ");  // —
  AppendEscaped(&out, info.host, 253);
  out.append(kStyle);
  out.append("<h1>").append(t.heading).append("</h1>\n<p>");

  std::string_view pre, post;
  bool gambling = false, other = false;
  if (info.category == "doh") {
    pre = t.doh_pre, post = t.doh_post;
  } else if (info.category.empty() || info.category == "gambling") {
    gambling = true;
    if (info.kind == RuleKind::kUrl) {
      pre = t.url_pre, post = t.url_post;
    } else {
      pre = t.gambling_pre, post = t.gambling_post;
    }
  } else {
    other = true;
    pre = t.other_pre, post = t.other_post;
  }
  out.append(pre).append("<strong class=\"host\">");
  AppendEscaped(&out, info.host, 253);
  out.append("</strong>").append(post);
  if (other) {
    AppendEscaped(&out, info.category, 64);
    out.append(").");
  }
  out.append("</p>\n");
  if (gambling) out.append("<p>").append(t.why).append("</p>\n");

  out.append("<h2>").append(t.details).append("</h2>\n<dl>\n");
  AppendRow(&out, t.site, info.host, 253);
  AppendRow(&out, t.address, info.url, 160);
  AppendRow(&out, t.rule, info.rule, 200, /*code=*/true);
  AppendRow(&out, t.source, info.source, 64);
  AppendRow(&out, t.category, info.category, 64);
  AppendRow(&out, t.reference, info.reference, 64, /*code=*/true, "ref");
  out.append("</dl>\n");

  out.append("<h2>").append(t.mistake).append("</h2>\n");
  if (!info.report_url.empty() && SafeAbsoluteUrl(info.report_url)) {
    out.append("<p>").append(t.mistake_text).append("</p>\n");
    out.append("<form method=\"post\" action=\"");
    AppendEscaped(&out, info.report_url);
    out.append("\" accept-charset=\"utf-8\">\n<input type=\"hidden\" name=\"name\" value=\"");
    AppendEscaped(&out, info.host, 253);
    out.append("\">\n");
    if (!info.url.empty()) {
      out.append("<input type=\"hidden\" name=\"url\" value=\"");
      AppendEscaped(&out, info.url, 2048 - 3);  // with a "…" mark, within the report API's 2048
      out.append("\">\n");
    }
    if (!info.reference.empty()) {
      out.append("<input type=\"hidden\" name=\"reference\" value=\"");
      AppendEscaped(&out, info.reference, 64);
      out.append("\">\n");
    }
    out.append("<label for=\"msg\">").append(t.message_label).append("</label>\n");
    out.append("<textarea id=\"msg\" name=\"message\" rows=\"3\" maxlength=\"1000\"></textarea>\n");
    out.append("<button type=\"submit\">").append(t.button).append("</button>\n</form>\n");
    out.append("<p class=\"small\">").append(t.privacy).append("</p>\n");
  } else {
    out.append("<p>").append(t.no_form).append("</p>\n");
  }

  if (!info.toggle_url.empty() && SafeToggleUrl(info.toggle_url)) {
    out.append("<p class=\"lang\"><a href=\"");
    AppendEscaped(&out, info.toggle_url);
    out.append("\" hreflang=\"").append(t.other_lang_code).append("\" lang=\"").append(t.other_lang_code);
    out.append("\">").append(t.other_lang_name).append("</a></p>\n");
  }
  out.append("</main>\n</body>\n</html>\n");
  return out;
}

std::string RenderErrorPage(int status, std::string_view title, std::string_view detail) {
  std::string t = std::to_string(status) + " ";
  AppendEscaped(&t, title);
  std::string_view id = status >= 500 ? "Situs tidak dapat dihubungi melalui proxy." : "Permintaan ditolak oleh proxy.";
  std::string out = "<!DOCTYPE html>\n<html lang=\"id\"><head><meta charset=\"utf-8\"><title>" + t +
                    "</title></head><body><p>" + std::string(id) + "</p><h1>" + t + "</h1><p>";
  AppendEscaped(&out, detail);
  out += "</p><hr><p>saring proxy</p></body></html>\n";
  return out;
}

}  // namespace saring::proxy
