#include "relicense/engine/retry_policy.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using relicense::engine::action;
using relicense::engine::attempt_result;
using relicense::engine::decide;
using relicense::engine::parse_retry_after;
using relicense::engine::retry_cause;
using relicense::engine::retry_policy;
using relicense::io::transport_error;

namespace {

// 2015-10-21 07:28:00 UTC, matching the HTTP-dates below.
const auto wall_now = std::chrono::system_clock::from_time_t(1445412480);

attempt_result status(unsigned s, std::string_view api_error = "") {
  attempt_result r;
  r.status = s;
  r.api_error = api_error;
  return r;
}

attempt_result transport(transport_error e) {
  attempt_result r;
  r.error = e;
  r.error_detail = "detail";
  return r;
}

} // namespace

// Delta-seconds parse to that many seconds; whitespace and a fraction are tolerated.
TEST(RetryAfter, DeltaSeconds) {
  EXPECT_EQ(parse_retry_after("1", wall_now), 1s);
  EXPECT_EQ(parse_retry_after(" 2 ", wall_now), 2s);
  EXPECT_EQ(parse_retry_after("0", wall_now), 0s);
  EXPECT_EQ(parse_retry_after("1.5", wall_now), 1500ms);
  EXPECT_EQ(parse_retry_after("3600", wall_now), 3600s);
}

// An HTTP-date gives the time left until it; a past date gives zero.
TEST(RetryAfter, HttpDate) {
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", wall_now), 5s);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", wall_now), 0s);
}

// Garbage, negative numbers and empty values are not Retry-After values.
TEST(RetryAfter, GarbageIsNullopt) {
  EXPECT_FALSE(parse_retry_after("", wall_now));
  EXPECT_FALSE(parse_retry_after("soon", wall_now));
  EXPECT_FALSE(parse_retry_after("-1", wall_now));
  EXPECT_FALSE(parse_retry_after("1s", wall_now));
  EXPECT_FALSE(parse_retry_after("1.x", wall_now));
  EXPECT_FALSE(parse_retry_after("99999999999999999999", wall_now));
  EXPECT_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:05", wall_now));
}

// Every 2xx is a success for the caller to check.
TEST(Decide, TwoHundredsSucceed) {
  retry_policy p;
  EXPECT_EQ(decide(p, status(200), 1, 0.5, wall_now).what, action::succeeded);
  EXPECT_EQ(decide(p, status(204), 6, 0.5, wall_now).what, action::succeeded);
}

// 429 with Retry-After: retry after exactly that delay, flagged to pause the org.
TEST(Decide, ThrottledWithRetryAfter) {
  retry_policy p;
  auto r = status(429, "API rate limit exceeded for organization");
  r.retry_after = "2";
  const auto d = decide(p, r, 1, 0.9, wall_now);
  EXPECT_EQ(d.what, action::retry);
  EXPECT_EQ(d.cause, retry_cause::throttled);
  EXPECT_TRUE(d.honour_retry_after);
  EXPECT_EQ(d.delay, 2s);
}

// A huge Retry-After is capped at the policy's cap.
TEST(Decide, RetryAfterCapped) {
  retry_policy p;
  auto r = status(429);
  r.retry_after = "86400";
  EXPECT_EQ(decide(p, r, 1, 0.5, wall_now).delay, 60s);
}

// 429 without Retry-After (or with garbage) backs off with full jitter, without a pause.
TEST(Decide, ThrottledWithoutRetryAfterUsesBackoff) {
  retry_policy p;
  p.backoff = {1s, 30s};
  auto d = decide(p, status(429), 3, 0.5, wall_now);
  EXPECT_EQ(d.what, action::retry);
  EXPECT_EQ(d.cause, retry_cause::throttled_ip);
  EXPECT_FALSE(d.honour_retry_after);
  EXPECT_EQ(d.delay, 2s);  // ceiling 4 s × 0.5
  auto r = status(429);
  r.retry_after = "tomorrow";
  d = decide(p, r, 1, 0.5, wall_now);
  EXPECT_EQ(d.cause, retry_cause::throttled_ip);
  EXPECT_EQ(d.delay, 500ms);
}

