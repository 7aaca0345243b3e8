// Serial maps: recognised by their header, validated statically, resolved against the live
// inventory into license rows, and written back as a license CSV.
#include "relicense/plan/serial_map.hpp"

#include "relicense/plan/csv.hpp"

#include <gtest/gtest.h>

using namespace relicense::plan;

namespace {

load_options map_options(std::string org = {}) {
  load_options o;
  o.org = std::move(org);
  o.accept_serial_map = true;
  return o;
}

license_record lic(std::string id, std::string serial, std::string state, std::string head = {}) {
  license_record l;
  l.id = std::move(id);
  l.device_serial = std::move(serial);
  l.state = std::move(state);
  l.head_license_id = std::move(head);
  l.license_type = "MX64-ENT";
  return l;
}

device_record dev(std::string serial, std::string model = "MX67") {
  return device_record{std::move(serial), std::move(model), ""};
}

std::string all(const load_result& r) {
  std::string s;
  for (const auto& d : r.errors) s += to_string(d) + "\n";
  for (const auto& d : r.warnings) s += "warning: " + to_string(d) + "\n";
  return s;
}

}  // namespace

// A header with oldSerial,newSerial and no licenseId makes the file a serial map, in any alias.
TEST(SerialMapLoad, RecognisedByHeader) {
  for (std::string_view header : {"oldSerial,newSerial,organizationId", "old_serial,new_serial,org",
                                  "FROM,To,organization_id"}) {
    const std::string text =
        std::string(header) +
        "\nq2aa-aaaa-0001,Q2BB-BBBB-0001,O1\nQ2AA-AAAA-0002,Q2BB-BBBB-0002,O2\n";
    const auto r = parse_plan(text, "m.csv", map_options());
    ASSERT_TRUE(r.ok()) << header << "\n" << all(r);
    ASSERT_TRUE(r.map) << header;
    EXPECT_TRUE(r.plan.rows.empty());
    ASSERT_EQ(r.map->rows.size(), 2u);
    EXPECT_EQ(r.map->rows[0].old_serial, "Q2AA-AAAA-0001");  // upper-cased
    EXPECT_EQ(r.map->rows[0].new_serial, "Q2BB-BBBB-0001");
    EXPECT_EQ(r.map->rows[0].line, 2u);
    EXPECT_EQ(r.map->orgs, (std::vector<std::string>{"O1", "O2"}));
    EXPECT_EQ(r.map->rows[1].org, 1u);
    EXPECT_EQ(r.map->file, "m.csv");
    EXPECT_EQ(r.map->old_column, 1u);
    EXPECT_EQ(r.map->new_column, 2u);
    EXPECT_FALSE(r.plan.fingerprint.empty());
  }
}

// A license CSV is still a license CSV, with or without the option.
TEST(SerialMapLoad, LicenseCsvUnchanged) {
  const auto r =
      parse_plan("licenseId,deviceSerial\nL1,Q2AA-AAAA-0001\n", "l.csv", map_options("O"));
  ASSERT_TRUE(r.ok()) << all(r);
  EXPECT_FALSE(r.map);
  EXPECT_EQ(r.plan.rows.size(), 1u);
}

// Without accept_serial_map, a map is refused with a message saying what it is.
TEST(SerialMapLoad, RefusedWhereNotAccepted) {
  load_options o;
  o.org = "O";
  const auto r = parse_plan("oldSerial,newSerial\nQ2AA-AAAA-0001,Q2BB-BBBB-0001\n", "m.csv", o);
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(r.map);
  EXPECT_EQ(to_string(r.errors.at(0)),
            "m.csv:1: this is a serial map (oldSerial,newSerial columns), but this command takes a "
            "license CSV "
            "(licenseId,deviceSerial[,organizationId])");
}

