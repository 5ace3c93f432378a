#include "update/fetch.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>

#include <fmt/format.h>

namespace saring::update {
namespace {

// curl_global_init is not thread-safe and must run before any other curl call.
CURLcode GlobalInit() {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return rc;
}

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

std::string TakeCurlString(char* s) {
  std::string out = s ? s : "";
  curl_free(s);
  return out;
}

// Checks the URL and its scheme before any transfer; `shown` is the URL for
// messages and logs, without user:password.
Status CheckUrl(const std::string& url, std::string* scheme, std::string* shown) {
  if (url.empty()) return Status::InvalidArgument("feed URL is empty");
  std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
  if (!u) return Status::Internal("curl_url: out of memory");
  CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK) {
    return Status::InvalidArgument(fmt::format("bad feed URL \"{}\": {}", url, curl_url_strerror(rc)));
  }
  char* part = nullptr;
  if (curl_url_get(u.get(), CURLUPART_SCHEME, &part, 0) != CURLUE_OK) {
    return Status::InvalidArgument(fmt::format("bad feed URL \"{}\": no scheme", url));
  }
  *scheme = TakeCurlString(part);
  if (*scheme != "http" && *scheme != "https" && *scheme != "file") {
    return Status::InvalidArgument(fmt::format(
        "feed URL \"{}\": unsupported scheme \"{}\" (use https://, http:// or file://)", url, *scheme));
  }
  *shown = url;
  part = nullptr;
  if (curl_url_get(u.get(), CURLUPART_USER, &part, 0) == CURLUE_OK) {
    curl_free(part);
    curl_url_set(u.get(), CURLUPART_USER, nullptr, 0);
    curl_url_set(u.get(), CURLUPART_PASSWORD, nullptr, 0);
    part = nullptr;
    if (curl_url_get(u.get(), CURLUPART_URL, &part, 0) == CURLUE_OK) *shown = TakeCurlString(part);
  }
  return Status::OK();
}

bool HasLineBreak(const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The state of one attempt, shared with curl's callbacks.
struct Transfer {
  const FetchOptions* options = nullptr;
  std::FILE* file = nullptr;  // the .part file
  long status = 0;            // of the response now being received (0: none, or file://)
  std::string etag, last_modified, content_type;
  std::uint64_t bytes = 0;
  enum class Stop { kNone, kTooBig, kHttpError, kWriteFailed, kCancelled, kStalled } stop = Stop::kNone;
  int write_errno = 0;
  // For the stall check: curl's own low-speed check averages over a window of
  // several seconds, so alone it would notice a 1 s stall only after ~6 s.
  std::chrono::steady_clock::time_point last_activity;
  curl_off_t last_dlnow = 0;
};

// Called once per header line of every response, redirects included: a status
// line starts a new response, so only the final response's fields survive.
size_t OnHeader(char* data, size_t size, size_t n, void* p) {
  auto* t = static_cast<Transfer*>(p);
  const size_t len = size * n;
  t->last_activity = std::chrono::steady_clock::now();
  std::string_view line(data, len);
  if (line.substr(0, 5) == "HTTP/") {
    t->etag.clear();
    t->last_modified.clear();
    t->content_type.clear();
    t->status = 0;
    size_t sp = line.find(' ');
    if (sp != std::string_view::npos) {
      long code = 0;
      for (size_t i = sp + 1; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) {
        code = code * 10 + (line[i] - '0');
      }
      t->status = code;
    }
    return len;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return len;
  std::string_view name = Trim(line.substr(0, colon));
  std::string_view value = Trim(line.substr(colon + 1));
  if (EqualsNoCase(name, "etag")) {
    t->etag = value;
  } else if (EqualsNoCase(name, "last-modified")) {
    t->last_modified = value;
  } else if (EqualsNoCase(name, "content-type")) {
    t->content_type = value;
  }
  return len;
}

size_t WriteError(size_t len) {
#ifdef CURL_WRITEFUNC_ERROR
  (void)len;
  return CURL_WRITEFUNC_ERROR;
#else
  return len == 0 ? 1 : 0;
#endif
}

// Curl passes only the body of the final response here (it skips the bodies
// of redirects it follows). Error bodies are not wanted: stop reading them.
size_t OnBody(char* data, size_t size, size_t n, void* p) {
  auto* t = static_cast<Transfer*>(p);
  const size_t len = size * n;
  if (t->status != 0 && (t->status < 200 || t->status > 299)) {
    t->stop = Transfer::Stop::kHttpError;
    return WriteError(len);
  }
  if (t->bytes + len > t->options->max_bytes) {
    t->stop = Transfer::Stop::kTooBig;
    return WriteError(len);
  }
  if (std::fwrite(data, 1, len, t->file) != len) {
    t->write_errno = errno;
    t->stop = Transfer::Stop::kWriteFailed;
    return WriteError(len);
  }
  t->bytes += len;
  return len;
}

// Called at least about once a second, also while nothing arrives.
int OnProgress(void* p, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(p);
  if (t->options->cancelled && t->options->cancelled()) {
    t->stop = Transfer::Stop::kCancelled;
    return 1;
  }
  auto now = std::chrono::steady_clock::now();
  if (dlnow != t->last_dlnow) {
    t->last_dlnow = dlnow;
    t->last_activity = now;
  } else if (now - t->last_activity >= std::chrono::milliseconds(std::max(1, t->options->stall_timeout_ms))) {
    t->stop = Transfer::Stop::kStalled;
    return 1;
  }
  return 0;
}

// How one attempt ended.
struct Outcome {
  Status status;
  bool retry = false;      // transient: worth another attempt
  bool truncated = false;  // worth one more attempt only
  bool cancelled = false;
};

Outcome ClassifyHttp(long code, const std::string& url) {
  Outcome o;
  if (code == 429 || (code >= 500 && code <= 599)) {
    o.status = Status::Unavailable(fmt::format("fetch {}: HTTP {}", url, code));
    o.retry = true;
  } else if (code >= 400 && code <= 499) {
    o.status = Status::FailedPrecondition(fmt::format("fetch {}: HTTP {}", url, code));
  } else {
    // e.g. a 3xx curl could not follow (no Location), or a 1xx as final answer.
    o.status = Status::FailedPrecondition(fmt::format("fetch {}: unexpected HTTP {}", url, code));
  }
  return o;
}

Outcome ClassifyCurl(CURLcode rc, const char* errbuf, const std::string& url) {
  std::string text = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  std::string msg = fmt::format("fetch {}: {}", url, text);
  Outcome o;
  switch (rc) {
    case CURLE_PARTIAL_FILE:
      o.status = Status::FailedPrecondition(fmt::format("fetch {}: body truncated ({})", url, text));
      o.truncated = true;
      break;
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_INVALIDCERTSTATUS:
      o.status = Status::FailedPrecondition(msg);
      break;
    case CURLE_UNSUPPORTED_PROTOCOL:
      // The URL itself was checked up front, so this is where a redirect led.
      o.status = Status::FailedPrecondition(fmt::format("fetch {}: redirected to an unsupported scheme ({})", url, text));
      break;
    case CURLE_URL_MALFORMAT:
      o.status = Status::InvalidArgument(msg);
      break;
    case CURLE_FILE_COULDNT_READ_FILE:
    case CURLE_READ_ERROR:
      // A missing local file will not appear within a backoff.
      o.status = Status::Unavailable(msg);
      break;
    default:
      // Refused, reset, timed out, stalled, name not resolved, TLS handshake broken...
      o.status = Status::Unavailable(msg);
      o.retry = true;
      break;
  }
  return o;
}

// Closes `file`; with `keep`, flushes it to disk first. Returns errno or 0.
int CloseFile(std::FILE*& file, bool keep) {
  if (!file) return 0;
  int err = 0;
  if (keep) {
    if (std::fflush(file) != 0 || ::fsync(fileno(file)) != 0) err = errno;
  }
  if (std::fclose(file) != 0 && err == 0) err = errno;
  file = nullptr;
  return err;
}

void SyncParentDir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Waits `ms`, in slices so that cancellation is noticed; false if cancelled.
bool SleepUnlessCancelled(const FetchOptions& options, std::int64_t ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    if (options.cancelled && options.cancelled()) return false;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(deadline - now,
                                                                              std::chrono::milliseconds(20)));
  }
}

std::int64_t BackoffMs(int base_ms, int retry) {
  constexpr double kCapMs = 60000;
  double ms = std::min(kCapMs, std::max(0, base_ms) * std::ldexp(1.0, std::min(retry - 1, 30)));
  thread_local std::mt19937_64 rng{std::random_device{}()};
  ms *= std::uniform_real_distribution<double>(0.5, 1.5)(rng);
  return static_cast<std::int64_t>(std::min(kCapMs, ms));
}

Status Cancelled(const std::string& url) { return Status::Unavailable(fmt::format("fetch {}: cancelled", url)); }

}  // namespace

