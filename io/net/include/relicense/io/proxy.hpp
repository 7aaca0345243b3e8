// Which HTTP proxy, if any, a connection to an origin goes through: curl's rules for the
// *_proxy variables and NO_PROXY, plus --proxy and --no-proxy. Pure functions of the settings
// and the target (the environment is read once, into proxy_environment); the connection applies
// the choice (CONNECT tunnel or absolute-form request).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relicense::io {

/// An HTTP proxy, parsed from a URL such as http://user:pass@proxy.example.com:3128.
struct proxy_endpoint {
  std::string host;           ///< host name or IP literal (no brackets)
  std::uint16_t port = 1080;  ///< curl's default when the URL names none
  std::string user;           ///< percent-decoded; empty without credentials
  std::string password;       ///< percent-decoded; a secret
  std::string authorization;  ///< "Basic <base64(user:password)>", empty without credentials

  /// "host:port" ("[::1]:3128"): what messages name. Never the credentials.
  std::string display() const;

  /// Strings that must never appear in output: the password, "user:password" and the header
  /// value's token. Empty without credentials.
  std::vector<std::string> secrets() const;

  friend bool operator==(const proxy_endpoint&, const proxy_endpoint&) = default;
};

/// A value or why there is none. The reason never quotes the URL: it may carry a password.
struct proxy_parse_result {
  std::optional<proxy_endpoint> value;
  std::string error;
};

/// Parses a proxy URL: http://[user[:password]@]host[:port][/], or the same without a scheme
/// (http is assumed, as curl does). Other schemes (https, socks4, socks5...) are refused.
proxy_parse_result parse_proxy_url(std::string_view text);

/// The environment variables curl reads for proxies of http and https URLs. An empty value
/// counts as unset (curl's getenv wrapper treats it so). There is deliberately no HTTP_PROXY:
/// curl reads only the lower-case http_proxy, because a CGI program gets the request header
/// "Proxy:" as HTTP_PROXY, which would let any web client choose the proxy.
struct proxy_environment {
  std::string https_proxy;
  std::string HTTPS_PROXY;
  std::string http_proxy;
  std::string all_proxy;
  std::string ALL_PROXY;
  std::string no_proxy;
  std::string NO_PROXY;

  /// Reads the variables of this process.
  static proxy_environment from_process();
};

/// The proxy settings of a run.
struct proxy_config {
  std::string url;        ///< --proxy: wins over the *_proxy variables (NO_PROXY still applies)
  bool disabled = false;  ///< --no-proxy: no proxy at all, whatever the environment says
  proxy_environment env;
};

/// How to reach one origin: directly (no proxy) or through `proxy`.
struct proxy_route {
  std::optional<proxy_endpoint> proxy;
  std::string source;  ///< where the proxy came from: "--proxy", "https_proxy", "ALL_PROXY"...
  std::string error;   ///< non-empty: the chosen setting is unusable ("<source>: why")
};

/// The route to `host`:`port` over https (`tls`) or http, with curl's precedence:
/// --no-proxy; then NO_PROXY (no_proxy first) naming the host; then --proxy; then https_proxy,
/// HTTPS_PROXY (https) or http_proxy (http, lower case only); then all_proxy, ALL_PROXY.
/// Loopback hosts are proxied like any other unless NO_PROXY names them (curl does the same).
proxy_route select_proxy(const proxy_config& config, bool tls, std::string_view host,
                         std::uint16_t port);

/// Whether a NO_PROXY list names `host` (a name or an IP literal without brackets) on `port`.
/// curl's rules: "*" alone matches everything; entries are separated by commas (and blanks);
/// a name matches itself and its subdomains, with or without a leading dot, without case,
/// ignoring a trailing dot; an IP address matches the same address, or a network in CIDR
/// notation (10.0.0.0/8); names never match IP literals and IPs never match names (no DNS).
/// An entry without a port matches every port. One extension: an entry with a port
/// ("host:8443", "[::1]:8443") matches that port only, where curl never matches it.
bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::uint16_t port);

/// Why an http (cleartext) target must not be reached through `route`, or "": the API key
/// would cross the network in clear to a proxy that is not on this machine.
std::string proxy_cleartext_refusal(const proxy_route& route, bool tls);

}  // namespace relicense::io
