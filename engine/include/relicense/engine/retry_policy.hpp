// What to do after one request of a row: the pure retry decision (Envoy router retry state,
// boost.mysql sans-io style). The policy is immutable for a run; the per-row state (attempt count)
// is passed in; randomness comes in as a number. Tested case by case without any network.
#pragma once

#include "relicense/engine/backoff.hpp"
#include "relicense/io/http_client.hpp"
#include "relicense/io/retry_cause.hpp"

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
  succeeded,       ///< 2xx with a JSON (or unlabelled) body: the caller checks what it says
  fail_row,        ///< the row fails now; `message` says why (the API's error text when any)
  retry,           ///< send the row again after `delay`
  abort_run,       ///< the whole run stops (bad key, TLS failure, host unreachable)
  condemn_org,     ///< the organization cannot take these calls; fail all its rows unsent
  follow_redirect  ///< 3xx with a Location: the caller checks it against the redirect policy
};

/// Why a retry happens: the summary and the log count and name the same causes.
using io::retry_cause;

const char* to_string(action a) noexcept;

/// What one request produced, as far as the decision needs it.
struct attempt_result {
  io::transport_error error = io::transport_error::none;
  std::string_view error_detail;                ///< transport error detail
  unsigned status = 0;                          ///< HTTP status when error == none
  std::optional<std::string_view> retry_after;  ///< Retry-After header, verbatim
  std::string_view api_error;                   ///< `errors` of the body, joined ("" if none)
  std::string_view location;                    ///< Location header
  std::string_view content_type;                ///< Content-Type header ("" when absent)
};

/// The decision.
struct decision {
  action what = action::fail_row;
  std::chrono::nanoseconds delay{0};              ///< retry: wait before sending again
  retry_cause cause = retry_cause::server_error;  ///< retry: why
  bool honour_retry_after = false;  ///< retry: delay comes from Retry-After (pause the org)
  std::string message;              ///< fail_row/abort_run/condemn_org: for the report
};

/// Parses Retry-After (RFC 9110 10.2.3): delta-seconds, or an HTTP-date in any of its three forms
/// (IMF-fixdate, and the obsolete RFC 850 and asctime forms) taken relative to `wall_now`. Pure:
/// the wall clock comes in. Never negative: a value too large to represent (2^63 s, a date after
/// 2262 or up to 9999) saturates to nanoseconds::max(), which the caller caps; a date at or before
/// `wall_now` is zero ("retry now", like "0"). Surrounding blanks and a decimal fraction ("1.5")
/// are tolerated. Anything else (empty, negative, "+5", "5s", an unknown date form, a day that
/// does not exist) is nullopt, so the caller falls back to exponential backoff.
std::optional<std::chrono::nanoseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point wall_now);

/// Decides after the `attempt`-th request (1-based, redirect hops not counted) of a row.
/// `jitter` is a uniform draw in [0, 1) for full-jitter backoff.
decision decide(const retry_policy& policy, const attempt_result& r, unsigned attempt,
                double jitter, std::chrono::system_clock::time_point wall_now);

/// The body text of a co-term organization's 400.
inline constexpr std::string_view coterm_marker = "does not support per-device licensing";

}  // namespace relicense::engine