// 5xx and 408 retry with backoff until the last attempt, which fails the row.
TEST(Decide, ServerErrorsRetryThenFail) {
  retry_policy p;
  p.max_attempts = 3;
  p.backoff = {100ms, 1s};
  for (unsigned s : {500u, 502u, 503u, 504u, 408u}) {
    auto d = decide(p, status(s), 2, 1.0, wall_now);
    EXPECT_EQ(d.what, action::retry) << s;
    EXPECT_EQ(d.cause, retry_cause::server_error);
    EXPECT_EQ(d.delay, 200ms);
    d = decide(p, status(s, "boom"), 3, 0.5, wall_now);
    EXPECT_EQ(d.what, action::fail_row) << s;
    EXPECT_NE(d.message.find("gave up after 3 attempts"), std::string::npos);
    EXPECT_NE(d.message.find("boom"), std::string::npos);
  }
}

// A 503 with Retry-After waits that long for the row.
TEST(Decide, ServiceUnavailableHonoursRetryAfter) {
  retry_policy p;
  auto r = status(503);
  r.retry_after = "7";
  const auto d = decide(p, r, 1, 0.1, wall_now);
  EXPECT_EQ(d.what, action::retry);
  EXPECT_EQ(d.delay, 7s);
  EXPECT_FALSE(d.honour_retry_after);
}

// 429s also run out of attempts.
TEST(Decide, ThrottledRunsOutOfAttempts) {
  retry_policy p;
  p.max_attempts = 2;
  auto r = status(429);
  r.retry_after = "1";
  EXPECT_EQ(decide(p, r, 2, 0.5, wall_now).what, action::fail_row);
}

// Timeouts, resets and truncation are retried with their own cause.
TEST(Decide, TransportRetries) {
  retry_policy p;
  EXPECT_EQ(decide(p, transport(transport_error::timeout), 1, 0, wall_now).cause, retry_cause::timeout);
  EXPECT_EQ(decide(p, transport(transport_error::reset), 1, 0, wall_now).cause, retry_cause::reset);
  EXPECT_EQ(decide(p, transport(transport_error::truncated), 1, 0, wall_now).cause, retry_cause::truncated);
  EXPECT_EQ(decide(p, transport(transport_error::timeout), 1, 0, wall_now).what, action::retry);
  EXPECT_EQ(decide(p, transport(transport_error::timeout), 6, 0, wall_now).what, action::fail_row);
}

// TLS failures and unresolvable hosts abort the run at once.
TEST(Decide, TlsAndResolveAbort) {
  retry_policy p;
  auto d = decide(p, transport(transport_error::tls_failed), 1, 0, wall_now);
  EXPECT_EQ(d.what, action::abort_run);
  EXPECT_NE(d.message.find("TLS"), std::string::npos);
  EXPECT_EQ(decide(p, transport(transport_error::resolve_failed), 1, 0, wall_now).what, action::abort_run);
}

// A proxy that is unreachable, wants credentials or refuses the tunnel aborts the run at once,
// with the connection's own message.
TEST(Decide, ProxyFailureAborts) {
  retry_policy p;
  attempt_result r = transport(transport_error::proxy_failed);
  r.error_detail = "proxy 127.0.0.1:3128 refused the tunnel to api.meraki.com:443: 403 Forbidden";
  const auto d = decide(p, r, 1, 0, wall_now);
  EXPECT_EQ(d.what, action::abort_run);
  EXPECT_EQ(d.message, r.error_detail);
}

// A refused connection is retried, and aborts the run once attempts run out.
TEST(Decide, ConnectFailedRetriesThenAborts) {
  retry_policy p;
  p.max_attempts = 2;
  auto d = decide(p, transport(transport_error::connect_failed), 1, 0, wall_now);
  EXPECT_EQ(d.what, action::retry);
  EXPECT_EQ(d.cause, retry_cause::connect);
  d = decide(p, transport(transport_error::connect_failed), 2, 0, wall_now);
  EXPECT_EQ(d.what, action::abort_run);
  EXPECT_NE(d.message.find("unreachable"), std::string::npos);
}

