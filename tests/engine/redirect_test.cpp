#include "relicense/engine/redirect.hpp"

#include <gtest/gtest.h>

using relicense::engine::check_redirect;
using relicense::engine::cloud_domain;
using relicense::engine::is_loopback_host;
using relicense::engine::parse_absolute_url;
using relicense::io::origin;

namespace {
const origin meraki{true, "api.meraki.com", 443};
const origin local{false, "127.0.0.1", 8080};
}  // namespace

// Absolute URLs split into origin and target, with default ports and IPv6 brackets removed.
TEST(Url, ParseAbsolute) {
  auto u = parse_absolute_url("https://API.Meraki.com/api/v1/organizations?x=1");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->where.tls);
  EXPECT_EQ(u->where.host, "api.meraki.com");
  EXPECT_EQ(u->where.port, 443);
  EXPECT_EQ(u->path, "/api/v1/organizations?x=1");
  u = parse_absolute_url("http://127.0.0.1:9000");
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->where.tls);
  EXPECT_EQ(u->where.port, 9000);
  EXPECT_EQ(u->path, "/");
  u = parse_absolute_url("http://[::1]:81/a");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->where.host, "::1");
}

// Non-http schemes, user info, bad ports and relative references are not absolute URLs.
TEST(Url, ParseRejects) {
  EXPECT_FALSE(parse_absolute_url("ftp://api.meraki.com/"));
  EXPECT_FALSE(parse_absolute_url("https://user:pw@api.meraki.com/"));
  EXPECT_FALSE(parse_absolute_url("https://api.meraki.com:0/"));
  EXPECT_FALSE(parse_absolute_url("https://api.meraki.com:70000/"));
  EXPECT_FALSE(parse_absolute_url("/api/v1"));
  EXPECT_FALSE(parse_absolute_url("not a url"));
}

// Loopback means 127/8 literals, ::1 and localhost; look-alike names are not loopback.
TEST(Url, Loopback) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.1.2.3"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_FALSE(is_loopback_host("127.evil.com"));
  EXPECT_FALSE(is_loopback_host("127.0.0.1.evil.com"));
  EXPECT_FALSE(is_loopback_host("api.meraki.com"));
}

// The cloud domain drops the first label of three-or-more-label hosts.
TEST(Url, CloudDomain) {
  EXPECT_EQ(cloud_domain("api.meraki.com"), "meraki.com");
  EXPECT_EQ(cloud_domain("api.gov-meraki.com"), "gov-meraki.com");
  EXPECT_EQ(cloud_domain("api.meraki.cn"), "meraki.cn");
  EXPECT_EQ(cloud_domain("meraki.com"), "meraki.com");
}

// A shard host of the same cloud over https is followed.
TEST(Redirect, ShardOfSameCloudAllowed) {
  const auto v =
      check_redirect(meraki, meraki, "https://n149.meraki.com/api/v1/organizations/1/licenses/2");
  ASSERT_TRUE(v.allowed) << v.reason;
  EXPECT_EQ(v.target.where.host, "n149.meraki.com");
  EXPECT_EQ(v.target.path, "/api/v1/organizations/1/licenses/2");
}

// Another cloud, a look-alike domain, or plain http are refused: the key never leaves the cloud.
TEST(Redirect, ForeignRefused) {
  EXPECT_FALSE(check_redirect(meraki, meraki, "https://n1.meraki.ca/x").allowed);
  EXPECT_FALSE(check_redirect(meraki, meraki, "https://evilmeraki.com/x").allowed);
  EXPECT_FALSE(check_redirect(meraki, meraki, "https://meraki.com.evil.io/x").allowed);
  EXPECT_FALSE(check_redirect(meraki, meraki, "http://n1.meraki.com/x").allowed);
  EXPECT_FALSE(check_redirect(meraki, meraki, "https://127.0.0.1/x").allowed);
  EXPECT_FALSE(check_redirect(meraki, meraki, "gopher://n1.meraki.com/x").allowed);
  EXPECT_FALSE(check_redirect(meraki, meraki, "").allowed);
  const auto v = check_redirect(meraki, meraki, "https://evil.example/x");
  EXPECT_NE(v.reason.find("evil.example"), std::string::npos);
}

// Behind a non-Meraki base (a proxy), only that very host may receive the key.
TEST(Redirect, NonMerakiBaseOnlySameHost) {
  const origin proxy{true, "api.proxy.example", 443};
  EXPECT_TRUE(check_redirect(proxy, proxy, "https://api.proxy.example/x").allowed);
  EXPECT_FALSE(check_redirect(proxy, proxy, "https://other.proxy.example/x").allowed);
}

// A relative Location stays on the current origin.
TEST(Redirect, RelativeStaysOnCurrentOrigin) {
  const origin shard{true, "n5.meraki.com", 443};
  const auto v = check_redirect(meraki, shard, "/api/v1/other");
  ASSERT_TRUE(v.allowed);
  EXPECT_EQ(v.target.where, shard);
  EXPECT_EQ(v.target.path, "/api/v1/other");
  EXPECT_FALSE(check_redirect(meraki, shard, "//evil.example/x").allowed);
}

// With a loopback base (the twin), loopback targets of the same scheme are allowed, others not.
TEST(Redirect, LoopbackBase) {
  EXPECT_TRUE(check_redirect(local, local, "http://127.0.0.1:9001/api/v1/x").allowed);
  EXPECT_TRUE(check_redirect(local, local, "http://localhost:9001/api/v1/x").allowed);
  EXPECT_FALSE(check_redirect(local, local, "https://127.0.0.1:9001/api/v1/x").allowed);
  EXPECT_FALSE(check_redirect(local, local, "http://10.0.0.1/x").allowed);
  EXPECT_FALSE(check_redirect(local, local, "http://api.meraki.com/x").allowed);
}
