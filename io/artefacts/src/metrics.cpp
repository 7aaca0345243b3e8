// Prometheus text format writer. Hand-written: the format is a few lines of text, and a client
// library would bring a registry and an HTTP server we do not need.
#include "relicense/io/metrics.hpp"

#include "relicense/io/report.hpp"

#include <cmath>
#include <cstdio>

namespace relicense::io {

namespace {

/// Label values escape backslash, double quote and line feed (exposition format 0.0.4).
std::string escape_label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

class exposition {
public:
  explicit exposition(const metric_labels& labels) {
    for (const auto& [k, v] : labels) {
      if (!base_.empty()) base_ += ',';
      base_ += k + "=\"" + escape_label(v) + "\"";
    }
  }

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP " + std::string(name) + " " + std::string(help) + "\n";
    out_ += "# TYPE " + std::string(name) + " " + std::string(type) + "\n";
  }

  void sample(std::string_view name, double value, std::string_view label = {},
              std::string_view label_value = {}) {
    out_ += name;
    std::string labels = base_;
    if (!label.empty()) {
      if (!labels.empty()) labels += ',';
      labels += std::string(label) + "=\"" + escape_label(label_value) + "\"";
    }
    if (!labels.empty()) out_ += "{" + labels + "}";
    char buf[64];
    // %.17g round-trips doubles; integers print without a fraction.
    std::snprintf(buf, sizeof buf, " %.17g\n", std::isfinite(value) ? value : 0.0);
    out_ += buf;
  }

  std::string take() { return std::move(out_); }

private:
  std::string base_;
  std::string out_;
};

}  // namespace

std::string format_metrics(const run_summary& s, std::chrono::system_clock::time_point finished,
                           const metric_labels& labels) {
  exposition e(labels);
  e.family("relicense_rows_total", "counter", "Plan rows of the last run by outcome.");
  for (outcome o : {outcome::applied, outcome::unchanged, outcome::failed, outcome::skipped,
                    outcome::not_attempted})
    e.sample("relicense_rows_total", static_cast<double>(s.rows(o)), "outcome", to_string(o));
  e.family("relicense_requests_total", "counter",
           "HTTP requests sent by the last run (all count against the budget).");
  e.sample("relicense_requests_total", static_cast<double>(s.requests()));
  e.family("relicense_http_429_total", "counter", "429 answers received by the last run.");
  e.sample("relicense_http_429_total", static_cast<double>(s.http_429()));
  e.family("relicense_retries_total", "counter", "Requests sent again by the last run, by cause.");
  for (std::size_t i = 0; i < retry_cause_count; ++i) {
    const auto c = static_cast<retry_cause>(i);
    e.sample("relicense_retries_total", static_cast<double>(s.retries(c)), "cause", to_string(c));
  }
  e.family("relicense_run_duration_seconds", "gauge", "Wall time of the last run.");
  e.sample("relicense_run_duration_seconds", s.elapsed_seconds());
  e.family("relicense_rows_per_second", "gauge", "Rows answered per second in the last run.");
  e.sample("relicense_rows_per_second", s.rows_per_second());
  e.family("relicense_request_latency_seconds", "summary",
           "Latency of each sent row's last request.");
  for (double q : {0.5, 0.95, 0.99}) {
    char qs[16];
    std::snprintf(qs, sizeof qs, "%g", q);
    e.sample("relicense_request_latency_seconds", s.latency_ms(q) / 1000.0, "quantile", qs);
  }
  e.sample("relicense_request_latency_seconds_sum", s.latency_sum_ms() / 1000.0);
  e.sample("relicense_request_latency_seconds_count", static_cast<double>(s.latency_samples()));
  e.family("relicense_budget_efficiency_ratio", "gauge",
           "Ideal time within the API budget divided by actual time.");
  e.sample("relicense_budget_efficiency_ratio", s.budget_efficiency());
  e.family("relicense_last_run_success", "gauge",
           "1 when the last run had no failed or unattempted row.");
  e.sample("relicense_last_run_success",
           s.rows(outcome::failed) == 0 && s.rows(outcome::not_attempted) == 0 ? 1.0 : 0.0);
  e.family("relicense_last_run_timestamp_seconds", "gauge",
           "Unix time when the last run finished.");
  e.sample("relicense_last_run_timestamp_seconds",
           std::chrono::duration<double>(finished.time_since_epoch()).count());
  return e.take();
}

void write_metrics(const std::filesystem::path& path, const run_summary& s,
                   std::chrono::system_clock::time_point finished, const metric_labels& labels) {
  write_file_atomically(path, format_metrics(s, finished, labels));
}

}  // namespace relicense::io
