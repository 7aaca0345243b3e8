// Full-jitter exponential backoff (AWS architecture blog "Exponential Backoff And Jitter"; gRPC
// src/core/lib/backoff): the delay before retry n is uniform in [0, min(max, base × 2^(n-1))].
// Full jitter spreads the retries of many workers that failed together, so they do not return in
// lockstep. The random source is injected so tests are deterministic.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace relicense::engine {

/// Backoff bounds.
struct backoff_config {
  std::chrono::nanoseconds base = std::chrono::milliseconds(500);  ///< ceiling of the first retry
  std::chrono::nanoseconds max = std::chrono::seconds(30);         ///< ceiling of every retry
};

/// Ceiling of the delay before retry `retry` (1 = first retry): min(max, base × 2^(retry-1)).
std::chrono::nanoseconds backoff_ceiling(const backoff_config& c, unsigned retry) noexcept;

/// Full jitter: `u` in [0, 1) scales the ceiling.
std::chrono::nanoseconds full_jitter(const backoff_config& c, unsigned retry, double u) noexcept;

/// A seeded source of uniform [0, 1) draws for full_jitter (one per run; single-threaded use).
class jitter_source {
public:
  explicit jitter_source(std::uint64_t seed) : rng_(seed) {}
  double next() { return dist_(rng_); }

private:
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> dist_{0.0, 1.0};
};

}  // namespace relicense::engine
