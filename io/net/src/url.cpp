#include "relicense/io/url.hpp"

#include <boost/url/grammar/ci_string.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <array>
#include <cctype>

namespace relicense::io {
namespace {

namespace urls = boost::urls;

bool ends_with_label(std::string_view host, std::string_view domain) noexcept {
  if (host == domain) {
    return true;
  }
  return host.size() > domain.size() && host.ends_with(domain) &&
         host[host.size() - domain.size() - 1] == '.';
}

// Turns a parsed absolute URL into an origin + target. The URL is never quoted back in an error:
// it may carry credentials.
url_result<location> to_location(const urls::url_view_base& u) {
  url_result<location> r;
  if (!u.has_scheme()) {
    r.error = "URL has no scheme";
    return r;
  }
  location loc;
  if (u.scheme_id() == urls::scheme::https) {
    loc.where.tls = true;
    loc.where.port = 443;
  } else if (u.scheme_id() == urls::scheme::http) {
    loc.where.tls = false;
    loc.where.port = 80;
  } else {
    r.error = "URL scheme must be http or https";
    return r;
  }
  if (!u.has_authority() || u.encoded_host().empty()) {
    r.error = "URL has no host";
    return r;
  }
  if (u.has_userinfo()) {
    r.error = "URL must not contain user name or password";
    return r;
  }
  if (u.host_type() == urls::host_type::ipvfuture) {
    r.error = "URL host is not supported";
    return r;
  }
  // Boost.URL 1.81 ends an IPv4 host at its last digit and takes the rest for the path:
  // "http://127.0.0.1.evil.com/x" parses as host 127.0.0.1, path ".evil.com/x". After an
  // authority, a path is empty or starts with '/' (RFC 3986 §3.3); anything else is a host that
  // was cut short, and the URL is refused rather than sent to the wrong host.
  if (!u.encoded_path().empty() && u.encoded_path().front() != '/') {
    r.error = "URL host is not a valid host name or address";
    return r;
  }
  const std::string_view host = u.encoded_host_address();
  if (host.find('%') != std::string_view::npos) {
    // Percent-encoded host names are legal URI syntax but no DNS name needs them; refusing them
    // keeps the host we verify the same as the host we connect to.
    r.error = "URL host must not be percent-encoded";
    return r;
  }
  loc.where.host = normal_host(host);
  if (u.has_port()) {
    if (u.port().empty() || u.port_number() == 0) {
      r.error = "URL port is invalid";
      return r;
    }
    loc.where.port = u.port_number();
  }
  loc.target = std::string(u.encoded_path());
  if (loc.target.empty()) {
    loc.target = "/";
  }
  if (u.has_query()) {
    loc.target += '?';
    loc.target += u.encoded_query();
  }
  r.value = std::move(loc);
  return r;
}

// Boost.URL 1.81 trips an assertion (detail::path_segments, in builds without NDEBUG) on a
// scheme followed by an empty path and then '[' or ']', a byte outside the URI character set, or
// a bare trailing '?' or '#' ("a:[", "L4:\xff", "a:#"); found by fuzzing. None of these is a
// usable http(s) URL, so such input is refused before Boost.URL sees it.
bool trips_boost_url(std::string_view text) noexcept {
  static constexpr std::string_view uri_chars = "-._~:/?#[]@!$&'()*+,;=%";
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 &&
        uri_chars.find(c) == std::string_view::npos) {
      return true;  // not a URI at all; Boost.URL would refuse it too
    }
  }
  const std::size_t colon = text.find(':');
  if (colon == 0 || colon == std::string_view::npos ||
      std::isalpha(static_cast<unsigned char>(text.front())) == 0) {
    return false;
  }
  for (char c : text.substr(0, colon)) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '+' && c != '-' && c != '.') {
      return false;  // no scheme: a relative reference, which parses safely
    }
  }
  if (colon + 1 == text.size()) {
    return false;
  }
  const char next = text[colon + 1];
  if (next == '[' || next == ']') {
    return true;
  }
  return (next == '?' || next == '#') && colon + 2 == text.size();
}

bool is_ipv4_loopback(std::string_view host) noexcept {
  auto v4 = urls::parse_ipv4_address(host);
  return v4 && v4->to_bytes()[0] == 127;
}

}  // namespace

url_result<base_url> parse_base_url(std::string_view text) {
  url_result<base_url> r;
  if (trips_boost_url(text)) {
    r.error = "base URL is not a valid absolute URL";
    return r;
  }
  auto parsed = urls::parse_absolute_uri(text);
  if (!parsed) {
    r.error = "base URL is not a valid absolute URL";
    return r;
  }
  if (parsed->has_query() || parsed->has_fragment()) {
    r.error = "base URL must not have a query or a fragment";
    return r;
  }
  auto loc = to_location(*parsed);
  if (!loc.value) {
    r.error = "base URL: " + loc.error;
    return r;
  }
  base_url b;
  b.where = std::move(loc.value->where);
  b.path_prefix = std::move(loc.value->target);
  while (!b.path_prefix.empty() && b.path_prefix.back() == '/') {
    b.path_prefix.pop_back();
  }
  r.value = std::move(b);
  return r;
}

