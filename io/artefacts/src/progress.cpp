// Progress line: "\r" + erase-line redraws, rate-limited, over a 10 s sliding window.
#include "relicense/io/progress.hpp"

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <cstdio>

namespace relicense::io {

namespace {

constexpr std::string_view clear_line = "\r\x1b[K";
constexpr std::chrono::seconds rate_window{10};

void write_stderr(std::string_view s) {
  // write(2), not stdio: the line must appear now, whatever stderr's buffering is.
  while (!s.empty()) {
    ssize_t n = ::write(2, s.data(), s.size());
    if (n <= 0) return;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

bool progress_enabled(std::string_view mode, bool quiet, int fd) {
  if (quiet || mode == "off") return false;
  if (mode == "on") return true;
  return ::isatty(fd) == 1;
}

std::string format_eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--";
  auto s = static_cast<std::uint64_t>(std::llround(seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lluh%02llum", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60));
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%llum%02llus", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  else std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(s));
  return buf;
}

progress::progress(bool enabled, std::uint64_t total, clock_fn now, write_fn out,
                   std::chrono::milliseconds min_interval)
    : enabled_(enabled), total_(total), now_(std::move(now)), out_(std::move(out)),
      min_interval_(min_interval) {
  if (!now_) now_ = [] { return std::chrono::steady_clock::now(); };
  if (!out_) out_ = write_stderr;
  start_ = now_();
  window_.emplace_back(start_, 0);
}

progress::~progress() {
  try {
    finish();
  } catch (...) {
    // Output errors at exit are not worth a terminate.
  }
}

double progress::rate_locked() const {
  if (window_.size() < 2) return 0;
  const auto& [t0, d0] = window_.front();
  const auto& [t1, d1] = window_.back();
  double dt = std::chrono::duration<double>(t1 - t0).count();
  return dt > 0 ? static_cast<double>(d1 - d0) / dt : 0;
}

std::string progress::render() const {
  std::lock_guard lock(mutex_);
  return render_locked();
}

void progress::set_estimate(double seconds, std::uint64_t rows) {
  std::lock_guard lock(mutex_);
  estimate_s_ = seconds > 0 && rows > 0 ? seconds : 0;
  estimate_rows_ = rows;
}

std::string progress::render_locked() const {
  const double rate = rate_locked();
  char buf[192];
  const double pct =
      total_ ? 100.0 * static_cast<double>(done_) / static_cast<double>(total_) : 100.0;
  const std::uint64_t sent = done_ > carried_ ? done_ - carried_ : 0;
  double eta = -1;
  if (estimate_s_ > 0) {
    const double left = static_cast<double>(estimate_rows_ > sent ? estimate_rows_ - sent : 0);
    const double elapsed = std::chrono::duration<double>(now_() - start_).count();
    if (elapsed < std::chrono::duration<double>(rate_window).count() || rate <= 0) {
      // The budget's time still to go: what is left of the estimate, or the estimate's share of
      // the rows left when the run is slower than the budget (other applications' calls).
      eta =
          std::max(estimate_s_ - elapsed, estimate_s_ * left / static_cast<double>(estimate_rows_));
    } else {
      eta = left / rate;
    }
  } else if (rate > 0) {
    eta = static_cast<double>(total_ > done_ ? total_ - done_ : 0) / rate;
  }
  std::snprintf(
      buf, sizeof buf, "%llu/%llu rows (%.1f%%)  %.1f rows/s  429s: %llu  failed: %llu  ETA %s",
      static_cast<unsigned long long>(done_), static_cast<unsigned long long>(total_), pct, rate,
      static_cast<unsigned long long>(http_429_), static_cast<unsigned long long>(failed_),
      format_eta(done_ >= total_ ? 0 : eta).c_str());
  return buf;
}

void progress::draw_locked() {
  out_(std::string(clear_line) + render_locked());
  drawn_ = ever_drawn_ = true;
  ++draws_;
  last_draw_ = now_();
}

void progress::update(std::uint64_t done, std::uint64_t http_429, std::uint64_t failed,
                      std::uint64_t carried) {
  std::lock_guard lock(mutex_);
  done_ = done;
  http_429_ = http_429;
  failed_ = failed;
  carried_ = carried;
  if (!enabled_ || finished_) return;
  const auto now = now_();
  window_.emplace_back(now, done > carried ? done - carried : 0);
  while (window_.size() > 2 && now - window_[1].first >= rate_window) window_.pop_front();
  if (ever_drawn_ && now - last_draw_ < min_interval_ && done < total_) return;
  draw_locked();
}

void progress::log(std::string_view line) {
  std::lock_guard lock(mutex_);
  std::string s;
  if (enabled_ && drawn_) s += clear_line;
  s += line;
  s += '\n';
  out_(s);
  drawn_ = false;
  if (enabled_ && ever_drawn_ && !finished_) draw_locked();
}

void progress::finish() {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  if (enabled_ && ever_drawn_) {
    draw_locked();
    out_("\n");
  }
  finished_ = true;
  drawn_ = false;
}

}  // namespace relicense::io
