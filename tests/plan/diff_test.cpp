// Diffing a plan against the current inventory.
#include "relicense/plan/diff.hpp"

#include "relicense/plan/csv.hpp"

#include <gtest/gtest.h>

using namespace relicense::plan;

namespace {

plan make_plan() {
  auto r = parse_plan(
      "licenseId,deviceSerial,org\n"
      "L1,Q2AA-AAAA-AAAA,A\n"   // change (was on another serial)
      "L2,Q2AA-AAAA-BBBB,A\n"   // unchanged
      "L3,,A\n"                 // unassign of an assigned license: change
      "L4,,A\n"                 // already unassigned: unchanged
      "L5,Q2AA-AAAA-CCCC,A\n"   // unknown license
      "L6,Q2AA-AAAA-DDDD,B\n",  // org B not fetched
      "d.csv", {});
  EXPECT_TRUE(r.ok());
  return r.plan;
}

}  // namespace

// Each row is classified and carries the serial the license had before.
TEST(PlanDiff, ClassifiesRows) {
  inventories inv;
  auto& a = inv["A"];
  a.set("L1", "Q2ZZ-ZZZZ-ZZZZ");
  a.set("L2", "q2aa-aaaa-bbbb");  // the API's case does not matter
  a.set("L3", "Q2YY-YYYY-YYYY");
  a.set("L4", "");
  a.set("L9", "Q2XX-XXXX-XXXX");
  const auto d = diff(make_plan(), inv);
  ASSERT_EQ(d.rows.size(), 6u);
  EXPECT_EQ(d.rows[0].kind, change_kind::change);
  EXPECT_EQ(d.rows[0].previous_serial, "Q2ZZ-ZZZZ-ZZZZ");
  EXPECT_EQ(d.rows[1].kind, change_kind::unchanged);
  EXPECT_EQ(d.rows[1].previous_serial, "Q2AA-AAAA-BBBB");
  EXPECT_EQ(d.rows[2].kind, change_kind::change);
  EXPECT_EQ(d.rows[2].previous_serial, "Q2YY-YYYY-YYYY");
  EXPECT_EQ(d.rows[3].kind, change_kind::unchanged);
  EXPECT_EQ(d.rows[3].previous_serial, "");
  EXPECT_EQ(d.rows[4].kind, change_kind::unknown_license);
  EXPECT_FALSE(d.rows[4].previous_serial);
  EXPECT_EQ(d.rows[5].kind, change_kind::not_fetched);
  EXPECT_FALSE(d.rows[5].previous_serial);
  EXPECT_EQ(d.counts.changes, 2u);
  EXPECT_EQ(d.counts.unchanged, 2u);
  EXPECT_EQ(d.counts.unknown_licenses, 1u);
  EXPECT_EQ(d.counts.not_fetched, 1u);
  EXPECT_STREQ(to_string(change_kind::unknown_license), "unknown_license");
}

// The same license id in another org's inventory does not count.
TEST(PlanDiff, InventoriesArePerOrg) {
  inventories inv;
  inv["B"].set("L1", "Q2AA-AAAA-AAAA");
  inv["A"];  // fetched, empty
  const auto d = diff(make_plan(), inv);
  EXPECT_EQ(d.rows[0].kind, change_kind::unknown_license);
  EXPECT_EQ(d.rows[5].kind, change_kind::unknown_license);
}