url_result<location> parse_absolute_url(std::string_view text) {
  if (trips_boost_url(text)) {
    return {std::nullopt, "not a valid absolute URL"};
  }
  auto parsed = urls::parse_uri(text);
  if (!parsed) {
    return {std::nullopt, "not a valid absolute URL"};
  }
  return to_location(*parsed);
}

url_result<location> resolve_location(const location& current, std::string_view location_value) {
  if (trips_boost_url(location_value)) {
    return {std::nullopt, "redirect Location is not a valid URL"};
  }
  auto ref = urls::parse_uri_reference(location_value);
  if (!ref) {
    return {std::nullopt, "redirect Location is not a valid URL"};
  }
  urls::url base;
  base.set_scheme_id(current.where.tls ? urls::scheme::https : urls::scheme::http);
  if (current.where.host.find(':') != std::string::npos) {
    auto v6 = urls::parse_ipv6_address(current.where.host);
    if (!v6) {
      return {std::nullopt, "current host is invalid"};
    }
    base.set_host_ipv6(*v6);
  } else {
    base.set_encoded_host(current.where.host);
  }
  base.set_port_number(current.where.port);
  const std::string_view current_target =
      current.target.empty() ? std::string_view("/") : std::string_view(current.target);
  auto target = urls::parse_origin_form(current_target);
  if (!target) {
    return {std::nullopt, "current target is invalid"};
  }
  base.set_encoded_path(target->encoded_path());
  if (target->has_query()) {
    base.set_encoded_query(target->encoded_query());
  }
  urls::url dest;
  auto rv = urls::resolve(base, *ref, dest);
  if (!rv) {
    return {std::nullopt, "redirect Location cannot be resolved"};
  }
  return to_location(dest);
}

// Host names compare without case and without the root's trailing dot ("api.meraki.com.").
std::string normal_host(std::string_view host) {
  std::string h(host);
  for (char& c : h) c = urls::grammar::to_lower(c);
  if (h.size() > 1 && h.back() == '.') h.pop_back();
  return h;
}

bool is_loopback(std::string_view host) noexcept {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.ends_with('.')) {
    host.remove_suffix(1);
  }
  if (urls::grammar::ci_is_equal(host, "localhost")) {
    return true;
  }
  if (is_ipv4_loopback(host)) {
    return true;
  }
  auto v6 = urls::parse_ipv6_address(host);
  if (!v6) {
    return false;
  }
  if (v6->is_loopback()) {
    return true;
  }
  // ::ffff:127.x.y.z, the IPv4-mapped form of 127/8.
  if (v6->is_v4_mapped()) {
    return v6->to_bytes()[12] == 127;
  }
  return false;
}

std::string cleartext_refusal(const origin& where) {
  if (where.tls || is_loopback(where.host)) {
    return {};
  }
  return "refusing plain http to " + where.host +
         ": the API key would cross the network in clear (use https; http is for loopback only)";
}

std::string_view meraki_cloud_domain(std::string_view host) noexcept {
  // gov-meraki.com first: it is not under meraki.com, but keeping the most specific first makes
  // the list safe to extend with nested domains.
  static constexpr std::array<std::string_view, 5> domains = {
      "gov-meraki.com", "meraki.com", "meraki.ca", "meraki.cn", "meraki.in"};
  const std::string h = normal_host(host);
  for (std::string_view d : domains) {
    if (ends_with_label(h, d)) {
      return d;
    }
  }
  return {};
}

bool redirect_allowed(std::string_view base_host, const origin& target) noexcept {
  try {
    if (is_loopback(base_host)) {
      // Test setups: the twin on loopback may redirect to another loopback port, in clear.
      return is_loopback(target.host);
    }
    if (!target.tls) {
      return false;
    }
    const std::string_view base_domain = meraki_cloud_domain(base_host);
    if (base_domain.empty()) {
      return normal_host(base_host) == normal_host(target.host);
    }
    return meraki_cloud_domain(target.host) == base_domain;
  } catch (...) {
    return false;  // allocation failure: refusing is the safe answer
  }
}

bool redirect_allowed(std::string_view base_host, std::string_view target_url) {
  auto loc = parse_absolute_url(target_url);
  return loc.value && redirect_allowed(base_host, loc.value->where);
}

std::string to_string(const origin& where) {
  std::string s = where.tls ? "https://" : "http://";
  const bool v6 = where.host.find(':') != std::string::npos;
  if (v6) {
    s += '[';
  }
  s += where.host;
  if (v6) {
    s += ']';
  }
  if (where.port != (where.tls ? 443 : 80)) {
    s += ':';
    s += std::to_string(where.port);
  }
  return s;
}

}  // namespace relicense::io
