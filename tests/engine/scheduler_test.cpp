// The scheduler on a fake clock: which organization's work goes next, when a worker must wait,
// retry order, drain order and the budgets.
#include "relicense/engine/scheduler.hpp"

#include "relicense/test/fake_clock.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace std::chrono_literals;
using relicense::engine::budget_config;
using relicense::engine::scheduler;
using relicense::engine::task_id;
using relicense::test::fake_clock;
using kind = scheduler::pick::kind;

namespace {

constexpr budget_config unlimited{0, 0, 0};

std::vector<std::size_t> orgs_served(scheduler& s, fake_clock& c, int n) {
  std::vector<std::size_t> out;
  for (int i = 0; i < n; ++i) {
    auto p = s.next(c.now());
    if (p.what != kind::task) break;
    out.push_back(p.org);
  }
  return out;
}

}  // namespace

// Nothing queued: the scheduler says idle, not "wait".
TEST(Scheduler, IdleWhenNothingIsQueued) {
  fake_clock c;
  scheduler s(2, unlimited, c.now());
  EXPECT_EQ(s.next(c.now()).what, kind::idle);
  EXPECT_EQ(s.pending(), 0u);
}

// Organizations are served in turn, from the one after the last served.
TEST(Scheduler, ServesOrganizationsRoundRobin) {
  fake_clock c;
  scheduler s(3, unlimited, c.now());
  for (task_id t = 0; t < 3; ++t) {
    s.push(0, t);
    s.push(1, 10 + t);
    s.push(2, 20 + t);
  }
  EXPECT_EQ(orgs_served(s, c, 9), (std::vector<std::size_t>{0, 1, 2, 0, 1, 2, 0, 1, 2}));
  EXPECT_EQ(s.next(c.now()).what, kind::idle);
}

// Fresh work of one organization goes out in the order it was queued.
TEST(Scheduler, FreshWorkKeepsItsOrder) {
  fake_clock c;
  scheduler s(1, unlimited, c.now());
  for (task_id t : {5u, 3u, 9u}) s.push(0, t);
  EXPECT_EQ(s.next(c.now()).task, 5u);
  EXPECT_EQ(s.next(c.now()).task, 3u);
  EXPECT_EQ(s.next(c.now()).task, 9u);
}

// A task goes only with a token: the burst goes at once, then one every 1/rate, and a worker is
// told exactly when the next token is due.
TEST(Scheduler, WaitsForTheOrganizationsNextToken) {
  fake_clock c;
  scheduler s(1, budget_config{10, 10, 0}, c.now());
  for (task_id t = 0; t < 20; ++t) s.push(0, t);
  // 10 tokens less the headroom of one (see burst_with_headroom); the dither (a token at most,
  // see aimd_config::dither) may hold back the last.
  const auto burst = orgs_served(s, c, 20).size();
  EXPECT_GE(burst, 8u);
  EXPECT_LE(burst, 9u);
  auto p = s.next(c.now());
  ASSERT_EQ(p.what, kind::wait);
  EXPECT_GT(p.at, c.now());
  EXPECT_LE(p.at - c.now(), 200ms);
  c.advance(p.at - c.now());
  EXPECT_EQ(s.next(c.now()).what, kind::task);
}

// One organization's empty bucket never holds back another's work.
TEST(Scheduler, AnEmptyBucketDoesNotBlockOtherOrganizations) {
  fake_clock c;
  scheduler s(2, budget_config{1, 1, 0}, c.now());
  s.push(0, 1);
  s.push(0, 2);
  s.push(1, 3);
  EXPECT_EQ(s.next(c.now()).org, 0u);
  auto p = s.next(c.now());
  ASSERT_EQ(p.what, kind::task);
  EXPECT_EQ(p.org, 1u);
  EXPECT_EQ(s.next(c.now()).what, kind::wait);
}

// The source IP's bucket caps every organization together.
TEST(Scheduler, TheIpBudgetCapsAllOrganizations) {
  fake_clock c;
  scheduler s(4, budget_config{10, 10, 2}, c.now());
  for (std::size_t o = 0; o < 4; ++o) s.push(o, static_cast<task_id>(o));
  // An IP bucket of 2 keeps one token of headroom: one task now, the next after 1/2 s (plus
  // the dither).
  EXPECT_EQ(orgs_served(s, c, 4).size(), 1u);
  auto p = s.next(c.now());
  ASSERT_EQ(p.what, kind::wait);
  EXPECT_GE(p.at - c.now(), 500ms);
  EXPECT_LE(p.at - c.now(), 750ms);
}

