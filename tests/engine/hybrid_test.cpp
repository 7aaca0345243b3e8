// The hybrid mode on a fake clock: the split rule alone, then the mode against a tiny fake API
// whose action batches take a set time per action, side by side with put and batch modes.
#include "mode_support.hpp"

#include "relicense/engine/batch_mode.hpp"
#include "relicense/engine/hybrid_mode.hpp"
#include "relicense/engine/put_mode.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

using namespace std::chrono_literals;
using namespace relicense;
using engine::batch_share;
using engine::batch_speed;
using engine::scheduler;
using engine::split_state;
using kind = scheduler::pick::kind;
using test::batch_json;
using test::json_answer;
using test::mode_rig;

namespace {

split_state org_state(std::size_t queued, double per_action_s, std::size_t in_batches = 0) {
  split_state s;
  s.queued = queued;
  s.in_batches = in_batches;
  s.put_rate = 10;
  s.per_action_s = per_action_s;
  s.slots = 5;
  return s;
}

/// A fake license API with no latency: PUTs confirm, a batch of n actions completes n × action_s
/// after its POST.
struct fake_api {
  fake_api(const plan::plan& p, double action_s, engine::steady_time t0 = {})
      : plan(p), action(action_s), start(t0) {}

  engine::answer answer(const engine::request& rq, engine::steady_time now) {
    if (rq.method == "PUT") {
      const auto id = rq.path.substr(rq.path.rfind('/') + 1);
      for (const auto& r : plan.rows)
        if (r.license_id == id) {
          ++puts;
          return json_answer(200, test::license_json(r));
        }
      return json_answer(404, R"({"errors":["no such license"]})");
    }
    if (rq.method == "POST") {
      std::size_t n = 0;
      for (auto at = rq.body.find("\"operation\""); at != std::string::npos;
           at = rq.body.find("\"operation\"", at + 1))
        ++n;
      const std::string id = "b" + std::to_string(done_at.size() + 1);
      done_at[id] = now + std::chrono::duration_cast<engine::nanos>(
                              std::chrono::duration<double>(action * static_cast<double>(n)));
      batched += n;
      posts.push_back({std::chrono::duration<double>(now - start).count(), n});
      if (std::getenv("HYBRID_TRACE"))
        std::printf("  %.3f POST %zu\n",
                    std::chrono::duration<double>(now.time_since_epoch()).count(), n);
      return json_answer(201, batch_json(id, false, false));
    }
    ++polls;
    if (std::getenv("HYBRID_TRACE"))
      std::printf("  %.3f poll %s\n", std::chrono::duration<double>(now.time_since_epoch()).count(),
                  rq.path.c_str());
    if (rq.path.ends_with("/actionBatches?status=pending")) {
      ++lists;
      std::string body = "[";
      for (const auto& [id, at] : done_at)
        if (now < at) body += (body.size() > 1 ? "," : "") + batch_json(id, false, false);
      return json_answer(200, body + "]");
    }
    const auto id = rq.path.substr(rq.path.rfind('/') + 1);
    auto it = done_at.find(id);
    if (it == done_at.end()) return json_answer(404, R"({"errors":["not found"]})");
    return json_answer(200, batch_json(id, now >= it->second, false));
  }

