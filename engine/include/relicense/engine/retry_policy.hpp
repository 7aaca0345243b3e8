// What to do after one request of a row: the pure retry decision (Envoy router retry state,
// boost.mysql sans-io style). The policy is immutable for a run; the per-row state (attempt count)
// is passed in; randomness comes in as a number. Tested case by case without any network.
#pragma once

#include "relicense/engine/backoff.hpp"
#include "relicense/io/http_client.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relicense::engine {

/// Limits of a run's retries; immutable once the run starts.
struct retry_policy {
  unsigned max_attempts = 6;  ///< requests per row for retryable failures (redirect hops excluded)
  backoff_config backoff;     ///< for 5xx, timeouts, resets and 429 without Retry-After
  /// Longest Retry-After honoured: a broken or hostile value must not park the run for hours.
  std::chrono::nanoseconds retry_after_cap = std::chrono::seconds(60);
  unsigned max_redirects = 5;  ///< hops per request
};

/// Kind of decision.
enum class action : std::uint8_t {
  succeeded,        ///< 2xx with a JSON (or unlabelled) body: the caller checks what it says
  fail_row,         ///< the row fails now; `message` says why (the API's error text when any)
  retry,            ///< send the row again after `delay`
  abort_run,        ///< the whole run stops (bad key, TLS failure, host unreachable)
  condemn_org,      ///< the organization cannot take these calls; fail all its rows unsent
  follow_redirect   ///< 3xx with a Location: the caller checks it against the redirect policy
};

/// Why a retry happens (counted separately in the summary).
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

const char* to_string(retry_cause c) noexcept;
const char* to_string(action a) noexcept;

/// What one request produced, as far as the decision needs it.
struct attempt_result {
  io::transport_error error = io::transport_error::none;
  std::string_view error_detail;            ///< transport error detail
  unsigned status = 0;                      ///< HTTP status when error == none
  std::optional<std::string_view> retry_after;  ///< Retry-After header, verbatim
  std::string_view api_error;               ///< `errors` of the body, joined ("" if none)
  std::string_view location;                ///< Location header
  std::string_view content_type;            ///< Content-Type header ("" when absent)
};

/// The decision.
struct decision {
  action what = action::fail_row;
  std::chrono::nanoseconds delay{0};  ///< retry: wait before sending again
  retry_cause cause = retry_cause::server_error;  ///< retry: why
  bool honour_retry_after = false;    ///< retry: delay comes from Retry-After (pause the org)
  std::string message;                ///< fail_row/abort_run/condemn_org: for the report
};

/// Parses Retry-After: delta-seconds (RFC 9110) or an HTTP-date (relative to `wall_now`);
/// nullopt for anything else, so the caller falls back to exponential backoff. Negative or past
/// values give zero.
std::optional<std::chrono::nanoseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point wall_now);

/// Decides after the `attempt`-th request (1-based, redirect hops not counted) of a row.
/// `jitter` is a uniform draw in [0, 1) for full-jitter backoff.
decision decide(const retry_policy& policy, const attempt_result& r, unsigned attempt,
                double jitter, std::chrono::system_clock::time_point wall_now);

/// The body text of a co-term organization's 400.
inline constexpr std::string_view coterm_marker = "does not support per-device licensing";

} // namespace relicense::engine
