// Why a request was sent again: decided by the engine's retry policy, counted by the run summary
// and the metrics, and named in the operational log, all with the one spelling of to_string.
#pragma once

#include <cstddef>
#include <cstdint>

namespace relicense::io {

enum class retry_cause : std::uint8_t {
  server_error,  ///< 5xx or 408
  throttled,     ///< 429 with Retry-After (the org's bucket is paused)
  throttled_ip,  ///< 429 without Retry-After (per-IP throttling in front of the API)
  timeout,       ///< no response within --timeout
  reset,         ///< connection closed or reset before a response
  truncated,     ///< response cut off
  connect,       ///< TCP connect failed
  count          ///< number of causes (array size)
};
inline constexpr std::size_t retry_cause_count = static_cast<std::size_t>(retry_cause::count);

/// "server_error", "throttled", ... (log lines, summary.json keys, metric labels).
const char* to_string(retry_cause c) noexcept;

}  // namespace relicense::io
