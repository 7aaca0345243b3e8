#include "relicense/engine/token_bucket.hpp"

#include "relicense/test/fake_clock.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <random>
#include <set>
#include <utility>

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

/// The plain bucket, without the dither, for tests of exact timing.
aimd_config exact() {
  aimd_config a;
  a.dither = 0;
  return a;
}

}  // namespace

// A new bucket holds `burst` tokens, then refuses.
TEST(TokenBucket, StartsFullWithBurst) {
  fake_clock c;
  token_bucket b(10, 10, c.now(), exact());
  EXPECT_EQ(drain(b, c), 10);
  EXPECT_FALSE(b.try_take(c.now()));
}

// An empty bucket asks to wait exactly 1/rate for the next token, and it is there then.
TEST(TokenBucket, WaitIsOneOverRate) {
  fake_clock c;
  token_bucket b(10, 10, c.now(), exact());
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
  token_bucket b(10, 10, c.now(), exact());
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
  token_bucket b(10, 5, c.now(), exact());
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
  token_bucket b(5, 0, c.now(), exact());
  EXPECT_TRUE(b.try_take(c.now()));
  EXPECT_FALSE(b.try_take(c.now()));
  EXPECT_EQ(b.wait_until_available(c.now()), 200ms);
}

// Retry-After: a full bucket gives nothing before the pause ends, then a single token.
TEST(TokenBucket, PauseBlocksEveryoneThenOneToken) {
  fake_clock c;
  token_bucket b(10, 10, c.now(), exact());
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
  token_bucket b(10, 10, c.now(), exact());
  drain(b, c);
  b.pause_until(c.now(), c.now() + 3s);
  c.advance(3s);
  EXPECT_EQ(drain(b, c), 0);  // nothing accrued, and a drained bucket has no reopening token
  c.advance(100ms);
  EXPECT_EQ(drain(b, c), 1);
}

// A 429 lowers the effective rate by 10 %; further 429s in the holdoff window do not lower it
// again.
TEST(TokenBucket, ThrottleMultiplicativeDecreaseWithHoldoff) {
  fake_clock c;
  token_bucket b(10, 10, c.now());
  b.on_throttled(c.now());
  EXPECT_DOUBLE_EQ(b.effective_rate(), 9.0);
  c.advance(500ms);
  b.on_throttled(c.now());
  EXPECT_DOUBLE_EQ(b.effective_rate(), 9.0);
  c.advance(600ms);
  b.on_throttled(c.now());
  EXPECT_DOUBLE_EQ(b.effective_rate(), 8.1);
  EXPECT_EQ(b.decreases(), 2U);
}

// The effective rate never falls under the floor.
TEST(TokenBucket, ThrottleFloor) {
  fake_clock c;
  token_bucket b(10, 10, c.now());
  for (int i = 0; i < 40; ++i) {
    b.on_throttled(c.now());
    c.advance(2s);
  }
  EXPECT_DOUBLE_EQ(b.effective_rate(), 1.0);
}

// A 429 closing an epoch of 3 s or more sets the rate to the successes per second over it plus
// the margin: 5 successes/s from 9/s gives 5.75/s in one step.
TEST(TokenBucket, ThrottleJumpsToMeasuredShare) {
  fake_clock c;
  aimd_config a;
  a.increase_per_second = 0;
  a.increase_accel = 0;
  token_bucket b(10, 10, c.now(), a);
  b.on_throttled(c.now());
  for (int i = 0; i < 30; ++i) {
    c.advance(200ms);
    b.on_success(c.now());
  }
  b.on_throttled(c.now());
  EXPECT_NEAR(b.effective_rate(), 5.75, 1e-9);
}

// A short epoch does not measure the share (only the 10 % cut), and a long one with almost no
// successes cuts the rate at most by half.
TEST(TokenBucket, ThrottleShareNeedsLongEpochAndCutIsBounded) {
  fake_clock c;
  aimd_config a;
  a.increase_per_second = 0;
  a.increase_accel = 0;
  token_bucket b(10, 10, c.now(), a);
  b.on_throttled(c.now());
  c.advance(2s);
  b.on_success(c.now());
  b.on_throttled(c.now());
  EXPECT_NEAR(b.effective_rate(), 8.1, 1e-9);
  c.advance(10s);
  b.on_success(c.now());
  b.on_throttled(c.now());
  EXPECT_NEAR(b.effective_rate(), 4.05, 1e-9);
}

