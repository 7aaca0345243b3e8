// The organization checks of `relicense apply` before anything is sent, through the built binary
// against the twin: an organization the key cannot see, a co-term organization, and a plan that
// --org or --shard filters to nothing.
#include "relicense/sim/server.hpp"

#include "relicense/test/run_process.hpp"
#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace sim = relicense::sim;
using relicense::test::run_relicense;
using relicense::test::temp_dir;

namespace {

/// Two organizations of 20 licenses; the second is co-term when `coterm`.
sim::sim_config twin_config(bool coterm) {
  sim::sim_config c;
  c.orgs = 2;
  c.licenses_per_org = 20;
  c.coterm_orgs = coterm ? 1 : 0;
  c.rate = 0;
  c.seed = 17;
  return c;
}

/// Moves the first `n` licenses of each organization to its first device (a co-term org has no
/// devices to speak of: its rows name the first org's device, never reached anyway).
std::string csv_for(const sim::server& twin, std::size_t n) {
  const auto orgs = twin.orgs();
  std::string csv = "organizationId,licenseId,deviceSerial\n";
  for (const auto& org : orgs) {
    const std::string& serial = org.devices.empty() ? orgs[0].devices[0] : org.devices[0];
    for (std::size_t i = 0; i < n; ++i)
      csv += org.id + "," + org.licenses[i].id + "," + serial + "\n";
  }
  return csv;
}

std::vector<std::string> apply_args(const sim::server& twin, const temp_dir& dir,
                                    const std::string& csv, std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"apply",      csv,
                             "--base-url", twin.base_url(),
                             "--rate",     "0",
                             "--ip-rate",  "0",
                             "--report",   (dir.path() / "report.csv").string(),
                             "--progress", "off"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

/// Applies a plan with one co-term org in `mode`: exit 1, the co-term org's rows failed with the
/// explanation and none of its licenses touched, the other org's rows applied.
void expect_coterm_rows_fail_unsent(const std::string& mode) {
  sim::server twin(twin_config(true));
  twin.start();
  const auto orgs = twin.orgs();
  ASSERT_TRUE(orgs[1].coterm);
  const auto before = twin.state();
  temp_dir dir;
  const auto csv = dir.write("in.csv", csv_for(twin, 5));
  // --no-inventory: the counts below are of PUTs, not of rows already in place.
  const auto r =
      run_relicense(apply_args(twin, dir, csv.string(), {"--mode", mode, "--no-inventory"}),
                    {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::string why = "organization " + orgs[1].id +
                          " uses co-term licensing: per-device license moves do not apply";
  EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
  const auto report = temp_dir::read(dir.path() / "report.csv");
  EXPECT_EQ(count_of(report, why), 5u) << report;
  const auto st = twin.stats();
  EXPECT_EQ(st.by_status.count(400), 0u);  // no license call of the co-term org reached the twin
  EXPECT_EQ(twin.state().at(orgs[1].id), before.at(orgs[1].id));
  if (mode == "put") {
    EXPECT_EQ(st.puts_applied, 5u);
    EXPECT_EQ(st.requests, 2u + 5u);  // one pre-flight GET per org, one PUT per row of the other
  } else {
    EXPECT_EQ(st.batch_actions_applied, 5u);
  }
}

}  // namespace

// An organization the key cannot see (404): exit 2 naming it, nothing but the pre-flight GET sent,
// no journal or report left behind.
TEST(PreflightCli, UnknownOrgIsExitTwoBeforeAnyPut) {
  sim::server twin(twin_config(false));
  twin.start();
  const auto orgs = twin.orgs();
  temp_dir dir;
  const auto csv =
      dir.write("in.csv", "organizationId,licenseId,deviceSerial\n999," + orgs[0].licenses[0].id +
                              "," + orgs[0].devices[0] + "\n");
  const auto r = run_relicense(apply_args(twin, dir, csv.string()),
                               {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("organization 999 is not visible to this API key (404)"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find(twin.api_key()), std::string::npos);
  EXPECT_EQ(twin.stats().requests, 1u);
  EXPECT_EQ(twin.stats().puts_applied, 0u);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "report.csv"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "report.journal"));
}

// A co-term organization's rows fail unsent with the explanation; the other org is applied (PUTs).
TEST(PreflightCli, CotermOrgRowsFailUnsentOthersApplied) { expect_coterm_rows_fail_unsent("put"); }

// The same in batch mode: no action batch for the co-term org.
TEST(PreflightCli, CotermOrgRowsFailUnsentInBatchMode) { expect_coterm_rows_fail_unsent("batch"); }

// --org naming an organization without rows in the CSV: exit 2 saying so, nothing sent.
TEST(PreflightCli, OrgFilterToNothingIsExitTwo) {
  sim::server twin(twin_config(false));
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("moves.csv", csv_for(twin, 3));
  const auto r = run_relicense(apply_args(twin, dir, csv.string(), {"--org", "999"}),
                               {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("no rows of organization 999 in"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("moves.csv"), std::string::npos) << r.err;
  EXPECT_EQ(twin.stats().requests, 0u);
}

// A shard holding no organization of the plan: exit 2 saying so, nothing sent.
TEST(PreflightCli, EmptyShardIsExitTwo) {
  sim::server twin(twin_config(false));
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("moves.csv", csv_for(twin, 3));
  // Two orgs over 8 shards: at least 6 shards are empty.
  int empty = 0;
  for (int k = 0; k < 8; ++k) {
    const auto r = run_relicense(
        apply_args(twin, dir, csv.string(),
                   {"--shard", std::to_string(k) + "/8", "--dry-run", "--no-inventory"}),
        {});
    if (r.exit_code == 2) {
      EXPECT_NE(r.err.find("shard " + std::to_string(k) + "/8 holds no organization of this plan"),
                std::string::npos)
          << r.err;
      ++empty;
    } else {
      EXPECT_EQ(r.exit_code, 0) << r.err;
    }
  }
  EXPECT_GE(empty, 6);
  EXPECT_EQ(twin.stats().requests, 0u);
}

// --dry-run checks the organizations too: an unknown org is exit 2 there as well.
TEST(PreflightCli, DryRunChecksOrganizations) {
  sim::server twin(twin_config(false));
  twin.start();
  const auto orgs = twin.orgs();
  temp_dir dir;
  const auto csv =
      dir.write("in.csv", "organizationId,licenseId,deviceSerial\n999," + orgs[0].licenses[0].id +
                              "," + orgs[0].devices[0] + "\n");
  const auto r = run_relicense(apply_args(twin, dir, csv.string(), {"--dry-run"}),
                               {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("organization 999 is not visible"), std::string::npos) << r.err;
  EXPECT_EQ(twin.stats().requests, 1u);
}
