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

} // namespace

token_bucket::token_bucket(double rate, double burst, steady_time now, aimd_config aimd)
    : rate_(rate),
      capacity_(std::max(1.0, burst)),
      effective_(rate),
      tokens_(std::max(1.0, burst)),
      last_(now),
      aimd_(aimd) {}

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

steady_time token_bucket::available_at(steady_time now) const noexcept {
  if (unlimited()) return now;
  const steady_time start = std::max(now, paused_until_);
  const double t = tokens(start);
  if (t >= 1.0 - epsilon) return start;
  return start + seconds_to_nanos_ceil((1.0 - t) / effective_);
}

bool token_bucket::try_take(steady_time now) noexcept {
  if (unlimited()) return true;
  if (now < paused_until_) return false;
  refill(now);
  if (tokens_ < 1.0 - epsilon) return false;
  tokens_ = std::max(0.0, tokens_ - 1.0);
  return true;
}

void token_bucket::pause_until(steady_time now, steady_time until) noexcept {
  if (unlimited()) return;
  refill(now);
  if (until <= paused_until_ || until <= now) return;
  paused_until_ = until;
  // One token at reopening, then the rate: the first worker probes, the others follow one by one.
  tokens_ = std::min(tokens_, 1.0);
  last_ = until;
}

void token_bucket::on_throttled(steady_time now) noexcept {
  if (unlimited()) return;
  if (decreased_ && now - last_decrease_ < aimd_.decrease_holdoff) return;
  refill(now);
  effective_ = std::max(rate_ * aimd_.min_fraction, effective_ * aimd_.decrease_factor);
  last_decrease_ = now;
  decreased_ = true;
}

void token_bucket::on_success(steady_time now) noexcept {
  if (unlimited() || effective_ >= rate_) return;
  refill(now);  // tokens so far accrued at the old rate
  effective_ = std::min(rate_, effective_ + rate_ * aimd_.increase_per_success);
}

} // namespace relicense::engine
