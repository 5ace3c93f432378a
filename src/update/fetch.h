// Fetch: downloads one feed (https://, http:// or file://) into a file with
// libcurl, conditionally (ETag / Last-Modified) and with bounded retries.
// The body is streamed to disk, never held in memory, and lands in its final
// place only when complete, so a reader of the destination never sees half a
// feed. Validating what was downloaded is the caller's business.
#ifndef SARING_UPDATE_FETCH_H_
#define SARING_UPDATE_FETCH_H_

#include <cstdint>
#include <functional>
#include <string>

#include "saring/status.h"

namespace saring::update {

// FetchOptions: what to download and how patiently. A plain value owned by the
// caller; Fetch only reads it (and calls `cancelled` from the calling thread).
struct FetchOptions {
  std::string url;                  // https://, http:// or file://; anything else: InvalidArgument
  // Validators of the last good download, sent as If-None-Match /
  // If-Modified-Since so an unchanged feed costs one round trip.
  std::string etag, last_modified;
  // CA bundle used instead of the system's trust store ("" = system default).
  // Verification is always on: a feed is a list of what to block, and a forged
  // one could block (or unblock) anything.
  std::string ca_file;
  int connect_timeout_ms = 10000;
  int total_timeout_ms = 600000;
  // Abort when nothing arrives for this long (checked about once a second;
  // CURLOPT_LOW_SPEED_* at 1 byte/s backs it up). Includes the wait for the
  // first response byte, so a mirror that thinks for minutes needs more.
  int stall_timeout_ms = 30000;
  // Larger bodies are refused: from Content-Length up front, and while
  // streaming for chunked (or lying) responses. Counts decoded bytes.
  std::uint64_t max_bytes = 1ull << 30;
  // Redirects are followed, to http/https only (never to file:// or others).
  int max_redirects = 5;
  // Transient failures (refused/timed out connections, stalls, 5xx, 429) are
  // retried up to `attempts` tries in all; a truncated body is retried once.
  int attempts = 3;
  // Wait before retry n: backoff_ms * 2^(n-1), with ±50% random jitter so many
  // boxes fetching the same feed do not retry in step; capped at 60 s.
  int backoff_ms = 1000;
  std::string user_agent = "saring/0.1 (+feed)";
  // Optional; polled during the transfer and the waits between retries. When
  // it returns true Fetch stops within about a second and returns Unavailable
  // "cancelled" (so shutdown never waits for a slow mirror).
  std::function<bool()> cancelled;
};

// FetchResult: what happened, filled in by Fetch whatever it returns, owned by
// the caller. The validators are what to store for the next conditional fetch.
struct FetchResult {
  long http_status = 0;       // last HTTP status (0 for file:// or when no response)
  bool not_modified = false;  // 304: nothing written, dest untouched
  // From the final response (after redirects), and only on success: a 503
  // page's ETag must never be stored. On a 304 that does not repeat them, the
  // request's etag / last_modified are kept, so after OK the caller can store
  // these fields unconditionally.
  std::string etag, last_modified, content_type, effective_url;
  std::uint64_t bytes = 0;    // decoded body bytes written
  int attempts = 0;           // tries made (1 when the first one settled it)
  std::string error;          // message of the last failure ("" on success)
};

// Downloads `options.url` into `dest_path`, streaming to dest_path + ".part"
// and renaming on success, so dest_path is only ever replaced by a complete
// body (fsynced first). Asks for every encoding curl can decode (gzip etc).
// Returns OK (body saved, or result->not_modified), or:
//   Unavailable        – connection refused, timeouts, stall, 5xx, 429, broken
//                        connection, a missing file:// path; also "cancelled"
//   FailedPrecondition – HTTP 4xx other than 429, too many redirects, redirect
//                        to another scheme, body over max_bytes, truncated body
//                        (message says "truncated"), bad content encoding, TLS
//                        certificate not trusted
//   InvalidArgument    – bad URL or scheme
//   IOError            – dest_path + ".part" could not be written or renamed
// Messages name the URL (without any user:password) and curl's error text.
// `result` may be null. Safe to call from several threads at once, for
// different destinations (dest_path + ".part" is scratch space of the call).
Status Fetch(const FetchOptions& options, const std::string& dest_path, FetchResult* result);

}  // namespace saring::update

#endif  // SARING_UPDATE_FETCH_H_
