#include "relicense/io/link_header.hpp"

#include <gtest/gtest.h>

namespace relicense::io {
namespace {

// A Dashboard API Link header yields every link and the next one.
TEST(LinkHeader, DashboardStyle) {
  const std::string h =
      "<https://n1.meraki.com/api/v1/organizations/1/licenses?perPage=3&startingAfter=a>; "
      "rel=first, <https://n1.meraki.com/api/v1/organizations/1/licenses?perPage=3&startingAfter="
      "L2>; rel=next, <https://n1.meraki.com/api/v1/organizations/1/licenses?perPage=3&"
      "endingBefore=z>; rel=last";
  auto links = parse_link_header(h);
  ASSERT_EQ(links.size(), 3u);
  EXPECT_EQ(links[0].rel, "first");
  EXPECT_EQ(links[2].rel, "last");
  EXPECT_EQ(next_link(h),
            "https://n1.meraki.com/api/v1/organizations/1/licenses?perPage=3&startingAfter=L2");
}

// Quoted, multi-valued and upper-case rels, commas inside the URI, extra parameters.
TEST(LinkHeader, Rfc8288Forms) {
  EXPECT_EQ(next_link("<https://x/a,b>; title=\"a, b; c\"; rel=\"prev NEXT\""), "https://x/a,b");
  EXPECT_EQ(next_link("<https://x/1>;rel=next"), "https://x/1");
  EXPECT_EQ(next_link("  <https://x/1> ; REL = \"next\" "), "https://x/1");
  // Only the first rel counts.
  EXPECT_EQ(next_link("<https://x/1>; rel=prev; rel=next"), std::nullopt);
  EXPECT_EQ(next_link("<https://x/1>; rel=prev"), std::nullopt);
  EXPECT_EQ(next_link("<https://x/1>; rel=nextpage"), std::nullopt);
  EXPECT_EQ(next_link(""), std::nullopt);
}

// Malformed link-values are skipped without losing the well-formed ones.
TEST(LinkHeader, MalformedSkipped) {
  EXPECT_EQ(next_link("garbage, <https://x/2>; rel=next"), "https://x/2");
  EXPECT_EQ(next_link("<https://x/1 rel=next"), std::nullopt);
  EXPECT_EQ(next_link("<https://x/1> junk; rel=next, <https://x/3>; rel=next"), "https://x/3");
  EXPECT_EQ(next_link("<https://x/1>; rel=\"next"), "https://x/1");
  EXPECT_TRUE(parse_link_header(",,,;;;<<>>\"\"\\").size() <= 1);
}

}  // namespace
}  // namespace relicense::io
