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

}  // namespace

// Delta-seconds parse to that many seconds; whitespace and a fraction are tolerated.
TEST(RetryAfter, DeltaSeconds) {
  EXPECT_EQ(parse_retry_after("1", wall_now), 1s);
  EXPECT_EQ(parse_retry_after(" 2 ", wall_now), 2s);
  EXPECT_EQ(parse_retry_after("\t3\t", wall_now), 3s);
  EXPECT_EQ(parse_retry_after("0", wall_now), 0s);
  EXPECT_EQ(parse_retry_after("007", wall_now), 7s);
  EXPECT_EQ(parse_retry_after("1.5", wall_now), 1500ms);
  EXPECT_EQ(parse_retry_after("0.000000001999", wall_now), 1ns);  // digits past 1 ns add nothing
  EXPECT_EQ(parse_retry_after("3600", wall_now), 3600s);
}

// Delta-seconds too large for a 64-bit count of nanoseconds saturate instead of wrapping to a
// negative wait: 9223372037 s is the first whole second past 2^63 ns.
TEST(RetryAfter, HugeDeltaSecondsSaturate) {
  constexpr auto max = std::chrono::nanoseconds::max();
  EXPECT_EQ(parse_retry_after("9223372036", wall_now), 9223372036s);  // the last that fits
  EXPECT_EQ(parse_retry_after("9223372036.854775807", wall_now), max);
  EXPECT_EQ(parse_retry_after("9223372036.9", wall_now), max);
  EXPECT_EQ(parse_retry_after("9223372037", wall_now), max);
  EXPECT_EQ(parse_retry_after("9223372037.5", wall_now), max);
  EXPECT_EQ(parse_retry_after("9223372036854775807", wall_now), max);   // 2^63 - 1
  EXPECT_EQ(parse_retry_after("9223372036854775808", wall_now), max);   // 2^63
  EXPECT_EQ(parse_retry_after("18446744073709551616", wall_now), max);  // 2^64
  EXPECT_EQ(parse_retry_after("99999999999999999999", wall_now), max);
  EXPECT_EQ(parse_retry_after(std::string(4096, '9'), wall_now), max);
}

// An HTTP-date gives the time left until it, in each of its three forms; a past date gives zero.
TEST(RetryAfter, HttpDate) {
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", wall_now), 5s);
  EXPECT_EQ(parse_retry_after("Wednesday, 21-Oct-15 07:28:05 GMT", wall_now), 5s);  // RFC 850
  EXPECT_EQ(parse_retry_after("Wed Oct 21 07:28:05 2015", wall_now), 5s);           // asctime
  EXPECT_EQ(parse_retry_after("Sun Nov  1 07:28:00 2015", wall_now), 24h * 11);     // day " 1"
  EXPECT_EQ(parse_retry_after("  Wed, 21 Oct 2015 07:29:00 GMT ", wall_now), 60s);
  EXPECT_EQ(parse_retry_after("Thu, 31 Dec 2015 23:59:60 GMT", wall_now),
            std::chrono::system_clock::from_time_t(1451606400) - wall_now);  // a leap second
  // Sub-second "now": the wait is to the exact second named.
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", wall_now + 250ms), 4750ms);
}

// A date at or before now means "retry now", as "0" does (the row's attempts still bound it).
TEST(RetryAfter, PastDateIsZero) {
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", wall_now), 0s);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", wall_now), 0s);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", wall_now + 999ms), 0s);
  EXPECT_EQ(parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", wall_now), 0s);
  EXPECT_EQ(parse_retry_after("Mon, 01 Jan 0001 00:00:00 GMT", wall_now), 0s);
}

