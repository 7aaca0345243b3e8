#include "relicense/engine/batch_speed.hpp"

#include <algorithm>
#include <cmath>

namespace relicense::engine {

namespace {

double seconds(nanos d) { return std::chrono::duration<double>(d).count(); }

nanos to_nanos(double s) {
  return std::chrono::duration_cast<nanos>(std::chrono::duration<double>(s));
}

}  // namespace

void batch_speed::running(nanos elapsed, std::size_t actions) noexcept {
  if (actions == 0 || elapsed.count() <= 0) return;
  const double per = seconds(elapsed) / static_cast<double>(actions);
  lo_ = std::max(lo_, per);
  // Slower than a batch seen done before: the org's batches slowed down, the old bound is void.
  if (lo_ >= hi_) hi_ = unknown;
}

void batch_speed::done(nanos elapsed, std::size_t actions) noexcept {
  if (actions == 0 || elapsed.count() <= 0) return;
  const double per = seconds(elapsed) / static_cast<double>(actions);
  hi_ = std::min(hi_, per);
  if (hi_ <= lo_) lo_ = 0;
}

double batch_speed::guess() const noexcept {
  if (bounded()) return std::sqrt(std::max(lo_, config_.floor_s) * hi_);
  return std::max(2 * lo_, config_.floor_s);
}

double batch_speed::sizing() const noexcept {
  if (!bounded()) return 0;
  return lo_ > 0 ? std::sqrt(lo_ * hi_) : hi_;
}

nanos batch_speed::first_poll(std::size_t actions) const noexcept {
  if (blank()) return config_.probe_poll;
  const double n = static_cast<double>(std::max<std::size_t>(actions, 1));
  return std::clamp(to_nanos(n * guess()), config_.min_gap, config_.max_gap);
}

nanos batch_speed::next_poll(std::size_t actions, nanos elapsed) const noexcept {
  const double n = static_cast<double>(std::max<std::size_t>(actions, 1));
  const double e = seconds(elapsed);
  double next = e * (actions <= config_.probe_actions ? config_.probe_growth : config_.growth);
  // The batch ends by n × upper. Poll when it is expected to end (at the sizing speed, between
  // the bounds), which a tight range makes the poll that sees it done; once past that, at the
  // middle of (e, n × upper] on a log scale.
  if (bounded() && n * hi_ > e) {
    const double expected = n * sizing();
    next =
        std::min(next, expected > e + seconds(config_.min_gap) ? expected : std::sqrt(e * n * hi_));
  }
  return std::clamp(to_nanos(next - e), config_.min_gap, config_.max_gap);
}

}  // namespace relicense::engine