// Successes restore the rate with time, faster the longer no 429 came, never beyond the
// configured rate.
TEST(TokenBucket, SuccessIncreaseOnTimeAcceleratesAndIsCapped) {
  fake_clock c;
  aimd_config a;
  a.increase_per_second = 0.005;
  a.increase_accel = 0.002;
  a.quiet = 5s;
  token_bucket b(10, 10, c.now(), a);
  b.on_throttled(c.now());
  ASSERT_DOUBLE_EQ(b.effective_rate(), 9.0);
  // Within the quiet time: 0.5 % of 10/s per second, however many successes carry it.
  for (int i = 0; i < 100; ++i) {
    c.advance(10ms);
    b.on_success(c.now());
  }
  EXPECT_NEAR(b.effective_rate(), 9.05, 1e-6);
  c.advance(4s);
  b.on_success(c.now());
  const double at5 = b.effective_rate();
  EXPECT_NEAR(at5, 9.25, 1e-6);
  // Ten seconds later the slope has grown from 0.05/s to 0.1/s per second.
  for (int i = 0; i < 10; ++i) {
    c.advance(1s);
    b.on_success(c.now());
  }
  EXPECT_GT(b.effective_rate() - at5, 0.7);
  for (int i = 0; i < 100; ++i) {
    c.advance(1s);
    b.on_success(c.now());
  }
  EXPECT_DOUBLE_EQ(b.effective_rate(), 10.0);
}

// With the defaults, a rate cut to about half (an epoch without a success) creeps for 2 s, then
// climbs back to the whole budget within 7.5 s of the 429: a share the others free is soon used.
TEST(TokenBucket, DefaultRecoveryTakesBackAFreedShareWithinSeconds) {
  fake_clock c;
  token_bucket b(10, 10, c.now());
  b.on_throttled(c.now());
  c.advance(3500ms);
  b.on_throttled(c.now());
  ASSERT_DOUBLE_EQ(b.effective_rate(), 4.5);
  for (int i = 0; i < 20; ++i) {
    c.advance(100ms);
    b.on_success(c.now());
  }
  EXPECT_LT(b.effective_rate(), 4.65);
  for (int i = 0; i < 30; ++i) {
    c.advance(100ms);
    b.on_success(c.now());
  }
  EXPECT_LT(b.effective_rate(), 9.0);
  for (int i = 0; i < 25; ++i) {
    c.advance(100ms);
    b.on_success(c.now());
  }
  EXPECT_DOUBLE_EQ(b.effective_rate(), 10.0);
}

// 429 answers arriving during a pause were sent before it: they neither extend the pause nor
// lower the rate again, even after the holdoff.
TEST(TokenBucket, AnswersDuringPauseAreTheSameEvent) {
  fake_clock c;
  token_bucket b(10, 10, c.now());
  const auto until = c.now() + 2s;
  b.pause_until(c.now(), until);
  b.on_throttled(c.now());
  c.advance(1500ms);
  b.pause_until(c.now(), c.now() + 2s);
  b.on_throttled(c.now());
  EXPECT_EQ(b.paused_until(), until);
  EXPECT_DOUBLE_EQ(b.effective_rate(), 9.0);
  c.set(until);
  EXPECT_TRUE(b.try_take(c.now()));
}

// After a decrease, the refill really follows the lower rate.
TEST(TokenBucket, RefillUsesEffectiveRate) {
  fake_clock c;
  aimd_config a;
  a.decrease_factor = 0.5;
  a.dither = 0;
  token_bucket b(10, 10, c.now(), a);
  drain(b, c);
  b.on_throttled(c.now());
  EXPECT_EQ(b.wait_until_available(c.now()), 200ms);
  c.advance(1s);
  EXPECT_EQ(drain(b, c), 5);
}

// The dither delays takes but keeps the rate: 7/s over 100 s, as without it.
TEST(TokenBucket, DitherKeepsTheRate) {
  fake_clock c;
  const auto start = c.now();
  token_bucket b(7, 3, c.now());
  int sent = 0;
  std::set<std::int64_t> waits;
  while (c.now() - start < 100s) {
    if (b.try_take(c.now())) {
      ++sent;
    } else {
      waits.insert(b.wait_until_available(c.now()).count() / 1000000);
      c.advance(b.wait_until_available(c.now()));
    }
  }
  EXPECT_NEAR(sent, 3 + 700, 2);
  EXPECT_GT(waits.size(), 20U);  // the waits vary
}