  const plan::plan& plan;
  double action;
  std::map<std::string, engine::steady_time> done_at;
  std::size_t puts = 0;
  std::size_t batched = 0;
  std::size_t polls = 0;  ///< polls of one batch and lists of the running ones
  std::size_t lists = 0;
  engine::steady_time start;
  struct post {
    double at_s;  ///< since `start`
    std::size_t actions;
  };
  std::vector<post> posts;
};

/// Drives `m` against `api` (every answer at once) until it ends or `for_s` seconds passed;
/// `tasks` collects the task ids sent. Returns the seconds it took.
double run_for(mode_rig& rig, engine::mode& m, fake_api& api, double for_s,
               std::vector<engine::task_id>* tasks = nullptr) {
  const auto t0 = rig.clock.now();
  const auto end =
      t0 + std::chrono::duration_cast<engine::nanos>(std::chrono::duration<double>(for_s));
  m.start(rig.clock.now());
  for (int guard = 0; guard < 1'000'000; ++guard) {
    const auto now = rig.clock.now();
    if (now >= end) return std::chrono::duration<double>(now - t0).count();
    m.tick(now);
    auto p = rig.sched.next(now);
    if (p.what == kind::task) {
      if (tasks) tasks->push_back(p.task);
      auto rq = m.request_for(p.org, p.task, now);
      m.on_answer(p.org, p.task, api.answer(rq, now), rig.parser, now);
      continue;
    }
    const auto wake = m.wake_at(now);
    if (p.what == kind::idle && wake == engine::steady_time::max()) break;
    const auto at = p.what == kind::wait ? std::min(p.at, wake) : wake;
    EXPECT_GT(at, now) << "a mode that asks to wake now must have work now";
    if (at <= now) break;
    rig.clock.advance(at - now);
  }
  m.finish_remaining();
  return std::chrono::duration<double>(rig.clock.now() - t0).count();
}

double run_to_end(mode_rig& rig, engine::mode& m, fake_api& api) {
  return run_for(rig, m, api, 1e6);
}

constexpr engine::budget_config api_budget{10, 10, 100};

}  // namespace

// ---- the split rule ---------------------------------------------------------------------------

// An unlimited put channel needs no batches.
TEST(SplitRule, AnUnlimitedPutChannelTakesEverything) {
  auto s = org_state(1000, 0.002);
  s.put_rate = 0;
  EXPECT_EQ(batch_share(s), 0u);
}

// Fast batches with a long queue take full batches.
TEST(SplitRule, FastBatchesTakeFullBatches) {
  EXPECT_EQ(batch_share(org_state(3000, 0.002)), 100u);
}

// Slow batches (1 s per action) take about what they finish while PUTs move the rest: 300 rows at
// 10 + 5 rows/s last 20 s, so a batch of ~19 rows ends with the PUTs.
TEST(SplitRule, SlowBatchesTakeWhatEndsWithThePuts) {
  const auto n = batch_share(org_state(300, 1.0));
  EXPECT_GE(n, 15u);
  EXPECT_LE(n, 20u);
  // The rows of a batch that just started are its own; the next slot, with that one busy for as
  // long as its batch lasts, takes about as much again.
  auto next = org_state(300 - n, 1.0, n);
  next.busy_s = {static_cast<double>(n)};
  EXPECT_NEAR(static_cast<double>(batch_share(next)), static_cast<double>(n), 1.0);
}

// Running batches count by when their slots free: slots that free soon take part of the queue,
// so the next batch is shorter than when the other slots stay busy to the end.
TEST(SplitRule, RunningBatchesCountByWhenTheirSlotsFree) {
  auto busy = org_state(600, 0.33, 400);
  busy.busy_s = {33, 33, 33, 33};
  auto freeing = busy;
  freeing.busy_s = {0.5, 0.5, 0.5, 0.5};
  const auto long_run = batch_share(busy), short_run = batch_share(freeing);
  EXPECT_GT(short_run, 0u);
  EXPECT_LT(short_run, long_run);
  // A batch a list found finished frees its slot at once: as if it were not running.
  auto done = busy;
  done.busy_s = {0, 0, 0, 0};
  EXPECT_LE(batch_share(done), short_run);
}

// The queue's tail goes by PUT when no batch would end before the PUTs do.
TEST(SplitRule, TheTailGoesByPut) {
  EXPECT_EQ(batch_share(org_state(10, 1.0)), 0u);
  EXPECT_EQ(batch_share(org_state(3, 0.002)), 0u);
}

// With nothing learnt, a short queue still sends a probe of min_rows when it ends before the
// PUTs would at the prior speed; a queue too short for that goes by PUT.
TEST(SplitRule, AProbeLearnsTheSpeed) {
  EXPECT_EQ(batch_share(org_state(60, 0)), 4u);
  EXPECT_EQ(batch_share(org_state(40, 0)), 0u);
  EXPECT_EQ(batch_share(org_state(60, 0, 4)), 0u);  // a probe runs already
}

// Before any batch was seen finishing, the rule assumes the prior speed.
TEST(SplitRule, AnUnknownSpeedIsThePrior) {
  engine::split_config c;
  EXPECT_EQ(batch_share(org_state(300, 0), c),
            batch_share(org_state(300, c.prior_per_action_s), c));
}

