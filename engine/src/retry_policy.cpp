#include "relicense/engine/retry_policy.hpp"

#include "relicense/io/json.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <iomanip>
#include <locale>
#include <sstream>

namespace relicense::engine {
namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::chrono::nanoseconds> parse_delta_seconds(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  // Whole seconds per RFC 9110; a decimal fraction is tolerated (harmless, seen in the wild).
  std::uint64_t whole = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), whole);
  if (ec != std::errc{} || p == s.data()) return std::nullopt;
  double frac = 0;
  if (p != s.data() + s.size()) {
    if (*p != '.') return std::nullopt;
    double scale = 0.1;
    for (++p; p != s.data() + s.size(); ++p, scale /= 10) {
      if (*p < '0' || *p > '9') return std::nullopt;
      frac += (*p - '0') * scale;
    }
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>((static_cast<double>(whole) + frac) * 1e9));
}

// IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (the only date form servers may send).
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s) {
  // std::get_time stops quietly at the end of input, so the zone is checked by hand.
  if (!s.ends_with(" GMT")) return std::nullopt;
  std::tm tm{};
  std::istringstream in{std::string(s)};
  in.imbue(std::locale::classic());
  in >> std::get_time(&tm, "%a, %d %b %Y %H:%M:%S GMT");
  if (in.fail()) return std::nullopt;
  in >> std::ws;
  if (!in.eof()) return std::nullopt;
  const std::time_t t = timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(t);
}

decision fail(std::string message) {
  decision d;
  d.what = action::fail_row;
  d.message = std::move(message);
  return d;
}

decision abort_with(std::string message) {
  decision d;
  d.what = action::abort_run;
  d.message = std::move(message);
  return d;
}

std::string http_message(unsigned status, std::string_view api_error) {
  std::string m = "HTTP " + std::to_string(status);
  if (!api_error.empty()) {
    m += ": ";
    m += api_error;
  }
  return m;
}

} // namespace

const char* to_string(retry_cause c) noexcept {
  switch (c) {
    case retry_cause::server_error: return "server_error";
    case retry_cause::throttled: return "throttled";
    case retry_cause::throttled_ip: return "throttled_ip";
    case retry_cause::timeout: return "timeout";
    case retry_cause::reset: return "reset";
    case retry_cause::truncated: return "truncated";
    case retry_cause::connect: return "connect";
    case retry_cause::count: break;
  }
  return "?";
}

const char* to_string(action a) noexcept {
  switch (a) {
    case action::succeeded: return "succeeded";
    case action::fail_row: return "fail_row";
    case action::retry: return "retry";
    case action::abort_run: return "abort_run";
    case action::condemn_org: return "condemn_org";
    case action::follow_redirect: return "follow_redirect";
  }
  return "?";
}

std::optional<std::chrono::nanoseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point wall_now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (value.front() >= '0' && value.front() <= '9') return parse_delta_seconds(value);
  if (auto when = parse_http_date(value)) {
    if (*when <= wall_now) return std::chrono::nanoseconds(0);
    return std::chrono::duration_cast<std::chrono::nanoseconds>(*when - wall_now);
  }
  return std::nullopt;
}

decision decide(const retry_policy& policy, const attempt_result& r, unsigned attempt,
                double jitter, std::chrono::system_clock::time_point wall_now) {
  const bool attempts_left = attempt < policy.max_attempts;
  auto retry = [&](retry_cause cause, std::string why) {
    if (!attempts_left) {
      return fail("gave up after " + std::to_string(attempt) + " attempts: " + why);
    }
    decision d;
    d.what = action::retry;
    d.cause = cause;
    d.delay = full_jitter(policy.backoff, attempt, jitter);
    d.message = std::move(why);
    return d;
  };

  using io::transport_error;
  switch (r.error) {
    case transport_error::none: break;
    case transport_error::resolve_failed:
      return abort_with("host unreachable: " + std::string(r.error_detail));
    case transport_error::tls_failed:
      return abort_with("TLS failure: " + std::string(r.error_detail));
    case transport_error::proxy_failed:
      return abort_with(std::string(r.error_detail));
    case transport_error::connect_failed: {
      // A brief outage is retried; a host that stays unreachable ends the run (exit 3) instead
      // of failing every row one by one.
      std::string why = "connect failed: " + std::string(r.error_detail);
      if (!attempts_left) return abort_with("host unreachable: " + std::string(r.error_detail));
      return retry(retry_cause::connect, std::move(why));
    }
    case transport_error::timeout:
      return retry(retry_cause::timeout, "timeout: " + std::string(r.error_detail));
    case transport_error::reset:
      return retry(retry_cause::reset, "connection reset: " + std::string(r.error_detail));
    case transport_error::truncated:
      return retry(retry_cause::truncated, "truncated response: " + std::string(r.error_detail));
    // The transport's detail names these itself ("malformed HTTP response: ...", "invalid
    // request: ..."): prefixing it again would say the same thing twice.
    case transport_error::too_large:
      return fail(r.error_detail.empty() ? std::string("response too large") : std::string(r.error_detail));
    case transport_error::protocol:
      return fail(r.error_detail.empty() ? std::string("malformed HTTP response") : std::string(r.error_detail));
  }

  const unsigned s = r.status;
  if (s >= 200 && s < 300) {
    // An HTML page with a 200 is a proxy's or load balancer's (maintenance, captive portal), not
    // the API's answer: nothing was confirmed. Retried like a 5xx, since every call it can answer
    // is safe to repeat (PUT and GET are idempotent; a batch POST repeats idempotent updates).
    if (!r.content_type.empty() && !io::is_json_content_type(r.content_type)) {
      return retry(retry_cause::server_error,
                   "expected JSON, got " + std::string(r.content_type.substr(0, 100)) + " (HTTP " +
                       std::to_string(s) + ")");
    }
    decision d;
    d.what = action::succeeded;
    return d;
  }
  if (s == 301 || s == 302 || s == 303 || s == 307 || s == 308) {
    if (r.location.empty()) return fail(http_message(s, "redirect without a Location"));
    decision d;
    d.what = action::follow_redirect;
    return d;
  }
  if (s == 429) {
    std::optional<std::chrono::nanoseconds> ra;
    if (r.retry_after) ra = parse_retry_after(*r.retry_after, wall_now);
    if (!ra) return retry(retry_cause::throttled_ip, http_message(s, r.api_error));
    decision d = retry(retry_cause::throttled, http_message(s, r.api_error));
    if (d.what == action::retry) {
      d.delay = std::min(*ra, policy.retry_after_cap);
      d.honour_retry_after = true;
    }
    return d;
  }
  if (s == 401 || s == 403) {
    return abort_with(http_message(s, r.api_error.empty() ? "API key rejected" : r.api_error));
  }
  if (s == 400 && r.api_error.find(coterm_marker) != std::string_view::npos) {
    decision d;
    d.what = action::condemn_org;
    d.message = http_message(s, r.api_error);
    return d;
  }
  if (s == 408 || s >= 500) {
    decision d = retry(retry_cause::server_error, http_message(s, r.api_error));
    // A 503 may say when to come back; honour it for this row (capped), without pausing the org.
    if (d.what == action::retry && r.retry_after) {
      if (auto ra = parse_retry_after(*r.retry_after, wall_now)) {
        d.delay = std::min(*ra, policy.retry_after_cap);
      }
    }
    return d;
  }
  // 400, 404, 409, 422 and every other answer: the API said no; retrying will not change it.
  return fail(http_message(s, r.api_error));
}

} // namespace relicense::engine
