#include "relicense/engine/batch.hpp"
#include "relicense/engine/batch_mode.hpp"

#include "relicense/test/fake_clock.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using relicense::engine::batch_action_ref;
using relicense::engine::batch_config;
using relicense::engine::batch_job;
using relicense::engine::batch_outcome;
using relicense::engine::build_batch_body;
using relicense::engine::is_too_many_batches_error;
using relicense::engine::org_batches;
using relicense::engine::poll_delay;
using relicense::engine::suspects_in_errors;
using relicense::test::fake_clock;

namespace {

std::vector<std::size_t> iota_rows(std::size_t n) {
  std::vector<std::size_t> v(n);
  std::iota(v.begin(), v.end(), std::size_t{0});
  return v;
}

// A model of the API for the state machine: ids and serials per row, a set of bad rows; a batch
// fails (atomically) when it holds any bad row, with an error naming it when `named` is set.
struct model {
  std::vector<std::string> ids;
  std::vector<std::string> serials;
  std::set<std::size_t> bad;
  bool named = true;

  explicit model(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      ids.push_back("L" + std::to_string(1000 + i));
      serials.push_back("Q2AA-AAAA-" + std::to_string(1000 + i));
    }
  }
  std::vector<batch_action_ref> actions(const batch_job& job) const {
    std::vector<batch_action_ref> out;
    for (auto r : job.rows) out.push_back({ids[r], serials[r]});
    return out;
  }
  std::string errors(const batch_job& job) const {
    std::string e;
    for (auto r : job.rows)
      if (bad.count(r))
        e += (named ? "Device with serial " + serials[r] : std::string("Invalid")) + "; ";
    return e;
  }
};

struct run_totals {
  std::set<std::size_t> applied;
  std::set<std::size_t> failed;
  unsigned batches = 0;
  unsigned max_running = 0;
};

// Drives org_batches to the end against the model: takes as much as the limit allows, then
// finishes the oldest running batch.
run_totals drive(org_batches& org, const model& m, fake_clock& clock) {
  run_totals t;
  std::deque<batch_job> running;
  for (int guard = 0; guard < 100000 && !org.done(); ++guard) {
    while (auto job = org.take(clock.now())) {
      running.push_back(std::move(*job));
      ++t.batches;
    }
    t.max_running = std::max<unsigned>(t.max_running, org.running());
    if (running.empty()) {
      clock.set(org.ready_at(clock.now()));
      continue;
    }
    batch_job job = std::move(running.front());
    running.pop_front();
    batch_outcome out;
    const std::string err = m.errors(job);
    if (err.empty()) {
      out = org.on_completed(job);
    } else {
      out = org.on_failed(job, err, m.actions(job));
    }
    for (auto r : out.applied) EXPECT_TRUE(t.applied.insert(r).second) << "row applied twice";
    for (auto r : out.failed) EXPECT_TRUE(t.failed.insert(r).second) << "row failed twice";
  }
  EXPECT_TRUE(org.done());
  return t;
}

}  // namespace

// The poll interval starts at first_poll, grows by poll_growth and stops at max_poll.
TEST(BatchPoll, GrowsToCap) {
  batch_config c;
  c.first_poll = 1s;
  c.poll_growth = 2;
  c.max_poll = 5s;
  EXPECT_EQ(poll_delay(c, 0), 1s);
  EXPECT_EQ(poll_delay(c, 1), 2s);
  EXPECT_EQ(poll_delay(c, 2), 4s);
  EXPECT_EQ(poll_delay(c, 3), 5s);
  EXPECT_EQ(poll_delay(c, 1000000), 5s);
}

// A growth below 1 does not shrink the interval.
TEST(BatchPoll, GrowthBelowOneIsFlat) {
  batch_config c;
  c.first_poll = 300ms;
  c.poll_growth = 0.5;
  EXPECT_EQ(poll_delay(c, 7), 300ms);
}

