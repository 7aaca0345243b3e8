// The live plan: a plan compared with the organizations' live inventories, and its renderings.
#include "relicense/plan/live.hpp"

#include "relicense/plan/csv.hpp"

#include <gtest/gtest.h>

using namespace relicense::plan;

namespace {

license_record lic(std::string id, std::string serial, std::string state,
                   std::string expiration = {}) {
  license_record l;
  l.id = std::move(id);
  l.device_serial = std::move(serial);
  l.state = std::move(state);
  l.expiration_date = std::move(expiration);
  return l;
}

plan load(std::string_view text) {
  auto r = parse_plan(text, "p.csv", {});
  EXPECT_TRUE(r.ok());
  return r.plan;
}

// Org A (per-device): L1 on D1 (active), L2 unassigned, L3 on D2 (active), L4 expired and
// unassigned, L5 on D3 (active). Devices D1..D4 claimed.
inventories org_a() {
  inventories inv;
  inventory& a = inv["A"];
  a.set_licensing_model("per-device");
  a.add(lic("L1", "Q2AA-AAAA-0001", "active"));
  a.add(lic("L2", "", "unused"));
  a.add(lic("L3", "Q2AA-AAAA-0002", "active"));
  a.add(lic("L4", "", "expired", "2020-10-30T15:01:46Z"));
  a.add(lic("L5", "Q2AA-AAAA-0003", "active"));
  a.set_devices({{"Q2AA-AAAA-0001", "MX64", ""},
                 {"Q2AA-AAAA-0002", "MX64", ""},
                 {"Q2AA-AAAA-0003", "MX64", ""},
                 {"Q2AA-AAAA-0004", "MX67", "new"}});
  return inv;
}

}  // namespace

// Rows are counted as assign, unassign, move, unchanged and unknown per organization.
TEST(LivePlan, CountsPerKind) {
  const plan p = load(
      "licenseId,deviceSerial,org\n"
      "L1,Q2AA-AAAA-0001,A\n"    // 2 unchanged
      "L2,Q2AA-AAAA-0004,A\n"    // 3 assign
      "L3,,A\n"                  // 4 unassign
      "L5,Q2AA-AAAA-0002,A\n"    // 5 move (onto D2, whose L3 leaves)
      "L9,Q2AA-AAAA-0004,A\n");  // 6 unknown
  const live_plan lp = plan_live(p, org_a(), {"p.csv"});
  ASSERT_EQ(lp.orgs.size(), 1u);
  const auto& a = lp.orgs[0];
  EXPECT_EQ(a.id, "A");
  EXPECT_EQ(a.licensing_model, "per-device");
  EXPECT_EQ(a.counts.unchanged, 1u);
  EXPECT_EQ(a.counts.assign, 1u);
  EXPECT_EQ(a.counts.unassign, 1u);
  EXPECT_EQ(a.counts.move, 1u);
  EXPECT_EQ(a.counts.unknown, 1u);
  EXPECT_EQ(lp.totals.changes(), 3u);
  EXPECT_EQ(lp.orgs_with_changes(), 1u);
  EXPECT_EQ(lp.kinds,
            (std::vector<live_kind>{live_kind::unchanged, live_kind::assign, live_kind::unassign,
                                    live_kind::move, live_kind::unknown}));
  EXPECT_EQ(lp.diff.rows[3].previous_serial, "Q2AA-AAAA-0003");
  ASSERT_EQ(a.warnings.size(), 1u);  // the move onto D2 does not queue: L3 leaves it
  EXPECT_EQ(
      a.warnings[0],
      "p.csv:6: license \"L9\" is not in organization \"A\"'s inventory: the API will answer 404");
}

// An unassigned license that is already unassigned is unchanged (null included).
TEST(LivePlan, UnassignedAlreadyUnchanged) {
  const live_plan lp = plan_live(load("licenseId,deviceSerial,org\nL2,,A\n"), org_a());
  EXPECT_EQ(lp.orgs[0].counts.unchanged, 1u);
  EXPECT_EQ(lp.totals.changes(), 0u);
  EXPECT_EQ(lp.orgs_with_changes(), 0u);
}