// --org is the default org of a map without an org column, and filters one with it.
TEST(SerialMapLoad, OrgDefaultAndFilter) {
  const auto r = parse_plan("from,to\nQ2AA-AAAA-0001,Q2BB-BBBB-0001\n", "m.csv", map_options("O9"));
  ASSERT_TRUE(r.ok()) << all(r);
  EXPECT_EQ(r.map->orgs, std::vector<std::string>{"O9"});
  const auto f = parse_plan(
      "from,to,org\nQ2AA-AAAA-0001,Q2BB-BBBB-0001,O1\nQ2AA-AAAA-0002,Q2BB-BBBB-0002,O2\n", "m.csv",
      map_options("O2"));
  ASSERT_TRUE(f.ok()) << all(f);
  ASSERT_EQ(f.map->rows.size(), 1u);
  EXPECT_EQ(f.map->rows[0].old_serial, "Q2AA-AAAA-0002");
  EXPECT_EQ(f.plan.counts.filtered_out, 1u);
  const auto none = parse_plan("from,to\nQ2AA-AAAA-0001,Q2BB-BBBB-0001\n", "m.csv", map_options());
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.errors[0].message.find("no organizationId column and no --org"),
            std::string::npos);
}

// A header with only one side of the map names the missing column.
TEST(SerialMapLoad, MissingColumn) {
  const auto r = parse_plan("oldSerial,org\nQ2AA-AAAA-0001,O\n", "m.csv", map_options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(to_string(r.errors.at(0)),
            "m.csv:1: serial map: no newSerial column (accepted names: newSerial, new_serial, to)");
  const auto twice =
      parse_plan("from,to,old_serial\nQ2AA-AAAA-0001,Q2BB-BBBB-0001,Q2AA-AAAA-0001\n", "m.csv",
                 map_options("O"));
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(to_string(twice.errors.at(0)),
            "m.csv:1: column 3 (old_serial): a second oldSerial column (the first is column 1)");
}

// Bad serials, a device on both sides and a serial in two mappings are errors naming file:line.
TEST(SerialMapLoad, StaticErrors) {
  const auto r = parse_plan(
      "oldSerial,newSerial\n"
      "Q2AA-AAAA-0001,Q2BB-BBBB-0001\n"  // 2 ok
      "Q2AA-AAAA-0001,Q2BB-BBBB-0009\n"  // 3 old serial again
      "Q2AA-AAAA-0003,Q2BB-BBBB-0001\n"  // 4 new serial again
      "Q2BB-BBBB-0001,Q2CC-CCCC-0001\n"  // 5 a chain: new of line 2 is old here
      "Q2AA-AAAA-0005,q2aa-aaaa-0005\n"  // 6 same device on both sides
      "Q2AA-AAAA-0006,\n"                // 7 empty new
      "nope,Q2BB-BBBB-0007\n",           // 8 invalid old
      "m.csv", map_options("O"));
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 6u) << all(r);
  EXPECT_EQ(to_string(r.errors[0]),
            "m.csv:3: column 1 (oldSerial): serial \"Q2AA-AAAA-0001\" is in two mappings: "
            "line 2 (as old serial) and line 3 (as old serial)");
  EXPECT_EQ(to_string(r.errors[1]),
            "m.csv:4: column 2 (newSerial): serial \"Q2BB-BBBB-0001\" is in two mappings: "
            "line 2 (as new serial) and line 4 (as new serial)");
  EXPECT_EQ(to_string(r.errors[2]),
            "m.csv:5: column 1 (oldSerial): serial \"Q2BB-BBBB-0001\" is in two mappings: "
            "line 2 (as new serial) and line 5 (as old serial)");
  EXPECT_EQ(to_string(r.errors[3]),
            "m.csv:6: column 2 (newSerial): the same device \"Q2AA-AAAA-0005\" on both sides of "
            "the mapping");
  EXPECT_EQ(r.errors[4].line, 7u);
  EXPECT_NE(r.errors[4].message.find("empty"), std::string::npos);
  EXPECT_EQ(r.errors[5].line, 8u);
  EXPECT_NE(r.errors[5].message.find("invalid serial \"NOPE\""), std::string::npos);
}

// The same mapping twice is a warning, and the repeat is dropped.
TEST(SerialMapLoad, RepeatDropped) {
  const auto r =
      parse_plan("from,to\nQ2AA-AAAA-0001,Q2BB-BBBB-0001\nq2aa-aaaa-0001,Q2BB-BBBB-0001\n", "m.csv",
                 map_options("O"));
  ASSERT_TRUE(r.ok()) << all(r);
  EXPECT_EQ(r.map->rows.size(), 1u);
  EXPECT_EQ(r.plan.counts.duplicates_dropped, 1u);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].line, 3u);
}