// The body is the documented shape: confirmed, asynchronous, one update per row, null unassigns.
TEST(BatchBody, ShapeAndNull) {
  const std::string body = build_batch_body("123", {{"L1", "Q2AA-BBBB-CCCC"}, {"L2", ""}});
  EXPECT_EQ(
      body,
      R"({"confirmed":true,"synchronous":false,"actions":[)"
      R"({"resource":"/organizations/123/licenses/L1","operation":"update","body":{"deviceSerial":"Q2AA-BBBB-CCCC"}},)"
      R"({"resource":"/organizations/123/licenses/L2","operation":"update","body":{"deviceSerial":null}}]})");
}

// The body is valid JSON even when an id needs escaping, and simdjson reads it back.
TEST(BatchBody, EscapesAndParses) {
  const std::string body = build_batch_body("1\"2", {{"a\\b", "S\"1"}});
  simdjson::padded_string padded(body);
  simdjson::ondemand::parser parser;
  auto doc = parser.iterate(padded);
  std::string_view resource;
  ASSERT_EQ(doc["actions"].at(0)["resource"].get_string().get(resource), simdjson::SUCCESS);
  EXPECT_EQ(resource, "/organizations/1\"2/licenses/a\\b");
}

// The API's "too many batches running" answer is recognised; other 400s are not.
TEST(BatchErrors, TooManyBatches) {
  EXPECT_TRUE(is_too_many_batches_error(
      "Too many concurrently executing batches. Please wait for other batches to complete "
      "before submitting more."));
  EXPECT_FALSE(is_too_many_batches_error("License L1 not found"));
}

// Suspects are ids or serials named as whole tokens; an id inside a longer id is not one.
TEST(BatchErrors, SuspectsAreWholeTokens) {
  std::vector<batch_action_ref> a = {
      {"12", "Q2AA-0000-0001"}, {"123", "Q2AA-0000-0002"}, {"9", ""}};
  EXPECT_EQ(suspects_in_errors(a, "License 123 not found"), (std::vector<std::size_t>{1}));
  EXPECT_EQ(suspects_in_errors(a, "Device with serial Q2AA-0000-0001 is not in organization 9"),
            (std::vector<std::size_t>{0, 2}));
  EXPECT_TRUE(suspects_in_errors(a, "Something went wrong").empty());
  EXPECT_TRUE(suspects_in_errors(a, "").empty());
}

// Rows are packed in order into batches of at most max_actions.
TEST(OrgBatches, PacksInOrder) {
  batch_config c;
  c.max_actions = 100;
  c.max_running = 100;
  org_batches org(c);
  org.add_rows(iota_rows(250));
  fake_clock clock;
  auto a = org.take(clock.now());
  auto b = org.take(clock.now());
  auto d = org.take(clock.now());
  ASSERT_TRUE(a && b && d);
  EXPECT_FALSE(org.take(clock.now()));
  EXPECT_EQ(a->rows.size(), 100u);
  EXPECT_EQ(b->rows.size(), 100u);
  EXPECT_EQ(d->rows.size(), 50u);
  EXPECT_EQ(a->rows.front(), 0u);
  EXPECT_EQ(b->rows.front(), 100u);
  EXPECT_EQ(d->rows.back(), 249u);
  EXPECT_TRUE(a->id.empty());
}

// No more than max_running jobs are out at once; finishing one lets the next go.
TEST(OrgBatches, RunningLimit) {
  batch_config c;
  c.max_actions = 1;
  c.max_running = 5;
  org_batches org(c);
  org.add_rows(iota_rows(8));
  fake_clock clock;
  std::vector<batch_job> out;
  while (auto j = org.take(clock.now())) out.push_back(*j);
  EXPECT_EQ(out.size(), 5u);
  EXPECT_EQ(org.running(), 5u);
  org.on_completed(out[0]);
  EXPECT_TRUE(org.take(clock.now()));
  EXPECT_FALSE(org.take(clock.now()));
}

