// A one-line progress display on stderr for interactive runs: rows done/total, rate, 429s, failed
// rows, ETA. The rate counts only rows this run sent (not those a resumed run takes from its
// journal); until the run has been sending for the rate window, the ETA comes from the budget
// estimate, since the first seconds' burst makes any measured rate several times too fast.
// Redrawn at most every `min_interval` (clock injected, so the rate limit is testable); log()
// clears the line, prints the message and redraws, so log lines never tear it. Thread-safe: a
// logger on another thread may call log() while the runner calls update().
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace relicense::io {

/// Whether to show progress: `mode` is --progress (auto|on|off); --quiet wins; auto needs a
/// terminal on `fd` (isatty).
bool progress_enabled(std::string_view mode, bool quiet, int fd = 2);

/// "3m05s", "42s", "1h02m" (whole seconds; "--" when unknown/negative).
std::string format_eta(double seconds);

class progress {
public:
  using clock_fn = std::function<std::chrono::steady_clock::time_point()>;
  using write_fn = std::function<void(std::string_view)>;

  /// `enabled` false: update() draws nothing and log() just writes the line. `out` defaults to
  /// stderr (unbuffered writes), `now` to steady_clock.
  progress(bool enabled, std::uint64_t total, clock_fn now = nullptr, write_fn out = nullptr,
           std::chrono::milliseconds min_interval = std::chrono::milliseconds(250));
  ~progress();  ///< finish()
  progress(const progress&) = delete;
  progress& operator=(const progress&) = delete;

  bool enabled() const noexcept { return enabled_; }
  /// New counts; redraws if the last draw is at least min_interval old (or this is the last row).
  /// `failed`: rows among `done` that failed; `carried`: rows among `done` a resumed run took
  /// from its journal without sending them (left out of the rate).
  void update(std::uint64_t done, std::uint64_t http_429, std::uint64_t failed = 0,
              std::uint64_t carried = 0);
  /// The budget's estimate of how long sending `rows` rows takes (plan/estimate.hpp), the ETA
  /// until a rate is measured. `seconds` <= 0 (an unlimited budget) leaves the measured rate.
  void set_estimate(double seconds, std::uint64_t rows);
  /// Prints `line` (a line break is added) without tearing the progress line.
  void log(std::string_view line);
  /// Draws the final state and ends the line. Idempotent.
  void finish();

  /// The text of the progress line for the current counts (no control characters).
  std::string render() const;
  std::uint64_t draws() const noexcept { return draws_; }

private:
  void draw_locked();
  std::string render_locked() const;
  double rate_locked() const;

  mutable std::mutex mutex_;
  bool enabled_;
  std::uint64_t total_;
  clock_fn now_;
  write_fn out_;
  std::chrono::milliseconds min_interval_;
  std::uint64_t done_ = 0;
  std::uint64_t http_429_ = 0;
  std::uint64_t failed_ = 0;
  std::uint64_t carried_ = 0;
  double estimate_s_ = 0;  ///< 0: no budget estimate
  std::uint64_t estimate_rows_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
  bool drawn_ = false;  ///< a progress line is on screen
  bool ever_drawn_ = false;
  bool finished_ = false;
  std::uint64_t draws_ = 0;
  /// (time, rows sent and done) samples of the last ~10 s: the rate (and ETA) follows the current
  /// pace, not the average since a start that may have included a long 429 pause.
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> window_;
};

}  // namespace relicense::io
