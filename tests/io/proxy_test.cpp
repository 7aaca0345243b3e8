// Proxy selection: curl's rules for the *_proxy variables and NO_PROXY, --proxy and --no-proxy,
// and the parsing of proxy URLs (credentials, default port, refused schemes).
#include "relicense/io/proxy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace relicense::io {
namespace {

constexpr bool https = true;
constexpr bool http = false;

// The proxy's "host:port" of a selection, "direct" without one, "error: ..." for a bad setting.
std::string pick(const proxy_config& c, bool tls = https, std::string_view host = "api.meraki.com",
                 std::uint16_t port = 443) {
  const auto r = select_proxy(c, tls, host, port);
  if (!r.error.empty()) return "error: " + r.error;
  if (!r.proxy) return "direct";
  return r.proxy->display() + " from " + r.source;
}

// ----- proxy URLs ---------------------------------------------------------------------------

// A full URL: host, port, credentials percent-decoded, Basic header value of user:password.
TEST(ProxyUrl, ParsesCredentialsHostAndPort) {
  const auto r = parse_proxy_url("http://alice:p%40ss%3Aw0rd@Proxy.Example.com:3128");
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->host, "proxy.example.com");
  EXPECT_EQ(r.value->port, 3128);
  EXPECT_EQ(r.value->user, "alice");
  EXPECT_EQ(r.value->password, "p@ss:w0rd");
  // base64("alice:p@ss:w0rd")
  EXPECT_EQ(r.value->authorization, "Basic YWxpY2U6cEBzczp3MHJk");
  EXPECT_EQ(r.value->display(), "proxy.example.com:3128");
}

// No scheme means http, and no port means curl's 1080; a trailing slash or path is ignored.
TEST(ProxyUrl, DefaultsSchemeAndPortAsCurl) {
  const auto bare = parse_proxy_url("proxy.example.com");
  ASSERT_TRUE(bare.value) << bare.error;
  EXPECT_EQ(bare.value->port, 1080);
  EXPECT_TRUE(bare.value->authorization.empty());
  const auto with_port = parse_proxy_url("10.0.0.1:8080");
  ASSERT_TRUE(with_port.value) << with_port.error;
  EXPECT_EQ(with_port.value->host, "10.0.0.1");
  EXPECT_EQ(with_port.value->port, 8080);
  const auto slash = parse_proxy_url("HTTP://proxy:3128/");
  ASSERT_TRUE(slash.value) << slash.error;
  EXPECT_EQ(slash.value->port, 3128);
  const auto v6 = parse_proxy_url("http://[::1]:3128");
  ASSERT_TRUE(v6.value) << v6.error;
  EXPECT_EQ(v6.value->host, "::1");
  EXPECT_EQ(v6.value->display(), "[::1]:3128");
}

// SOCKS and https proxies are refused with a message naming the scheme; junk is refused too.
TEST(ProxyUrl, RefusesOtherSchemesAndJunk) {
  for (const char* url :
       {"socks5://proxy:1080", "socks5h://proxy:1080", "socks4://proxy", "https://proxy:443"}) {
    const auto r = parse_proxy_url(url);
    EXPECT_FALSE(r.value) << url;
    EXPECT_NE(r.error.find("not supported"), std::string::npos) << r.error;
  }
  EXPECT_NE(parse_proxy_url("ftp://proxy").error.find("unknown proxy scheme ftp://"),
            std::string::npos);
  EXPECT_FALSE(parse_proxy_url("").value);
  EXPECT_FALSE(parse_proxy_url("http://").value);
  EXPECT_FALSE(parse_proxy_url("http://proxy:0").value);
  EXPECT_FALSE(parse_proxy_url("http://proxy:99999").value);
  EXPECT_FALSE(parse_proxy_url("http://proxy:abc").value);
  EXPECT_FALSE(parse_proxy_url("http://pro xy:3128").value);
}