// A completed batch applies all its rows.
TEST(OrgBatches, CompletedAppliesAll) {
  org_batches org(batch_config{});
  org.add_rows(iota_rows(3));
  fake_clock clock;
  auto j = org.take(clock.now());
  ASSERT_TRUE(j);
  auto out = org.on_completed(*j);
  EXPECT_EQ(out.applied, iota_rows(3));
  EXPECT_TRUE(out.failed.empty());
  EXPECT_TRUE(org.done());
}

// A failed batch of one row fails that row, for good.
TEST(OrgBatches, SingleRowFails) {
  org_batches org(batch_config{});
  org.add_rows({7});
  fake_clock clock;
  auto j = org.take(clock.now());
  ASSERT_TRUE(j);
  auto out = org.on_failed(*j, "bad", {{"L7", "S7"}});
  EXPECT_EQ(out.failed, (std::vector<std::size_t>{7}));
  EXPECT_TRUE(org.done());
}

// A failed batch without hints splits into two halves queued ahead of new work.
TEST(OrgBatches, FailedSplitsInHalvesFirst) {
  batch_config c;
  c.max_actions = 4;
  c.max_running = 1;
  org_batches org(c);
  org.add_rows(iota_rows(8));
  fake_clock clock;
  auto j = org.take(clock.now());
  ASSERT_TRUE(j);
  std::vector<batch_action_ref> acts(4, {"x", "y"});
  auto out = org.on_failed(*j, "Something went wrong", acts);
  EXPECT_EQ(out.resubmitted, 4u);
  auto h1 = org.take(clock.now());
  ASSERT_TRUE(h1);
  EXPECT_EQ(h1->rows, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(h1->generation, 1u);
  org.on_completed(*h1);
  auto h2 = org.take(clock.now());
  ASSERT_TRUE(h2);
  EXPECT_EQ(h2->rows, (std::vector<std::size_t>{2, 3}));
  org.on_completed(*h2);
  auto next = org.take(clock.now());
  ASSERT_TRUE(next);
  EXPECT_EQ(next->rows, (std::vector<std::size_t>{4, 5, 6, 7}));
  EXPECT_EQ(org.splits(), 1u);
}

// Rows named by the error go alone, the rest together, in input order.
TEST(OrgBatches, HintsIsolateNamedRows) {
  batch_config c;
  c.max_running = 10;
  org_batches org(c);
  org.add_rows(iota_rows(5));
  fake_clock clock;
  auto j = org.take(clock.now());
  ASSERT_TRUE(j);
  std::vector<batch_action_ref> acts = {
      {"L0", "S0"}, {"L1", "S1"}, {"L2", "S2"}, {"L3", "S3"}, {"L4", "S4"}};
  org.on_failed(*j, "Device with serial S3 is not in organization 1", acts);
  auto a = org.take(clock.now());
  auto b = org.take(clock.now());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->rows, (std::vector<std::size_t>{3}));
  EXPECT_EQ(b->rows, (std::vector<std::size_t>{0, 1, 2, 4}));
  EXPECT_FALSE(org.take(clock.now()));
}

// Hints off: a named row still goes through plain halves.
TEST(OrgBatches, HintsOffBisects) {
  batch_config c;
  c.use_error_hints = false;
  org_batches org(c);
  org.add_rows(iota_rows(4));
  fake_clock clock;
  auto j = org.take(clock.now());
  ASSERT_TRUE(j);
  org.on_failed(*j, "License L3 not found", {{"L0", ""}, {"L1", ""}, {"L2", ""}, {"L3", ""}});
  auto a = org.take(clock.now());
  ASSERT_TRUE(a);
  EXPECT_EQ(a->rows, (std::vector<std::size_t>{0, 1}));
}

