// Token bucket of one budget (an organization's, or the source IP's), with Retry-After pauses and
// AIMD. Pure: time comes in as arguments (steady_clock time points), no I/O, no Asio; the runner's
// coroutines ask it when the next token is due and sleep on a timer until then.
#pragma once

#include "relicense/engine/clock.hpp"

#include <chrono>
#include <cstdint>

namespace relicense::engine {

/// How throttling (429) feedback moves the rate a bucket actually uses. Other applications
/// (dashboards, monitoring, SIEM polls) spend the same organization budget; a 429 is the only
/// sign of how much they take. The policy keeps the rate in use just above the share they leave:
/// the Retry-After pause that follows each 429 then gives the other applications back what the
/// excess took, and a 429 stays rare (one event every 5-10 s at a steady share).
struct aimd_config {
  /// Multiplicative decrease on a 429. Gentle, because the pause already refills the server's
  /// bucket for the others; halving (as TCP does) would leave much of the share unused.
  double decrease_factor = 0.9;
  /// When the 429 ends an epoch (the time since the previous decrease) of at least `min_epoch`,
  /// the server's bucket was empty at both ends, so the successes per second over it measure
  /// the share left to us. The rate then drops to at most that share times (1 + share_margin):
  /// one step from a rate far above the share instead of many 10 % steps and their 429s. The
  /// measure runs low when the run was below the share for part of the epoch (the server's
  /// bucket overflowed meanwhile); 15 % keeps that from dragging the rate down event after event.
  double share_margin = 0.15;
  std::chrono::milliseconds min_epoch{3000};
  /// One 429 never cuts the rate to less than this fraction of the rate in use (a short unlucky
  /// epoch of random foreign calls must not collapse it).
  double max_cut = 0.5;
  /// Floor as a fraction of the configured rate, so a run always makes progress.
  double min_fraction = 0.1;
  /// Additive increase while answers succeed, as a fraction of the configured rate per second
  /// (0.5 %: 0.05/s per second at 10/s), growing by `increase_accel` (4 %) for every second
  /// beyond `quiet` without a 429, so a share freed by the others is taken back within ~7 s
  /// (half the rate to all of it; like CUBIC's probing) while just after a 429 the rate creeps.
  /// Slower (2 %, ~10 s) leaves a freed share unused for longer; faster probes a steady share
  /// more often, and each probe costs the others a few 429s.
  double increase_per_second = 0.005;
  double increase_accel = 0.04;
  std::chrono::milliseconds quiet{2000};
  /// Each take after the first waits for up to this fraction of a token beyond the one it takes
  /// (drawn anew after every take from a fixed-seed sequence). A bucket refilling in step with
  /// the server's takes every token the moment it appears there, so another application's calls
  /// find it empty and get the 429s while ours never do: the run would starve the others and
  /// learn nothing. The dither opens random windows for them; it costs no rate, as the refill
  /// goes on meanwhile. Up to a whole token (rather than half) spreads the run's takes enough
  /// that, near an empty shared bucket, the others' calls win about their share of the refill:
  /// with another application at 3 of 10/s their 429s fall from about 9 % to 5.5 % of their
  /// calls, for about 2 % of the run's time. 0 turns it off.
  double dither = 1.0;
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
  /// A pause asked for while one is running is ignored: nothing is sent during a pause, so that
  /// answer belongs to a request sent before it, which describes the same empty bucket.
  void pause_until(steady_time now, steady_time until) noexcept;
  steady_time paused_until() const noexcept { return paused_until_; }

  /// A 429 was answered: lower the effective rate (at most once per holdoff window, and not for
  /// an answer arriving during a pause it did not start).
  void on_throttled(steady_time now) noexcept;
  /// A request went through: raise the effective rate with the time since the last update,
  /// never above the configured rate; counts toward the share measured at the next 429.
  void on_success(steady_time now) noexcept;
  /// Decreases so far (429 events, not 429 answers).
  unsigned decreases() const noexcept { return decreases_; }

private:
  void refill(steady_time now) noexcept;
  /// Tokens needed for the next take: one, plus the dither, within the capacity.
  double needed() const noexcept;

  double rate_;
  double capacity_;
  double effective_;
  double tokens_;
  steady_time last_;  ///< time tokens_ was computed for
  steady_time paused_until_{};
  steady_time last_decrease_{};
  steady_time pause_started_{};
  steady_time last_increase_{};  ///< time the additive increase was last applied
  double epoch_successes_ = 0;   ///< successes since the last decrease
  unsigned decreases_ = 0;
  double jitter_ = 0;  ///< extra tokens the next take waits for, in [0, dither)
  std::uint64_t rng_ = 0x9e3779b97f4a7c15ULL;
  bool decreased_ = false;
  aimd_config aimd_;
};

}  // namespace relicense::engine
