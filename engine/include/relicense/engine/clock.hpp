// The time a run reads. The run loop and everything it drives take time from a clock_source, so
// the decision code (scheduler, modes, operations) runs on a fake clock in tests. The loop sleeps
// on Asio timers, which count steady_clock time: an injected clock must keep that time base.
#pragma once

#include <chrono>

namespace relicense::engine {

using steady_time = std::chrono::steady_clock::time_point;
using wall_time = std::chrono::system_clock::time_point;
using nanos = std::chrono::nanoseconds;

class clock_source {
public:
  virtual ~clock_source() = default;
  /// Monotonic time: budgets, retry times, poll times.
  virtual steady_time now() const = 0;
  /// Calendar time: only for Retry-After HTTP-dates.
  virtual wall_time wall_now() const = 0;
};

/// steady_clock and system_clock.
const clock_source& real_clock() noexcept;

}  // namespace relicense::engine
