#include "relicense/engine/token_bucket.hpp"

#include "relicense/test/fake_clock.hpp"

#include <gtest/gtest.h>

#include <chrono>

using namespace std::chrono_literals;
using relicense::engine::aimd_config;
using relicense::engine::token_bucket;
using relicense::test::fake_clock;

namespace {

// Takes as many tokens as possible at the clock's current time.
int drain(token_bucket& b, const fake_clock& c) {
  int n = 0;
  while (b.try_take(c.now()) && n < 100000) ++n;
  return n;
}

} // namespace

// A new bucket holds `burst` tokens, then refuses.
TEST(TokenBucket, StartsFullWithBurst) {
  fake_clock c;
  token_bucket b(10, 10, c.now());
  EXPECT_EQ(drain(b, c), 10);
  EXPECT_FALSE(b.try_take(c.now()));
}

// An empty bucket asks to wait exactly 1/rate for the next token, and it is there then.
TEST(TokenBucket, WaitIsOneOverRate) {
  fake_clock c;
  token_bucket b(10, 10, c.now());
  drain(b, c);
  EXPECT_EQ(b.wait_until_available(c.now()), 100ms);
  c.advance(99ms);
  EXPECT_FALSE(b.try_take(c.now()));
  c.advance(b.wait_until_available(c.now()));
  EXPECT_TRUE(b.try_take(c.now()));
  EXPECT_FALSE(b.try_take(c.now()));
}

// Over the first 2 s, a 10/s burst-10 bucket allows 30 requests, as the Dashboard does.
TEST(TokenBucket, ThirtyInFirstTwoSeconds) {
  fake_clock c;
  const auto start = c.now();
  token_bucket b(10, 10, c.now());
  int sent = 0;
  while (c.now() - start <= 2s) {
    if (b.try_take(c.now())) {
      ++sent;
    } else {
      c.advance(b.wait_until_available(c.now()));
    }
  }
  EXPECT_EQ(sent, 30);
}

// Refill never exceeds the capacity, however long the bucket idles.
TEST(TokenBucket, RefillCappedAtCapacity) {
  fake_clock c;
  token_bucket b(10, 5, c.now());
  drain(b, c);
  c.advance(1h);
  EXPECT_DOUBLE_EQ(b.tokens(c.now()), 5.0);
  EXPECT_EQ(drain(b, c), 5);
}

// Rate 0 means unlimited: every take succeeds and no wait is ever asked.
TEST(TokenBucket, RateZeroIsUnlimited) {
  fake_clock c;
  token_bucket b(0, 0, c.now());
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(b.try_take(c.now()));
  EXPECT_EQ(b.wait_until_available(c.now()), 0ns);
  b.pause_until(c.now(), c.now() + 10s);  // ignored
  EXPECT_TRUE(b.try_take(c.now()));
}

// A burst below 1 still lets one request through (capacity is at least one token).
TEST(TokenBucket, BurstBelowOneStillAllowsOne) {
  fake_clock c;
  token_bucket b(5, 0, c.now());
  EXPECT_TRUE(b.try_take(c.now()));
  EXPECT_FALSE(b.try_take(c.now()));
  EXPECT_EQ(b.wait_until_available(c.now()), 200ms);
}

// Retry-After: a full bucket gives nothing before the pause ends, then a single token.
TEST(TokenBucket, PauseBlocksEveryoneThenOneToken) {
  fake_clock c;
  token_bucket b(10, 10, c.now());
  const auto until = c.now() + 2s;
  b.pause_until(c.now(), until);
  EXPECT_FALSE(b.try_take(c.now()));
  EXPECT_EQ(b.available_at(c.now()), until);
  c.advance(1999ms);
  EXPECT_FALSE(b.try_take(c.now()));
  c.set(until);
  EXPECT_TRUE(b.try_take(c.now()));
  // No stampede: the next token comes at the rate, not all at once.
  EXPECT_FALSE(b.try_take(c.now()));
  EXPECT_EQ(b.wait_until_available(c.now()), 100ms);
}

// A shorter pause never shortens a longer one already in place.
TEST(TokenBucket, PauseOnlyExtends) {
  fake_clock c;
  token_bucket b(10, 10, c.now());
  b.pause_until(c.now(), c.now() + 5s);
  b.pause_until(c.now(), c.now() + 1s);
  EXPECT_EQ(b.paused_until(), c.now() + 5s);
  c.advance(4s);
  EXPECT_FALSE(b.try_take(c.now()));
}

// The bucket's tokens do not accrue during a pause.
TEST(TokenBucket, NoRefillDuringPause) {
  fake_clock c;
  token_bucket b(10, 10, c.now());
  drain(b, c);
  b.pause_until(c.now(), c.now() + 3s);
  c.advance(3s);
  EXPECT_EQ(drain(b, c), 0);  // nothing accrued, and a drained bucket has no reopening token
  c.advance(100ms);
  EXPECT_EQ(drain(b, c), 1);
}

// A 429 halves the effective rate; further 429s in the holdoff window do not divide it again.
TEST(TokenBucket, ThrottleMultiplicativeDecreaseWithHoldoff) {
  fake_clock c;
  token_bucket b(10, 10, c.now());
  b.on_throttled(c.now());
  EXPECT_DOUBLE_EQ(b.effective_rate(), 5.0);
  c.advance(500ms);
  b.on_throttled(c.now());
  EXPECT_DOUBLE_EQ(b.effective_rate(), 5.0);
  c.advance(600ms);
  b.on_throttled(c.now());
  EXPECT_DOUBLE_EQ(b.effective_rate(), 2.5);
}

// The effective rate never falls under the floor.
TEST(TokenBucket, ThrottleFloor) {
  fake_clock c;
  token_bucket b(10, 10, c.now());
  for (int i = 0; i < 20; ++i) {
    b.on_throttled(c.now());
    c.advance(2s);
  }
  EXPECT_DOUBLE_EQ(b.effective_rate(), 1.0);
}

// Successes restore the rate additively and never beyond the configured rate.
TEST(TokenBucket, SuccessAdditiveIncreaseCapped) {
  fake_clock c;
  aimd_config a;
  a.increase_per_success = 0.1;
  token_bucket b(10, 10, c.now(), a);
  b.on_throttled(c.now());
  ASSERT_DOUBLE_EQ(b.effective_rate(), 5.0);
  b.on_success(c.now());
  EXPECT_NEAR(b.effective_rate(), 6.0, 1e-9);
  for (int i = 0; i < 100; ++i) b.on_success(c.now());
  EXPECT_DOUBLE_EQ(b.effective_rate(), 10.0);
}

// After a decrease, the refill really follows the lower rate.
TEST(TokenBucket, RefillUsesEffectiveRate) {
  fake_clock c;
  token_bucket b(10, 10, c.now());
  drain(b, c);
  b.on_throttled(c.now());
  EXPECT_EQ(b.wait_until_available(c.now()), 200ms);
  c.advance(1s);
  EXPECT_EQ(drain(b, c), 5);
}

// Sustained use at the wait the bucket asks for matches the rate over a long run.
TEST(TokenBucket, LongRunMatchesRate) {
  fake_clock c;
  const auto start = c.now();
  token_bucket b(7, 3, c.now());
  int sent = 0;
  while (c.now() - start < 100s) {
    if (b.try_take(c.now())) ++sent;
    else c.advance(b.wait_until_available(c.now()));
  }
  // 3 at once, then 7/s for 100 s (the token due exactly at 100 s is not taken).
  EXPECT_NEAR(sent, 3 + 700, 1);
}
