#include "relicense/engine/redirect.hpp"

#include "relicense/io/url.hpp"

#include <algorithm>
#include <cctype>

namespace relicense::engine {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool ends_with_label(std::string_view host, std::string_view domain) {
  if (host == domain) return true;
  return host.size() > domain.size() && host.ends_with(domain) &&
         host[host.size() - domain.size() - 1] == '.';
}

std::string origin_text(const io::origin& o) {
  return std::string(o.tls ? "https://" : "http://") + o.host + ":" + std::to_string(o.port);
}

}  // namespace

// URL parsing and the loopback rule are io's (url.hpp), which also screens out inputs that trip
// Boost.URL 1.81's assertions (found by fuzzing); the engine only adds its redirect verdict.
std::optional<url_target> parse_absolute_url(std::string_view text) {
  auto r = io::parse_absolute_url(text);
  if (!r.value) return std::nullopt;
  return url_target{std::move(r.value->where), std::move(r.value->target)};
}

bool is_loopback_host(std::string_view host) noexcept { return io::is_loopback(host); }

std::string cloud_domain(std::string_view host) {
  const std::string h = lower(host);
  if (std::count(h.begin(), h.end(), '.') < 2) return h;
  return h.substr(h.find('.') + 1);
}

redirect_verdict check_redirect(const io::origin& base, const io::origin& current,
                                std::string_view location) {
  redirect_verdict v;
  if (location.empty()) {
    v.reason = "redirect without a Location";
    return v;
  }
  auto resolved = io::resolve_location(io::location{current, "/"}, location);
  if (!resolved.value) {
    v.reason = "redirect to a malformed or non-http(s) Location";
    return v;
  }
  auto target =
      std::optional<url_target>(url_target{resolved.value->where, resolved.value->target});
  const auto& to = target->where;
  if (is_loopback_host(base.host)) {
    if (!is_loopback_host(to.host) || to.tls != base.tls) {
      v.reason = "refused redirect to " + origin_text(to) + " (outside the base URL's host)";
      return v;
    }
  } else {
    if (!to.tls) {
      v.reason = "refused redirect to " + origin_text(to) + " (not https)";
      return v;
    }
    if (!ends_with_label(to.host, cloud_domain(base.host))) {
      v.reason =
          "refused redirect to " + origin_text(to) + " (outside " + cloud_domain(base.host) + ")";
      return v;
    }
  }
  // And io's rule, the one the rest of the tool uses: a known Meraki cloud (or the very host of
  // a non-Meraki base URL), so a proxy's base URL never lets the key reach its sibling hosts.
  if (!is_loopback_host(base.host) && !io::redirect_allowed(base.host, to)) {
    v.reason = "refused redirect to " + origin_text(to) + " (not the base URL's Meraki cloud)";
    return v;
  }
  v.allowed = true;
  v.target = std::move(*target);
  return v;
}

}  // namespace relicense::engine
