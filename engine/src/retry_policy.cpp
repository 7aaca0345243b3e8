#include "relicense/engine/retry_policy.hpp"

#include "relicense/io/json.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace relicense::engine {
namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

using std::chrono::nanoseconds;

constexpr std::int64_t ns_per_s = 1'000'000'000;
constexpr nanoseconds saturated = nanoseconds::max();

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// seconds × 1e9 + ns, saturated instead of wrapping: a value too large to represent is still a
// (very long) wait, never a negative one.
nanoseconds saturating_ns(std::int64_t seconds, std::int64_t ns) noexcept {
  std::int64_t total = 0;
  if (__builtin_mul_overflow(seconds, ns_per_s, &total) ||
      __builtin_add_overflow(total, ns, &total))
    return seconds < 0 ? nanoseconds::min() : saturated;
  return nanoseconds(total);
}

// delta-seconds = 1*DIGIT (RFC 9110 10.2.3). A decimal fraction is tolerated (seen in the wild).
// Values past what fits saturate, as RFC 9111 1.2.2 asks of delta-seconds: any number of digits
// is a long wait, not garbage.
std::optional<nanoseconds> parse_delta_seconds(std::string_view s) {
  std::size_t i = 0;
  std::int64_t whole = 0;
  bool overflow = false;
  for (; i < s.size() && is_digit(s[i]); ++i) {
    if (__builtin_mul_overflow(whole, 10, &whole) ||
        __builtin_add_overflow(whole, s[i] - '0', &whole))
      overflow = true;
  }
  if (i == 0) return std::nullopt;
  std::int64_t frac = 0;
  if (i < s.size()) {
    if (s[i] != '.' || i + 1 == s.size()) return std::nullopt;
    std::int64_t scale = ns_per_s / 10;
    for (++i; i < s.size(); ++i, scale /= 10) {
      if (!is_digit(s[i])) return std::nullopt;
      frac += (s[i] - '0') * scale;  // digits past the nanosecond add 0
    }
  }
  if (overflow) return saturated;
  return saturating_ns(whole, frac);
}

// ---- HTTP-date (RFC 9110 5.6.7) -------------------------------------------------------------
// Parsed by hand into seconds since the epoch as a 64-bit count: years up to 9999 fit, whereas
// system_clock's nanoseconds end in 2262 and std::get_time/timegm wrap silently beyond it.

constexpr std::array<std::string_view, 7> day_names = {"Mon", "Tue", "Wed", "Thu",
                                                       "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> long_day_names = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> month_names = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool is_leap(std::int64_t y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  static constexpr std::array<unsigned, 12> days = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// A cursor over the value; each take_* consumes exactly its token or fails.
struct date_reader {
  std::string_view s;

  bool take(std::string_view lit) {
    if (!s.starts_with(lit)) return false;
    s.remove_prefix(lit.size());
    return true;
  }
  // Exactly n digits.
  std::optional<unsigned> digits(std::size_t n) {
    if (s.size() < n) return std::nullopt;
    unsigned v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (!is_digit(s[i])) return std::nullopt;
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
    }
    s.remove_prefix(n);
    return v;
  }
  template <std::size_t N>
  std::optional<unsigned> name(const std::array<std::string_view, N>& names) {
    for (std::size_t i = 0; i < N; ++i)
      if (take(names[i])) return static_cast<unsigned>(i);
    return std::nullopt;
  }
};

