// Crashes: `relicense apply` SIGKILLed at ten points of one run, each time resumed with --resume
// and the same journal, in put mode and in batch mode (where a kill can fall between a batch's
// acceptance and its journal record, or while it runs). Nothing is lost: the twin ends exactly in
// the CSV's state, the final report has every row once, and in put mode only rows in flight at a
// kill were sent twice.
#include "relicense/sim/server.hpp"

#include "fault_support.hpp"
#include "relicense/io/journal.hpp"
#include "relicense/io/report.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>

namespace relicense::fault_test {
namespace {

class Crash : public mode_test {};

// SIGKILL after ~0%, 10%, ..., 90% of the rows were applied (seen in the twin's counters), a
// --resume after each, then a last --resume to the end: exact final state, every row reported
// exactly once, applied (or unchanged: in flight at a kill, found in place by the resumed run's
// inventory read), every row journaled; in put mode, duplicate applies <= kills x
// concurrency.
TEST_P(Crash, SigkillAtTenPointsThenResume) {
  const bool batch = this->batch();
  const std::size_t per_org = batch ? 1000 : 100;  // batch: 20 batches, more than run at once
  // The client's own budget paces the run (~1 s); the twin never throttles.
  auto cfg = relicense::test::twin_config(2, static_cast<unsigned>(per_org), 909);
  cfg.batch_actions_per_second = 500;
  const auto csv = start_moving(cfg, per_org);
  const std::size_t total = 2 * per_org;
  const unsigned concurrency = 4;
  const auto args =
      apply_args(csv, {"--mode", GetParam(), "--rate", batch ? "20" : "100", "--burst", "10",
                       "--ip-rate", "1000", "--concurrency", std::to_string(concurrency),
                       "--report", report.string(), "--journal", journal.string()});

  unsigned kills = 0;
  for (unsigned k = 0; k < 10; ++k) {
    auto a = args;
    if (std::filesystem::exists(journal)) a.push_back("--resume");
    const std::uint64_t target = k * total / 10 + 1;
    child c(a, twin().api_key(), dir.path(), "run" + std::to_string(k));
    // Bounded wait for the kill point (process synchronisation, no timing assumption).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!c.poll() && applied_so_far(twin(), batch) < target &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    if (c.kill()) ++kills;
    const auto r = c.wait();
    // A run that ended by itself before the kill point must still have ended well.
    if (r.exit_code != 128 + SIGKILL) {
      EXPECT_EQ(r.exit_code, 0) << "run " << k << ": " << r.err;
    }
  }
  EXPECT_GE(kills, 8u) << "the run was too fast to be killed at most of the points";

  auto a = args;
  a.push_back("--resume");
  const auto r = run(a, twin().api_key(), dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);

  const auto s = twin().stats();
  std::printf("%s: kills: %u, applied: %llu, duplicate applies: %llu\n", GetParam().c_str(), kills,
              static_cast<unsigned long long>(applied_so_far(twin(), batch)),
              static_cast<unsigned long long>(s.duplicate_applies));
  if (!batch) {
    EXPECT_LE(s.duplicate_applies, std::uint64_t{kills} * concurrency)
        << "rows re-sent beyond those in flight";
    EXPECT_EQ(s.puts_applied - s.duplicate_applies, total);
  }

  const auto rows = io::read_report(report).rows;
  EXPECT_EQ(rows.size(), total);
  std::set<std::uint32_t> lines;
  for (const auto& row : rows) {
    EXPECT_TRUE(lines.insert(row.line).second) << "line " << row.line << " reported twice";
    EXPECT_TRUE(row.result == io::outcome::applied || row.result == io::outcome::unchanged)
        << "line " << row.line << " " << row.error;
  }
  EXPECT_EQ(lines.size(), total);
  EXPECT_EQ(io::read_journal(journal).done.size(), total);
}

INSTANTIATE_TEST_SUITE_P(Modes, Crash, ::testing::Values("put", "batch"), mode_name);

}  // namespace
}  // namespace relicense::fault_test
