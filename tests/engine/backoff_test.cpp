#include "relicense/engine/backoff.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using relicense::engine::backoff_ceiling;
using relicense::engine::backoff_config;
using relicense::engine::full_jitter;
using relicense::engine::jitter_source;

// The ceiling doubles per retry from the base and stops at the max.
TEST(Backoff, CeilingDoublesThenCaps) {
  backoff_config c{500ms, 3s};
  EXPECT_EQ(backoff_ceiling(c, 0), 0ns);
  EXPECT_EQ(backoff_ceiling(c, 1), 500ms);
  EXPECT_EQ(backoff_ceiling(c, 2), 1s);
  EXPECT_EQ(backoff_ceiling(c, 3), 2s);
  EXPECT_EQ(backoff_ceiling(c, 4), 3s);
  EXPECT_EQ(backoff_ceiling(c, 1000), 3s);
}

// Full jitter scales the ceiling by the draw, clamped to [0, 1].
TEST(Backoff, FullJitterScales) {
  backoff_config c{1s, 10s};
  EXPECT_EQ(full_jitter(c, 1, 0.0), 0ns);
  EXPECT_EQ(full_jitter(c, 1, 0.5), 500ms);
  EXPECT_EQ(full_jitter(c, 3, 0.25), 1s);
  EXPECT_EQ(full_jitter(c, 3, 7.0), 4s);
  EXPECT_EQ(full_jitter(c, 3, -1.0), 0ns);
}

// The seeded source is reproducible, stays in [0, 1), and spreads its draws.
TEST(Backoff, JitterSourceSeededAndSpread) {
  jitter_source a(42), b(42);
  double lo = 1, hi = 0;
  for (int i = 0; i < 1000; ++i) {
    const double x = a.next();
    ASSERT_EQ(x, b.next());
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  EXPECT_LT(lo, 0.05);
  EXPECT_GT(hi, 0.95);
}
