// Token bucket of one budget (an organization's, or the source IP's), with Retry-After pauses and
// AIMD. Pure: time comes in as arguments (steady_clock time points), no I/O, no Asio; the runner's
// coroutines ask it when the next token is due and sleep on a timer until then.
#pragma once

#include "relicense/engine/clock.hpp"

#include <chrono>

namespace relicense::engine {

/// How throttling (429) feedback moves the rate a bucket actually uses.
struct aimd_config {
  /// Multiplicative decrease on a 429: other applications share the org's budget, so what we may
  /// use is less than configured; halving finds the share quickly, like TCP.
  double decrease_factor = 0.5;
  /// Floor as a fraction of the configured rate, so a run always makes progress.
  double min_fraction = 0.1;
  /// Additive increase per success, as a fraction of the configured rate (50 successes climb
  /// back from half to full rate).
  double increase_per_success = 0.01;
  /// At most one decrease per window: the 429s of requests already in flight describe the same
  /// overload and must not divide the rate again.
  std::chrono::milliseconds decrease_holdoff{1000};
};

/// Classic token bucket: capacity `burst` tokens, refilled at `rate` per second, starting full.
/// Rate 0 (or less) means unlimited: every take succeeds at once.
class token_bucket {
public:
  token_bucket(double rate, double burst, steady_time now, aimd_config aimd = {});

  bool unlimited() const noexcept { return rate_ <= 0; }
  double configured_rate() const noexcept { return rate_; }
  /// The rate in use after AIMD; always in [min_fraction × rate, rate].
  double effective_rate() const noexcept { return effective_; }
  double capacity() const noexcept { return capacity_; }
  /// Tokens that would be available at `now` (for tests and progress).
  double tokens(steady_time now) const noexcept;

  /// Earliest time at or after `now` when one token can be taken.
  steady_time available_at(steady_time now) const noexcept;
  /// Time to wait from `now` until one token can be taken; zero when one is available.
  nanos wait_until_available(steady_time now) const noexcept { return available_at(now) - now; }
  /// Takes one token if one is available at `now`.
  bool try_take(steady_time now) noexcept;

  /// Retry-After: no token before `until`, for every user of the bucket. The bucket then restarts
  /// with a single token, refilling from there, so the workers that waited do not stampede.
  void pause_until(steady_time now, steady_time until) noexcept;
  steady_time paused_until() const noexcept { return paused_until_; }

  /// A 429 was answered: lower the effective rate (at most once per holdoff window).
  void on_throttled(steady_time now) noexcept;
  /// A request went through: restore the effective rate additively, never above the configured.
  void on_success(steady_time now) noexcept;

private:
  void refill(steady_time now) noexcept;

  double rate_;
  double capacity_;
  double effective_;
  double tokens_;
  steady_time last_;               ///< time tokens_ was computed for
  steady_time paused_until_{};
  steady_time last_decrease_{};
  bool decreased_ = false;
  aimd_config aimd_;
};

} // namespace relicense::engine
