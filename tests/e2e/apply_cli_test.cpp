// Exit codes of `relicense apply` (DESIGN.md), running the built binary against the twin.
#include "relicense/sim/server.hpp"

#include "relicense/test/run_process.hpp"
#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace sim = relicense::sim;
using relicense::test::run_relicense;
using relicense::test::temp_dir;

namespace {

sim::sim_config twin_config() {
  sim::sim_config c;
  c.orgs = 1;
  c.licenses_per_org = 30;
  c.rate = 0;
  c.seed = 11;
  return c;
}

/// A CSV moving the org's first `n` licenses to its first device.
std::string csv_for(const sim::server& twin, std::size_t n, const std::string& extra_row = {}) {
  const auto orgs = twin.orgs();
  std::string csv = "organizationId,licenseId,deviceSerial\n";
  for (std::size_t i = 0; i < n; ++i) {
    csv += orgs[0].id + "," + orgs[0].licenses[i].id + "," + orgs[0].devices[0] + "\n";
  }
  if (!extra_row.empty()) csv += orgs[0].id + "," + extra_row + "\n";
  return csv;
}

std::vector<std::string> apply_args(const sim::server& twin, const temp_dir& dir, const std::string& csv) {
  return {"apply", csv, "--base-url", twin.base_url(), "--rate", "0", "--ip-rate", "0",
          "--report", (dir.path() / "report.csv").string(), "--progress", "off"};
}

} // namespace

// Every row applied: exit 0, and the report has one line per row plus the header.
TEST(ApplyCli, ExitZeroWhenAllApplied) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", csv_for(twin, 10));
  const auto r = run_relicense(apply_args(twin, dir, csv.string()), {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto report = temp_dir::read(dir.path() / "report.csv");
  EXPECT_EQ(std::count(report.begin(), report.end(), '\n'), 11);
  EXPECT_EQ(r.err.find(twin.api_key()), std::string::npos);  // the key is never printed
}

// A row the API refuses: exit 1.
TEST(ApplyCli, ExitOneWhenARowFails) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", csv_for(twin, 5, "123456789,"));
  const auto r = run_relicense(apply_args(twin, dir, csv.string()), {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 1) << r.err;
}

// No API key: exit 2 and nothing sent.
TEST(ApplyCli, ExitTwoWithoutKey) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", csv_for(twin, 5));
  const auto r = run_relicense(apply_args(twin, dir, csv.string()), {{"MERAKI_DASHBOARD_API_KEY", ""}});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("MERAKI_DASHBOARD_API_KEY"), std::string::npos);
  EXPECT_EQ(twin.stats().requests, 0u);
}

// A CSV with errors: exit 2, file:line in the message, nothing sent.
TEST(ApplyCli, ExitTwoOnBadCsv) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", "organizationId,licenseId,deviceSerial\n1,2,not-a-serial\n");
  const auto r = run_relicense(apply_args(twin, dir, csv.string()), {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("in.csv:2"), std::string::npos) << r.err;
  EXPECT_EQ(twin.stats().requests, 0u);
}

// Plain http to a non-loopback host would send the key in clear: exit 2.
TEST(ApplyCli, ExitTwoOnCleartextToRemoteHost) {
  temp_dir dir;
  const auto csv = dir.write("in.csv", "organizationId,licenseId,deviceSerial\n1,2,Q2AA-BBBB-CCCC\n");
  const auto r = run_relicense({"apply", csv.string(), "--base-url", "http://api.meraki.com/api/v1",
                                "--report", (dir.path() / "r.csv").string()},
                               {{"MERAKI_DASHBOARD_API_KEY", "secret-key-123"}});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err.find("secret-key-123"), std::string::npos);
}

// A rejected key: exit 3, the key not in the output.
TEST(ApplyCli, ExitThreeOnBadKey) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", csv_for(twin, 5));
  const auto r = run_relicense(apply_args(twin, dir, csv.string()), {{"MERAKI_DASHBOARD_API_KEY", "bad-key-456"}});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.err.find("bad-key-456"), std::string::npos);
}

// A certificate from an unknown CA: exit 3; with --ca-file the same run succeeds.
TEST(ApplyCli, ExitThreeOnUnknownCaAndZeroWithCaFile) {
  auto cfg = twin_config();
  cfg.tls = true;
  sim::server twin(cfg);
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", csv_for(twin, 5));
  auto r = run_relicense(apply_args(twin, dir, csv.string()), {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(twin.stats().puts_applied, 0u);
  auto args = apply_args(twin, dir, csv.string());
  args.push_back("--ca-file");
  args.push_back(twin.ca_file());
  args[args.size() - 5] = (dir.path() / "report2.csv").string();
  r = run_relicense(args, {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}