namespace {

serial_map load_map(std::string_view text) {
  auto r = parse_plan(text, "m.csv", map_options("O"));
  EXPECT_TRUE(r.ok()) << all(r);
  return r.map ? *r.map : serial_map{};
}

// Org O: OLD1 burns L1 with L2 queued behind it and L3 expired; OLD2 has nothing; NEW2 already
// burns L9; NEW1 and NEW2 are claimed, NEW3 is not.
inventories refresh_inventory() {
  inventories inv;
  inventory& o = inv["O"];
  o.add(lic("L2", "Q2AA-AAAA-0001", "recentlyQueued", "L1"));  // the API may list it first
  o.add(lic("L1", "q2aa-aaaa-0001", "active"));
  o.add(lic("L3", "Q2AA-AAAA-0001", "expired"));
  o.add(lic("L4", "Q2AA-AAAA-0003", "expiring"));
  o.add(lic("L9", "Q2BB-BBBB-0002", "active"));
  o.add(lic("L10", "", "unused"));
  o.set_devices({dev("Q2BB-BBBB-0001"), dev("Q2BB-BBBB-0002"), dev("Q2AA-AAAA-0001", "MX64")});
  return inv;
}

}  // namespace

// Every license on the old device moves to the new one, the burning one first; expired ones stay.
TEST(SerialMapResolve, MovesActiveFirst) {
  const auto m = load_map("from,to\nQ2AA-AAAA-0001,Q2BB-BBBB-0001\n");
  const auto res = resolve_serial_map(m, refresh_inventory());
  ASSERT_TRUE(res.ok()) << all(res.result);
  const plan& p = res.result.plan;
  ASSERT_EQ(p.rows.size(), 2u);
  EXPECT_EQ(p.rows[0].license_id, "L1");
  EXPECT_EQ(p.rows[1].license_id, "L2");
  for (const auto& r : p.rows) {
    EXPECT_EQ(r.serial, "Q2BB-BBBB-0001");
    EXPECT_EQ(r.line, 2u);
    EXPECT_EQ(p.orgs[r.org], "O");
  }
  EXPECT_EQ(res.previous_serials, (std::vector<std::string>{"Q2AA-AAAA-0001", "Q2AA-AAAA-0001"}));
  EXPECT_EQ(p.counts.assigns, 2u);
  EXPECT_EQ(p.fingerprint, fingerprint_of(p));
  ASSERT_EQ(res.result.warnings.size(), 1u);
  EXPECT_EQ(to_string(res.result.warnings[0]),
            "m.csv:2: column 1 (from): license \"L3\" on \"Q2AA-AAAA-0001\" is "
            "expired: it stays on the old device");
}

// An old device with no license is an error naming the map's file:line; expired ones are named.
TEST(SerialMapResolve, OldDeviceWithoutLicense) {
  inventories inv = refresh_inventory();
  inv["O"].add(lic("L5", "Q2AA-AAAA-0007", "expired"));
  const auto m =
      load_map("from,to\nQ2AA-AAAA-0002,Q2BB-BBBB-0001\nQ2AA-AAAA-0007,Q2BB-BBBB-0003\n");
  const auto res = resolve_serial_map(m, inv);
  ASSERT_FALSE(res.ok());
  ASSERT_EQ(res.result.errors.size(), 2u);
  EXPECT_EQ(
      to_string(res.result.errors[0]),
      "m.csv:2: column 1 (from): device \"Q2AA-AAAA-0002\" holds no license in organization \"O\"");
  EXPECT_EQ(to_string(res.result.errors[1]),
            "m.csv:3: column 1 (from): device \"Q2AA-AAAA-0007\" holds no license "
            "in organization \"O\" (only expired ones: \"L5\")");
  EXPECT_TRUE(res.result.plan.rows.empty());
}