struct civil_time {
  std::int64_t year = 0;
  unsigned month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

// "HH:MM:SS"
bool read_time_of_day(date_reader& r, civil_time& t) {
  auto h = r.digits(2);
  if (!h || !r.take(":")) return false;
  auto m = r.digits(2);
  if (!m || !r.take(":")) return false;
  auto sec = r.digits(2);
  if (!sec) return false;
  t.hour = *h;
  t.minute = *m;
  t.second = *sec;
  return true;
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<civil_time> read_imf_fixdate(date_reader r) {
  civil_time t;
  if (!r.name(day_names) || !r.take(", ")) return std::nullopt;
  auto d = r.digits(2);
  if (!d || !r.take(" ")) return std::nullopt;
  auto m = r.name(month_names);
  if (!m || !r.take(" ")) return std::nullopt;
  auto y = r.digits(4);
  if (!y || !r.take(" ") || !read_time_of_day(r, t) || !r.take(" GMT") || !r.s.empty())
    return std::nullopt;
  t.year = *y;
  t.month = *m + 1;
  t.day = *d;
  return t;
}

// Obsolete RFC 850 form: "Sunday, 06-Nov-94 08:49:37 GMT". The two-digit year is read as RFC 9110
// asks: the year with those digits that is not more than 50 years after `now_year`.
std::optional<civil_time> read_rfc850_date(date_reader r, std::int64_t now_year) {
  civil_time t;
  if (!r.name(long_day_names) || !r.take(", ")) return std::nullopt;
  auto d = r.digits(2);
  if (!d || !r.take("-")) return std::nullopt;
  auto m = r.name(month_names);
  if (!m || !r.take("-")) return std::nullopt;
  auto yy = r.digits(2);
  if (!yy || !r.take(" ") || !read_time_of_day(r, t) || !r.take(" GMT") || !r.s.empty())
    return std::nullopt;
  std::int64_t year = now_year - now_year % 100 + *yy;
  if (year > now_year + 50) year -= 100;
  t.year = year;
  t.month = *m + 1;
  t.day = *d;
  return t;
}

// Obsolete asctime form: "Sun Nov  6 08:49:37 1994" (day: two digits, or a space and one digit).
std::optional<civil_time> read_asctime_date(date_reader r) {
  civil_time t;
  if (!r.name(day_names) || !r.take(" ")) return std::nullopt;
  auto m = r.name(month_names);
  if (!m || !r.take(" ")) return std::nullopt;
  std::optional<unsigned> d = r.take(" ") ? r.digits(1) : r.digits(2);
  if (!d || !r.take(" ") || !read_time_of_day(r, t) || !r.take(" ")) return std::nullopt;
  auto y = r.digits(4);
  if (!y || !r.s.empty()) return std::nullopt;
  t.year = *y;
  t.month = *m + 1;
  t.day = *d;
  return t;
}

// Seconds since the epoch, or nullopt for a day or time that does not exist (31 Feb, 25:00).
// A leap second (:60) is allowed, as RFC 5322 allows it.
std::optional<std::int64_t> epoch_seconds(const civil_time& t) {
  if (t.month < 1 || t.month > 12 || t.day < 1 || t.day > days_in_month(t.year, t.month))
    return std::nullopt;
  if (t.hour > 23 || t.minute > 59 || t.second > 60) return std::nullopt;
  return days_from_civil(t.year, t.month, t.day) * 86400 + t.hour * 3600 + t.minute * 60 + t.second;
}

std::int64_t civil_year(std::int64_t epoch_s) noexcept {
  // Inverse of days_from_civil, year only.
  const std::int64_t z = (epoch_s >= 0 ? epoch_s : epoch_s - 86399) / 86400 + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  return static_cast<std::int64_t>(yoe) + era * 400 + (mp >= 10 ? 1 : 0);
}

// Seconds since the epoch named by an HTTP-date in any of its three forms.
std::optional<std::int64_t> parse_http_date(std::string_view s, std::int64_t now_s) {
  std::optional<civil_time> t = read_imf_fixdate({s});
  if (!t) t = read_rfc850_date({s}, civil_year(now_s));
  if (!t) t = read_asctime_date({s});
  if (!t) return std::nullopt;
  return epoch_seconds(*t);
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

}  // namespace

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
  if (is_digit(value.front())) return parse_delta_seconds(value);
  const auto since_epoch = std::chrono::duration_cast<nanoseconds>(wall_now.time_since_epoch());
  const std::int64_t now_s = std::chrono::floor<std::chrono::seconds>(since_epoch).count();
  const std::int64_t now_ns = since_epoch.count() - now_s * ns_per_s;  // in [0, 1e9)
  const auto when = parse_http_date(value, now_s);
  if (!when) return std::nullopt;
  // A date already past means "now", as "0" does; the row's attempt count still bounds it.
  if (*when <= now_s) return nanoseconds(0);
  return saturating_ns(*when - now_s, -now_ns);
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
    case transport_error::proxy_failed: return abort_with(std::string(r.error_detail));
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
      return fail(r.error_detail.empty() ? std::string("response too large")
                                         : std::string(r.error_detail));
    case transport_error::protocol:
      return fail(r.error_detail.empty() ? std::string("malformed HTTP response")
                                         : std::string(r.error_detail));
  }

  const unsigned s = r.status;
  if (s >= 200 && s < 300) {
    // An HTML page with a 200 is a proxy's or load balancer's (maintenance, captive portal), not
    // the API's answer: nothing was confirmed. Retried like a 5xx, since every call it can answer
    // is safe to repeat (PUT and GET are idempotent; a batch POST repeats idempotent updates).
    if (!r.content_type.empty() && !io::is_json_content_type(r.content_type)) {
      return retry(retry_cause::server_error, "expected JSON, got " +
                                                  std::string(r.content_type.substr(0, 100)) +
                                                  " (HTTP " + std::to_string(s) + ")");
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
      d.delay = std::clamp(*ra, nanoseconds(0), policy.retry_after_cap);
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
        d.delay = std::clamp(*ra, nanoseconds(0), policy.retry_after_cap);
      }
    }
    return d;
  }
  // 400, 404, 409, 422 and every other answer: the API said no; retrying will not change it.
  return fail(http_message(s, r.api_error));
}

}  // namespace relicense::engine
