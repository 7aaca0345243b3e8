// Run summary: counters, nearest-rank percentiles, and the budget-efficiency ratio.
#include "relicense/io/summary.hpp"

#include "relicense/io/oplog.hpp"
#include "relicense/io/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace relicense::io {

namespace {

constexpr outcome all_outcomes[] = {outcome::applied, outcome::unchanged, outcome::failed,
                                    outcome::skipped, outcome::not_attempted};
constexpr auto all_causes = [] {
  std::array<retry_cause, retry_cause_count> all{};
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<retry_cause>(i);
  return all;
}();

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, std::isfinite(v) ? v : 0.0);
  return buf;
}

}  // namespace

run_summary::run_summary(run_budget budget) : budget_(budget) {}

void run_summary::add(const row_result& r) {
  ++by_outcome_[static_cast<std::size_t>(r.result)];
  if (r.attempts > 0) {
    latencies_.push_back(r.latency_ms);
    latency_sum_ms_ += r.latency_ms;
    sorted_ = false;
    ++sent_by_org_[r.org_id];
  }
}

void run_summary::add_carried(const row_result& r) {
  ++by_outcome_[static_cast<std::size_t>(r.result)];
  ++carried_;
  if (r.result == outcome::applied || r.result == outcome::unchanged || r.result == outcome::failed)
    ++carried_final_;
}

std::uint64_t run_summary::rows_total() const noexcept {
  std::uint64_t n = 0;
  for (auto v : by_outcome_) n += v;
  return n;
}

std::uint64_t run_summary::retries_total() const noexcept {
  std::uint64_t n = 0;
  for (auto v : retries_) n += v;
  return n;
}

double run_summary::rows_per_second() const noexcept {
  if (elapsed_s_ <= 0) return 0;
  const std::uint64_t final =
      rows(outcome::applied) + rows(outcome::unchanged) + rows(outcome::failed);
  return static_cast<double>(final > carried_final_ ? final - carried_final_ : 0) / elapsed_s_;
}

double run_summary::latency_ms(double q) const {
  if (latencies_.empty()) return 0;
  if (!sorted_) {
    std::sort(latencies_.begin(), latencies_.end());
    sorted_ = true;
  }
  q = std::clamp(q, 0.0, 1.0);
  // Nearest rank: the smallest sample with at least q of the samples at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(latencies_.size())));
  return latencies_[rank == 0 ? 0 : rank - 1];
}

double run_summary::ideal_seconds() const noexcept {
  double ideal = 0;
  std::uint64_t total = 0;
  for (const auto& [org, n] : sent_by_org_) {
    total += n;
    if (budget_.rate > 0)
      ideal = std::max(ideal, (static_cast<double>(n) - budget_.burst) / budget_.rate);
  }
  if (budget_.ip_rate > 0)
    ideal = std::max(ideal, static_cast<double>(total) / budget_.ip_rate - 1.0);
  return std::max(ideal, 0.0);
}

double run_summary::budget_efficiency() const noexcept {
  if (elapsed_s_ <= 0) return 0;
  return ideal_seconds() / elapsed_s_;
}

