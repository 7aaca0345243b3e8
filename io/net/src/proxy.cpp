#include "relicense/io/proxy.hpp"

#include "relicense/io/url.hpp"

#include <boost/url/grammar/ci_string.hpp>
#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace relicense::io {
namespace {

namespace urls = boost::urls;

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Bytes outside the URI character set: Boost.URL refuses them, and its debug builds assert on
// some malformed inputs (see url.cpp); refusing them first also keeps the message simple.
bool uri_chars_only(std::string_view text) noexcept {
  static constexpr std::string_view extra = "-._~:/?#[]@!$&'()*+,;=%";
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           extra.find(c) != std::string_view::npos;
  });
}

bool plain_scheme_name(std::string_view s) noexcept {
  return !s.empty() && s.size() <= 10 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '-' || c == '.';
  });
}

std::optional<std::uint16_t> parse_port(std::string_view digits) noexcept {
  if (digits.empty() || digits.size() > 5) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size() || value == 0 || value > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// One NO_PROXY entry: a name or address (possibly with /bits), and an optional port.
struct no_proxy_entry {
  std::string_view name;
  std::optional<std::uint16_t> port;
  bool valid = true;
};

no_proxy_entry split_entry(std::string_view token) {
  no_proxy_entry e;
  if (token.front() == '[') {
    const auto close = token.find(']');
    if (close == std::string_view::npos) {
      e.valid = false;
      return e;
    }
    e.name = token.substr(1, close - 1);
    const std::string_view rest = token.substr(close + 1);
    if (!rest.empty()) {
      e.port = rest.front() == ':' ? parse_port(rest.substr(1)) : std::nullopt;
      e.valid = e.port.has_value();
    }
    return e;
  }
  const auto colon = token.find(':');
  if (colon != std::string_view::npos && token.find(':', colon + 1) == std::string_view::npos) {
    // host:port (a bare IPv6 address has several colons and no port)
    e.name = token.substr(0, colon);
    e.port = parse_port(token.substr(colon + 1));
    e.valid = e.port.has_value();
    return e;
  }
  e.name = token;
  return e;
}

// curl's rule for an address and an entry "addr" or "addr/bits": bits 0 (none) means all bits;
// more bits than the address has never match.
template <std::size_t N>
bool prefix_matches(const std::array<unsigned char, N>& host,
                    const std::array<unsigned char, N>& net, unsigned bits) noexcept {
  if (bits == 0) bits = N * 8;
  if (bits > N * 8) return false;
  std::size_t i = 0;
  for (; bits >= 8; bits -= 8, ++i) {
    if (host[i] != net[i]) return false;
  }
  if (bits == 0) return true;
  const auto mask = static_cast<unsigned char>(0xff << (8 - bits));
  return (host[i] & mask) == (net[i] & mask);
}

bool address_matches(std::string_view host, std::string_view entry, bool v6) {
  unsigned bits = 0;
  if (const auto slash = entry.find('/'); slash != std::string_view::npos) {
    const std::string_view digits = entry.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
    if (ec != std::errc{} || end != digits.data() + digits.size()) return false;
    entry = entry.substr(0, slash);
  }
  if (v6) {
    auto h = urls::parse_ipv6_address(host);
    auto n = urls::parse_ipv6_address(entry);
    return h && n && prefix_matches(h->to_bytes(), n->to_bytes(), bits);
  }
  auto h = urls::parse_ipv4_address(host);
  auto n = urls::parse_ipv4_address(entry);
  return h && n && prefix_matches(h->to_bytes(), n->to_bytes(), bits);
}

bool name_matches(std::string_view host, std::string_view entry) {
  if (!entry.empty() && entry.back() == '.') entry.remove_suffix(1);
  if (!entry.empty() && entry.front() == '.') entry.remove_prefix(1);
  if (entry.empty()) return false;
  if (entry.size() == host.size()) return urls::grammar::ci_is_equal(entry, host);
  // A suffix counts only on a label boundary: "example.com" names www.example.com, not
  // nonexample.com.
  return entry.size() < host.size() && host[host.size() - entry.size() - 1] == '.' &&
         urls::grammar::ci_is_equal(entry, host.substr(host.size() - entry.size()));
}

std::string getenv_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace

std::string proxy_endpoint::display() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::vector<std::string> proxy_endpoint::secrets() const {
  std::vector<std::string> s;
  if (authorization.empty()) return s;
  s.push_back(user + ":" + password);
  s.push_back(authorization.substr(authorization.find(' ') + 1));
  // A password of one or two characters would turn every message into a row of markers, and
  // shows nobody anything they could not guess.
  if (password.size() >= 3) s.push_back(password);
  return s;
}

proxy_parse_result parse_proxy_url(std::string_view text) {
  proxy_parse_result r;
  auto fail = [&r](std::string why) {
    r.error = std::move(why);
    return r;
  };
  if (text.empty()) return fail("the proxy URL is empty");
  std::string full;
  if (const auto sep = text.find("://"); sep == std::string_view::npos) {
    full = "http://" + std::string(text);  // curl's default proxy scheme
  } else {
    const std::string_view scheme = text.substr(0, sep);
    if (!plain_scheme_name(scheme)) return fail("the proxy URL is not a valid URL");
    std::string s(scheme);
    for (char& c : s) c = urls::grammar::to_lower(c);
    if (s == "https" || s == "socks4" || s == "socks4a" || s == "socks5" || s == "socks5h") {
      return fail("proxy scheme " + s + ":// is not supported; use an http:// proxy");
    }
    if (s != "http") return fail("unknown proxy scheme " + s + ":// (expected http://)");
    full = "http" + std::string(text.substr(sep));
  }
  if (!uri_chars_only(full)) {
    return fail(
        "the proxy URL has characters that must be percent-encoded (in the user name or "
        "password?)");
  }
  auto parsed = urls::parse_uri(full);
  if (!parsed) return fail("the proxy URL is not a valid URL");
  const urls::url_view& u = *parsed;
  if (u.host_type() == urls::host_type::ipvfuture)
    return fail("the proxy URL's host is not supported");
  std::string_view host = u.encoded_host_address();
  if (host.empty()) return fail("the proxy URL has no host");
  if (host.find('%') != std::string_view::npos)
    return fail("the proxy URL's host must not be percent-encoded");
  proxy_endpoint p;
  p.host = normal_host(host);
  if (u.has_port()) {
    // Not port_number(): it wraps values above 65535 instead of refusing them.
    const auto port = parse_port(u.port());
    if (!port) return fail("the proxy URL's port is invalid");
    p.port = *port;
  }
  // curl ignores a path, query or fragment of a proxy URL; so does this.
  if (u.has_userinfo()) {
    p.user = u.user();
    p.password = u.password();
    if (!p.user.empty() || !p.password.empty())
      p.authorization = "Basic " + base64(p.user + ":" + p.password);
  }
  r.value = std::move(p);
  return r;
}

proxy_environment proxy_environment::from_process() {
  proxy_environment e;
  e.https_proxy = getenv_or_empty("https_proxy");
  e.HTTPS_PROXY = getenv_or_empty("HTTPS_PROXY");
  e.http_proxy = getenv_or_empty("http_proxy");
  e.all_proxy = getenv_or_empty("all_proxy");
  e.ALL_PROXY = getenv_or_empty("ALL_PROXY");
  e.no_proxy = getenv_or_empty("no_proxy");
  e.NO_PROXY = getenv_or_empty("NO_PROXY");
  return e;
}

bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::uint16_t port) {
  if (no_proxy == "*") return true;  // curl: only a lone asterisk is a wildcard
  if (host.empty()) return false;
  const bool v6 = host.find(':') != std::string_view::npos;
  const bool v4 = !v6 && urls::parse_ipv4_address(host).has_value();
  if (!v4 && !v6 && host.size() > 1 && host.back() == '.') host.remove_suffix(1);
  std::size_t pos = 0;
  while (pos <= no_proxy.size()) {
    auto comma = no_proxy.find(',', pos);
    if (comma == std::string_view::npos) comma = no_proxy.size();
    std::string_view token = no_proxy.substr(pos, comma - pos);
    pos = comma + 1;
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
      token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (token.empty()) continue;
    const no_proxy_entry e = split_entry(token);
    if (!e.valid || (e.port && *e.port != port)) continue;
    const bool match = v4 || v6 ? address_matches(host, e.name, v6) : name_matches(host, e.name);
    if (match) return true;
  }
  return false;
}

