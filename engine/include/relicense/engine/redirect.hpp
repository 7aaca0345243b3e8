// Redirect policy: which Location a request may follow with the API key. The Dashboard API
// redirects to shard hosts (n149.meraki.com) of the same cloud; the key must never go anywhere
// else. Pure (Boost.URL parsing only).
#pragma once

#include "relicense/io/http_client.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace relicense::engine {

/// An absolute URL split into where to connect and what to ask.
struct url_target {
  io::origin where;
  std::string path;  ///< path and query, never empty ("/" at least)
};

/// Parses an absolute http(s) URL; nullopt if it is not one (or has user info / a fragment).
std::optional<url_target> parse_absolute_url(std::string_view url);

/// 127.0.0.0/8, ::1 and localhost.
bool is_loopback_host(std::string_view host) noexcept;

/// The cloud domain of an API host: its name without the first label when it has three or more
/// (api.meraki.com → meraki.com, api.gov-meraki.com → gov-meraki.com), else the host itself.
std::string cloud_domain(std::string_view host);

/// Verdict on one Location.
struct redirect_verdict {
  bool allowed = false;
  std::string reason;  ///< why not (for the report); never contains the key
  url_target target;   ///< where to go when allowed
};

/// Checks a Location answered by `current` for a run whose base URL is at `base`. Relative
/// locations resolve against `current`. Allowed: https to the base's cloud domain (or a
/// subdomain of it); for a loopback base (tests, the twin), any loopback host with the base's
/// scheme. Everything else is refused.
redirect_verdict check_redirect(const io::origin& base, const io::origin& current,
                                std::string_view location);

}  // namespace relicense::engine
