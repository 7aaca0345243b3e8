// Faults end to end: the relicense binary against the twin injecting 5xx (half applied
// before the error), dropped connections, responses slower than --timeout, 429 storms with and
// without Retry-After, and redirects, each alone and all together. Whatever happens on the wire,
// the twin ends in the CSV's state, the report has every row exactly once, and the exit is 0.
#include "relicense/sim/server.hpp"

#include "fault_support.hpp"
#include "relicense/io/report.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>

namespace relicense::fault_test {
namespace {

/// One fault mix.
struct fault_case {
  const char* name;
  double fault_5xx = 0;
  double fault_drop = 0;
  double fault_slow = 0;
  /// 429s without Retry-After. Kept at or below 20%: a row refused 5 times in a row waits out
  /// the full-jitter backoff (ceilings 0.5 s doubling to 30 s, not settable from the command
  /// line), which would make the test long without proving more.
  double fault_429 = 0;
  bool retry_after_storm = false;   ///< client believes in 5x the twin's budget: 429s with Retry-After
  bool redirect = false;
};

void PrintTo(const fault_case& c, std::ostream* os) { *os << c.name; }

class Faults : public ::testing::TestWithParam<fault_case> {};

// Under this mix of faults every row ends applied exactly as the CSV says, the report lists each
// row once, the exit is 0, and the fault really happened (the twin counted it).
TEST_P(Faults, FinalStateEqualsCsvAndEveryRowReportedOnce) {
  const fault_case& fc = GetParam();
  sim::sim_config cfg;
  cfg.orgs = 2;
  cfg.licenses_per_org = 150;
  cfg.seed = 808;
  cfg.rate = fc.retry_after_storm ? 100 : 500;
  cfg.burst = fc.retry_after_storm ? 10 : 500;
  cfg.ip_rate = 5000;
  cfg.fault_5xx = fc.fault_5xx;
  cfg.fault_drop = fc.fault_drop;
  cfg.fault_slow = fc.fault_slow;
  cfg.fault_429 = fc.fault_429;
  cfg.slow_delay = std::chrono::milliseconds(1500);
  cfg.redirect = fc.redirect;
  sim::server twin(cfg);
  twin.start();

  temp_dir dir;
  wanted_map wanted;
  const auto csv = dir.write("in.csv", moving_csv(twin, 150, wanted));
  const auto report = dir.path() / "report.csv";
  const std::string client_rate = "500";  // with retry_after_storm: 5x the twin's budget
  const auto r = run({"apply", csv.string(), "--base-url", twin.base_url(), "--rate", client_rate, "--burst",
                      client_rate, "--ip-rate", "5000", "--concurrency", "8", "--timeout", "0.5",
                      "--max-attempts", "30", "--report", report.string(), "--journal",
                      (dir.path() / "run.journal").string(), "--progress", "off"},
                     twin.api_key(), dir.path(), std::chrono::seconds(120));
  const auto st = twin.stats();
  std::printf("%s: exit %d, requests %llu, 5xx %llu+%llu, drops %llu, slow %llu, 429 %llu (+%llu Retry-After), redirects %llu, duplicate applies %llu\n",
              fc.name, r.exit_code, static_cast<unsigned long long>(st.requests),
              static_cast<unsigned long long>(st.fault_5xx), static_cast<unsigned long long>(st.fault_5xx_applied),
              static_cast<unsigned long long>(st.fault_drop), static_cast<unsigned long long>(st.fault_slow),
              static_cast<unsigned long long>(st.fault_429), static_cast<unsigned long long>(st.rate_limited),
              static_cast<unsigned long long>(st.redirects), static_cast<unsigned long long>(st.duplicate_applies));
  ASSERT_FALSE(r.timed_out) << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_mismatches(twin, wanted), 0u);

  const auto rows = io::read_report(report).rows;
  EXPECT_EQ(rows.size(), 300u);
  std::set<std::uint32_t> lines;
  for (const auto& row : rows) {
    EXPECT_TRUE(lines.insert(row.line).second) << "line " << row.line << " reported twice";
    EXPECT_TRUE(row.result == io::outcome::applied || row.result == io::outcome::unchanged)
        << "line " << row.line << ": " << io::to_string(row.result) << " " << row.error;
  }
  EXPECT_EQ(lines.size(), 300u);
  if (!lines.empty()) {
    EXPECT_EQ(*lines.begin(), 2u);
    EXPECT_EQ(*lines.rbegin(), 301u);
  }

  const auto s = twin.stats();
  if (fc.fault_5xx > 0) {
    EXPECT_GT(s.fault_5xx + s.fault_5xx_applied, 0u);
  }
  if (fc.fault_drop > 0) {
    EXPECT_GT(s.fault_drop, 0u);
  }
  if (fc.fault_slow > 0) {
    EXPECT_GT(s.fault_slow, 0u);
  }
  if (fc.fault_429 > 0) {
    EXPECT_GT(s.fault_429, 0u);
  }
  if (fc.retry_after_storm) {
    EXPECT_GT(s.rate_limited, 0u);
  }
  if (fc.redirect) {
    EXPECT_GT(s.redirects, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    EachAloneAndAllTogether, Faults,
    ::testing::Values(fault_case{"server_errors", 0.05},
                      fault_case{"dropped_connections", 0, 0.02},
                      fault_case{"slow_responses", 0, 0, 0.01},
                      fault_case{"storm_429_without_retry_after", 0, 0, 0, 0.2},
                      fault_case{"storm_429_with_retry_after", 0, 0, 0, 0, true},
                      fault_case{"redirects", 0, 0, 0, 0, false, true},
                      fault_case{"all_together", 0.05, 0.02, 0.01, 0.1, true, true}),
    [](const ::testing::TestParamInfo<fault_case>& i) { return std::string(i.param.name); });

} // namespace
} // namespace relicense::fault_test