// Each take waits for at most one token more than it takes: at 10/s, never more than 200 ms
// between takes from an empty bucket, and the extra wait spans most of that token.
TEST(TokenBucket, DitherWaitsAtMostOneTokenMore) {
  fake_clock c;
  token_bucket b(10, 5, c.now());
  drain(b, c);
  std::chrono::nanoseconds longest{0}, shortest = 1s;
  for (int i = 0; i < 1000; ++i) {
    const auto wait = b.wait_until_available(c.now());
    longest = std::max(longest, wait);
    shortest = std::min(shortest, wait);
    c.advance(wait);
    ASSERT_TRUE(b.try_take(c.now()));
  }
  EXPECT_LE(longest, 200ms);
  EXPECT_GT(longest, 180ms);
  EXPECT_LT(shortest, 20ms);
}

// Sustained use at the wait the bucket asks for matches the rate over a long run.
TEST(TokenBucket, LongRunMatchesRate) {
  fake_clock c;
  const auto start = c.now();
  token_bucket b(7, 3, c.now(), exact());
  int sent = 0;
  while (c.now() - start < 100s) {
    if (b.try_take(c.now())) ++sent;
    else c.advance(b.wait_until_available(c.now()));
  }
  // 3 at once, then 7/s for 100 s (the token due exactly at 100 s is not taken).
  EXPECT_NEAR(sent, 3 + 700, 1);
}

namespace {

using steady_time = relicense::engine::steady_time;

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

/// An organization's budget on the server (10/s, capacity 10, starting full), spent by another
/// application calling at Poisson times at `foreign(t)` requests/s and by one run whose workers
/// take from `ours` (always rows to send) and see each answer `latency` later. A 429 carries
/// Retry-After 1 s, as the Dashboard's does at 10/s; the run pauses and lowers its rate as
/// the runner does. Time moves in 1 ms steps on the fake clock.
class shared_budget {
public:
  using rate_fn = double (*)(double);
  shared_budget(rate_fn foreign, std::chrono::milliseconds latency, std::uint64_t seed,
                aimd_config aimd = {})
      : foreign_(foreign), latency_(latency), rng_(seed), start_(clock_.now()),
        server_last_(start_), ours_(10, 9, start_, aimd) {
    next_foreign_ = start_ + gap(foreign_max_);
  }

  /// Runs until `seconds_from_start`.
  void run_until(double seconds_from_start) {
    const auto end = start_ + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::duration<double>(seconds_from_start));
    while (clock_.now() < end) {
      clock_.advance(1ms);
      const auto now = clock_.now();
      // The other application: Poisson arrivals at the peak rate, thinned to the current one.
      while (next_foreign_ <= now) {
        const double t = seconds(next_foreign_ - start_);
        if (uniform_(rng_) * foreign_max_ < foreign_(t)) {
          ++foreign_calls;
          if (!server_take(next_foreign_)) ++foreign_429;
        }
        next_foreign_ += gap(foreign_max_);
      }
      while (!in_flight_.empty() && in_flight_.front().first <= now) {
        if (in_flight_.front().second) {
          ++our_ok;
          ours_.on_success(now);
        } else {
          ++our_429;
          ours_.pause_until(now, now + 1s);
          ours_.on_throttled(now);
        }
        in_flight_.pop_front();
      }
      while (ours_.try_take(now)) in_flight_.emplace_back(now + latency_, server_take(now));
    }
  }

  double now_s() const { return seconds(clock_.now() - start_); }
  const token_bucket& ours() const { return ours_; }

  std::uint64_t foreign_calls = 0, foreign_429 = 0, our_ok = 0, our_429 = 0;

private:
  static constexpr double foreign_max_ = 5.0;  // the highest foreign rate of any scenario

  std::chrono::nanoseconds gap(double rate) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(std::exponential_distribution<double>(rate)(rng_)));
  }
  bool server_take(steady_time at) {
    server_tokens_ = std::min(10.0, server_tokens_ + seconds(at - server_last_) * 10.0);
    server_last_ = std::max(server_last_, at);
    if (server_tokens_ < 1.0) return false;
    server_tokens_ -= 1.0;
    return true;
  }

  rate_fn foreign_;
  std::chrono::milliseconds latency_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
  fake_clock clock_;
  steady_time start_;
  double server_tokens_ = 10;
  steady_time server_last_;
  steady_time next_foreign_;
  token_bucket ours_;
  std::deque<std::pair<steady_time, bool>> in_flight_;
};

