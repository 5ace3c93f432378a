// Block page: what a browser sees when the proxy refuses a plain-HTTP request
// (or an intercepted HTTPS one), in Indonesian by default or English, saying
// why, by which rule, with a reference code and a "report a mistake" form that
// posts to the admin API's public POST /v1/reports.
//
// The page shows a reference code (saring/reference.h) an admin can look up.
//
// Pure functions of their arguments; any thread may call them.
#ifndef SARING_PROXY_BLOCK_PAGE_H_
#define SARING_PROXY_BLOCK_PAGE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "saring/rule.h"

namespace saring::proxy {

enum class Language { kIndonesian, kEnglish };

// Indonesian unless the client prefers English. A `lang` query parameter or
// toggle value ("en" / "id", case-insensitive, region ignored: "en-US") wins;
// otherwise the Accept-Language language of the highest q-value (ties: the
// first listed) whose primary tag is "id" (or the legacy "in") or "en"; q=0
// entries and malformed q-values are ignored. Default Indonesian.
Language PickLanguage(std::string_view accept_language, std::string_view lang_param);

struct BlockPageInfo {
  std::string_view host, url;               // what was blocked (url may be empty for HTTPS/CONNECT)
  std::string_view rule, source, category;  // from the Verdict
  std::string_view reference;               // EncodeReference(...) ("" = none shown)
  std::string_view report_url;  // absolute http(s) URL of the admin API's POST /v1/reports ("" = no form)
  std::string_view toggle_url;  // URL of this page in the other language ("" = no link)
  // Kind of the deciding rule. kUrl changes the wording: only this page of an
  // otherwise legitimate (often hacked) site is blocked, not the whole site.
  RuleKind kind = RuleKind::kDomain;
};

// A complete, self-contained HTML5 page: inline CSS, no external resources,
// no JavaScript (a Content-Security-Policy meta forbids scripts outright), a
// plain <form method="post" action=report_url> with hidden name/url/reference
// fields and a "message" textarea. Every dynamic value is HTML-escaped;
// control characters become U+FFFD. Display copies of long values are cut
// (URL 160 bytes, rule 200) while the hidden url keeps up to 2048 bytes (the
// report API's limit). report_url / toggle_url are only used when they start
// with http://, https:// or '/' (toggle also '?'), so no "javascript:" link
// can appear. Under 6 KiB for ordinary values.
// The caller sends it with status 403, Content-Type "text/html; charset=utf-8"
// and Cache-Control: no-store.
std::string RenderBlockPage(const BlockPageInfo& info, Language language);

// A plain error page (not a block: 400, 502, 504, ...): a fixed Indonesian
// sentence for the status class, then "<status> <title>" and the detail in
// English (technical text for whoever debugs it), all HTML-escaped. No
// scripts, no external resources.
std::string RenderErrorPage(int status, std::string_view title, std::string_view detail);

}  // namespace saring::proxy

#endif  // SARING_PROXY_BLOCK_PAGE_H_
