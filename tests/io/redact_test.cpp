#include "relicense/io/redact.hpp"

#include <gtest/gtest.h>

namespace relicense::io {
namespace {

constexpr std::string_view key = "MARKERKEY0123456789abcdef";

// The secret itself disappears wherever it appears, every time.
TEST(Redact, SecretEverywhere) {
  const std::string in = std::string("a ") + std::string(key) + " b " + std::string(key);
  const std::string out = redact(in, key);
  EXPECT_EQ(out.find(key), std::string::npos);
  EXPECT_EQ(out, "a [REDACTED] b [REDACTED]");
  EXPECT_EQ(redact("nothing here", key), "nothing here");
  EXPECT_EQ(redact("no secret given", ""), "no secret given");
}

// Header values of Authorization and X-Cisco-Meraki-API-Key are removed even without the key.
TEST(Redact, HeaderValues) {
  EXPECT_EQ(redact("Authorization: Bearer abc\r\nHost: x"), "Authorization: [REDACTED]\r\nHost: x");
  EXPECT_EQ(redact("x-cisco-meraki-api-key: abc123\nnext"), "x-cisco-meraki-api-key: [REDACTED]\nnext");
  EXPECT_EQ(redact("Proxy-Authorization: Basic Zm9v"), "Proxy-Authorization: [REDACTED]");
  EXPECT_EQ(redact("sent bearer tok3n, then"), "sent bearer [REDACTED], then");
}

// Credentials in URLs (user-info, key-like query parameters) are removed, the rest kept.
TEST(Redact, Urls) {
  EXPECT_EQ(redact("GET https://u:p@api.meraki.com/x failed"),
            "GET https://[REDACTED]@api.meraki.com/x failed");
  EXPECT_EQ(redact("https://h/x?apiKey=abc&perPage=3"), "https://h/x?apiKey=[REDACTED]&perPage=3");
  EXPECT_EQ(redact("https://h/x?a=1&token=zz#f"), "https://h/x?a=1&token=[REDACTED]#f");
  EXPECT_EQ(redact("https://h/x?monkey=1"), "https://h/x?monkey=1");
  EXPECT_EQ(redact("https://h/x?startingAfter=abc"), "https://h/x?startingAfter=abc");
}

// Redacting twice changes nothing more; hostile text does not crash.
TEST(Redact, IdempotentAndRobust) {
  const std::string once = redact("Authorization: Bearer k\nBearer k https://a:b@h/?key=1", "k");
  EXPECT_EQ(redact(once, "k"), once);
  std::string junk(1000, '\0');
  junk += "Authorization:";
  EXPECT_NO_THROW(redact(junk, "x"));
  EXPECT_EQ(redact("Bearer ", ""), "Bearer ");
  EXPECT_EQ(redact("://@", ""), "://@");
}

} // namespace
} // namespace relicense::io
