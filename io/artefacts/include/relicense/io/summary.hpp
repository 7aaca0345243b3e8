// The run summary: rows by outcome plus the run's counters and timings, printed to stderr at the
// end and written as JSON with `--summary FILE`; metrics.hpp exports the same numbers.
#pragma once

#include "relicense/io/retry_cause.hpp"
#include "relicense/io/row_result.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace relicense::io {

/// The API budget the run was given, for the ideal-time computation.
struct run_budget {
  double rate = 10;      ///< requests/s per organization
  double burst = 10;     ///< bucket capacity per organization
  double ip_rate = 100;  ///< requests/s per source IP
};

/// Who ran what and how it ended, for the JSON summary (never the key: the host only).
struct run_identity {
  std::chrono::system_clock::time_point started;
  std::chrono::system_clock::time_point ended;
  std::string version;
  std::string plan_fingerprint;
  std::string base_url_host;
  std::string mode;  ///< put | batch
  bool dry_run = false;
  int exit_status = 0;  ///< the exit code the process returns
};

/// Accumulates a run's results and counters. Not thread-safe (one result sink feeds it).
class run_summary {
public:
  explicit run_summary(run_budget budget = {});

  /// One finished row.
  void add(const row_result& r);
  /// A row a resumed run took from its journal: counted by outcome, but not in the rate, the
  /// latencies or the budget's ideal time, which are this run's (its requests and elapsed time).
  void add_carried(const row_result& r);
  /// Rows added with add_carried.
  std::uint64_t rows_carried() const noexcept { return carried_; }
  /// Every HTTP request sent (GETs, retries and errors included: they all cost budget).
  void count_request(std::uint64_t n = 1) noexcept { requests_ += n; }
  /// A 429 answer.
  void count_429(std::uint64_t n = 1) noexcept { http_429_ += n; }
  /// A request sent again, and why.
  void count_retry(retry_cause c, std::uint64_t n = 1) noexcept {
    retries_[static_cast<std::size_t>(c)] += n;
  }
  /// Wall time of the run (start of sending to the last row).
  void set_elapsed(std::chrono::duration<double> d) noexcept { elapsed_s_ = d.count(); }

  /// The run's identity; json() includes it once set.
  void set_identity(run_identity id) {
    identity_ = std::move(id);
    has_identity_ = true;
  }

  std::uint64_t rows(outcome o) const noexcept { return by_outcome_[static_cast<std::size_t>(o)]; }
  std::uint64_t rows_total() const noexcept;
  std::uint64_t requests() const noexcept { return requests_; }
  std::uint64_t http_429() const noexcept { return http_429_; }
  std::uint64_t retries(retry_cause c) const noexcept {
    return retries_[static_cast<std::size_t>(c)];
  }
  std::uint64_t retries_total() const noexcept;
  double elapsed_seconds() const noexcept { return elapsed_s_; }
  /// Rows this run brought to a final answer (applied + unchanged + failed, carried rows left
  /// out) per second of elapsed time.
  double rows_per_second() const noexcept;
  /// Latency (ms) of the last request of the rows that sent one; nearest-rank percentile,
  /// q in [0, 1]; 0 when no row sent a request.
  double latency_ms(double q) const;
  /// Rows that sent at least one request (the latency samples).
  std::size_t latency_samples() const noexcept { return latencies_.size(); }
  /// Sum of the latency samples (ms).
  double latency_sum_ms() const noexcept { return latency_sum_ms_; }
  /// The shortest time the budget allows for one request per sent row: per organization
  /// (n - burst) / rate, and over all rows n / ip_rate - 1 (one second of IP burst), the max.
  double ideal_seconds() const noexcept;
  /// ideal_seconds / elapsed_seconds, in [0, 1] unless the budget model is wrong; 0 when unknown.
  double budget_efficiency() const noexcept;
  const run_budget& budget() const noexcept { return budget_; }

  /// A few lines for stderr.
  std::string human() const;
  /// The JSON document of `--summary`.
  std::string json() const;
  /// Writes json() to `path` atomically. Throws std::runtime_error naming the file.
  void write_json(const std::filesystem::path& path) const;

private:
  run_budget budget_;
  run_identity identity_;
  bool has_identity_ = false;
  std::array<std::uint64_t, 5> by_outcome_{};
  std::array<std::uint64_t, retry_cause_count> retries_{};
  std::uint64_t requests_ = 0;
  std::uint64_t http_429_ = 0;
  double elapsed_s_ = 0;
  std::uint64_t carried_ = 0;
  std::uint64_t carried_final_ = 0;  ///< carried rows that are applied, unchanged or failed
  mutable std::vector<double> latencies_;
  mutable bool sorted_ = true;
  double latency_sum_ms_ = 0;
  std::unordered_map<std::string, std::uint64_t> sent_by_org_;
};

}  // namespace relicense::io
