#include "saring/feed_source.h"

#include <nlohmann/json.hpp>

namespace saring {

using nlohmann::json;

namespace {

json SourceJson(const FeedSource& f) {
  return {{"name", f.name},
          {"url", f.url},
          {"format", ToString(f.format)},
          {"action", ToString(f.action)},
          {"category", f.category},
          {"every_s", f.every_s},
          {"max_shrink", f.max_shrink},
          {"max_rejected", f.max_rejected},
          {"enabled", f.enabled},
          {"created_at", f.created_at},
          {"created_by", f.created_by},
          {"etag", f.etag},
          {"last_modified", f.last_modified},
          {"last_run_at", f.last_run_at},
          {"last_good_at", f.last_good_at},
          {"failures", f.failures},
          {"last_verdict", f.last_verdict}};
}

}  // namespace

bool FeedSourceFromJson(std::string_view text, FeedSource* f) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return false;
  try {
    f->name = j.at("name").get<std::string>();
    f->url = j.at("url").get<std::string>();
    if (!ParseFeedFormat(j.at("format").get<std::string>(), &f->format)) return false;
    if (!ParseAction(j.at("action").get<std::string>(), &f->action)) return false;
    f->category = j.at("category").get<std::string>();
    f->every_s = j.value("every_s", std::int64_t{6 * 3600});
    f->max_shrink = j.value("max_shrink", 0.2);
    f->max_rejected = j.value("max_rejected", 0.5);
    f->enabled = j.value("enabled", true);
    f->created_at = j.value("created_at", std::int64_t{0});
    f->created_by = j.value("created_by", "");
    f->etag = j.value("etag", "");
    f->last_modified = j.value("last_modified", "");
    f->last_run_at = j.value("last_run_at", std::int64_t{0});
    f->last_good_at = j.value("last_good_at", std::int64_t{0});
    f->failures = j.value("failures", 0);
    f->last_verdict = j.value("last_verdict", "");
  } catch (const json::exception&) {
    return false;
  }
  return true;
}

namespace {
json RunJson(const FeedRun& r) {
  return {{"feed", r.feed},
          {"id", r.id},
          {"trigger", r.trigger},
          {"by", r.by},
          {"forced", r.forced},
          {"started_at", r.started_at},
          {"ended_at", r.ended_at},
          {"verdict", r.verdict},
          {"error", r.error},
          {"http_status", r.http_status},
          {"bytes", r.bytes},
          {"lines", r.lines},
          {"accepted", r.accepted},
          {"rejected", r.rejected},
          {"added", r.added},
          {"removed", r.removed},
          {"changed", r.changed},
          {"rules_before", r.rules_before},
          {"rules_after", r.rules_after},
          {"serial", r.serial},
          {"attempts", r.attempts},
          {"seconds", r.seconds}};
}

}  // namespace

bool FeedRunFromJson(std::string_view text, FeedRun* r) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return false;
  try {
    r->feed = j.at("feed").get<std::string>();
    r->id = j.at("id").get<std::uint64_t>();
    r->trigger = j.value("trigger", "");
    r->by = j.value("by", "");
    r->forced = j.value("forced", false);
    r->started_at = j.value("started_at", std::int64_t{0});
    r->ended_at = j.value("ended_at", std::int64_t{0});
    r->verdict = j.value("verdict", "");
    r->error = j.value("error", "");
    r->http_status = j.value("http_status", 0L);
    r->bytes = j.value("bytes", std::uint64_t{0});
    r->lines = j.value("lines", std::uint64_t{0});
    r->accepted = j.value("accepted", std::uint64_t{0});
    r->rejected = j.value("rejected", std::uint64_t{0});
    r->added = j.value("added", std::uint64_t{0});
    r->removed = j.value("removed", std::uint64_t{0});
    r->changed = j.value("changed", std::uint64_t{0});
    r->rules_before = j.value("rules_before", std::uint64_t{0});
    r->rules_after = j.value("rules_after", std::uint64_t{0});
    r->serial = j.value("serial", std::uint64_t{0});
    r->attempts = j.value("attempts", 0);
    r->seconds = j.value("seconds", 0.0);
  } catch (const json::exception&) {
    return false;
  }
  return true;
}