// No error message quotes the URL: it may hold the password.
TEST(ProxyUrl, ErrorsNeverQuoteThePassword) {
  for (const char* url :
       {"socks5://u:SeCrEt@proxy:1080", "http://u:SeCrEt@proxy:0", "http://u:SeCrEt pass@proxy",
        "u:SeCrEt://proxy", "http://u:SeCrEt@", "gopher://u:SeCrEt@proxy"}) {
    const auto r = parse_proxy_url(url);
    EXPECT_FALSE(r.value) << url;
    EXPECT_EQ(r.error.find("SeCrEt"), std::string::npos) << r.error;
  }
}

// The secrets of a proxy with credentials: user:password, the Basic token, the password.
TEST(ProxyUrl, SecretsCoverEveryFormOfTheCredentials) {
  const auto r = parse_proxy_url("http://bob:hunter2@proxy:3128");
  ASSERT_TRUE(r.value);
  const auto s = r.value->secrets();
  EXPECT_NE(std::find(s.begin(), s.end(), "bob:hunter2"), s.end());
  EXPECT_NE(std::find(s.begin(), s.end(), "Ym9iOmh1bnRlcjI="), s.end());
  EXPECT_NE(std::find(s.begin(), s.end(), "hunter2"), s.end());
  EXPECT_TRUE(parse_proxy_url("proxy:3128").value->secrets().empty());
}

// ----- environment and precedence -----------------------------------------------------------

// Nothing set: direct.
TEST(ProxySelect, NothingSetIsDirect) {
  EXPECT_EQ(pick({}), "direct");
  EXPECT_EQ(pick({}, http, "127.0.0.1", 8080), "direct");
}

// https targets read https_proxy, then HTTPS_PROXY; the lower-case one wins when both are set.
TEST(ProxySelect, HttpsTargetsReadHttpsProxyLowerCaseFirst) {
  proxy_config c;
  c.env.HTTPS_PROXY = "http://upper:1";
  EXPECT_EQ(pick(c), "upper:1 from HTTPS_PROXY");
  c.env.https_proxy = "http://lower:2";
  EXPECT_EQ(pick(c), "lower:2 from https_proxy");
}

// http targets read only the lower-case http_proxy (curl ignores HTTP_PROXY: CGI sets it from a
// client's "Proxy:" header), and never https_proxy.
TEST(ProxySelect, HttpTargetsReadOnlyLowerCaseHttpProxy) {
  proxy_config c;
  c.env.https_proxy = "http://tls-only:1";
  c.env.HTTPS_PROXY = "http://tls-only:2";
  EXPECT_EQ(pick(c, http, "127.0.0.1", 8080), "direct");
  c.env.http_proxy = "http://plain:3";
  EXPECT_EQ(pick(c, http, "127.0.0.1", 8080), "plain:3 from http_proxy");
  // http_proxy is not for https targets.
  proxy_config only_http;
  only_http.env.http_proxy = "http://plain:3";
  EXPECT_EQ(pick(only_http), "direct");
}

// all_proxy, then ALL_PROXY, apply when the scheme's own variable is not set.
TEST(ProxySelect, AllProxyIsTheFallback) {
  proxy_config c;
  c.env.ALL_PROXY = "http://all-upper:1";
  EXPECT_EQ(pick(c), "all-upper:1 from ALL_PROXY");
  EXPECT_EQ(pick(c, http, "localhost", 8080), "all-upper:1 from ALL_PROXY");
  c.env.all_proxy = "http://all-lower:2";
  EXPECT_EQ(pick(c), "all-lower:2 from all_proxy");
  c.env.HTTPS_PROXY = "http://specific:3";
  EXPECT_EQ(pick(c), "specific:3 from HTTPS_PROXY");
  EXPECT_EQ(pick(c, http, "localhost", 8080), "all-lower:2 from all_proxy");
}

// An empty variable counts as unset (curl's getenv wrapper): the next one applies.
TEST(ProxySelect, EmptyVariablesAreUnset) {
  proxy_config c;
  c.env.https_proxy = "";
  c.env.HTTPS_PROXY = "http://upper:1";
  EXPECT_EQ(pick(c), "upper:1 from HTTPS_PROXY");
  c.env.no_proxy = "";
  c.env.NO_PROXY = "api.meraki.com";
  EXPECT_EQ(pick(c), "direct");
}

