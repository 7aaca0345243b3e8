// The operation seam: what every API call of a run has in common. An operation (ops/*.hpp) says,
// for a row or an organization, its request (method, path, body) and how to judge the answer;
// the run loop sends the request inside the budget, follows allowed redirects, and hands the
// answer back; the mode feeds it to the operation's judge and acts on the verdict. Adding an
// operation is one file in ops/ and its tests. See docs/coroutines.md for the run loop.
#pragma once

#include "relicense/engine/clock.hpp"
#include "relicense/engine/redirect.hpp"
#include "relicense/engine/retry_policy.hpp"
#include "relicense/io/http_client.hpp"
#include "relicense/io/json.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relicense::engine {

/// What a call is counted as in run_counters.
enum class call_kind : std::uint8_t { license_put, read, other };

/// One API call.
struct request {
  std::string_view method = "GET";  ///< a literal ("GET", "PUT", "POST")
  std::string path;                 ///< after the API prefix: "/organizations/1/licenses/L"
  std::string body;
  /// Set for a URL the API handed out (a Link rel=next): sent there as is, not under the prefix.
  std::optional<url_target> at;
  call_kind kind = call_kind::other;
};

/// What came back for a request, after the loop followed any allowed redirects.
struct answer {
  io::response resp;
  double latency_ms = 0;
  std::string refused;    ///< non-empty: a redirect was not followed (never contains the key)
  bool not_sent = false;  ///< the run stopped before the request (or its next hop) left
  unsigned hops = 0;      ///< redirects followed before this answer
  std::string host;       ///< the host the request went to, and so the one that answered
  io::origin where;       ///< the origin that answered (relative links resolve against it)
};

/// What a judged answer asks of the mode. Every operation's verdict carries one.
enum class next_step : std::uint8_t {
  done,         ///< the call's work is finished (successfully or not: see the operation's verdict)
  retry,        ///< send the same request again after `delay`
  condemn_org,  ///< the organization cannot take these calls: fail all its work unsent
  abort_run     ///< the run stops (bad key, TLS, unreachable host): the work is not attempted
};

/// The part of a verdict every operation shares.
struct verdict {
  next_step what = next_step::done;
  nanos delay{0};                                 ///< retry: wait before sending again
  retry_cause cause = retry_cause::server_error;  ///< retry: why (counted in the summary)
  bool pause_org = false;     ///< retry on a 429 with Retry-After: the org's budget waits `delay`
  bool went_through = false;  ///< a 2xx: the budget took the call (the rate may recover)
  std::string message;        ///< why (failed work, retry, condemn, abort); never contains the key
};

/// What an operation's judge needs besides the answer.
struct judge_context {
  const retry_policy& policy;
  unsigned attempt = 1;  ///< 1-based, counted by the retry policy (redirects excluded)
  double jitter = 0;     ///< uniform in [0, 1)
  wall_time wall_now{};  ///< for Retry-After dates
};

/// The API's error text of a non-2xx, non-3xx answer ({"errors":[...]}), or empty.
std::string api_error_of(io::response_parser& parser, const io::response& r);

/// The retry decision for `a` (HTTP-level: status, transport, Retry-After), with the API's error
/// text in `api_error`. An answer `a.refused` (a redirect not followed) fails the call.
decision decide_answer(const judge_context& ctx, const answer& a, std::string_view api_error);

/// Judges the HTTP level of `a` for an operation whose answer is a JSON body: true when the call
/// went through (2xx, `v.went_through` set) and the operation reads the body; false when `v`
/// now holds the verdict (retry, failure, condemn, abort).
bool went_through(verdict& v, const judge_context& ctx, const answer& a,
                  io::response_parser& parser);

/// The shared verdict for a decision that is not `succeeded` (retry, fail, condemn, abort).
/// A failure (`fail_row`) maps to done with the message; the operation reports it as failed.
verdict verdict_of(decision d);

/// Why a run aborts on `a`, an answer to a call of organization `org_id` that the retry policy
/// judged fatal (`message`), with what Meraki support needs to find the call. A 401/403 belongs
/// to the run, not to a row: the text says what to check, the key and its access to that org.
std::string abort_reason(std::string message, const answer& a, std::string_view org_id);

/// " (request id R, host H)", " (host H)" or "".
std::string trace_of(const answer& a);

}  // namespace relicense::engine
