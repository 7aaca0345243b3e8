#include "relicense/engine/backoff.hpp"

#include <algorithm>

namespace relicense::engine {

std::chrono::nanoseconds backoff_ceiling(const backoff_config& c, unsigned retry) noexcept {
  if (retry == 0) return std::chrono::nanoseconds(0);
  auto ceiling = c.base;
  // Doubling stops at max, so no overflow however large `retry` is.
  for (unsigned i = 1; i < retry && ceiling < c.max; ++i) ceiling *= 2;
  return std::min(ceiling, c.max);
}

std::chrono::nanoseconds full_jitter(const backoff_config& c, unsigned retry, double u) noexcept {
  u = std::clamp(u, 0.0, 1.0);
  const auto ceiling = backoff_ceiling(c, retry);
  return std::chrono::nanoseconds(
      static_cast<std::chrono::nanoseconds::rep>(static_cast<double>(ceiling.count()) * u));
}

}  // namespace relicense::engine