// An expired license, a target that already burns a license and an unclaimed target are warned.
TEST(LivePlan, RowWarnings) {
  const plan p = load(
      "licenseId,deviceSerial,org\n"
      "L4,Q2AA-AAAA-0004,A\n"    // 2 expired
      "L2,Q2AA-AAAA-0001,A\n"    // 3 D1 burns L1, which stays: queues
      "L5,Q2AA-AAAA-0009,A\n");  // 4 not claimed
  const live_plan lp = plan_live(p, org_a(), {"p.csv"});
  const auto& w = lp.orgs[0].warnings;
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0],
            "p.csv:2: license \"L4\" is expired (since \"2020-10-30T15:01:46Z\"): on "
            "\"Q2AA-AAAA-0004\" it "
            "would license nothing");
  EXPECT_EQ(w[1],
            "p.csv:3: device \"Q2AA-AAAA-0001\" already holds an active license (\"L1\"): license "
            "\"L2\" will "
            "queue behind it");
  EXPECT_EQ(
      w[2],
      "p.csv:4: device \"Q2AA-AAAA-0009\" is not in organization \"A\"'s device inventory: the API "
      "refuses licenses for a device the organization has not claimed");
  EXPECT_EQ(lp.totals.warnings, 3u);
}

// Without device warnings (a resolved serial map) only the license's own state is warned about.
TEST(LivePlan, DeviceWarningsOff) {
  const plan p = load("licenseId,deviceSerial,org\nL4,Q2AA-AAAA-0009,A\nL2,Q2AA-AAAA-0001,A\n");
  live_options o;
  o.device_warnings = false;
  const live_plan lp = plan_live(p, org_a(), o);
  ASSERT_EQ(lp.orgs[0].warnings.size(), 1u);
  EXPECT_NE(lp.orgs[0].warnings[0].find("is expired"), std::string::npos);
}

// Warnings beyond the cap are counted, not kept.
TEST(LivePlan, WarningCap) {
  std::string text = "licenseId,deviceSerial,org\n";
  for (int i = 0; i < 30; ++i) text += "X" + std::to_string(i) + ",Q2AA-AAAA-0004,A\n";
  live_options o;
  o.max_warnings_per_org = 5;
  const live_plan lp = plan_live(load(text), org_a(), o);
  EXPECT_EQ(lp.orgs[0].warnings.size(), 5u);
  EXPECT_EQ(lp.orgs[0].warnings_not_shown, 25u);
  EXPECT_EQ(lp.totals.warnings, 30u);
  EXPECT_EQ(lp.orgs[0].warnings[0].rfind("line 2: ", 0), 0u);  // no file name: "line N"
}

// An org that is not per-device gets one warning and its rows count as unknown; an org whose
// inventory was not read gets one warning too.
TEST(LivePlan, OrgWarnings) {
  inventories inv = org_a();
  inv["C"].set_licensing_model("co-term");
  const plan p =
      load("licenseId,deviceSerial,org\nL1,Q2AA-AAAA-0001,C\nL2,,C\nL3,Q2AA-AAAA-0001,B\n");
  const live_plan lp = plan_live(p, inv, {"p.csv"});
  ASSERT_EQ(lp.orgs.size(), 2u);
  EXPECT_EQ(lp.orgs[0].counts.unknown, 2u);
  ASSERT_EQ(lp.orgs[0].warnings.size(), 1u);
  EXPECT_EQ(lp.orgs[0].warnings[0],
            "p.csv: organization \"C\" uses \"co-term\" licensing, not per-device: the license "
            "endpoints refuse it, so its 2 rows will fail");
  EXPECT_EQ(lp.orgs[1].counts.unknown, 1u);
  ASSERT_EQ(lp.orgs[1].warnings.size(), 1u);
  EXPECT_EQ(lp.orgs[1].warnings[0],
            "p.csv: the license inventory of organization \"B\" was not read: its 1 row cannot be "
            "compared");
  EXPECT_EQ(lp.orgs[1].licensing_model, "");
}

// The text rendering: one block per organization, then the totals.
TEST(LivePlan, RenderText) {
  const plan p = load(
      "licenseId,deviceSerial,org\nL2,Q2AA-AAAA-0004,A\nL1,Q2AA-AAAA-0001,A\nL4,Q2AA-AAAA-0004,"
      "A\n");
  const std::string text = render_live_text(plan_live(p, org_a(), {"p.csv"}));
  EXPECT_EQ(text,
            "organization A (per-device)\n"
            "  assign     2  (unassigned now)\n"
            "  unassign   0\n"
            "  move       0  (from one device to another)\n"
            "  unchanged  1  (already in place: no request)\n"
            "  warning: p.csv:4: license \"L4\" is expired (since \"2020-10-30T15:01:46Z\"): on "
            "\"Q2AA-AAAA-0004\" it "
            "would license nothing\n"
            "total: 1 organization, 2 changes (assign 2, unassign 0, move 0), 1 unchanged, 0 "
            "unknown, 1 warning\n");
}