// Dates past 2262 (where system_clock's nanoseconds end, and where the old parser wrapped to a
// negative wait) are long waits; a wait longer than 2^63 ns (year 9999) saturates.
TEST(RetryAfter, DatesPast2262AreLongWaits) {
  constexpr auto max = std::chrono::nanoseconds::max();
  for (const char* late :
       {"Fri, 11 Apr 2262 23:47:17 GMT", "Sat, 01 Jan 2263 00:00:00 GMT",
        "Saturday, 01-Jan-63 00:00:00 GMT" /* 2063 */, "Sat Jan  1 00:00:00 2263"}) {
    const auto d = parse_retry_after(late, wall_now);
    ASSERT_TRUE(d) << late;
    EXPECT_GT(*d, 24h * 365 * 47) << late;
  }
  EXPECT_GT(*parse_retry_after("Sat, 01 Jan 2263 00:00:00 GMT", wall_now), 24h * 365 * 247);
  EXPECT_EQ(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", wall_now), max);
  EXPECT_EQ(parse_retry_after("Fri Dec 31 23:59:59 9999", wall_now), max);
  // A "now" past 2262 cannot be represented by system_clock, but one near its end still works.
  const auto late_now = std::chrono::system_clock::time_point(std::chrono::nanoseconds::max() - 1h);
  EXPECT_EQ(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", late_now), max);
  const auto d2200 = parse_retry_after("Wed, 01 Jan 2200 00:00:00 GMT", wall_now);
  ASSERT_TRUE(d2200);
  EXPECT_GT(*d2200, 24h * 365 * 184);
  EXPECT_LT(*d2200, max);
}

// An RFC 850 two-digit year is the year with those digits at most 50 years ahead of now.
TEST(RetryAfter, Rfc850TwoDigitYear) {
  const auto y2040 =
      parse_retry_after("Sunday, 01-Jan-40 00:00:00 GMT", wall_now);  // 2040: 24 y ahead
  ASSERT_TRUE(y2040);
  EXPECT_GT(*y2040, 24h * 365 * 24);
  EXPECT_EQ(parse_retry_after("Sunday, 01-Jan-70 00:00:00 GMT", wall_now),
            0s);  // 2070 is > 50 y: 1970
  EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", wall_now), 0s);  // 1994
}

// Garbage, negative numbers, a sign, units, malformed or impossible dates and empty values are
// not Retry-After values: the caller backs off instead.
TEST(RetryAfter, GarbageIsNullopt) {
  for (const char* bad : {"",
                          "   ",
                          "soon",
                          "-1",
                          "-0",
                          "+5",
                          "+0",
                          "1s",
                          "1.x",
                          "1.",
                          ".5",
                          "1.5.5",
                          "1e3",
                          "0x10",
                          "1 2",
                          "Wed, 21 Oct 2015 07:28:05",
                          "Wed, 21 Oct 2015 07:28:05 UTC",
                          "Wed, 21 Oct 2015 07:28:05 GMTX",
                          "Wed, 21 Oct 15 07:28:05 GMT",
                          "Wed, 1 Oct 2015 07:28:05 GMT",
                          "Xyz, 21 Oct 2015 07:28:05 GMT",
                          "Wed, 21 Foo 2015 07:28:05 GMT",
                          "Wed, 31 Feb 2016 00:00:00 GMT",
                          "Wed, 29 Feb 2015 00:00:00 GMT",
                          "Wed, 21 Oct 2015 24:00:00 GMT",
                          "Wed, 21 Oct 2015 07:60:00 GMT",
                          "Wed, 21 Oct 2015 07:28:61 GMT",
                          "Wed, 00 Oct 2015 07:28:05 GMT",
                          "Wed,21 Oct 2015 07:28:05 GMT",
                          "Wed, 21-Oct-15 07:28:05 GMT",
                          "Wednesday, 21-Oct-2015 07:28:05 GMT",
                          "Wed Oct 21 07:28:05 15",
                          "Wed Oct 21 07:28:05 2015 GMT",
                          "Wed Oct 2107:28:05 2015",
                          "2015-10-21T07:28:05Z"}) {
    EXPECT_FALSE(parse_retry_after(bad, wall_now)) << '"' << bad << '"';
  }
  EXPECT_TRUE(parse_retry_after("Tue, 29 Feb 2016 00:00:00 GMT", wall_now));  // a real leap day
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

// Values that used to overflow to a negative wait (a row then burnt its attempts in no time)
// now wait the full cap, for a 429 (pausing the org) and for a 503 alike.
TEST(Decide, OverflowingRetryAfterWaitsTheCap) {
  retry_policy p;
  for (const char* huge : {"9223372037", "9223372036854775808", "99999999999999999999999",
                           "Sat, 01 Jan 2263 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
                           "Fri Dec 31 23:59:59 9999"}) {
    auto r = status(429);
    r.retry_after = huge;
    auto d = decide(p, r, 1, 0.5, wall_now);
    EXPECT_EQ(d.what, action::retry) << huge;
    EXPECT_EQ(d.cause, retry_cause::throttled) << huge;
    EXPECT_TRUE(d.honour_retry_after) << huge;
    EXPECT_EQ(d.delay, 60s) << huge;
    auto u = status(503);
    u.retry_after = huge;
    EXPECT_EQ(decide(p, u, 1, 0.5, wall_now).delay, 60s) << huge;
  }
}

// A past date retries at once; garbage, a sign or a negative value falls back to backoff.
TEST(Decide, PastOrBadRetryAfter) {
  retry_policy p;
  p.backoff = {1s, 30s};
  auto r = status(429);
  r.retry_after = "Wed, 21 Oct 2015 07:00:00 GMT";
  auto d = decide(p, r, 1, 0.5, wall_now);
  EXPECT_EQ(d.cause, retry_cause::throttled);
  EXPECT_EQ(d.delay, 0s);
  for (const char* bad : {"-5", "+5", "", "5 seconds", "-9223372037"}) {
    r.retry_after = bad;
    d = decide(p, r, 2, 0.5, wall_now);
    EXPECT_EQ(d.cause, retry_cause::throttled_ip) << bad;
    EXPECT_FALSE(d.honour_retry_after) << bad;
    EXPECT_EQ(d.delay, 1s) << bad;  // ceiling 2 s × 0.5
  }
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
  EXPECT_EQ(decide(p, transport(transport_error::timeout), 1, 0, wall_now).cause,
            retry_cause::timeout);
  EXPECT_EQ(decide(p, transport(transport_error::reset), 1, 0, wall_now).cause, retry_cause::reset);
  EXPECT_EQ(decide(p, transport(transport_error::truncated), 1, 0, wall_now).cause,
            retry_cause::truncated);
  EXPECT_EQ(decide(p, transport(transport_error::timeout), 1, 0, wall_now).what, action::retry);
  EXPECT_EQ(decide(p, transport(transport_error::timeout), 6, 0, wall_now).what, action::fail_row);
}

// TLS failures and unresolvable hosts abort the run at once.
TEST(Decide, TlsAndResolveAbort) {
  retry_policy p;
  auto d = decide(p, transport(transport_error::tls_failed), 1, 0, wall_now);
  EXPECT_EQ(d.what, action::abort_run);
  EXPECT_NE(d.message.find("TLS"), std::string::npos);
  EXPECT_EQ(decide(p, transport(transport_error::resolve_failed), 1, 0, wall_now).what,
            action::abort_run);
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
  EXPECT_EQ(decide(p, transport(transport_error::too_large), 1, 0, wall_now).what,
            action::fail_row);
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
  EXPECT_EQ(d.message,
            "gave up after 2 attempts: expected JSON, got text/html; charset=utf-8 (HTTP 200)");
  for (std::string_view ok :
       {"application/json", "Application/JSON; charset=utf-8", "application/problem+json", ""}) {
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
  const auto d = decide(p, status(400, "Organization 123 does not support per-device licensing"), 1,
                        0, wall_now);
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