// ---- what polls say about the speed ------------------------------------------------------------

// A poll that finds a batch running bounds an action from below, one that finds it done from
// above; batches are sized between the two.
TEST(BatchSpeed, PollsBoundTheSpeed) {
  batch_speed sp;
  EXPECT_TRUE(sp.blank());
  EXPECT_EQ(sp.sizing(), 0.0);
  sp.running(100ms, 4);
  EXPECT_DOUBLE_EQ(sp.lower(), 0.025);
  EXPECT_FALSE(sp.bounded());
  EXPECT_EQ(sp.sizing(), 0.0);  // running says nothing of how slow
  sp.done(150ms, 4);
  EXPECT_DOUBLE_EQ(sp.upper(), 0.0375);
  EXPECT_GT(sp.sizing(), 0.025);
  EXPECT_LT(sp.sizing(), 0.0375);
  sp.done(5s, 100);  // looser: no change
  EXPECT_DOUBLE_EQ(sp.upper(), 0.0375);
}

// Batches that slow down (or speed up) past a bound void it instead of leaving an empty range.
TEST(BatchSpeed, AContradictionVoidsTheOldBound) {
  batch_speed sp;
  sp.done(100ms, 4);
  sp.running(1s, 4);
  EXPECT_DOUBLE_EQ(sp.lower(), 0.25);
  EXPECT_FALSE(sp.bounded());
  sp.done(200ms, 4);
  EXPECT_DOUBLE_EQ(sp.upper(), 0.05);
  EXPECT_EQ(sp.lower(), 0.0);
}

// The probe is polled early, then at growing intervals; a batch whose end is bounded is polled
// inside its range, which each poll narrows.
TEST(BatchSpeed, PollsNarrowTheRange) {
  batch_speed sp;
  EXPECT_EQ(sp.first_poll(4), 100ms);
  sp.running(100ms, 4);
  EXPECT_EQ(sp.next_poll(4, 100ms), 50ms);  // 1.5 × the elapsed time
  sp.done(150ms, 4);
  // 100 actions end between 2.5 and 3.75 s: polled inside that range.
  const auto first = sp.first_poll(100);
  EXPECT_GT(first, 2500ms);
  EXPECT_LT(first, 3750ms);
  sp.running(first, 100);
  const auto next = sp.next_poll(100, first);
  EXPECT_GT(first + next, first);
  EXPECT_LT(first + next, 3750ms);
}

// A batch polled before its expected end (a list pulled its poll forward) is polled next at that
// end, where a tight range finds it done, not at the middle of what is left of its range.
TEST(BatchSpeed, AnEarlyPollWaitsForTheExpectedEnd) {
  batch_speed sp;
  sp.running(100ms, 4);  // more than 25 ms an action
  sp.done(150ms, 4);     // at most 37.5 ms
  sp.running(2s, 100);
  const double expected_s = 100 * std::sqrt(0.025 * 0.0375);  // 3.06 s
  const auto at = 2s + sp.next_poll(100, 2s);
  EXPECT_NEAR(std::chrono::duration<double>(at).count(), expected_s, 0.01);
  // Past the expected end, the polls narrow what is left of the range.
  const auto late = sp.next_poll(100, 3200ms);
  EXPECT_LT(3200ms + late, 3750ms);
}

// ---- the mode ---------------------------------------------------------------------------------

// Batch POSTs go first; then PUTs take the tokens the batches leave. Task ids differ in the
// channel bit, and each channel's requests are its own.
TEST(HybridMode, BothChannelsRunWithTaggedTaskIds) {
  mode_rig rig(test::make_plan(1, 300), api_budget);
  engine::batch_run_options options;
  engine::hybrid_mode m(rig.context(), options);
  fake_api api(rig.plan, 1.0);
  std::vector<engine::task_id> tasks;
  run_for(rig, m, api, 10.0, &tasks);
  EXPECT_GT(m.rows_by_batch(), 0u);
  EXPECT_GT(m.rows_by_put(), 40u);
  ASSERT_FALSE(tasks.empty());
  EXPECT_NE(tasks.front() & engine::hybrid_mode::batch_bit, 0u);  // a POST first
  const auto puts = std::count_if(tasks.begin(), tasks.end(), [](engine::task_id t) {
    return (t & engine::hybrid_mode::batch_bit) == 0;
  });
  EXPECT_EQ(static_cast<std::size_t>(puts), api.puts);
  const auto put_results =
      std::count_if(rig.fx.results.begin(), rig.fx.results.end(),
                    [](const io::row_result& r) { return r.batch_id.empty(); });
  EXPECT_EQ(static_cast<std::size_t>(put_results), api.puts);
}