// Exhaustively, for every single bad row position in 1..12-row orgs and batch sizes 1..5, bisect
// fails exactly the bad row and applies every other row once, with and without hints.
TEST(OrgBatches, BisectIsolatesEverySingleBadRow) {
  for (bool named : {false, true}) {
    for (std::size_t n = 1; n <= 12; ++n) {
      for (std::size_t size = 1; size <= 5; ++size) {
        for (std::size_t bad = 0; bad < n; ++bad) {
          batch_config c;
          c.max_actions = size;
          org_batches org(c);
          org.add_rows(iota_rows(n));
          model m(n);
          m.named = named;
          m.bad = {bad};
          fake_clock clock;
          auto t = drive(org, m, clock);
          EXPECT_EQ(t.failed, (std::set<std::size_t>{bad}));
          EXPECT_EQ(t.applied.size(), n - 1);
          EXPECT_EQ(t.applied.count(bad), 0u);
        }
      }
    }
  }
}

// Every subset of bad rows of an 8-row org (256 cases) is isolated exactly, both ways.
TEST(OrgBatches, BisectIsolatesEverySubset) {
  for (bool named : {false, true}) {
    for (unsigned mask = 0; mask < 256; ++mask) {
      batch_config c;
      c.max_actions = 8;
      org_batches org(c);
      org.add_rows(iota_rows(8));
      model m(8);
      m.named = named;
      for (std::size_t i = 0; i < 8; ++i)
        if (mask & (1u << i)) m.bad.insert(i);
      fake_clock clock;
      auto t = drive(org, m, clock);
      EXPECT_EQ(t.failed, m.bad) << "mask " << mask;
      EXPECT_EQ(t.applied.size() + t.failed.size(), 8u);
    }
  }
}

// One bad row in 100 costs two extra batches with hints, and at most 2·ceil(log2 100) without.
TEST(OrgBatches, BisectCost) {
  for (bool named : {true, false}) {
    batch_config c;
    org_batches org(c);
    org.add_rows(iota_rows(100));
    model m(100);
    m.named = named;
    m.bad = {42};
    fake_clock clock;
    auto t = drive(org, m, clock);
    if (named) EXPECT_EQ(t.batches, 3u);
    else EXPECT_LE(t.batches, 1u + 2u * 7u);
    EXPECT_EQ(t.failed, (std::set<std::size_t>{42}));
  }
}

// The running limit holds during bisection of a large org.
TEST(OrgBatches, LimitHoldsWhileBisecting) {
  batch_config c;
  c.max_running = 5;
  org_batches org(c);
  org.add_rows(iota_rows(1000));
  model m(1000);
  m.named = false;
  m.bad = {3, 250, 251, 999};
  fake_clock clock;
  auto t = drive(org, m, clock);
  EXPECT_EQ(t.max_running, 5u);
  EXPECT_EQ(t.failed, m.bad);
  EXPECT_EQ(t.applied.size(), 996u);
}

// "Too many batches" requeues the job at the front and holds off, doubling up to max_poll.
TEST(OrgBatches, BusyHoldsOffAndBacksOff) {
  batch_config c;
  c.busy_retry = 1s;
  c.max_poll = 3s;
  org_batches org(c);
  org.add_rows(iota_rows(150));
  fake_clock clock;
  auto j = org.take(clock.now());
  ASSERT_TRUE(j);
  j->id = "stale";
  org.on_busy(*j, clock.now());
  EXPECT_EQ(org.running(), 0u);
  EXPECT_FALSE(org.take(clock.now()));
  EXPECT_EQ(org.ready_at(clock.now()), clock.now() + 1s);
  clock.advance(1s);
  auto again = org.take(clock.now());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->rows.front(), 0u);
  EXPECT_TRUE(again->id.empty());
  org.on_busy(*again, clock.now());
  EXPECT_EQ(org.ready_at(clock.now()), clock.now() + 2s);
  clock.advance(2s);
  again = org.take(clock.now());
  ASSERT_TRUE(again);
  org.on_busy(*again, clock.now());
  EXPECT_EQ(org.ready_at(clock.now()), clock.now() + 3s);  // capped
  clock.advance(3s);
  again = org.take(clock.now());
  ASSERT_TRUE(again);
  org.on_accepted();
  org.on_busy(*again, clock.now());
  EXPECT_EQ(org.ready_at(clock.now()), clock.now() + 1s);  // reset by an acceptance
}