// The JSON rendering has the documented shape; licensingModel is null when not known.
TEST(LivePlan, RenderJson) {
  const plan p =
      load("licenseId,deviceSerial,org\nL2,Q2AA-AAAA-0004,A\nL3,,A\nX,Q2AA-AAAA-0001,B\n");
  const std::string json = render_live_json(plan_live(p, org_a(), {"p\"q.csv"}));
  EXPECT_EQ(json,
            "{\"organizations\":["
            "{\"id\":\"A\",\"licensingModel\":\"per-device\",\"assign\":1,\"unassign\":1,\"move\":"
            "0,\"unchanged\":0,"
            "\"unknown\":0,\"warnings\":[],\"warningsNotShown\":0},"
            "{\"id\":\"B\",\"licensingModel\":null,\"assign\":0,\"unassign\":0,\"move\":0,"
            "\"unchanged\":0,"
            "\"unknown\":1,\"warnings\":[\"p\\\"q.csv: the license inventory of organization "
            "\\\"B\\\" was not read: "
            "its 1 row cannot be compared\"],\"warningsNotShown\":0}],"
            "\"totals\":{\"organizations\":2,\"assign\":1,\"unassign\":1,\"move\":0,\"unchanged\":"
            "0,\"unknown\":1,"
            "\"changes\":2,\"warnings\":1}}\n");
}

// Text from the server cannot put control characters on the terminal.
TEST(LivePlan, RenderTextEscapesControls) {
  inventories inv;
  inv["A"].set_licensing_model("per\x1b[31mdevice");
  const std::string text =
      render_live_text(plan_live(load("licenseId,deviceSerial,org\nL1,,A\n"), inv));
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_NE(text.find("\\x1B[31m"), std::string::npos);
}

// The inventory lists a device's licenses burning one first, and keeps the last of two answers.
TEST(Inventory, LicensesOnAndReadd) {
  inventory inv;
  inv.add(lic("Q", "q2aa-aaaa-0001", "recentlyQueued"));
  inv.add(lic("H", "Q2AA-AAAA-0001", "expiring"));
  inv.add(lic("M", "Q2AA-AAAA-0002", "active"));
  auto on = inv.licenses_on("Q2AA-AAAA-0001");
  ASSERT_EQ(on.size(), 2u);
  EXPECT_EQ(on[0]->id, "H");
  EXPECT_EQ(on[1]->id, "Q");
  EXPECT_EQ(*inv.serial_of("Q"), "Q2AA-AAAA-0001");
  inv.add(lic("M", "Q2AA-AAAA-0001", "recentlyQueued"));  // moved between two pages
  EXPECT_TRUE(inv.licenses_on("Q2AA-AAAA-0002").empty());
  EXPECT_EQ(inv.licenses_on("Q2AA-AAAA-0001").size(), 3u);
  EXPECT_EQ(inv.licenses().size(), 3u);
  EXPECT_EQ(inv.find("M")->state, "recentlyQueued");
  EXPECT_EQ(inv.find("nope"), nullptr);
  EXPECT_FALSE(inv.devices_known());
  inv.set_devices({});
  EXPECT_TRUE(inv.devices_known());
  EXPECT_FALSE(inv.has_device("Q2AA-AAAA-0001"));
}

// Device pages accumulate; a device listed on two pages is kept once.
TEST(Inventory, DevicePages) {
  inventory inv;
  inv.add_devices({{"q2bb-bbbb-0001", "MX67", "a"}});
  inv.add_devices({{"Q2BB-BBBB-0002", "MR46", ""}, {"Q2BB-BBBB-0001", "MX67", "again"}});
  EXPECT_TRUE(inv.has_device("Q2BB-BBBB-0001"));
  EXPECT_TRUE(inv.has_device("Q2BB-BBBB-0002"));
  EXPECT_EQ(inv.device("Q2BB-BBBB-0001")->name, "a");
  EXPECT_EQ(inv.device("Q2BB-BBBB-0002")->model, "MR46");
  inv.set_devices({});
  EXPECT_FALSE(inv.has_device("Q2BB-BBBB-0001"));
  EXPECT_TRUE(inv.devices_known());
}