// Fast batches want the whole budget for their calls: PUTs leave the rows to them.
TEST(HybridMode, FastBatchesCrowdPutsOut) {
  mode_rig rig(test::make_plan(1, 3000), api_budget);
  engine::batch_run_options options;
  engine::hybrid_mode m(rig.context(), options);
  fake_api api(rig.plan, 0.002);
  run_to_end(rig, m, api);
  EXPECT_EQ(rig.fx.results.size(), 3000u);
  EXPECT_LT(m.rows_by_put(), 150u);
}

// A fast org: the probe's first poll finds it done, and every slot takes a full batch at once.
TEST(HybridMode, AFastOrgGetsFullBatchesAfterOneProbePoll) {
  mode_rig rig(test::make_plan(1, 1000), api_budget);
  engine::batch_run_options options;
  engine::hybrid_mode m(rig.context(), options);
  fake_api api(rig.plan, 0.002, rig.clock.now());
  run_to_end(rig, m, api);
  ASSERT_GE(api.posts.size(), 6u);
  EXPECT_EQ(api.posts[0].actions, 4u);
  for (std::size_t k = 1; k < 6; ++k) {
    EXPECT_EQ(api.posts[k].actions, 100u);
    EXPECT_LE(api.posts[k].at_s, 0.11);
  }
  EXPECT_EQ(rig.fx.results.size(), 1000u);
}

// A slow org (1 s per action): while its probe runs, no other batch goes out before a poll said
// the org is slow, and then no batch is longer than the PUTs would take for the rows left.
TEST(HybridMode, ASlowOrgLocksFewRows) {
  mode_rig rig(test::make_plan(1, 1000), api_budget);
  engine::batch_run_options options;
  engine::hybrid_mode m(rig.context(), options);
  fake_api api(rig.plan, 1.0, rig.clock.now());
  run_to_end(rig, m, api);
  ASSERT_GE(api.posts.size(), 2u);
  EXPECT_EQ(api.posts[0].actions, 4u);
  EXPECT_GE(api.posts[1].at_s, 0.1);
  for (const auto& p : api.posts) EXPECT_LE(p.actions, 70u);  // 1000 rows at 10 + 5 rows/s
  EXPECT_EQ(rig.fx.results.size(), 1000u);
  EXPECT_GT(m.rows_by_put(), 600u);
}

// Side by side on the fake clock, for 300 and 1000 rows and batches of 2 ms to 1 s per action:
// every row is applied once, the hybrid never moves fewer rows/s than the better of put and batch
// modes alone, and at least 0.95 of the two together (with 1000 rows: but at 330 ms per action).
TEST(HybridMode, NeverSlowerThanTheBetterChannelAlone) {
  for (std::size_t n : {300, 1000})
    for (double action : {0.002, 0.033, 0.33, 1.0}) {
      SCOPED_TRACE("rows=" + std::to_string(n) + " action_s=" + std::to_string(action));
      const auto plan = test::make_plan(1, n);
      double secs[3] = {};
      for (int mode = 0; mode < 3; ++mode) {
        mode_rig rig(plan, api_budget);
        fake_api api(rig.plan, action);
        engine::batch_run_options options;
        std::unique_ptr<engine::mode> m;
        if (mode == 0) m = std::make_unique<engine::put_mode>(rig.context());
        else if (mode == 1) m = std::make_unique<engine::batch_mode>(rig.context(), options);
        else m = std::make_unique<engine::hybrid_mode>(rig.context(), options);
        secs[mode] = run_to_end(rig, *m, api);
        ASSERT_EQ(rig.fx.results.size(), plan.rows.size());
        std::set<std::uint32_t> lines;
        for (const auto& r : rig.fx.results) {
          EXPECT_EQ(r.result, io::outcome::applied);
          lines.insert(r.line);
        }
        EXPECT_EQ(lines.size(), plan.rows.size());
      }
      const auto rows = static_cast<double>(n);
      const double put = rows / secs[0], batch = rows / secs[1], hybrid = rows / secs[2];
      std::printf(
          "%zu rows, action %.3f s: put %.1f rows/s, batch %.1f rows/s, auto %.1f rows/s "
          "(%.3f of the sum, %.3f of the best)\n",
          n, action, put, batch, hybrid, hybrid / (put + batch), hybrid / std::max(put, batch));
      EXPECT_GE(hybrid, 0.95 * (put + batch));
      EXPECT_GE(hybrid, std::max(put, batch));
    }
}