// --proxy wins over every *_proxy variable; --no-proxy turns off every proxy.
TEST(ProxySelect, CommandLineWinsOverEnvironment) {
  proxy_config c;
  c.env.https_proxy = "http://env:1";
  c.env.all_proxy = "http://env:2";
  c.url = "http://cli:3";
  EXPECT_EQ(pick(c), "cli:3 from --proxy");
  EXPECT_EQ(pick(c, http, "127.0.0.1", 80), "cli:3 from --proxy");
  c.disabled = true;
  EXPECT_EQ(pick(c), "direct");
}

// NO_PROXY applies to --proxy too, as in curl; no_proxy wins over NO_PROXY.
TEST(ProxySelect, NoProxyAppliesToCommandLineProxyAndLowerCaseWins) {
  proxy_config c;
  c.url = "http://cli:3";
  c.env.NO_PROXY = "meraki.com";
  EXPECT_EQ(pick(c), "direct");
  c.env.no_proxy = "example.org";  // the lower-case list replaces the upper-case one
  EXPECT_EQ(pick(c), "cli:3 from --proxy");
}

// Loopback hosts are proxied like any other unless NO_PROXY names them (curl's behaviour).
TEST(ProxySelect, LoopbackIsProxiedUnlessNamed) {
  proxy_config c;
  c.env.https_proxy = "http://proxy:3128";
  EXPECT_EQ(pick(c, https, "127.0.0.1", 8443), "proxy:3128 from https_proxy");
  EXPECT_EQ(pick(c, https, "localhost", 8443), "proxy:3128 from https_proxy");
  c.env.no_proxy = "localhost,127.0.0.1";
  EXPECT_EQ(pick(c, https, "127.0.0.1", 8443), "direct");
  EXPECT_EQ(pick(c, https, "localhost", 8443), "direct");
  EXPECT_EQ(pick(c, https, "::1", 8443), "proxy:3128 from https_proxy");
}

// A bad proxy setting is an error naming its source, never quoting the URL.
TEST(ProxySelect, BadSettingNamesItsSource) {
  proxy_config c;
  c.env.HTTPS_PROXY = "socks5://u:SeCrEt@proxy:1080";
  const auto e = pick(c);
  EXPECT_EQ(e.rfind("error: HTTPS_PROXY: ", 0), 0u) << e;
  EXPECT_EQ(e.find("SeCrEt"), std::string::npos) << e;
  c.url = "socks5://proxy";
  EXPECT_EQ(pick(c).rfind("error: --proxy: ", 0), 0u);
}

// ----- NO_PROXY forms -----------------------------------------------------------------------

// "*" alone matches every host; inside a list it is not a wildcard (curl).
TEST(NoProxy, LoneAsteriskMatchesEverything) {
  EXPECT_TRUE(no_proxy_matches("*", "api.meraki.com", 443));
  EXPECT_TRUE(no_proxy_matches("*", "10.1.2.3", 443));
  EXPECT_FALSE(no_proxy_matches("example.org,*", "api.meraki.com", 443));
}

// A name matches itself and its subdomains, with or without a leading dot, never a longer name.
TEST(NoProxy, DomainSuffixOnLabelBoundaries) {
  EXPECT_TRUE(no_proxy_matches("meraki.com", "meraki.com", 443));
  EXPECT_TRUE(no_proxy_matches("meraki.com", "api.meraki.com", 443));
  EXPECT_TRUE(no_proxy_matches(".meraki.com", "api.meraki.com", 443));
  EXPECT_TRUE(no_proxy_matches(".meraki.com", "meraki.com", 443));
  EXPECT_FALSE(no_proxy_matches("meraki.com", "notmeraki.com", 443));
  EXPECT_FALSE(no_proxy_matches("api.meraki.com", "meraki.com", 443));
  EXPECT_FALSE(no_proxy_matches("", "meraki.com", 443));
  EXPECT_FALSE(no_proxy_matches(".", "meraki.com", 443));
}

// Names compare without case and without a trailing dot, on either side.
TEST(NoProxy, CaseAndTrailingDots) {
  EXPECT_TRUE(no_proxy_matches("MERAKI.com.", "api.meraki.COM", 443));
  EXPECT_TRUE(no_proxy_matches("meraki.com", "api.meraki.com.", 443));
}

