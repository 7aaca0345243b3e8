// What both drivers (the put runner and the batch runner) share about calling the API: where it
// is, the key, TLS, the jitter source, the per-IP bucket, the bookkeeping of every request in the
// run's counters, how an answer becomes an attempt_result, and where redirects sent an org.
// Internal to the engine module; each driver keeps its own scheduling.
#pragma once

#include "relicense/engine/backoff.hpp"
#include "relicense/engine/redirect.hpp"
#include "relicense/engine/retry_policy.hpp"
#include "relicense/engine/runner.hpp"
#include "relicense/engine/token_bucket.hpp"
#include "relicense/io/http_client.hpp"
#include "relicense/io/json.hpp"
#include "relicense/plan/diff.hpp"

#include <boost/asio/awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace relicense::engine::detail {

using clock = std::chrono::steady_clock;

inline double ms_between(clock::time_point a, clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

/// Our bucket holds a little less than the server's. The server counts a request when it
/// arrives, we when we send it: a request that travels faster than the run's first one did
/// reaches a bucket that has refilled less than ours (a server's full bucket cannot bank refill),
/// and with buckets mirrored exactly that is a 429 costing a whole Retry-After second for every
/// worker. Connections are opened before tokens are taken, which removes the big difference
/// (set-up of the first connections); the rest is latency jitter, tolerated up to 50 ms:
/// max(1, ⌈rate × 50 ms⌉) tokens (1 of the real API's 10), i.e. 50-100 ms of one run.
double burst_with_headroom(double rate, double burst);

/// What becomes of a row before anything is sent: queue it (`send`), report the result an
/// earlier run's journal holds (`done`), or finish it unsent with `outcome` and `error`.
struct pre_send {
  bool send = true;
  const io::row_result* done = nullptr;
  io::outcome outcome = io::outcome::unchanged;
  const char* error = "";
};

/// Row `i` (`row`) of a run with `config` and `diff` (empty without --skip-unchanged).
pre_send triage(const run_config& config, const plan::plan_diff& diff, const plan::row& row, std::size_t i);

/// Why the license in a PUT's answer does not confirm `row` (another license, another serial, or
/// no deviceSerial field at all), or "" when it does. Only an answer about the very license and
/// serial asked for counts as applied.
std::string answer_mismatch(const plan::row& row, const io::license& got);

/// A request's answer, its latency, or why a redirect was not followed.
struct sent {
  io::response resp;
  double latency_ms = 0;
  std::string refused;  ///< non-empty: a redirect was refused (never contains the key)
  bool not_sent = false;  ///< the run stopped before the request left: no answer to judge
  std::string host;     ///< the host the request went to, and so the one that answered
};

/// Why a run aborts on `resp`, an answer to a call of organization `org_id` that the retry policy
/// judged fatal (`message`). A 401/403 belongs to the run, not to a row: the text says what to
/// check, the key and its access to that organization.
std::string abort_reason(std::string message, const io::response& resp, std::string_view org_id);

/// " (request id R, host H)", " (host H)" or "": what Meraki support needs to find the call
/// behind an abort.
std::string trace_of(const sent& s);

/// Why the result sink failed (`e` from its on_result/flush): the exception's text, which names
/// the file and the OS error, for the run's abort reason.
std::string sink_failure_text(std::exception_ptr e);

/// Where redirects sent an organization's calls.
struct shard_memory {
  std::optional<io::origin> where;
  std::string prefix;  ///< path prefix on the shard ("/api/v1")

  /// Remembers the shard a redirect pointed at, when the target keeps the API's path shape
  /// (prefix + `suffix`): later calls of that org go there directly.
  void remember(const url_target& target, std::string_view suffix);
};

/// The API endpoint of a run and the bookkeeping of its calls.
class api_endpoint {
public:
  /// Throws std::runtime_error for an invalid base URL or an unreadable CA file.
  explicit api_endpoint(const run_config& c);

  const io::origin& base() const noexcept { return base_; }
  const std::string& base_prefix() const noexcept { return base_prefix_; }
  const std::shared_ptr<io::tls_context>& tls() const noexcept { return tls_; }
  /// The run's client settings with the key among the secrets: every connection of the run is
  /// made with these, so every answer comes out of the transport with the key redacted.
  const io::client_config& client() const noexcept { return client_; }
  token_bucket& ip() noexcept { return *ip_; }
  double next_jitter() { return jitter_->next(); }

  /// Where a call of an org with `shard` and path `suffix` goes first.
  const io::origin& origin_for(const shard_memory& shard) const noexcept {
    return shard.where ? *shard.where : base_;
  }
  std::string target_for(const shard_memory& shard, std::string_view suffix) const {
    return (shard.where ? shard.prefix : base_prefix_) + std::string(suffix);
  }

  /// When `org` and the IP both have a token.
  clock::time_point available_at(const token_bucket& org, clock::time_point now) const noexcept {
    return std::max(org.available_at(now), ip_->available_at(now));
  }
  /// Takes a token of `org` and one of the IP (call when available_at(org, now) <= now).
  void take(token_bucket& org, clock::time_point now) noexcept {
    org.try_take(now);
    ip_->try_take(now);
  }
  /// Takes a token of `org` and of the IP when both have one at `now` (true); else says when
  /// both will (in `at`). Taken together, so no one holds an IP token while waiting for its org.
  bool try_take(token_bucket& org, clock::time_point now, clock::time_point& at) {
    at = available_at(org, now);
    if (at > now) return false;
    take(org, now);
    return true;
  }

  /// Sends one request over `conn` and records it (requests, latency, status, 429, transport
  /// errors) in `counters`.
  boost::asio::awaitable<sent> send(io::connection& conn, std::string_view method, std::string_view target,
                                    std::string_view body, run_counters& counters);

  /// The API's own error text of a non-2xx, non-3xx answer ({"errors":[...]}), or empty.
  static std::string api_error_of(io::response_parser& parser, const io::response& r);

  /// What the retry policy needs of an answer.
  static attempt_result to_attempt(const io::response& r, std::string_view api_error);

  /// A 429 for the org: its budget is spent (maybe by other applications), so every worker
  /// waits `delay` and the rate drops until successes restore it.
  static void throttled(token_bucket& org, clock::time_point now, std::chrono::nanoseconds delay);

private:
  io::origin base_;
  std::string base_prefix_;
  std::string auth_;
  io::client_config client_;
  std::shared_ptr<io::tls_context> tls_;
  std::optional<jitter_source> jitter_;
  std::optional<token_bucket> ip_;
};

} // namespace relicense::engine::detail