// Slow batches (1 s per action) are polled many times each: one list serves the polls of several,
// which leaves more of the budget to PUTs than when each batch is polled alone.
TEST(HybridMode, OneListServesThePollsOfSeveralBatches) {
  double secs[2] = {};
  std::size_t polls[2] = {}, lists[2] = {};
  for (int share = 0; share < 2; ++share) {
    mode_rig rig(test::make_plan(1, 300), api_budget);
    engine::batch_run_options options;
    engine::hybrid_mode m(rig.context(), options);
    engine::poll_share_config c;
    c.enabled = share == 1;
    m.set_poll_share(c);
    fake_api api(rig.plan, 1.0);
    secs[share] = run_to_end(rig, m, api);
    polls[share] = api.polls;
    lists[share] = api.lists;
    EXPECT_EQ(m.batches().shared_polls(), api.lists);
    ASSERT_EQ(rig.fx.results.size(), 300u);
    for (const auto& r : rig.fx.results) EXPECT_EQ(r.result, io::outcome::applied);
  }
  std::printf(
      "300 rows at 1 s per action: polls alone %zu calls in %.2f s; shared %zu calls (%zu "
      "lists) in %.2f s\n",
      polls[0], secs[0], polls[1], lists[1], secs[1]);
  EXPECT_EQ(lists[0], 0u);
  EXPECT_GT(lists[1], 0u);
  EXPECT_LT(polls[1], polls[0]);
  EXPECT_LT(secs[1], secs[0]);
}

// Accepted batches are journaled, and a stop leaves queued rows and running batches for resume.
TEST(HybridMode, AStopLeavesEveryRowForResume) {
  mode_rig rig(test::make_plan(1, 300), api_budget);
  engine::batch_run_options options;
  std::vector<std::string> journaled;
  options.on_batch_accepted = [&](const io::journal_batch& b) { journaled.push_back(b.id); };
  engine::hybrid_mode m(rig.context(), options);
  fake_api api(rig.plan, 1.0);
  run_for(rig, m, api, 3.0);
  ASSERT_FALSE(journaled.empty());
  rig.fx.stop = true;
  m.finish_remaining();
  ASSERT_EQ(rig.fx.results.size(), 300u);
  std::size_t applied = 0, in_batch = 0, unsent = 0;
  for (const auto& r : rig.fx.results) {
    if (r.result == io::outcome::applied) ++applied;
    else if (r.error.find("--resume polls it") != std::string::npos) ++in_batch;
    else if (r.result == io::outcome::not_attempted && r.error.empty()) ++unsent;
  }
  EXPECT_GT(applied, 0u);
  EXPECT_EQ(in_batch, m.rows_by_batch());
  EXPECT_EQ(applied + in_batch + unsent, 300u);
}

// A batch of an earlier run is polled, not sent again; the other rows go by either channel.
TEST(HybridMode, AResumedBatchIsPolled) {
  mode_rig rig(test::make_plan(1, 50), api_budget);
  engine::batch_run_options options;
  options.resumed.push_back({"old", "100", {2, 3, 4}});
  engine::hybrid_mode m(rig.context(), options);
  fake_api api(rig.plan, 0.002);
  api.done_at["old"] = rig.clock.now();
  run_to_end(rig, m, api);
  ASSERT_EQ(rig.fx.results.size(), 50u);
  for (const auto& r : rig.fx.results) {
    EXPECT_EQ(r.result, io::outcome::applied);
    if (r.line <= 4) {
      EXPECT_EQ(r.batch_id, "old");
    }
  }
  EXPECT_EQ(api.puts + api.batched, 47u);
}
