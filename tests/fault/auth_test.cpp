// A key revoked in the middle of a run, in put and batch mode: the 401 belongs to the run, not
// to the rows that heard it. The run aborts (exit 3) saying what to check; rows answered 401 and
// rows in flight are not_attempted, never failed; a --resume with the new key sends them and
// ends with the twin exactly in the CSV's state, every row reported once.
#include "relicense/sim/server.hpp"

#include "fault_support.hpp"

#include <gtest/gtest.h>

#include <string>

namespace relicense::fault_test {
namespace {

class AuthMidRun : public mode_test {};

// The twin stops accepting the key after a part of the rows was applied; the run aborts with
// exit 3 naming the key and the organization, no row is reported failed, and --resume with the
// rotated key ends exact with every row reported once.
TEST_P(AuthMidRun, RevokedKeyAbortsThenResumeWithTheNewKeyEndsExact) {
  const bool batch = this->batch();
  const std::size_t per_org = batch ? 1000 : 100;
  const std::size_t total = 2 * per_org;
  auto cfg = relicense::test::twin_config(2, static_cast<unsigned>(per_org), 1313);
  cfg.batch_actions_per_second = 100;  // a batch of 100 runs ~1 s: batches are in flight at the 401
  const auto csv = start_moving(cfg, per_org);
  const auto args = apply_args(
      csv, {"--mode", GetParam(), "--rate", "50", "--burst", "5", "--ip-rate", "1000",
            "--concurrency", "8", "--report", report.string(), "--journal", journal.string()});

  const std::string old_key = twin().api_key();
  const std::string new_key = "rotated-key-0123456789abcdef";
  child c(args, old_key, dir.path(), "first");
  ASSERT_TRUE(wait_for_applied(c, twin(), batch, batch ? 100 : 40))
      << "the run ended before the key was revoked";
  twin().set_api_key(new_key);
  const auto r = c.wait();
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("401"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("MERAKI_DASHBOARD_API_KEY"), std::string::npos) << r.err;
  const auto orgs = twin().orgs();
  EXPECT_TRUE(r.err.find("access to organization " + orgs[0].id) != std::string::npos ||
              r.err.find("access to organization " + orgs[1].id) != std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;

  auto first = outcomes_once(report, total);
  EXPECT_EQ(first[io::outcome::failed], 0u) << "a 401 failed rows for good";
  EXPECT_GT(first[io::outcome::not_attempted], 0u);
  EXPECT_LT(first[io::outcome::applied], total);
  const auto j = io::read_journal(journal);
  EXPECT_EQ(j.done.size(), first[io::outcome::applied]) << "only applied rows are done";

  auto a = args;
  a.push_back("--resume");
  const auto r2 = run(a, new_key, dir.path());
  ASSERT_FALSE(r2.timed_out);
  EXPECT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
  expect_all_in_place(report, total);
  EXPECT_EQ(io::read_journal(journal).done.size(), total);
}

INSTANTIATE_TEST_SUITE_P(Modes, AuthMidRun, ::testing::Values("put", "batch"), mode_name);

}  // namespace
}  // namespace relicense::fault_test
