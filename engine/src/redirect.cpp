#include "relicense/engine/redirect.hpp"

#include "relicense/io/url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

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

} // namespace

std::optional<url_target> parse_absolute_url(std::string_view text) {
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) return std::nullopt;
  const auto& u = *parsed;
  url_target t;
  const std::string scheme = lower(u.scheme());
  if (scheme == "https") {
    t.where.tls = true;
    t.where.port = 443;
  } else if (scheme == "http") {
    t.where.tls = false;
    t.where.port = 80;
  } else {
    return std::nullopt;
  }
  if (u.has_userinfo() || !u.has_authority()) return std::nullopt;
  std::string host = lower(u.encoded_host());
  // IPv6 literals come bracketed; the connection wants the bare address.
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return std::nullopt;
  t.where.host = std::move(host);
  if (u.has_port()) {
    const auto p = u.port();
    unsigned port = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (ec != std::errc{} || end != p.data() + p.size() || port == 0 || port > 65535) {
      return std::nullopt;
    }
    t.where.port = static_cast<std::uint16_t>(port);
  }
  t.path = std::string(u.encoded_path());
  if (t.path.empty()) t.path = "/";
  if (u.has_query()) {
    t.path += '?';
    t.path += std::string(u.encoded_query());
  }
  return t;
}

bool is_loopback_host(std::string_view host) noexcept {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  if (!host.starts_with("127.")) return false;
  // A dotted quad in 127.0.0.0/8; names like 127.evil.com are not loopback.
  unsigned dots = 0;
  for (char c : host) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') return false;
  }
  return dots == 3;
}

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
  if (location.front() == '/' && (location.size() < 2 || location[1] != '/')) {
    // Same origin, new path.
    auto ref = boost::urls::parse_origin_form(location);
    if (!ref) {
      v.reason = "redirect to a malformed Location";
      return v;
    }
    v.allowed = true;
    v.target.where = current;
    v.target.path = std::string(location);
    return v;
  }
  auto target = parse_absolute_url(location);
  if (!target) {
    v.reason = "redirect to a malformed or non-http(s) Location";
    return v;
  }
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
      v.reason = "refused redirect to " + origin_text(to) + " (outside " + cloud_domain(base.host) + ")";
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

} // namespace relicense::engine
