// Duration estimates at a budget.
#include "relicense/plan/estimate.hpp"

#include <gtest/gtest.h>

using namespace relicense::plan;

// One org: the burst goes at once, the rest at the org rate.
TEST(PlanEstimate, SingleOrgRateBound) {
  auto e = estimate_put({1010});
  EXPECT_DOUBLE_EQ(e.seconds, 100.0);
  EXPECT_EQ(e.requests, 1010u);
  EXPECT_FALSE(e.ip_bound);
  EXPECT_DOUBLE_EQ(estimate_put({5}).seconds, 0.05);  // within the burst: only the IP rate counts
}

// Orgs run in parallel until the per-IP rate caps them.
TEST(PlanEstimate, OrgsParallelThenIpBound) {
  EXPECT_DOUBLE_EQ(estimate_put({1010, 1010, 1010}).seconds, 100.0);  // 30/s < 100/s
  auto e = estimate_put(std::vector<std::uint64_t>(20, 1010));        // 200/s wanted, 100/s allowed
  EXPECT_DOUBLE_EQ(e.seconds, 202.0);
  EXPECT_TRUE(e.ip_bound);
  budget b{5, 0, 1000};
  EXPECT_DOUBLE_EQ(estimate_put({100}, b).seconds, 20.0);
}

// Batch mode: 100 rows per batch, POST + polls per batch, at most 5 running batches per org.
TEST(PlanEstimate, BatchMode) {
  auto e = estimate_batch({100000});  // 1000 batches * 3 calls = 3000 calls
  EXPECT_EQ(e.requests, 3000u);
  // calls: (3000 - 10) / 10 = 299 s; concurrency: 200 waves * 3 s = 600 s.
  EXPECT_DOUBLE_EQ(e.seconds, 600.0);
  batch_model fast;
  fast.seconds_per_batch = 0.1;
  EXPECT_DOUBLE_EQ(estimate_batch({100000}, {}, fast).seconds, 299.0);
  EXPECT_EQ(estimate_batch({1}).requests, 3u);
  EXPECT_EQ(estimate_batch({0}).requests, 0u);
}

// Durations print compactly.
TEST(PlanEstimate, FormatDuration) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(0.2), "<1s");
  EXPECT_EQ(format_duration(42), "42s");
  EXPECT_EQ(format_duration(185), "3m 05s");
  EXPECT_EQ(format_duration(7620), "2h 07m 00s");
  EXPECT_EQ(format_duration(3 * 86400 + 4 * 3600 + 600), "3d 04h 10m");
}

// rows_per_org counts rows by plan::orgs index.
TEST(PlanEstimate, RowsPerOrg) {
  plan p;
  p.orgs = {"a", "b"};
  p.rows = {row{2, 1, "x", ""}, row{3, 1, "y", ""}, row{4, 0, "z", ""}};
  EXPECT_EQ(rows_per_org(p), (std::vector<std::uint64_t>{1, 2}));
}

// Auto mode moves rows by batch and by PUT at once: faster than either alone, and never slower.
TEST(PlanEstimate, AutoBeatsPutAndBatchAlone) {
  batch_model slow;
  slow.seconds_per_batch = 100;  // 1 s per action: 5 rows/s by batch, ~10 by PUT
  const auto put = estimate_put({3000});
  const auto batch = estimate_batch({3000}, {}, slow);
  const auto both = estimate_auto({3000}, {}, slow);
  EXPECT_LT(both.seconds, put.seconds);
  EXPECT_LT(both.seconds, batch.seconds);
  EXPECT_NEAR(both.seconds, 3000.0 / (10 - 0.15 + 5), 1.0);
  EXPECT_LE(estimate_auto({5}).seconds, estimate_put({5}).seconds);
  EXPECT_EQ(estimate_auto({}).seconds, 0.0);
}