std::string run_summary::human() const {
  std::string s =
      "relicense: " + std::to_string(rows_total()) + " rows" +
      (carried_ ? " (" + std::to_string(carried_) + " done by an earlier run)" : std::string()) +
      " in " + fmt("%.1f", elapsed_s_) + " s (" + fmt("%.1f", rows_per_second()) + " rows/s):";
  bool first = true;
  for (outcome o : all_outcomes) {
    s += first ? " " : ", ";
    first = false;
    s += std::to_string(rows(o)) + " " + to_string(o);
  }
  s += "\n  requests " + std::to_string(requests_) + ", 429s " + std::to_string(http_429_) +
       ", retries " + std::to_string(retries_total());
  if (retries_total() > 0) {
    s += " (";
    first = true;
    for (retry_cause c : all_causes) {
      if (retries(c) == 0) continue;
      if (!first) s += ", ";
      first = false;
      s += std::string(to_string(c)) + " " + std::to_string(retries(c));
    }
    s += ")";
  }
  s += "\n";
  if (!latencies_.empty())
    s += "  latency p50 " + fmt("%.1f", latency_ms(0.50)) + " ms, p95 " +
         fmt("%.1f", latency_ms(0.95)) + " ms, p99 " + fmt("%.1f", latency_ms(0.99)) + " ms\n";
  if (elapsed_s_ > 0 && !latencies_.empty() && ideal_seconds() == 0)
    s += "  budget efficiency n/a (the requests fit in the burst, or the budget is unlimited)\n";
  else if (elapsed_s_ > 0 && !latencies_.empty())
    s += "  budget efficiency " + fmt("%.2f", budget_efficiency()) + " (ideal " +
         fmt("%.1f", ideal_seconds()) + " s at " + fmt("%g", budget_.rate) + "/s per org, burst " +
         fmt("%g", budget_.burst) + ", " + fmt("%g", budget_.ip_rate) + "/s per IP)\n";
  return s;
}

std::string run_summary::json() const {
  std::string s = "{\n  \"rows\": {";
  bool first = true;
  for (outcome o : all_outcomes) {
    s += first ? "" : ", ";
    first = false;
    s += "\"" + std::string(to_string(o)) + "\": " + std::to_string(rows(o));
  }
  s += "},\n  \"rowsTotal\": " + std::to_string(rows_total());
  s += ",\n  \"requests\": " + std::to_string(requests_);
  s += ",\n  \"http429\": " + std::to_string(http_429_);
  s += ",\n  \"retries\": {";
  first = true;
  for (retry_cause c : all_causes) {
    s += first ? "" : ", ";
    first = false;
    s += "\"" + std::string(to_string(c)) + "\": " + std::to_string(retries(c));
  }
  s += "},\n  \"retriesTotal\": " + std::to_string(retries_total());
  s += ",\n  \"elapsedSeconds\": " + fmt("%.3f", elapsed_s_);
  s += ",\n  \"rowsPerSecond\": " + fmt("%.3f", rows_per_second());
  s += ",\n  \"latencyMs\": {\"p50\": " + fmt("%.3f", latency_ms(0.50)) +
       ", \"p95\": " + fmt("%.3f", latency_ms(0.95)) +
       ", \"p99\": " + fmt("%.3f", latency_ms(0.99)) +
       ", \"samples\": " + std::to_string(latencies_.size()) + "}";
  s += ",\n  \"idealSeconds\": " + fmt("%.3f", ideal_seconds());
  s += ",\n  \"budgetEfficiency\": " + fmt("%.4f", budget_efficiency());
  s += ",\n  \"budget\": {\"rate\": " + fmt("%g", budget_.rate) +
       ", \"burst\": " + fmt("%g", budget_.burst) + ", \"ipRate\": " + fmt("%g", budget_.ip_rate) +
       "}";
  if (has_identity_) {
    const auto str = [&s](const char* key, std::string_view v) {
      s += ",\n  \"";
      s += key;
      s += "\": ";
      append_json_string(s, v);
    };
    str("startedAt", iso8601_utc(identity_.started));
    str("endedAt", iso8601_utc(identity_.ended));
    str("version", identity_.version);
    str("planFingerprint", identity_.plan_fingerprint);
    str("baseUrlHost", identity_.base_url_host);
    str("mode", identity_.mode);
    s += ",\n  \"dryRun\": ";
    s += identity_.dry_run ? "true" : "false";
    s += ",\n  \"exitStatus\": " + std::to_string(identity_.exit_status);
  }
  s += "\n}\n";
  return s;
}

void run_summary::write_json(const std::filesystem::path& path) const {
  write_file_atomically(path, json());
}

}  // namespace relicense::io