double foreign_3(double) { return 3.0; }
double foreign_0_5_0(double t) { return t >= 60 && t < 120 ? 5.0 : 0.0; }

}  // namespace

// Another application spending 3 of 10/s: after the first seconds the run gets close to the 7/s
// left, the other application sees few 429s (under 6.5 %, 10 % with 800 ms answers), and the
// run's own 429s stay rare (no storm).
TEST(TokenBucketSharedBudget, ConvergesNearTheShareLeftByAnother) {
  for (std::uint64_t seed : {1, 2, 3}) {
    for (auto latency : {0ms, 800ms}) {
      SCOPED_TRACE(::testing::Message()
                   << "seed " << seed << ", latency " << latency.count() << " ms");
      shared_budget s(foreign_3, latency, seed);
      s.run_until(20);
      const auto ok0 = s.our_ok, f0 = s.foreign_calls, f429_0 = s.foreign_429, our429_0 = s.our_429;
      const auto dec0 = s.ours().decreases();
      s.run_until(200);
      const double ours = static_cast<double>(s.our_ok - ok0) / 180.0;
      const double foreign_share =
          static_cast<double>(s.foreign_429 - f429_0) / static_cast<double>(s.foreign_calls - f0);
      EXPECT_GT(ours, 6.5);
      EXPECT_LT(ours, 7.5);
      // Slow answers delay the signal: the requests sent meanwhile compete with the other
      // application's calls for the refill until the first 429 comes back.
      EXPECT_LT(foreign_share, latency == 0ms ? 0.065 : 0.10);
      // A 429 event now and then (the probe), not a storm: under one per 4 s, and fewer 429
      // answers than one in 20 of ours (requests in flight when the bucket empties get one each).
      EXPECT_LT(static_cast<double>(s.ours().decreases() - dec0) / 180.0, 0.25);
      EXPECT_LT(static_cast<double>(s.our_429 - our429_0),
                0.05 * static_cast<double>(s.our_ok - ok0));
      EXPECT_GT(s.ours().effective_rate(), 5.0);
    }
  }
}

// The other application goes from 0 to 5/s and back: the run follows within each phase, and
// after it stops takes the whole budget back.
TEST(TokenBucketSharedBudget, FollowsAShareThatChanges) {
  for (std::uint64_t seed : {1, 2, 3}) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    shared_budget s(foreign_0_5_0, 300ms, seed);
    s.run_until(60);
    EXPECT_GT(static_cast<double>(s.our_ok) / 60.0, 9.5);
    EXPECT_EQ(s.our_429, 0U);
    const auto ok1 = s.our_ok, f1 = s.foreign_calls, f429_1 = s.foreign_429;
    s.run_until(120);
    const double ours_busy = static_cast<double>(s.our_ok - ok1) / 60.0;
    EXPECT_GT(ours_busy, 4.5);
    EXPECT_LT(ours_busy, 5.5);
    // Half the budget taken by the other application and answers of 300 ms: each probe costs it
    // more than at 3 of 10/s, as the run's 429 comes back late.
    EXPECT_LT(
        static_cast<double>(s.foreign_429 - f429_1) / static_cast<double>(s.foreign_calls - f1),
        0.12);
    // Taken back within 20 s: the last 40 s of the quiet phase run at nearly the full rate.
    s.run_until(140);
    const auto ok2 = s.our_ok;
    s.run_until(180);
    EXPECT_GT(static_cast<double>(s.our_ok - ok2) / 40.0, 9.5);
    EXPECT_DOUBLE_EQ(s.ours().effective_rate(), 10.0);
  }
}

// The dither is what leaves the other application its share: the same run without it, or with
// half a token, gives the other application's calls more 429s than with the default whole token.
TEST(TokenBucketSharedBudget, DitherLeavesTheOthersTheirShare) {
  auto foreign_429_share = [](double dither) {
    aimd_config a;
    a.dither = dither;
    std::uint64_t calls = 0, limited = 0;
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      shared_budget s(foreign_3, 0ms, seed, a);
      s.run_until(200);
      calls += s.foreign_calls;
      limited += s.foreign_429;
    }
    return static_cast<double>(limited) / static_cast<double>(calls);
  };
  const double none = foreign_429_share(0), half = foreign_429_share(0.5),
               whole = foreign_429_share(aimd_config{}.dither);
  EXPECT_DOUBLE_EQ(aimd_config{}.dither, 1.0);
  EXPECT_GT(none, 2 * whole);
  EXPECT_GT(half, 1.25 * whole);
}
