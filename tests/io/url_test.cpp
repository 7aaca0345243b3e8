#include "relicense/io/url.hpp"

#include <gtest/gtest.h>

namespace relicense::io {
namespace {

// The default Meraki base URL splits into an https origin on 443 and the /api/v1 prefix.
TEST(Url, ParsesDefaultBaseUrl) {
  auto r = parse_base_url("https://api.meraki.com/api/v1");
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_TRUE(r.value->where.tls);
  EXPECT_EQ(r.value->where.host, "api.meraki.com");
  EXPECT_EQ(r.value->where.port, 443);
  EXPECT_EQ(r.value->path_prefix, "/api/v1");
}

// Ports, trailing slashes, upper-case hosts and IPv6 literals are normalised.
TEST(Url, NormalisesBaseUrl) {
  auto r = parse_base_url("http://127.0.0.1:8080/api/v1/");
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_FALSE(r.value->where.tls);
  EXPECT_EQ(r.value->where.port, 8080);
  EXPECT_EQ(r.value->path_prefix, "/api/v1");

  auto up = parse_base_url("HTTPS://API.Meraki.COM.");
  ASSERT_TRUE(up.value) << up.error;
  EXPECT_EQ(up.value->where.host, "api.meraki.com");
  EXPECT_EQ(up.value->path_prefix, "");

  auto v6 = parse_base_url("http://[::1]:9000/api/v1");
  ASSERT_TRUE(v6.value) << v6.error;
  EXPECT_EQ(v6.value->where.host, "::1");
  EXPECT_EQ(to_string(v6.value->where), "http://[::1]:9000");
}

// Bad base URLs are refused with a reason that does not quote credentials.
TEST(Url, RefusesBadBaseUrls) {
  EXPECT_FALSE(parse_base_url("").value);
  EXPECT_FALSE(parse_base_url("api.meraki.com/api/v1").value);
  EXPECT_FALSE(parse_base_url("ftp://api.meraki.com/").value);
  EXPECT_FALSE(parse_base_url("https:///api/v1").value);
  EXPECT_FALSE(parse_base_url("https://api.meraki.com/api/v1?x=1").value);
  EXPECT_FALSE(parse_base_url("https://api.meraki.com/api/v1#frag").value);
  EXPECT_FALSE(parse_base_url("https://api.meraki.com:0/").value);
  EXPECT_FALSE(parse_base_url("https://api%2emeraki.com/").value);
  auto creds = parse_base_url("https://user:s3cretpw@api.meraki.com/api/v1");
  ASSERT_FALSE(creds.value);
  EXPECT_EQ(creds.error.find("s3cretpw"), std::string::npos);
}

// Loopback covers 127/8, ::1, mapped 127/8 and localhost; nothing else.
TEST(Url, Loopback) {
  EXPECT_TRUE(is_loopback("127.0.0.1"));
  EXPECT_TRUE(is_loopback("127.200.3.4"));
  EXPECT_TRUE(is_loopback("::1"));
  EXPECT_TRUE(is_loopback("[::1]"));
  EXPECT_TRUE(is_loopback("::ffff:127.0.0.1"));
  EXPECT_TRUE(is_loopback("localhost"));
  EXPECT_TRUE(is_loopback("LocalHost."));
  EXPECT_FALSE(is_loopback("128.0.0.1"));
  EXPECT_FALSE(is_loopback("10.0.0.1"));
  EXPECT_FALSE(is_loopback("::2"));
  EXPECT_FALSE(is_loopback("localhost.evil.com"));
  EXPECT_FALSE(is_loopback("127.0.0.1.nip.io"));
  EXPECT_FALSE(is_loopback("127.0.0.1.evil.com"));
  EXPECT_FALSE(is_loopback("localhost.evil.com"));
  EXPECT_FALSE(is_loopback("evil.localhost.com"));
  EXPECT_FALSE(is_loopback("127.0.0.1evil"));
  EXPECT_FALSE(is_loopback("::1.evil.com"));
  EXPECT_FALSE(is_loopback("[::1]x"));
  EXPECT_FALSE(is_loopback("2130706433"));  // 127.0.0.1 as one number: a name, not an address
  EXPECT_TRUE(is_loopback("127.255.255.255"));
  EXPECT_FALSE(is_loopback(""));
}

// Plain http is refused for anything but loopback; https always passes.
TEST(Url, CleartextRefusal) {
  EXPECT_EQ(cleartext_refusal({true, "api.meraki.com", 443}), "");
  EXPECT_EQ(cleartext_refusal({false, "127.0.0.1", 8080}), "");
  EXPECT_EQ(cleartext_refusal({false, "localhost", 80}), "");
  EXPECT_NE(cleartext_refusal({false, "api.meraki.com", 80}), "");
  EXPECT_NE(cleartext_refusal({false, "192.168.1.10", 8080}), "");
  EXPECT_NE(cleartext_refusal({false, "127.0.0.1.evil.com", 80}), "");
  // From the parsed base URL: the whole host decides, never the address it starts with.
  for (std::string_view url : {"http://localhost.evil.com:8080/api/v1", "http://[::2]/api/v1"}) {
    auto b = parse_base_url(url);
    ASSERT_TRUE(b.value) << url << ": " << b.error;
    EXPECT_NE(cleartext_refusal(b.value->where), "") << url;
  }
  // A host that only starts like an IPv4 address is not cut to that address (Boost.URL 1.81
  // would read "127.0.0.1" and a path ".evil.com/api/v1"): such URLs are refused outright.
  for (std::string_view url :
       {"http://127.0.0.1.evil.com/api/v1", "https://127.0.0.1.nip.io/api/v1", "http://127.0.0.1x/",
        "http://1.2.3.4.5/x", "http://127.0.0.1.evil.com", "http://127.0.0.1:80.evil.com/x"}) {
    auto b = parse_base_url(url);
    EXPECT_FALSE(b.value) << url << " parsed as host " << (b.value ? b.value->where.host : "");
    auto a = parse_absolute_url(url);
    EXPECT_FALSE(a.value) << url << " parsed as host " << (a.value ? a.value->where.host : "");
    auto l = resolve_location({{false, "127.0.0.1", 8080}, "/api/v1/x"}, url);
    EXPECT_FALSE(l.value) << url << " resolved to host " << (l.value ? l.value->where.host : "");
  }
  for (std::string_view url :
       {"http://127.0.0.1:8080/api/v1", "http://localhost/api/v1", "http://[::1]:9/x"}) {
    auto b = parse_base_url(url);
    ASSERT_TRUE(b.value) << url << ": " << b.error;
    EXPECT_EQ(cleartext_refusal(b.value->where), "") << url;
  }
}

// Each regional cloud is recognised; look-alike domains are not.
TEST(Url, MerakiCloudDomain) {
  EXPECT_EQ(meraki_cloud_domain("api.meraki.com"), "meraki.com");
  EXPECT_EQ(meraki_cloud_domain("n149.meraki.com"), "meraki.com");
  EXPECT_EQ(meraki_cloud_domain("api.meraki.ca"), "meraki.ca");
  EXPECT_EQ(meraki_cloud_domain("api.meraki.cn"), "meraki.cn");
  EXPECT_EQ(meraki_cloud_domain("API.MERAKI.IN."), "meraki.in");
  EXPECT_EQ(meraki_cloud_domain("api.gov-meraki.com"), "gov-meraki.com");
  EXPECT_EQ(meraki_cloud_domain("notmeraki.com"), "");
  EXPECT_EQ(meraki_cloud_domain("meraki.com.evil.com"), "");
  EXPECT_EQ(meraki_cloud_domain("evil.com"), "");
}

// Redirects keep the key inside the base's Meraki cloud, over https; loopback only to loopback.
TEST(Url, RedirectAllowed) {
  EXPECT_TRUE(redirect_allowed("api.meraki.com", "https://n149.meraki.com/api/v1/x"));
  EXPECT_TRUE(redirect_allowed("api.meraki.com", "https://meraki.com/api/v1/x"));
  EXPECT_TRUE(redirect_allowed("api.gov-meraki.com", "https://n1.gov-meraki.com/api/v1"));
  EXPECT_FALSE(redirect_allowed("api.meraki.com", "http://n149.meraki.com/api/v1/x"));
  EXPECT_FALSE(redirect_allowed("api.meraki.com", "https://evil.com/api/v1/x"));
  EXPECT_FALSE(redirect_allowed("api.meraki.com", "https://meraki.com.evil.com/api/v1"));
  EXPECT_FALSE(redirect_allowed("api.meraki.com", "https://n1.meraki.ca/api/v1"));
  EXPECT_FALSE(redirect_allowed("api.meraki.com", "https://n1.gov-meraki.com/api/v1"));
  EXPECT_FALSE(redirect_allowed("api.gov-meraki.com", "https://n1.meraki.com/api/v1"));
  EXPECT_FALSE(redirect_allowed("api.meraki.com", "https://u:p@n1.meraki.com/api/v1"));
  EXPECT_FALSE(redirect_allowed("api.meraki.com", "not a url"));
  EXPECT_TRUE(redirect_allowed("127.0.0.1", "http://127.0.0.1:9999/api/v1"));
  EXPECT_TRUE(redirect_allowed("localhost", "http://[::1]:9999/api/v1"));
  EXPECT_FALSE(redirect_allowed("127.0.0.1", "https://n149.meraki.com/api/v1"));
  EXPECT_FALSE(redirect_allowed("api.meraki.com", "http://127.0.0.1/api/v1"));
  // A non-Meraki base (a proxy) may only redirect to itself, over https.
  EXPECT_TRUE(redirect_allowed("proxy.example", "https://proxy.example/x"));
  EXPECT_FALSE(redirect_allowed("proxy.example", "https://other.example/x"));
}

// Location values resolve against the request's URL: absolute, scheme-relative and relative.
TEST(Url, ResolveLocation) {
  const location cur{{true, "api.meraki.com", 443}, "/api/v1/organizations/1/licenses/2"};
  auto abs = resolve_location(cur, "https://n149.meraki.com/api/v1/organizations/1/licenses/2");
  ASSERT_TRUE(abs.value) << abs.error;
  EXPECT_EQ(abs.value->where, (origin{true, "n149.meraki.com", 443}));
  EXPECT_EQ(abs.value->target, "/api/v1/organizations/1/licenses/2");

  auto rel = resolve_location(cur, "/api/v1/other?x=1");
  ASSERT_TRUE(rel.value) << rel.error;
  EXPECT_EQ(rel.value->where, cur.where);
  EXPECT_EQ(rel.value->target, "/api/v1/other?x=1");

  auto dot = resolve_location(cur, "../3");
  ASSERT_TRUE(dot.value) << dot.error;
  EXPECT_EQ(dot.value->target, "/api/v1/organizations/1/3");

  auto sch = resolve_location(cur, "//n2.meraki.com:8443/p");
  ASSERT_TRUE(sch.value) << sch.error;
  EXPECT_EQ(sch.value->where, (origin{true, "n2.meraki.com", 8443}));

  const location v6{{false, "::1", 8080}, "/a/b"};
  auto r6 = resolve_location(v6, "c");
  ASSERT_TRUE(r6.value) << r6.error;
  EXPECT_EQ(r6.value->where, v6.where);
  EXPECT_EQ(r6.value->target, "/a/c");

  EXPECT_FALSE(resolve_location(cur, "https://[bad").value);
  // Inputs that trip a Boost.URL 1.81 assertion (found by fuzzing) are refused cleanly.
  EXPECT_FALSE(resolve_location(cur, "eL3n14:#").value);
  EXPECT_FALSE(resolve_location(cur, "https:?").value);
  EXPECT_FALSE(parse_absolute_url("a:#").value);
  EXPECT_FALSE(parse_base_url("https:#").value);
  EXPECT_FALSE(resolve_location(cur, "L4:\xff").value);
  EXPECT_FALSE(resolve_location(cur, "a:[").value);
  EXPECT_FALSE(resolve_location(cur, "a:]x").value);
  EXPECT_FALSE(resolve_location(cur, "/x y").value);
  EXPECT_FALSE(resolve_location(cur, "mailto:x@y").value);
}

// Absolute URLs from Link headers keep their query verbatim.
TEST(Url, ParseAbsoluteUrl) {
  auto r = parse_absolute_url(
      "https://n1.meraki.com/api/v1/organizations/1/licenses?perPage=1000&startingAfter=abc%3D");
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->target, "/api/v1/organizations/1/licenses?perPage=1000&startingAfter=abc%3D");
  EXPECT_FALSE(parse_absolute_url("/relative").value);
}

}  // namespace
}  // namespace relicense::io