// Oversized and malformed responses fail the row without retrying.
TEST(Decide, TooLargeAndProtocolFail) {
  retry_policy p;
  EXPECT_EQ(decide(p, transport(transport_error::too_large), 1, 0, wall_now).what, action::fail_row);
  EXPECT_EQ(decide(p, transport(transport_error::protocol), 1, 0, wall_now).what, action::fail_row);
}

// The transport names these failures itself: the decision quotes its detail without prefixing it
// again, and names the failure when the detail is empty.
TEST(Decide, ProtocolAndTooLargeNamedOnce) {
  retry_policy p;
  attempt_result r = transport(transport_error::protocol);
  r.error_detail = "malformed HTTP response: bad status";
  EXPECT_EQ(decide(p, r, 1, 0, wall_now).message, "malformed HTTP response: bad status");
  r.error_detail = "";
  EXPECT_EQ(decide(p, r, 1, 0, wall_now).message, "malformed HTTP response");
  r.error = transport_error::too_large;
  r.error_detail = "response too large: body limit exceeded";
  EXPECT_EQ(decide(p, r, 1, 0, wall_now).message, "response too large: body limit exceeded");
}

// A 2xx that is not JSON (a proxy's HTML page) confirms nothing: retried like a 5xx, then the row
// fails saying what came; JSON types (any case, parameters, +json) and an absent type succeed.
TEST(Decide, NonJsonSuccessIsRetriedThenFails) {
  retry_policy p;
  p.max_attempts = 2;
  attempt_result r = status(200);
  r.content_type = "text/html; charset=utf-8";
  auto d = decide(p, r, 1, 0.5, wall_now);
  EXPECT_EQ(d.what, action::retry);
  EXPECT_EQ(d.cause, retry_cause::server_error);
  d = decide(p, r, 2, 0.5, wall_now);
  EXPECT_EQ(d.what, action::fail_row);
  EXPECT_EQ(d.message, "gave up after 2 attempts: expected JSON, got text/html; charset=utf-8 (HTTP 200)");
  for (std::string_view ok : {"application/json", "Application/JSON; charset=utf-8", "application/problem+json", ""}) {
    r.content_type = ok;
    EXPECT_EQ(decide(p, r, 1, 0, wall_now).what, action::succeeded) << ok;
  }
  r = status(502);
  r.content_type = "text/html";  // an error page stays an error, not a JSON complaint
  EXPECT_EQ(decide(p, r, 2, 0, wall_now).message, "gave up after 2 attempts: HTTP 502");
}

// 401 and 403 abort the run.
TEST(Decide, AuthAborts) {
  retry_policy p;
  EXPECT_EQ(decide(p, status(401), 1, 0, wall_now).what, action::abort_run);
  const auto d = decide(p, status(403, "Forbidden"), 1, 0, wall_now);
  EXPECT_EQ(d.what, action::abort_run);
  EXPECT_EQ(d.message, "HTTP 403: Forbidden");
}

// 400/404/409/422 fail the row with the API's error text.
TEST(Decide, ClientErrorsFailWithApiText) {
  retry_policy p;
  for (unsigned s : {400u, 404u, 409u, 422u}) {
    const auto d = decide(p, status(s, "Device not found"), 1, 0, wall_now);
    EXPECT_EQ(d.what, action::fail_row) << s;
    EXPECT_EQ(d.message, "HTTP " + std::to_string(s) + ": Device not found");
  }
}

// A co-term 400 condemns the organization.
TEST(Decide, CotermCondemnsOrg) {
  retry_policy p;
  const auto d = decide(
      p, status(400, "Organization 123 does not support per-device licensing"), 1, 0, wall_now);
  EXPECT_EQ(d.what, action::condemn_org);
  EXPECT_NE(d.message.find("per-device"), std::string::npos);
}

// Redirects with a Location are followed; without one the row fails.
TEST(Decide, Redirects) {
  retry_policy p;
  for (unsigned s : {301u, 302u, 307u, 308u}) {
    auto r = status(s);
    r.location = "https://n1.meraki.com/api/v1/x";
    EXPECT_EQ(decide(p, r, 1, 0, wall_now).what, action::follow_redirect) << s;
    EXPECT_EQ(decide(p, status(s), 1, 0, wall_now).what, action::fail_row) << s;
  }
}