// A new device that already burns a license, or is not claimed by the org, is a warning.
TEST(SerialMapResolve, NewDeviceWarnings) {
  const auto m =
      load_map("from,to\nQ2AA-AAAA-0001,Q2BB-BBBB-0002\nQ2AA-AAAA-0003,Q2BB-BBBB-0003\n");
  const auto res = resolve_serial_map(m, refresh_inventory());
  ASSERT_TRUE(res.ok()) << all(res.result);
  EXPECT_EQ(res.result.plan.rows.size(), 3u);
  std::vector<std::string> w;
  for (const auto& d : res.result.warnings) w.push_back(to_string(d));
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[1],
            "m.csv:2: column 2 (to): device \"Q2BB-BBBB-0002\" already holds an active license "
            "(\"L9\"): the "
            "licenses moved onto it will queue behind it");
  EXPECT_EQ(
      w[2],
      "m.csv:3: column 2 (to): device \"Q2BB-BBBB-0003\" is not in organization \"O\"'s device "
      "inventory: the API refuses licenses for a device the organization has not claimed");
}

// Without a device inventory the claim is not checked; without a license inventory the org's
// mappings are one error.
TEST(SerialMapResolve, MissingInventories) {
  inventories inv;
  inv["O"].add(lic("L1", "Q2AA-AAAA-0001", "active"));
  const auto m = load_map("from,to\nQ2AA-AAAA-0001,Q2BB-BBBB-0003\n");
  const auto res = resolve_serial_map(m, inv);
  ASSERT_TRUE(res.ok()) << all(res.result);
  EXPECT_TRUE(res.result.warnings.empty()) << all(res.result);
  const auto none = resolve_serial_map(
      load_map("from,to\nQ2AA-AAAA-0001,Q2BB-BBBB-0003\nQ2AA-AAAA-0002,Q2BB-BBBB-0004\n"),
      inventories{});
  ASSERT_EQ(none.result.errors.size(), 1u);
  EXPECT_EQ(to_string(none.result.errors[0]),
            "m.csv:2: organization \"O\": its license inventory could not be read, so its mappings "
            "cannot be resolved");
}

// The emitted moves CSV reads back through the license-CSV loader as the same rows.
TEST(SerialMapEmit, RoundTrip) {
  const auto m =
      load_map("from,to\nQ2AA-AAAA-0001,Q2BB-BBBB-0001\nQ2AA-AAAA-0003,Q2BB-BBBB-0002\n");
  const auto res = resolve_serial_map(m, refresh_inventory());
  ASSERT_TRUE(res.ok());
  const std::string text = moves_csv(res);
  EXPECT_EQ(text,
            "organizationId,licenseId,deviceSerial,previousDeviceSerial\n"
            "O,L1,Q2BB-BBBB-0001,Q2AA-AAAA-0001\n"
            "O,L2,Q2BB-BBBB-0001,Q2AA-AAAA-0001\n"
            "O,L4,Q2BB-BBBB-0002,Q2AA-AAAA-0003\n");
  const auto back = parse_plan(text, "moves.csv", map_options());
  ASSERT_TRUE(back.ok()) << all(back);
  EXPECT_FALSE(back.map);
  ASSERT_EQ(back.plan.rows.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back.plan.rows[i].license_id, res.result.plan.rows[i].license_id);
    EXPECT_EQ(back.plan.rows[i].serial, res.result.plan.rows[i].serial);
  }
}

// Fields that hold a separator or a quote are quoted so the loader reads them back intact.
TEST(SerialMapEmit, QuotesFields) {
  plan p;
  p.orgs = {"O,1"};
  p.rows.push_back(row{2, 0, "L\"1", "Q2BB-BBBB-0001"});
  const std::string text = moves_csv(p, {""});
  EXPECT_EQ(text,
            "organizationId,licenseId,deviceSerial,previousDeviceSerial\n\"O,1\",\"L\"\"1\",Q2BB-"
            "BBBB-0001,\n");
  const auto back = parse_plan(text, "moves.csv", {});
  ASSERT_TRUE(back.ok()) << all(back);
  EXPECT_EQ(back.plan.orgs[0], "O,1");
  EXPECT_EQ(back.plan.rows[0].license_id, "L\"1");
}
