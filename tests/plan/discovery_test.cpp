// What `relicense licenses` and `relicense orgs` print.
#include "relicense/plan/discovery.hpp"

#include "relicense/plan/csv.hpp"

#include <gtest/gtest.h>

using namespace relicense::plan;

namespace {

std::vector<license_record> sample() {
  license_record a;
  a.id = "1234";
  a.license_type = "MX64-ENT";
  a.state = "active";
  a.device_serial = "Q234-ABCD-5678";
  a.expiration_date = "2020-10-30T15:01:46Z";
  a.raw_json = R"({"id":"1234","deviceSerial":"Q234-ABCD-5678","seatCount":25})";
  license_record b;
  b.id = "99";
  b.license_type = "MR-ENT";
  b.state = "unused";
  return {a, b};
}

}  // namespace

// The licenses table aligns its columns and shows "-" for what is not there.
TEST(DiscoveryRender, LicensesTable) {
  EXPECT_EQ(render_licenses_table(sample()),
            "ID    TYPE      STATE   DEVICE          EXPIRATION\n"
            "1234  MX64-ENT  active  Q234-ABCD-5678  2020-10-30T15:01:46Z\n"
            "99    MR-ENT    unused  -               -\n");
  EXPECT_EQ(render_licenses_table({}), "no licenses\n");
}

// --json prints the API's own objects as one array; a record without raw text is rebuilt.
TEST(DiscoveryRender, LicensesJson) {
  EXPECT_EQ(render_licenses_json(sample()),
            "[\n"
            "{\"id\":\"1234\",\"deviceSerial\":\"Q234-ABCD-5678\",\"seatCount\":25},\n"
            "{\"id\":\"99\",\"licenseType\":\"MR-ENT\",\"deviceSerial\":null,\"state\":\"unused\","
            "\"activationDate\":null,\"expirationDate\":null,\"headLicenseId\":null}\n"
            "]\n");
  EXPECT_EQ(render_licenses_json({}), "[]\n");
}

// --csv is a license CSV the loader reads back as it is.
TEST(DiscoveryRender, LicensesCsvLoads) {
  const std::string csv = render_licenses_csv(sample(), "O1");
  EXPECT_EQ(csv,
            "organizationId,licenseId,deviceSerial,licenseType,state,expirationDate\n"
            "O1,1234,Q234-ABCD-5678,MX64-ENT,active,2020-10-30T15:01:46Z\n"
            "O1,99,,MR-ENT,unused,\n");
  const auto r = parse_plan(csv, "licenses.csv", {});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.plan.rows.size(), 2u);
  EXPECT_EQ(r.plan.rows[0].serial, "Q234-ABCD-5678");
  EXPECT_EQ(r.plan.rows[1].serial, "");
  EXPECT_EQ(r.plan.orgs[0], "O1");
}

// The organizations table; names from the server cannot carry terminal control sequences.
TEST(DiscoveryRender, OrgsTable) {
  std::vector<organization_record> orgs{{"1", "Caf\xC3\xA9 Inc", "per-device", ""},
                                        {"22", "Evil\x1b[2J", "co-term", ""},
                                        {"3", "", "", ""}};
  EXPECT_EQ(render_orgs_table(orgs),
            "ID  NAME         LICENSING\n"
            "1   Caf\xC3\xA9 Inc     per-device\n"
            "22  Evil\\x1B[2J  co-term\n"
            "3   -            -\n");
  EXPECT_EQ(render_orgs_table({}), "no organizations\n");
}

// orgs --json prints the API's objects, or rebuilds id, name and licensing.model.
TEST(DiscoveryRender, OrgsJson) {
  std::vector<organization_record> orgs{
      {"1", "A", "per-device", R"({"id":"1","name":"A","api":{"enabled":true}})"},
      {"2", "B \"b\"", "", ""}};
  EXPECT_EQ(render_orgs_json(orgs),
            "[\n"
            "{\"id\":\"1\",\"name\":\"A\",\"api\":{\"enabled\":true}},\n"
            "{\"id\":\"2\",\"name\":\"B \\\"b\\\"\",\"licensing\":{\"model\":null}}\n"
            "]\n");
}