proxy_route select_proxy(const proxy_config& config, bool tls, std::string_view host,
                         std::uint16_t port) {
  proxy_route r;
  if (config.disabled) return r;
  const proxy_environment& env = config.env;
  // curl applies NO_PROXY to a proxy given on its command line too.
  const std::string& no_proxy = !env.no_proxy.empty() ? env.no_proxy : env.NO_PROXY;
  if (!no_proxy.empty() && no_proxy_matches(no_proxy, host, port)) return r;

  const std::string* value = nullptr;
  const char* source = nullptr;
  auto consider = [&](const std::string& v, const char* name) {
    if (value == nullptr && !v.empty()) {
      value = &v;
      source = name;
    }
  };
  consider(config.url, "--proxy");
  if (tls) {
    consider(env.https_proxy, "https_proxy");
    consider(env.HTTPS_PROXY, "HTTPS_PROXY");
  } else {
    // Lower case only, as curl: see proxy_environment.
    consider(env.http_proxy, "http_proxy");
  }
  consider(env.all_proxy, "all_proxy");
  consider(env.ALL_PROXY, "ALL_PROXY");
  if (value == nullptr) return r;

  r.source = source;
  auto parsed = parse_proxy_url(*value);
  if (!parsed.value) {
    r.error = r.source + ": " + parsed.error;
    return r;
  }
  r.proxy = std::move(parsed.value);
  return r;
}

std::string proxy_cleartext_refusal(const proxy_route& route, bool tls) {
  if (tls || !route.proxy || is_loopback(route.proxy->host)) return {};
  return "plain http through proxy " + route.proxy->display() + " (" + route.source +
         ") would send the API key across the network in clear; use https, or --no-proxy";
}

}  // namespace relicense::io
