#include "relicense/engine/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace relicense::engine {
namespace {

// Token counts are doubles; a take needs one token within this tolerance so that waiting exactly
// the computed time never falls a rounding error short.
constexpr double epsilon = 1e-9;

double seconds_between(steady_time from, steady_time to) noexcept {
  return std::chrono::duration<double>(to - from).count();
}

nanos seconds_to_nanos_ceil(double s) noexcept {
  return nanos(static_cast<nanos::rep>(std::ceil(s * 1e9)));
}

}  // namespace

token_bucket::token_bucket(double rate, double burst, steady_time now, aimd_config aimd)
    : rate_(rate), capacity_(std::max(1.0, burst)), effective_(rate), tokens_(std::max(1.0, burst)),
      last_(now), aimd_(aimd) {}

double token_bucket::tokens(steady_time now) const noexcept {
  if (unlimited()) return capacity_;
  // No refill while paused: the server's bucket is refilling for others, not for us.
  const steady_time from = std::max(last_, paused_until_);
  if (now <= from) return tokens_;
  return std::min(capacity_, tokens_ + seconds_between(from, now) * effective_);
}

void token_bucket::refill(steady_time now) noexcept {
  if (unlimited() || now <= last_) return;
  tokens_ = tokens(now);
  last_ = std::max(now, last_);
}

double token_bucket::needed() const noexcept { return std::min(capacity_, 1.0 + jitter_); }

steady_time token_bucket::available_at(steady_time now) const noexcept {
  if (unlimited()) return now;
  const steady_time start = std::max(now, paused_until_);
  const double t = tokens(start);
  const double need = needed();
  if (t >= need - epsilon) return start;
  return start + seconds_to_nanos_ceil((need - t) / effective_);
}

bool token_bucket::try_take(steady_time now) noexcept {
  if (unlimited()) return true;
  if (now < paused_until_) return false;
  refill(now);
  if (tokens_ < needed() - epsilon) return false;
  tokens_ = std::max(0.0, tokens_ - 1.0);
  if (aimd_.dither > 0) {
    // splitmix64: a fixed sequence keeps the bucket deterministic for tests.
    std::uint64_t z = (rng_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    jitter_ = static_cast<double>(z >> 11) * 0x1.0p-53 * aimd_.dither;
  }
  return true;
}

void token_bucket::pause_until(steady_time now, steady_time until) noexcept {
  if (unlimited()) return;
  if (now < paused_until_) return;
  refill(now);
  if (until <= now) return;
  paused_until_ = until;
  pause_started_ = now;
  // One token at reopening, then the rate: the first worker probes, the others follow one by one.
  tokens_ = std::min(tokens_, 1.0);
  last_ = until;
}

void token_bucket::on_throttled(steady_time now) noexcept {
  if (unlimited()) return;
  if (decreased_ && now - last_decrease_ < aimd_.decrease_holdoff) return;
  if (now < paused_until_ && now != pause_started_) return;
  refill(now);
  double next = effective_ * aimd_.decrease_factor;
  const double epoch = seconds_between(last_decrease_, now);
  if (decreased_ && epoch >= std::chrono::duration<double>(aimd_.min_epoch).count()) {
    // Empty at the last decrease and empty now: what got through in between is our share.
    const double share = epoch_successes_ / epoch;
    next = std::min(next, std::max(share * (1.0 + aimd_.share_margin), effective_ * aimd_.max_cut));
  }
  effective_ = std::max(rate_ * aimd_.min_fraction, next);
  last_decrease_ = now;
  last_increase_ = now;
  epoch_successes_ = 0;
  decreased_ = true;
  ++decreases_;
}

void token_bucket::on_success(steady_time now) noexcept {
  if (unlimited()) return;
  epoch_successes_ += 1;
  if (effective_ >= rate_ || now <= last_increase_) return;
  refill(now);  // tokens so far accrued at the old rate
  // The increase runs on time, not on the count of successes: a lower share must not also mean
  // a slower recovery once the others stop.
  const double dt = seconds_between(last_increase_, std::max(last_increase_, now));
  const double beyond_quiet = std::max(0.0, seconds_between(last_decrease_, now) -
                                                std::chrono::duration<double>(aimd_.quiet).count());
  const double per_s = aimd_.increase_per_second + aimd_.increase_accel * beyond_quiet;
  effective_ = std::min(rate_, effective_ + rate_ * per_s * dt);
  last_increase_ = now;
}

}  // namespace relicense::engine
