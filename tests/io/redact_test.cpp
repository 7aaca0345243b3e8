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
  EXPECT_EQ(redact("x-cisco-meraki-api-key: abc123\nnext"),
            "x-cisco-meraki-api-key: [REDACTED]\nnext");
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

// A secret list replaces each of its secrets and leaves other text as is; a secret containing a
// listed one ("Bearer <key>", in either order of adding) needs no scan of its own.
TEST(Redact, SecretList) {
  secret_list secrets;
  secrets.add("Bearer " + std::string(key));
  secrets.add(key);
  secrets.add("");
  secrets.add(key);  // a duplicate changes nothing
  secrets.add("Bearer " + std::string(key));
  secrets.add("proxy-pw");
  ASSERT_EQ(secrets.items().size(), 2u);
  EXPECT_TRUE(secrets.contains(key));
  EXPECT_TRUE(secrets.contains("proxy-pw"));
  EXPECT_FALSE(secrets.contains("Bearer " + std::string(key)));
  std::string text = "got Bearer " + std::string(key) + " and " + std::string(key) +
                     std::string(key) + " proxy-pw";
  EXPECT_TRUE(secrets.scrub(text));
  EXPECT_EQ(text, "got Bearer [REDACTED] and [REDACTED][REDACTED] [REDACTED]");
  std::string clean = "nothing to see";
  EXPECT_FALSE(secrets.scrub(clean));
  EXPECT_EQ(clean, "nothing to see");
  EXPECT_EQ(secrets.scrubbed(std::string(key) + "x"), "[REDACTED]x");
  EXPECT_TRUE(secret_list{}.empty());
}

// A secret that is part of the marker itself does not loop or grow the text without end.
TEST(Redact, SecretInsideTheMarker) {
  std::string text = "RED RED";
  EXPECT_TRUE(redact_in_place(text, "RED"));
  EXPECT_EQ(text, "[REDACTED] [REDACTED]");
  EXPECT_FALSE(redact_in_place(text, ""));
}

}  // namespace
}  // namespace relicense::io
