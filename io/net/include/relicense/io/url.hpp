// URLs of the Dashboard API: the base URL given on the command line, redirect targets, and the
// rules that keep the API key away from hosts that must not see it. Parsing is Boost.URL's.
#pragma once

#include "relicense/io/http_client.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace relicense::io {

/// A parsed base URL such as https://api.meraki.com/api/v1.
struct base_url {
  origin where;
  std::string path_prefix;  ///< "/api/v1": no trailing slash, "" for a bare origin
};

/// An absolute location: where to connect and what to ask for there.
struct location {
  origin where;
  std::string target;  ///< path and query ("/api/v1/x?y=1"), never empty
};

/// A value or why there is none (the reason never contains credentials found in the input).
template <class T>
struct url_result {
  std::optional<T> value;
  std::string error;  ///< non-empty exactly when value is empty
};

/// Parses an http(s) base URL. Refuses other schemes, user:password@, queries and fragments.
url_result<base_url> parse_base_url(std::string_view text);

/// Parses an absolute http(s) URL (e.g. a Link header's next page) into origin + target.
url_result<location> parse_absolute_url(std::string_view text);

/// Resolves a Location header value (absolute, scheme-relative or relative) against the URL of
/// the request that received it.
url_result<location> resolve_location(const location& current, std::string_view location_value);

/// 127.0.0.0/8, ::1 (bracketed or not) and "localhost" (any case, optional trailing dot).
bool is_loopback(std::string_view host) noexcept;

/// A host name as relicense compares it: lower case, without the root's trailing dot
/// ("API.meraki.com." is "api.meraki.com").
std::string normal_host(std::string_view host);

/// Why `where` must not receive the API key, or "" when it may: plain http is allowed only to
/// loopback hosts, so the key never crosses a network in clear. The CLI exits 2 on a refusal.
std::string cleartext_refusal(const origin& where);

/// The Meraki cloud domain a host belongs to ("meraki.com", "meraki.ca", "meraki.cn",
/// "meraki.in", "gov-meraki.com"), or "" when it belongs to none.
std::string_view meraki_cloud_domain(std::string_view host) noexcept;

/// Whether a redirect from the base host may be followed with the Authorization header: an https
/// target under the same Meraki cloud domain as the base host (or the very same host when the
/// base is not a Meraki cloud), or, for tests, loopback to loopback with any scheme.
bool redirect_allowed(std::string_view base_host, const origin& target) noexcept;

/// The same check on a URL; false when the URL does not parse.
bool redirect_allowed(std::string_view base_host, std::string_view target_url);

/// "https://host" or "http://host:8080" (default ports omitted; IPv6 literals bracketed).
std::string to_string(const origin& where);

}  // namespace relicense::io