std::string FeedSourceToJson(const FeedSource& feed) { return SourceJson(feed).dump(); }
std::string FeedRunToJson(const FeedRun& run) { return RunJson(run).dump(); }

Status ParseInterval(std::string_view text, std::int64_t* seconds) {
  std::int64_t n = 0;
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9' && n < 1000000000) {
    n = n * 10 + (text[i++] - '0');
  }
  std::string_view unit = text.substr(i);
  std::int64_t scale = unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : 0;
  if (i == 0 || scale == 0) {
    return Status::InvalidArgument("interval '" + std::string(text) + "' is not like 90s, 30m, 6h or 1d");
  }
  if (n * scale < 60) return Status::InvalidArgument("interval '" + std::string(text) + "' is under a minute");
  *seconds = n * scale;
  return Status::OK();
}

Status ValidateFeedSource(const FeedSource& feed) {
  SARING_RETURN_IF_ERROR(ValidateSourceName(feed.name).WithContext("feed name"));
  SARING_RETURN_IF_ERROR(ValidateCategoryName(feed.category).WithContext("feed category"));
  if (!feed.url.starts_with("https://") && !feed.url.starts_with("http://") &&
      !feed.url.starts_with("file://")) {
    return Status::InvalidArgument("feed url '" + feed.url + "' must start with https://, http:// or file://");
  }
  if (feed.url.size() > 2048 || feed.url.find_first_of(" \t\r\n") != std::string::npos) {
    return Status::InvalidArgument("feed url is too long or holds white space");
  }
  if (!(feed.max_shrink >= 0 && feed.max_shrink <= 1)) {
    return Status::InvalidArgument("max_shrink must be between 0 and 1");
  }
  if (!(feed.max_rejected >= 0 && feed.max_rejected <= 1)) {
    return Status::InvalidArgument("max_rejected must be between 0 and 1");
  }
  if (feed.every_s < 60) return Status::InvalidArgument("feed interval must be at least a minute");
  return Status::OK();
}

Status FeedSourceFromRequest(std::string_view json_text, FeedSource* feed) {
  json j = json::parse(json_text, nullptr, false);
  if (!j.is_object()) return Status::InvalidArgument("a feed is a JSON object");
  *feed = FeedSource{};
  for (const auto& item : j.items()) {
    const std::string& key = item.key();
    const json& value = item.value();
    auto need = [&](bool ok, const char* what) {
      return ok ? Status::OK() : Status::InvalidArgument("feed field '" + key + "' must be " + what);
    };
    if (key == "name" || key == "url" || key == "category") {
      SARING_RETURN_IF_ERROR(need(value.is_string(), "a string"));
      (key == "name" ? feed->name : key == "url" ? feed->url : feed->category) = value.get<std::string>();
    } else if (key == "format") {
      SARING_RETURN_IF_ERROR(need(value.is_string() && ParseFeedFormat(value.get<std::string>(), &feed->format),
                                  "plain, hosts, adblock, rpz or patterns"));
    } else if (key == "action") {
      SARING_RETURN_IF_ERROR(need(value.is_string() && ParseAction(value.get<std::string>(), &feed->action),
                                  "block or allow"));
    } else if (key == "every") {
      SARING_RETURN_IF_ERROR(need(value.is_string(), "an interval like \"6h\""));
      SARING_RETURN_IF_ERROR(ParseInterval(value.get<std::string>(), &feed->every_s));
    } else if (key == "max_shrink" || key == "max_rejected") {
      SARING_RETURN_IF_ERROR(need(value.is_number(), "a number between 0 and 1"));
      (key == "max_shrink" ? feed->max_shrink : feed->max_rejected) = value.get<double>();
    } else if (key == "enabled") {
      SARING_RETURN_IF_ERROR(need(value.is_boolean(), "true or false"));
      feed->enabled = value.get<bool>();
    } else {
      return Status::InvalidArgument("unknown feed field '" + key + "'");
    }
  }
  if (feed->name.empty() || feed->url.empty()) return Status::InvalidArgument("a feed needs a name and a url");
  return ValidateFeedSource(*feed);
}

}  // namespace saring