// Delayed work waits until it is due, and then goes before fresh work.
TEST(Scheduler, DueRetriesGoBeforeFreshWork) {
  fake_clock c;
  scheduler s(1, unlimited, c.now());
  s.push_at(0, 100, c.now() + 2s);
  s.push(0, 1);
  EXPECT_EQ(s.next(c.now()).task, 1u);
  auto p = s.next(c.now());
  ASSERT_EQ(p.what, kind::wait);
  EXPECT_EQ(p.at, c.now() + 2s);
  s.push(0, 2);
  c.advance(2s);
  EXPECT_EQ(s.next(c.now()).task, 100u);
  EXPECT_EQ(s.next(c.now()).task, 2u);
}

// Retries come back in the order they fall due; equal times keep the order they were queued.
TEST(Scheduler, RetriesGoInDueOrderThenQueueOrder) {
  fake_clock c;
  scheduler s(1, unlimited, c.now());
  s.push_at(0, 3, c.now() + 3s);
  s.push_at(0, 1, c.now() + 1s);
  s.push_at(0, 21, c.now() + 2s);
  s.push_at(0, 22, c.now() + 2s);
  c.advance(5s);
  std::vector<task_id> order;
  for (int i = 0; i < 4; ++i) order.push_back(s.next(c.now()).task);
  EXPECT_EQ(order, (std::vector<task_id>{1, 21, 22, 3}));
}

// A 429 with Retry-After pauses the organization: nothing of it leaves before the pause ends,
// while other organizations go on.
TEST(Scheduler, AThrottledOrganizationWaitsOutItsPause) {
  fake_clock c;
  scheduler s(2, budget_config{10, 10, 0}, c.now());
  s.push(0, 1);
  s.push(1, 2);
  s.throttled(0, c.now(), 2s);
  auto p = s.next(c.now());
  ASSERT_EQ(p.what, kind::task);
  EXPECT_EQ(p.org, 1u);
  p = s.next(c.now());
  ASSERT_EQ(p.what, kind::wait);
  EXPECT_GE(p.at, c.now() + 2s);
  EXPECT_LT(s.bucket(0).effective_rate(), 10.0);
  c.advance(2s);
  EXPECT_EQ(s.next(c.now()).org, 0u);
}

// A redirect hop takes one more token of the org and of the IP, or says when both will have one.
TEST(Scheduler, ARedirectHopTakesATokenOrSaysWhen) {
  fake_clock c;
  scheduler s(1, budget_config{1, 1, 0}, c.now());
  relicense::engine::steady_time at;
  EXPECT_TRUE(s.try_take(0, c.now(), at));
  EXPECT_FALSE(s.try_take(0, c.now(), at));
  EXPECT_EQ(at - c.now(), 1s);
}

// Drain hands back an organization's work, fresh in order then delayed by due time, and leaves
// the other organizations' work queued.
TEST(Scheduler, DrainReturnsOneOrganizationsWork) {
  fake_clock c;
  scheduler s(2, unlimited, c.now());
  s.push(0, 1);
  s.push(0, 2);
  s.push_at(0, 9, c.now() + 9s);
  s.push_at(0, 8, c.now() + 8s);
  s.push(1, 5);
  EXPECT_EQ(s.drain(0), (std::vector<task_id>{1, 2, 8, 9}));
  EXPECT_EQ(s.pending(), 1u);
  EXPECT_EQ(s.pending(0), 0u);
  EXPECT_EQ(s.next(c.now()).org, 1u);
}

// A drain of one channel (tasks tagged in a high bit) takes only its tasks; the other channel's
// stay queued, delayed ones with their due times; has_due says when work may go.
TEST(Scheduler, DrainOfOneChannelKeepsTheOther) {
  fake_clock c;
  scheduler s(1, unlimited, c.now());
  constexpr task_id bit = task_id{1} << 30;
  s.push(0, 1);
  s.push(0, bit | 2);
  s.push_at(0, 3, c.now() + 1s);
  s.push_at(0, bit | 4, c.now() + 2s);
  EXPECT_EQ(s.drain(0, bit, 0), (std::vector<task_id>{1, 3}));
  EXPECT_EQ(s.pending(), 2u);
  EXPECT_TRUE(s.has_due(0, c.now()));
  EXPECT_EQ(s.next(c.now()).task, bit | 2);
  EXPECT_FALSE(s.has_due(0, c.now()));
  EXPECT_EQ(s.next(c.now()).what, kind::wait);
  c.advance(2s);
  EXPECT_TRUE(s.has_due(0, c.now()));
  EXPECT_EQ(s.next(c.now()).task, bit | 4);
}