// Commas separate entries; blanks around them and empty entries are ignored.
TEST(NoProxy, ListsWithBlanksAndEmptyEntries) {
  EXPECT_TRUE(no_proxy_matches(" example.org , ,meraki.com ", "api.meraki.com", 443));
  EXPECT_TRUE(no_proxy_matches("example.org,\tmeraki.com", "api.meraki.com", 443));
  EXPECT_FALSE(no_proxy_matches(",,,", "api.meraki.com", 443));
}

// IP literals match exactly or by CIDR network; names and addresses never match each other.
TEST(NoProxy, IpLiteralsAndNetworks) {
  EXPECT_TRUE(no_proxy_matches("127.0.0.1", "127.0.0.1", 8080));
  EXPECT_FALSE(no_proxy_matches("127.0.0.1", "127.0.0.2", 8080));
  EXPECT_TRUE(no_proxy_matches("10.0.0.0/8", "10.20.30.40", 443));
  EXPECT_FALSE(no_proxy_matches("10.0.0.0/8", "11.0.0.1", 443));
  EXPECT_TRUE(no_proxy_matches("192.168.0.0/16", "192.168.255.1", 443));
  EXPECT_TRUE(no_proxy_matches("192.168.1.0/23", "192.168.0.7", 443));
  EXPECT_FALSE(no_proxy_matches("10.0.0.0/33", "10.0.0.0", 443));
  EXPECT_FALSE(no_proxy_matches("localhost", "127.0.0.1", 443));
  EXPECT_FALSE(no_proxy_matches("127.0.0.1", "localhost", 443));
  EXPECT_FALSE(no_proxy_matches("0.0.1", "10.0.0.1", 443));  // not a suffix match for addresses
  EXPECT_TRUE(no_proxy_matches("::1", "::1", 443));
  EXPECT_TRUE(no_proxy_matches("[::1]", "::1", 443));
  EXPECT_TRUE(no_proxy_matches("fd00::/8", "fd12:3456::1", 443));
  EXPECT_FALSE(no_proxy_matches("fd00::/8", "fe80::1", 443));
  EXPECT_FALSE(no_proxy_matches("::1", "127.0.0.1", 443));
}

// An entry without a port matches every port; with a port, only that port.
TEST(NoProxy, Ports) {
  EXPECT_TRUE(no_proxy_matches("meraki.com", "api.meraki.com", 8443));
  EXPECT_TRUE(no_proxy_matches("api.meraki.com:443", "api.meraki.com", 443));
  EXPECT_FALSE(no_proxy_matches("api.meraki.com:8443", "api.meraki.com", 443));
  EXPECT_TRUE(no_proxy_matches("127.0.0.1:8080", "127.0.0.1", 8080));
  EXPECT_FALSE(no_proxy_matches("127.0.0.1:8080", "127.0.0.1", 8081));
  EXPECT_TRUE(no_proxy_matches("[::1]:8443", "::1", 8443));
  EXPECT_FALSE(no_proxy_matches("[::1]:8443", "::1", 443));
  EXPECT_FALSE(no_proxy_matches("meraki.com:x", "api.meraki.com", 443));
}

// ----- cleartext ----------------------------------------------------------------------------

// Plain http (loopback twins) may go through a proxy on this machine only: elsewhere the key
// would cross the network in clear.
TEST(ProxyCleartext, PlainHttpOnlyThroughLoopbackProxies) {
  proxy_config c;
  c.env.http_proxy = "http://proxy.corp:3128";
  const auto far = select_proxy(c, http, "127.0.0.1", 8080);
  EXPECT_NE(proxy_cleartext_refusal(far, false).find("in clear"), std::string::npos);
  c.env.http_proxy = "http://127.0.0.1:3128";
  EXPECT_EQ(proxy_cleartext_refusal(select_proxy(c, http, "127.0.0.1", 8080), false), "");
  c.env.https_proxy = "http://proxy.corp:3128";
  EXPECT_EQ(proxy_cleartext_refusal(select_proxy(c, https, "api.meraki.com", 443), true), "");
}

}  // namespace
}  // namespace relicense::io
