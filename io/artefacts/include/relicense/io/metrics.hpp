// Run metrics in the Prometheus text exposition format (version 0.0.4), for node_exporter's
// textfile collector: cron / systemd-timer / Kubernetes jobs leave one `.prom` file per job that
// the collector scrapes, so a dashboard can alert on a failed or slow scheduled run.
#pragma once

#include "relicense/io/summary.hpp"

#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace relicense::io {

/// Extra labels on every series, e.g. {{"shard","2/8"}}: shards of one job writing to the same
/// collector directory must not produce identical series.
using metric_labels = std::vector<std::pair<std::string, std::string>>;

/// The exposition text: relicense_rows_total{outcome}, relicense_requests_total,
/// relicense_http_429_total, relicense_retries_total{cause}, relicense_run_duration_seconds,
/// relicense_rows_per_second, relicense_request_latency_seconds{quantile} (summary),
/// relicense_budget_efficiency_ratio, relicense_last_run_success,
/// relicense_last_run_timestamp_seconds.
std::string format_metrics(const run_summary& s, std::chrono::system_clock::time_point finished,
                           const metric_labels& labels = {});

/// Writes format_metrics() to `path` atomically (temp file + rename in the same directory).
/// Throws std::runtime_error naming the file.
void write_metrics(const std::filesystem::path& path, const run_summary& s,
                   std::chrono::system_clock::time_point finished,
                   const metric_labels& labels = {});

}  // namespace relicense::io
