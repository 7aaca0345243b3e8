// A manually advanced clock for time logic (token buckets, backoff): tests never sleep.
#pragma once

#include <chrono>

namespace relicense::test {

/// A steady-clock-shaped clock whose time only moves when a test calls advance().
class fake_clock {
public:
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::steady_clock::time_point;

  time_point now() const noexcept { return now_; }
  void advance(duration d) noexcept { now_ += d; }
  void set(time_point t) noexcept { now_ = t; }

private:
  time_point now_{std::chrono::hours(1000)};  // far from zero so "before start" is representable
};

}  // namespace relicense::test