// Batches from the journal come first, keep their id, and are not held off by a busy answer.
TEST(OrgBatches, SubmittedComeFirst) {
  batch_config c;
  org_batches org(c);
  org.add_rows({0, 1});
  org.add_submitted("B9", {5, 6});
  org.add_submitted("B10", {});  // nothing left of it: ignored
  fake_clock clock;
  auto j = org.take(clock.now());
  ASSERT_TRUE(j);
  EXPECT_EQ(j->id, "B9");
  EXPECT_EQ(j->rows, (std::vector<std::size_t>{5, 6}));
  auto k = org.take(clock.now());
  ASSERT_TRUE(k);
  EXPECT_TRUE(k->id.empty());
  EXPECT_FALSE(org.take(clock.now()));
}

// A lost batch (404 on poll) is resubmitted as a new job; an abandoned one just stops counting.
TEST(OrgBatches, LostAndAbandoned) {
  org_batches org(batch_config{});
  org.add_submitted("B1", {1, 2});
  org.add_submitted("B2", {3});
  fake_clock clock;
  auto a = org.take(clock.now());
  auto b = org.take(clock.now());
  ASSERT_TRUE(a && b);
  org.on_lost(*a);
  org.on_abandoned(*b);
  auto again = org.take(clock.now());
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->id.empty());
  EXPECT_EQ(again->rows, (std::vector<std::size_t>{1, 2}));
  org.on_completed(*again);
  EXPECT_TRUE(org.done());
}

// drain() returns every queued row (sorted) and leaves running jobs alone.
TEST(OrgBatches, Drain) {
  batch_config c;
  c.max_actions = 2;
  c.max_running = 1;
  org_batches org(c);
  org.add_rows({4, 5, 6});
  org.add_submitted("B", {1});
  fake_clock clock;
  auto j = org.take(clock.now());
  ASSERT_TRUE(j);
  EXPECT_EQ(org.drain(), (std::vector<std::size_t>{4, 5, 6}));
  EXPECT_FALSE(org.done());
  org.on_abandoned(*j);
  EXPECT_TRUE(org.done());
}

// Without observations the first poll is first_poll; then it follows the learnt per-action
// duration, scaled by the batch's size and clamped to [first_poll/4, 4·max_poll].
TEST(OrgBatches, LearnsFirstPoll) {
  batch_config c;
  c.first_poll = 1s;
  c.max_poll = 8s;
  org_batches org(c);
  EXPECT_EQ(org.first_poll_delay(100), 1s);
  org.observe(3s, 100, false);  // needed several polls: 30 ms per action
  EXPECT_EQ(org.first_poll_delay(100), 3s);
  EXPECT_EQ(org.first_poll_delay(50), 1500ms);
  EXPECT_EQ(org.first_poll_delay(1), 250ms);     // clamped up
  EXPECT_EQ(org.first_poll_delay(100000), 32s);  // clamped down
  org.observe(3s, 100, true);                    // seen at the first poll: probe 20 % lower
  EXPECT_EQ(org.first_poll_delay(100), 2700ms);
}

// Repeated first-poll hits walk the estimate down towards the real duration.
TEST(OrgBatches, FirstPollWalksDown) {
  batch_config c;
  c.first_poll = 1s;
  org_batches org(c);
  org.observe(4s, 100, false);
  // The real duration is 2 s: while the first poll still sees it done, the estimate shrinks.
  for (int i = 0; i < 20 && org.first_poll_delay(100) >= 2s; ++i)
    org.observe(org.first_poll_delay(100), 100, true);
  EXPECT_LT(org.first_poll_delay(100), 2s);
  EXPECT_GT(org.first_poll_delay(100), 1500ms);
}

