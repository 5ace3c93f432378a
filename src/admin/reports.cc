#include "admin/reports.h"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "saring/engine.h"
#include "saring/name.h"

namespace saring::admin {
namespace {

using nlohmann::json;

// Keys sort newest first: the inverted id in hex.
std::string Key(std::uint64_t id) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(~id));
  return hex;
}

bool FromStored(std::string_view text, Report* r) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j["id"].is_number_unsigned()) return false;
  r->id = j["id"].get<std::uint64_t>();
  r->name = j.value("name", "");
  r->url = j.value("url", "");
  r->message = j.value("message", "");
  r->reference = j.value("reference", "");
  r->verdict = j.value("verdict", "");
  r->created_at = j.value("created_at", std::int64_t{0});
  r->state = j.value("state", "open");
  r->resolved_by = j.value("resolved_by", "");
  r->resolution_note = j.value("resolution_note", "");
  r->resolved_at = j.value("resolved_at", std::int64_t{0});
  return true;
}

bool PrintableText(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 && c != '\n' && c != '\t') return false;
  }
  return true;
}

}  // namespace

std::string ReportToJson(const Report& r) {
  json j = {{"id", r.id},           {"name", r.name},       {"url", r.url},
            {"message", r.message}, {"reference", r.reference}, {"verdict", r.verdict},
            {"created_at", r.created_at}, {"state", r.state}};
  if (r.state != "open") {
    j["resolved_by"] = r.resolved_by;
    j["resolved_at"] = r.resolved_at;
    j["resolution_note"] = r.resolution_note;
  }
  return j.dump();
}

Status ReportDesk::File(Report* report) {
  std::string normalized;
  SARING_RETURN_IF_ERROR(NormalizeDomain(report->name, &normalized).WithContext("name"));
  report->name = normalized;
  if (report->url.size() > 2048 || report->message.size() > 1024 || report->reference.size() > 64) {
    return Status::InvalidArgument("url (2048), message (1024) or reference (64) is too long");
  }
  if (!PrintableText(report->url) || !PrintableText(report->message) || !PrintableText(report->reference)) {
    return Status::InvalidArgument("report texts may not hold control characters");
  }
  Verdict v = engine_->snapshot()->CheckName(report->name);
  report->verdict = std::string(ToString(v.decision));
  if (v.decision != Decision::kPass) {
    report->verdict += " by " + std::string(v.source) + " (" + std::string(v.category) + "): " + std::string(v.rule);
  }
  report->created_at = static_cast<std::int64_t>(std::time(nullptr));
  report->state = "open";
  std::lock_guard lock(file_mu_);
  if (last_id_ == 0) {
    std::vector<std::pair<std::string, std::string>> newest;
    SARING_RETURN_IF_ERROR(engine_->store().ListRecords(RecordTable::kReports, "", "", 1, &newest));
    Report r;
    if (!newest.empty() && FromStored(newest[0].second, &r)) last_id_ = r.id;
  }
  report->id = last_id_ + 1;
  RecordWrite w{RecordTable::kReports, Key(report->id), ReportToJson(*report)};
  SARING_RETURN_IF_ERROR(engine_->store().WriteRecords({&w, 1}, "", "", ChangeContext{}));
  last_id_ = report->id;
  return Status::OK();
}

Status ReportDesk::List(std::string_view state, std::uint64_t before, std::size_t limit,
                        std::vector<Report>* out) const {
  out->clear();
  std::string after = before ? Key(before) : "";
  while (out->size() < limit) {
    std::vector<std::pair<std::string, std::string>> page;
    SARING_RETURN_IF_ERROR(engine_->store().ListRecords(RecordTable::kReports, "", after, 500, &page));
    if (page.empty()) break;
    for (const auto& [key, text] : page) {
      Report r;
      if (!FromStored(text, &r)) return Status::Corruption("report record is unreadable");
      if ((state.empty() || r.state == state) && out->size() < limit) out->push_back(std::move(r));
    }
    after = page.back().first;
  }
  return Status::OK();
}

Status ReportDesk::Get(std::uint64_t id, Report* report) const {
  std::string text;
  Status st = engine_->store().GetRecord(RecordTable::kReports, Key(id), &text);
  if (st.IsNotFound()) return Status::NotFound("no report " + std::to_string(id));
  SARING_RETURN_IF_ERROR(st);
  if (!FromStored(text, report)) return Status::Corruption("report record is unreadable");
  return Status::OK();
}

Status ReportDesk::Resolve(std::uint64_t id, bool release, std::string_view source, std::string_view note,
                           const ChangeContext& ctx, Report* report) {
  std::lock_guard lock(file_mu_);  // two editors resolving the same report: one wins
  SARING_RETURN_IF_ERROR(Get(id, report));
  if (report->state != "open") {
    return Status::FailedPrecondition("report " + std::to_string(id) + " is already " + report->state);
  }
  if (note.size() > 1024) return Status::InvalidArgument("note is too long (1024)");
  report->state = release ? "released" : "dismissed";
  report->resolved_by = ctx.by;
  report->resolved_at = static_cast<std::int64_t>(std::time(nullptr));
  report->resolution_note = note;
  ChangeContext with = ctx;
  with.link = "report/" + std::to_string(id);
  if (!release) {
    RecordWrite w{RecordTable::kReports, Key(id), ReportToJson(*report)};
    json detail = {{"report", id}, {"name", report->name}, {"note", note}};
    return engine_->store().WriteRecords({&w, 1}, "report.dismiss", detail.dump(), with);
  }
  with.records = {{RecordTable::kReports, Key(id), ReportToJson(*report)}};
  Rule allow;
  allow.kind = RuleKind::kDomain;
  allow.action = Action::kAllow;
  allow.value = report->name;
  allow.source = source;
  allow.category = "released";
  allow.note = "report " + std::to_string(id) + (note.empty() ? "" : ": " + std::string(note));
  std::size_t changed = 0;
  SARING_RETURN_IF_ERROR(engine_->AddRules({allow}, with, &changed));
  if (changed == 0) {
    // The allow rule existed already: record the resolution on its own.
    with.records.clear();
    RecordWrite w{RecordTable::kReports, Key(id), ReportToJson(*report)};
    json detail = {{"report", id}, {"name", report->name}, {"note", "allow rule existed"}};
    return engine_->store().WriteRecords({&w, 1}, "report.release", detail.dump(), with);
  }
  return Status::OK();
}

}  // namespace saring::admin