Status Fetch(const FetchOptions& options, const std::string& dest_path, FetchResult* result) {
  FetchResult local;
  FetchResult& r = result ? *result : local;
  r = FetchResult();

  std::string scheme, url;
  Status st = CheckUrl(options.url, &scheme, &url);
  if (!st.ok()) {
    r.error = st.message();
    return st;
  }
  if (HasLineBreak(options.etag) || HasLineBreak(options.last_modified) || HasLineBreak(options.user_agent)) {
    st = Status::InvalidArgument(fmt::format("fetch {}: line break in a request header value", url));
    r.error = st.message();
    return st;
  }
  if (dest_path.empty()) {
    st = Status::InvalidArgument(fmt::format("fetch {}: no destination path", url));
    r.error = st.message();
    return st;
  }
  if (CURLcode rc = GlobalInit(); rc != CURLE_OK) {
    return Status::Internal(fmt::format("curl_global_init: {}", curl_easy_strerror(rc)));
  }

  std::unique_ptr<CURL, EasyDeleter> curl(curl_easy_init());
  if (!curl) return Status::Internal("curl_easy_init failed");
  CURL* h = curl.get();

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&headers](const std::string& line) {
    curl_slist* l = curl_slist_append(headers.get(), line.c_str());
    if (l) {
      headers.release();
      headers.reset(l);
    }
  };
  if (scheme != "file") {
    if (!options.etag.empty()) add_header("If-None-Match: " + options.etag);
    if (!options.last_modified.empty()) add_header("If-Modified-Since: " + options.last_modified);
  }

  char errbuf[CURL_ERROR_SIZE];
  Transfer t;
  t.options = &options;
  const long stall_s = std::max(1L, (static_cast<long>(options.stall_timeout_ms) + 999) / 1000);

  curl_easy_setopt(h, CURLOPT_URL, options.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, static_cast<long>(std::max(0, options.max_redirects)));
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // "": all that this libcurl can decode
  curl_easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
  if (headers) curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::max(1, options.connect_timeout_ms)));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max(1, options.total_timeout_ms)));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stall_s);
  if (options.max_bytes < static_cast<std::uint64_t>(INT64_MAX)) {
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_bytes));
  }
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options.ca_file.empty()) {
    // Exactly this bundle: without clearing CAPATH the system store would count too.
    curl_easy_setopt(h, CURLOPT_CAINFO, options.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_CAPATH, nullptr);
  }
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM: Fetch runs on worker threads
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);

  const std::string part_path = dest_path + ".part";
  const int attempts = std::max(1, options.attempts);
  bool truncated_before = false;
  Outcome last;
  for (int attempt = 1;; ++attempt) {
    if (options.cancelled && options.cancelled()) {
      last = Outcome{Cancelled(url), false, false, true};
      break;
    }
    r.attempts = attempt;
    t.status = 0;
    t.bytes = 0;
    t.etag.clear();
    t.last_modified.clear();
    t.content_type.clear();
    t.stop = Transfer::Stop::kNone;
    t.write_errno = 0;
    t.last_activity = std::chrono::steady_clock::now();
    t.last_dlnow = 0;
    t.file = std::fopen(part_path.c_str(), "wb");
    if (!t.file) {
      last = Outcome{Status::IOError(fmt::format("fetch {}: cannot create {}: {}", url, part_path,
                                                 std::strerror(errno)))};
      break;
    }
    errbuf[0] = '\0';
    CURLcode rc = curl_easy_perform(h);

    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code == 0) code = t.status;
    r.http_status = code;
    char* effective = nullptr;
    if (curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &effective) == CURLE_OK && effective) {
      r.effective_url = effective;
    }
    r.bytes = t.bytes;

    Outcome o;
    bool saved = false;
    if (t.stop == Transfer::Stop::kCancelled) {
      o = Outcome{Cancelled(url), false, false, true};
    } else if (t.stop == Transfer::Stop::kStalled) {
      o.status = Status::Unavailable(fmt::format("fetch {}: stalled: nothing received for {} ms", url,
                                                 options.stall_timeout_ms));
      o.retry = true;
    } else if (t.stop == Transfer::Stop::kTooBig || rc == CURLE_FILESIZE_EXCEEDED) {
      o.status = Status::FailedPrecondition(
          fmt::format("fetch {}: body larger than the limit of {} bytes", url, options.max_bytes));
    } else if (t.stop == Transfer::Stop::kWriteFailed) {
      o.status = Status::IOError(fmt::format("fetch {}: writing {}: {}", url, part_path, std::strerror(t.write_errno)));
    } else if (t.stop == Transfer::Stop::kHttpError) {
      o = ClassifyHttp(code, url);
    } else if (rc != CURLE_OK) {
      o = ClassifyCurl(rc, errbuf, url);
    } else if (code == 304) {
      r.not_modified = true;
      r.bytes = 0;
    } else if (code == 0 ? scheme == "file" : (code >= 200 && code <= 299)) {
      saved = true;
    } else {
      o = ClassifyHttp(code, url);
    }

    if (saved) {
      if (int err = CloseFile(t.file, /*keep=*/true); err != 0) {
        o.status = Status::IOError(fmt::format("fetch {}: writing {}: {}", url, part_path, std::strerror(err)));
      } else if (std::rename(part_path.c_str(), dest_path.c_str()) != 0) {
        o.status = Status::IOError(fmt::format("fetch {}: renaming {} to {}: {}", url, part_path, dest_path,
                                               std::strerror(errno)));
      } else {
        SyncParentDir(dest_path);
      }
    }
    if (t.file) CloseFile(t.file, /*keep=*/false);
    if (!saved || !o.status.ok()) std::remove(part_path.c_str());

    if (o.status.ok()) {
      r.error.clear();
      r.etag = t.etag;
      r.last_modified = t.last_modified;
      r.content_type = t.content_type;
      if (r.not_modified) {
        if (r.etag.empty()) r.etag = options.etag;
        if (r.last_modified.empty()) r.last_modified = options.last_modified;
      }
      return Status::OK();
    }

    last = std::move(o);
    bool retry = last.retry || (last.truncated && !truncated_before);
    if (last.truncated) truncated_before = true;
    if (!retry || attempt >= attempts) break;
    const std::int64_t wait_ms = BackoffMs(options.backoff_ms, attempt);
    spdlog::warn("{} (attempt {} of {}); retrying in {} ms", last.status.message(), attempt, attempts, wait_ms);
    if (!SleepUnlessCancelled(options, wait_ms)) {
      last = Outcome{Cancelled(url), false, false, true};
      break;
    }
  }

  Status out = last.status;
  if (r.attempts > 1 && !last.cancelled) {
    std::string msg = fmt::format("{} (after {} attempts)", last.status.message(), r.attempts);
    if (out.code() == Status::Code::kUnavailable) out = Status::Unavailable(std::move(msg));
    if (out.code() == Status::Code::kFailedPrecondition) out = Status::FailedPrecondition(std::move(msg));
  }
  r.error = out.message();
  return out;
}

}  // namespace saring::update