// learn_duration off: always first_poll.
TEST(OrgBatches, LearningOff) {
  batch_config c;
  c.learn_duration = false;
  org_batches org(c);
  org.observe(5s, 100, false);
  EXPECT_EQ(org.first_poll_delay(100), c.first_poll);
}

// Re-polls start at first_poll and grow; once a duration is learnt they start at a quarter of it
// (within [first_poll/4, first_poll]).
TEST(OrgBatches, RepollDelay) {
  batch_config c;
  c.first_poll = 1s;
  c.poll_growth = 2;
  c.max_poll = 8s;
  org_batches org(c);
  EXPECT_EQ(org.repoll_delay(100, 1), 1s);
  EXPECT_EQ(org.repoll_delay(100, 2), 2s);
  org.observe(2s, 100, false);  // 2 s per 100 actions
  EXPECT_EQ(org.repoll_delay(100, 1), 500ms);
  EXPECT_EQ(org.repoll_delay(100, 2), 1s);
  EXPECT_EQ(org.repoll_delay(10, 1), 250ms);  // clamped up
  EXPECT_EQ(org.repoll_delay(1000, 1), 1s);   // clamped down
}

// ---- one list for several polls ----------------------------------------------------------------

namespace {

using relicense::engine::held_poll;
using relicense::engine::poll_share_config;
using relicense::engine::poll_sharing;
using relicense::engine::poll_tally;
using relicense::engine::steady_time;

const steady_time t0 = steady_time{} + std::chrono::hours(1);
/// Polls that found batches running, mostly.
const poll_tally mostly_running{20, 2};

}  // namespace

// A list answers for the due poll, those due within the window, and those due within half of
// their own wait; a poll due later goes alone when its time comes.
TEST(PollSharing, TakesTheDueAndTheSoonDue) {
  const std::vector<held_poll> held{
      {t0, t0 - 1s},             // due
      {t0 + 80ms, t0 - 1s},      // within the window
      {t0 + 400ms, t0 - 600ms},  // within half its 1 s wait: pulled forward
      {t0 + 3s, t0 - 1s},        // 3 s of a 4 s wait: not yet
  };
  EXPECT_EQ(poll_sharing(held, t0, mostly_running), (std::vector<std::size_t>{0, 1, 2}));
}

// No list while no poll is due, for a poll alone, or when switched off.
TEST(PollSharing, NoListForNothingDueOrOnePoll) {
  const std::vector<held_poll> later{{t0 + 1s, t0}, {t0 + 1s, t0}};
  EXPECT_TRUE(poll_sharing(later, t0, mostly_running).empty());
  const std::vector<held_poll> alone{{t0, t0 - 1s}, {t0 + 5s, t0 - 1s}};
  EXPECT_TRUE(poll_sharing(alone, t0, mostly_running).empty());
  const std::vector<held_poll> both{{t0, t0 - 1s}, {t0, t0 - 1s}};
  EXPECT_EQ(poll_sharing(both, t0, mostly_running).size(), 2u);
  poll_share_config off;
  off.enabled = false;
  EXPECT_TRUE(poll_sharing(both, t0, mostly_running, off).empty());
}

// Where polls mostly find batches finished, a list would cost a call on top of their own polls:
// it needs enough batches expected to run on.
TEST(PollSharing, NoListWherePollsFindBatchesFinished) {
  const std::vector<held_poll> three(3, held_poll{t0, t0 - 1s});
  EXPECT_EQ(poll_sharing(three, t0, poll_tally{1, 1}).size(), 3u);  // 3 × 0.5 running expected
  EXPECT_TRUE(poll_sharing({three.begin(), three.begin() + 2}, t0, poll_tally{1, 1}).empty());
  EXPECT_TRUE(poll_sharing(three, t0, poll_tally{1, 20}).empty());
  // Before any poll found a batch running (fast batches, all done at their first poll).
  EXPECT_TRUE(poll_sharing(three, t0, poll_tally{}).empty());
  EXPECT_TRUE(poll_sharing(three, t0, poll_tally{0, 5}).empty());
}
