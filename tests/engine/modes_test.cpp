// The modes on a fake clock: each answer goes in, and the test checks what the mode decided
// (results, retries in the scheduler, pauses, condemned organizations, stops).
#include "mode_support.hpp"

#include "relicense/engine/batch_mode.hpp"
#include "relicense/engine/inventory_mode.hpp"
#include "relicense/engine/preflight.hpp"
#include "relicense/engine/put_mode.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace std::chrono_literals;
using namespace relicense;
using engine::scheduler;
using kind = scheduler::pick::kind;
using test::json_answer;
using test::mode_rig;

namespace {

/// Picks the next task, builds its request and answers it with `a`.
scheduler::pick answer_next(mode_rig& rig, engine::mode& m, const engine::answer& a) {
  auto p = rig.sched.next(rig.clock.now());
  EXPECT_EQ(p.what, kind::task);
  if (p.what != kind::task) return p;
  (void)m.request_for(p.org, p.task, rig.clock.now());
  m.on_answer(p.org, p.task, a, rig.parser, rig.clock.now());
  return p;
}

engine::answer put_ok(const plan::plan& p, std::size_t row) {
  return json_answer(200, test::license_json(p.rows[row]));
}

}  // namespace

// ---- put mode --------------------------------------------------------------------------------

// Every row is queued in plan order; its request is the license PUT; a confirming answer applies
// it.
TEST(PutMode, SendsEachRowOnceAndAppliesItOnAConfirmingAnswer) {
  mode_rig rig(test::make_plan(1, 3));
  engine::put_mode m(rig.context());
  m.start(rig.clock.now());
  EXPECT_EQ(rig.sched.pending(), 3u);
  auto p = rig.sched.next(rig.clock.now());
  auto rq = m.request_for(p.org, p.task, rig.clock.now());
  EXPECT_EQ(rq.method, "PUT");
  EXPECT_EQ(rq.path, "/organizations/100/licenses/L0-0");
  EXPECT_EQ(rq.body, R"({"deviceSerial":"Q0-0"})");
  m.on_answer(p.org, p.task, put_ok(rig.plan, 0), rig.parser, rig.clock.now());
  ASSERT_EQ(rig.fx.results.size(), 1u);
  EXPECT_EQ(rig.fx.results[0].result, io::outcome::applied);
  EXPECT_EQ(rig.fx.results[0].attempts, 1u);
  EXPECT_EQ(rig.fx.results[0].state, "active");
}

// A 503 puts the row back in the scheduler for its backoff; it is not reported until it ends,
// and its report counts both requests.
TEST(PutMode, RetriesAServerErrorAfterItsBackoff) {
  mode_rig rig(test::make_plan(1, 1));
  engine::put_mode m(rig.context());
  m.start(rig.clock.now());
  answer_next(rig, m, json_answer(503, R"({"errors":["busy"]})"));
  EXPECT_TRUE(rig.fx.results.empty());
  EXPECT_EQ(rig.fx.counts.retries[static_cast<std::size_t>(engine::retry_cause::server_error)], 1u);
  auto p = rig.sched.next(rig.clock.now());
  ASSERT_EQ(p.what, kind::wait);
  rig.clock.advance(p.at - rig.clock.now());
  answer_next(rig, m, put_ok(rig.plan, 0));
  ASSERT_EQ(rig.fx.results.size(), 1u);
  EXPECT_EQ(rig.fx.results[0].result, io::outcome::applied);
  EXPECT_EQ(rig.fx.results[0].attempts, 2u);
}

// A 429 with Retry-After pauses the whole organization (a logged event), not just the row.
TEST(PutMode, A429WithRetryAfterPausesTheOrganization) {
  mode_rig rig(test::make_plan(1, 2), {10, 10, 0});
  engine::put_mode m(rig.context());
  m.start(rig.clock.now());
  auto a = json_answer(429, R"({"errors":["Too many requests"]})");
  a.resp.retry_after = "3";
  answer_next(rig, m, a);
  ASSERT_EQ(rig.fx.events.size(), 1u);
  EXPECT_EQ(rig.fx.events[0], engine::run_event::kind::org_paused);
  auto p = rig.sched.next(rig.clock.now());
  ASSERT_EQ(p.what, kind::wait);
  EXPECT_GE(p.at, rig.clock.now() + 3s);
}

// A row waiting for its retry goes before the org's rows never sent, once it is due.
TEST(PutMode, ADueRetryGoesBeforeRowsNeverSent) {
  mode_rig rig(test::make_plan(1, 3));
  engine::put_mode m(rig.context());
  m.start(rig.clock.now());
  answer_next(rig, m, json_answer(500, "{}"));  // row 0
  rig.clock.advance(10s);
  auto p = rig.sched.next(rig.clock.now());
  ASSERT_EQ(p.what, kind::task);
  auto rq = m.request_for(p.org, p.task, rig.clock.now());
  EXPECT_EQ(rq.path, "/organizations/100/licenses/L0-0");
}

// An answer about another license fails the row, with the request id for support.
TEST(PutMode, AnAnswerAboutAnotherLicenseFailsTheRow) {
  mode_rig rig(test::make_plan(1, 2));
  engine::put_mode m(rig.context());
  m.start(rig.clock.now());
  answer_next(rig, m, put_ok(rig.plan, 1));
  ASSERT_EQ(rig.fx.results.size(), 1u);
  EXPECT_EQ(rig.fx.results[0].result, io::outcome::failed);
  EXPECT_NE(rig.fx.results[0].error.find("instead of L0-0"), std::string::npos);
  EXPECT_EQ(rig.fx.results[0].request_id, "req-1");
}

// A co-term organization's 400 fails its queued rows unsent; other organizations go on.
TEST(PutMode, ACotermAnswerCondemnsOnlyItsOrganization) {
  mode_rig rig(test::make_plan(2, 3));
  engine::put_mode m(rig.context());
  m.start(rig.clock.now());
  answer_next(
      rig, m,
      json_answer(400, R"({"errors":["Organization does not support per-device licensing"]})"));
  ASSERT_EQ(rig.fx.results.size(), 3u);
  for (const auto& r : rig.fx.results) {
    EXPECT_EQ(r.org_id, "100");
    EXPECT_EQ(r.result, io::outcome::failed);
  }
  EXPECT_NE(rig.fx.results[1].error.find("(not sent)"), std::string::npos);
  EXPECT_EQ(rig.sched.pending(), 3u);
  EXPECT_EQ(rig.sched.pending(1), 3u);
}

// A rejected key aborts the run; the row is not attempted (resume sends it), and the reason
// names the organization and what to check.
TEST(PutMode, A401AbortsTheRunAndLeavesTheRowForResume) {
  mode_rig rig(test::make_plan(1, 2));
  engine::put_mode m(rig.context());
  m.start(rig.clock.now());
  answer_next(rig, m, json_answer(401, R"({"errors":["Invalid API key"]})"));
  ASSERT_EQ(rig.fx.aborts.size(), 1u);
  EXPECT_NE(rig.fx.aborts[0].find("organization 100"), std::string::npos);
  EXPECT_NE(rig.fx.aborts[0].find("request id req-1"), std::string::npos);
  EXPECT_EQ(rig.fx.results[0].result, io::outcome::not_attempted);
  m.finish_remaining();
  ASSERT_EQ(rig.fx.results.size(), 2u);
  EXPECT_EQ(rig.fx.results[1].result, io::outcome::not_attempted);
}

// A stop leaves queued rows not attempted; a row waiting for its retry says what it waited for.
TEST(PutMode, AStopLeavesQueuedRowsNotAttempted) {
  mode_rig rig(test::make_plan(1, 2));
  engine::put_mode m(rig.context());
  m.start(rig.clock.now());
  answer_next(rig, m, json_answer(503, R"({"errors":["busy"]})"));
  rig.fx.stop = true;
  m.finish_remaining();
  ASSERT_EQ(rig.fx.results.size(), 2u);
  EXPECT_EQ(rig.fx.results[0].line, 3u);  // never sent
  EXPECT_EQ(rig.fx.results[0].error, "");
  EXPECT_EQ(rig.fx.results[1].error, "stopped before retrying: HTTP 503: busy");
  EXPECT_EQ(rig.sched.pending(), 0u);
}

// A stop between redirect hops: nothing was applied, the row is left for resume.
TEST(PutMode, AStopBeforeARedirectHopLeavesTheRowForResume) {
  mode_rig rig(test::make_plan(1, 1));
  engine::put_mode m(rig.context());
  m.start(rig.clock.now());
  engine::answer a = json_answer(307, "");
  a.not_sent = true;
  a.hops = 1;
  answer_next(rig, m, a);
  ASSERT_EQ(rig.fx.results.size(), 1u);
  EXPECT_EQ(rig.fx.results[0].result, io::outcome::not_attempted);
  EXPECT_EQ(rig.fx.results[0].error, "stopped before following a redirect");
}

// A dry run queues nothing and says each row was skipped.
TEST(PutMode, ADryRunQueuesNothing) {
  mode_rig rig(test::make_plan(1, 2));
  rig.config.dry_run = true;
  engine::put_mode m(rig.context());
  m.start(rig.clock.now());
  EXPECT_EQ(rig.sched.pending(), 0u);
  ASSERT_EQ(rig.fx.results.size(), 2u);
  EXPECT_EQ(rig.fx.results[0].result, io::outcome::skipped);
}

// An organization an earlier phase refused gets no request; its rows fail unsent.
TEST(PutMode, ARefusedOrganizationsRowsFailUnsent) {
  mode_rig rig(test::make_plan(2, 1));
  rig.refused[1] = "organization 101 uses co-term licensing";
  engine::put_mode m(rig.context());
  m.start(rig.clock.now());
  EXPECT_EQ(rig.sched.pending(), 1u);
  ASSERT_EQ(rig.fx.results.size(), 1u);
  EXPECT_EQ(rig.fx.results[0].error, "organization 101 uses co-term licensing (not sent)");
}

// --limit: only the first N rows that change are queued; a row already in place does not count,
// and the rows beyond end not_attempted (left for --resume) with the limit in their error.
TEST(PutMode, ALimitQueuesOnlyTheFirstChanges) {
  mode_rig rig(test::make_plan(1, 5));
  rig.diff.rows.resize(5);
  for (auto& d : rig.diff.rows) d.kind = plan::change_kind::change;
  rig.diff.rows[0].kind = plan::change_kind::unchanged;
  rig.config.limit = 2;
  engine::put_mode m(rig.context());
  m.start(rig.clock.now());
  EXPECT_EQ(rig.sched.pending(), 2u);
  ASSERT_EQ(rig.fx.results.size(), 3u);
  EXPECT_EQ(rig.fx.result_of_line(2)->result, io::outcome::unchanged);
  for (std::uint32_t line : {5u, 6u}) {
    ASSERT_NE(rig.fx.result_of_line(line), nullptr);
    EXPECT_EQ(rig.fx.result_of_line(line)->result, io::outcome::not_attempted);
    EXPECT_EQ(rig.fx.result_of_line(line)->error, "left by --limit 2");
  }
  answer_next(rig, m, put_ok(rig.plan, 1));
  answer_next(rig, m, put_ok(rig.plan, 2));
  EXPECT_EQ(rig.fx.result_of_line(3)->result, io::outcome::applied);
  EXPECT_EQ(rig.fx.result_of_line(4)->result, io::outcome::applied);
  EXPECT_EQ(rig.sched.pending(), 0u);
}

// ---- batch mode ------------------------------------------------------------------------------

using test::batch_json;

// A batch is submitted, polled when its learnt (or first) poll time comes, and applies its rows.
TEST(BatchMode, SubmitsPollsAndAppliesABatch) {
  mode_rig rig(test::make_plan(1, 3));
  engine::batch_run_options options;
  std::vector<std::string> journaled;
  options.on_batch_accepted = [&](const io::journal_batch& b) { journaled.push_back(b.id); };
  engine::batch_mode m(rig.context(), options);
  m.start(rig.clock.now());
  auto p = rig.sched.next(rig.clock.now());
  ASSERT_EQ(p.what, kind::task);
  auto rq = m.request_for(p.org, p.task, rig.clock.now());
  EXPECT_EQ(rq.method, "POST");
  EXPECT_EQ(rq.path, "/organizations/100/actionBatches");
  m.on_answer(p.org, p.task, json_answer(201, batch_json("b1", false, false)), rig.parser,
              rig.clock.now());
  EXPECT_EQ(journaled, std::vector<std::string>{"b1"});
  // The mode holds the poll until it is due.
  EXPECT_EQ(rig.sched.next(rig.clock.now()).what, kind::idle);
  EXPECT_EQ(m.wake_at(rig.clock.now()) - rig.clock.now(), options.batch.first_poll);
  rig.clock.advance(options.batch.first_poll);
  m.tick(rig.clock.now());
  p = rig.sched.next(rig.clock.now());
  rq = m.request_for(p.org, p.task, rig.clock.now());
  EXPECT_EQ(rq.path, "/organizations/100/actionBatches/b1");
  m.on_answer(p.org, p.task, json_answer(200, batch_json("b1", true, false)), rig.parser,
              rig.clock.now());
  ASSERT_EQ(rig.fx.results.size(), 3u);
  for (const auto& r : rig.fx.results) {
    EXPECT_EQ(r.result, io::outcome::applied);
    EXPECT_EQ(r.batch_id, "b1");
    EXPECT_EQ(r.attempts, 1u);
  }
}

// The org already runs its maximum of batches (someone else's): the job waits, then goes again.
TEST(BatchMode, ABusyOrganizationIsWaitedFor) {
  mode_rig rig(test::make_plan(1, 2));
  engine::batch_run_options options;
  engine::batch_mode m(rig.context(), options);
  m.start(rig.clock.now());
  answer_next(rig, m,
              json_answer(400, R"({"errors":["Too many concurrently executing batches"]})"));
  EXPECT_TRUE(rig.fx.results.empty());
  EXPECT_EQ(rig.sched.pending(), 0u);
  const auto wake = m.wake_at(rig.clock.now());
  ASSERT_NE(wake, engine::steady_time::max());
  rig.clock.advance(wake - rig.clock.now());
  m.tick(rig.clock.now());
  EXPECT_EQ(rig.sched.pending(), 1u);
}

// A failed batch of several rows is split and both halves go again; a row failing alone fails.
TEST(BatchMode, AFailedBatchIsBisected) {
  mode_rig rig(test::make_plan(1, 4));
  engine::batch_run_options options;
  engine::batch_mode m(rig.context(), options);
  m.start(rig.clock.now());
  answer_next(rig, m, json_answer(201, batch_json("b1", false, true, "something failed")));
  EXPECT_TRUE(rig.fx.results.empty());
  m.tick(rig.clock.now());
  EXPECT_EQ(rig.sched.pending(), 2u);
}

// A stop while a batch runs leaves its rows for resume, which polls the journaled batch.
TEST(BatchMode, AStopWhileABatchRunsLeavesItForResume) {
  mode_rig rig(test::make_plan(1, 2));
  engine::batch_run_options options;
  engine::batch_mode m(rig.context(), options);
  m.start(rig.clock.now());
  answer_next(rig, m, json_answer(201, batch_json("b7", false, false)));
  rig.fx.stop = true;
  m.finish_remaining();
  ASSERT_EQ(rig.fx.results.size(), 2u);
  EXPECT_EQ(rig.fx.results[0].result, io::outcome::not_attempted);
  EXPECT_EQ(rig.fx.results[0].error, "stopped while action batch b7 ran; --resume polls it");
}

// --limit holds in batch mode too: the batch carries only the first N rows, the rest end
// not_attempted with the limit in their error.
TEST(BatchMode, ALimitPacksOnlyTheFirstChanges) {
  mode_rig rig(test::make_plan(1, 5));
  rig.config.limit = 3;
  engine::batch_run_options options;
  engine::batch_mode m(rig.context(), options);
  m.start(rig.clock.now());
  ASSERT_EQ(rig.fx.results.size(), 2u);
  for (const auto& r : rig.fx.results) {
    EXPECT_EQ(r.result, io::outcome::not_attempted);
    EXPECT_EQ(r.error, "left by --limit 3");
    EXPECT_GE(r.line, 5u);
  }
  answer_next(rig, m, json_answer(201, batch_json("b1", false, false)));
  rig.clock.advance(options.batch.first_poll);
  m.tick(rig.clock.now());
  auto p = rig.sched.next(rig.clock.now());
  ASSERT_EQ(p.what, kind::task);
  (void)m.request_for(p.org, p.task, rig.clock.now());
  m.on_answer(p.org, p.task, json_answer(200, batch_json("b1", true, false)), rig.parser,
              rig.clock.now());
  ASSERT_EQ(rig.fx.results.size(), 5u);
  for (std::uint32_t line : {2u, 3u, 4u})
    EXPECT_EQ(rig.fx.result_of_line(line)->result, io::outcome::applied);
}

// A batch the API no longer knows (404 on poll) is submitted again.
TEST(BatchMode, ALostBatchIsSubmittedAgain) {
  mode_rig rig(test::make_plan(1, 2));
  engine::batch_run_options options;
  options.resumed.push_back({"old", "100", {2, 3}});
  engine::batch_mode m(rig.context(), options);
  m.start(rig.clock.now());
  auto p = rig.sched.next(rig.clock.now());
  auto rq = m.request_for(p.org, p.task, rig.clock.now());
  EXPECT_EQ(rq.path, "/organizations/100/actionBatches/old");
  m.on_answer(p.org, p.task, json_answer(404, R"({"errors":["not found"]})"), rig.parser,
              rig.clock.now());
  m.tick(rig.clock.now());
  p = rig.sched.next(rig.clock.now());
  ASSERT_EQ(p.what, kind::task);
  EXPECT_EQ(m.request_for(p.org, p.task, rig.clock.now()).method, "POST");
}

// Three batches of 100 rows, submitted and running, polled alone once (nothing says yet that a
// list would find them running), their next polls due together.
struct three_batches {
  explicit three_batches(mode_rig& r) : rig(r), m(r.context(), options) {
    m.start(rig.clock.now());
    for (const char* id : {"b1", "b2", "b3"})
      answer_next(rig, m, json_answer(201, batch_json(id, false, false)));
    due();
    for (int k = 0; k < 3; ++k) {
      scheduler::pick p;
      const auto rq = next(p);
      EXPECT_NE(rq.path.find("/actionBatches/b"), std::string::npos);
      answer(p, json_answer(200, batch_json(rq.path.substr(rq.path.rfind('/') + 1), false, false)));
    }
    due();
  }
  void due() {
    rig.clock.advance(m.wake_at(rig.clock.now()) - rig.clock.now());
    m.tick(rig.clock.now());
  }
  /// The next request the mode sends, with the scheduler's pick.
  engine::request next(scheduler::pick& p) {
    m.tick(rig.clock.now());
    p = rig.sched.next(rig.clock.now());
    EXPECT_EQ(p.what, kind::task);
    return m.request_for(p.org, p.task, rig.clock.now());
  }
  void answer(const scheduler::pick& p, const engine::answer& a) {
    m.on_answer(p.org, p.task, a, rig.parser, rig.clock.now());
  }
  mode_rig& rig;
  engine::batch_run_options options;
  engine::batch_mode m;
};

// One list of the org's running batches answers for the batches whose polls are due together:
// those in it run on (their next poll is held), one missing from it finished and is polled
// alone, and its failure is bisected as after its own poll.
TEST(BatchMode, OneListPollsSeveralBatches) {
  mode_rig rig(test::make_plan(1, 300));
  three_batches b(rig);
  scheduler::pick p;
  auto rq = b.next(p);
  EXPECT_EQ(rq.method, "GET");
  EXPECT_EQ(rq.path, "/organizations/100/actionBatches?status=pending");
  EXPECT_EQ(b.m.shared_polls(), 1u);
  EXPECT_EQ(b.m.polls_shared(), 3u);
  // Another application's batch "x9" is in the list too.
  b.answer(p, json_answer(200, "[" + batch_json("b1", false, false) + "," +
                                   batch_json("x9", false, false) + "," +
                                   batch_json("b3", false, false) + "]"));
  rq = b.next(p);
  EXPECT_EQ(rq.path, "/organizations/100/actionBatches/b2");
  b.answer(p, json_answer(200, batch_json("b2", false, true, "bad serial")));
  EXPECT_TRUE(rig.fx.results.empty());
  b.m.tick(rig.clock.now());
  EXPECT_EQ(rig.sched.pending(), 2u);  // b2's halves, submitted again
  // b1 and b3 wait for their next poll.
  while (rig.sched.pending() > 0)
    answer_next(rig, b.m, json_answer(201, batch_json("h", false, false)));
  EXPECT_GT(b.m.wake_at(rig.clock.now()), rig.clock.now());
}

// A list whose answer cannot be read is a failed poll, not a crash: the batches it answered for
// are polled alone at once; after max_failures such lists the org's batches are polled alone.
TEST(BatchMode, AMalformedListIsAFailedPoll) {
  mode_rig rig(test::make_plan(1, 300));
  three_batches b(rig);
  engine::poll_share_config share;
  share.max_failures = 1;
  b.m.set_poll_share(share);
  scheduler::pick p;
  ASSERT_EQ(b.next(p).path, "/organizations/100/actionBatches?status=pending");
  b.answer(p, json_answer(200, R"([{"id":"b1","status":{"completed":"no"}})"));
  std::set<std::string> alone;
  for (int k = 0; k < 3; ++k) {
    auto rq = b.next(p);
    alone.insert(rq.path);
    b.answer(p, json_answer(200, batch_json(rq.path.substr(rq.path.rfind('/') + 1), false, false)));
  }
  EXPECT_EQ(alone.size(), 3u);
  EXPECT_EQ(alone.count("/organizations/100/actionBatches/b1"), 1u);
  EXPECT_TRUE(rig.fx.results.empty());
  // Lists are off for the org: the next due polls go alone.
  rig.clock.advance(b.m.wake_at(rig.clock.now()) - rig.clock.now());
  EXPECT_NE(b.next(p).path.find("/actionBatches/b"), std::string::npos);
  EXPECT_EQ(b.m.shared_polls(), 1u);
}

// An API that does not list batches (404) leaves the polls to each batch at once.
TEST(BatchMode, AnUnlistedOrgIsPolledBatchByBatch) {
  mode_rig rig(test::make_plan(1, 300));
  three_batches b(rig);
  scheduler::pick p;
  ASSERT_EQ(b.next(p).path, "/organizations/100/actionBatches?status=pending");
  b.answer(p, json_answer(404, R"({"errors":["Not found"]})"));
  for (const char* id : {"b1", "b2", "b3"}) {
    auto rq = b.next(p);
    EXPECT_NE(rq.path.find("/actionBatches/b"), std::string::npos);
    b.answer(p, json_answer(200, batch_json(rq.path.substr(rq.path.rfind('/') + 1), true, false)));
    (void)id;
  }
  EXPECT_EQ(rig.fx.results.size(), 300u);
  for (const auto& r : rig.fx.results) EXPECT_EQ(r.result, io::outcome::applied);
}

// A stop while a list is queued leaves every batch it answers for to --resume.
TEST(BatchMode, AStopWhileAListIsQueuedLeavesItsBatchesForResume) {
  mode_rig rig(test::make_plan(1, 300));
  three_batches b(rig);
  ASSERT_EQ(rig.sched.pending(), 1u);  // the list
  rig.fx.stop = true;
  b.m.finish_remaining();
  ASSERT_EQ(rig.fx.results.size(), 300u);
  for (const auto& r : rig.fx.results) {
    EXPECT_EQ(r.result, io::outcome::not_attempted);
    EXPECT_EQ(r.error, "stopped while action batch " + r.batch_id + " ran; --resume polls it");
  }
}

// ---- inventory read --------------------------------------------------------------------------

// Pages are read one after another while the API hands out a next link.
TEST(InventoryMode, FollowsNextLinksToTheLastPage) {
  mode_rig rig(test::make_plan(1, 1));
  engine::inventory_mode m(rig.context(), io::origin{false, "127.0.0.1", 8080});
  m.start(rig.clock.now());
  auto first = json_answer(200, R"([{"id":"L0-0","deviceSerial":"Q0-9","state":"active"}])");
  first.where = {false, "127.0.0.1", 8080};
  first.resp.link =
      "<http://127.0.0.1:8080/api/v1/organizations/100/licenses?startingAfter=L0-0>; rel=next";
  auto p = answer_next(rig, m, first);
  auto rq = m.request_for(p.org, p.task, rig.clock.now());
  ASSERT_TRUE(rq.at);
  EXPECT_EQ(rq.at->path, "/api/v1/organizations/100/licenses?startingAfter=L0-0");
  auto last = json_answer(200, R"([{"id":"L0-1","deviceSerial":null,"state":"unused"}])");
  last.where = first.where;
  answer_next(rig, m, last);
  auto inv = m.take_inventories();
  ASSERT_EQ(inv.count("100"), 1u);
  EXPECT_EQ(*inv.at("100").serial_of("L0-0"), "Q0-9");
  EXPECT_EQ(*inv.at("100").serial_of("L0-1"), "");
  EXPECT_TRUE(m.take_errors().empty());
}

// A co-term org found while reading is refused for the modes that follow.
TEST(InventoryMode, ACotermOrganizationIsRefusedForWhatFollows) {
  mode_rig rig(test::make_plan(2, 1));
  engine::inventory_mode m(rig.context(), io::origin{false, "api.test", 80});
  m.start(rig.clock.now());
  answer_next(
      rig, m,
      json_answer(400, R"({"errors":["Organization does not support per-device licensing"]})"));
  EXPECT_NE(m.refused()[0].find("per-device"), std::string::npos);
  EXPECT_TRUE(m.refused()[1].empty());
}

// A stop leaves the organizations not read whole with an error, and nothing queued.
TEST(InventoryMode, AStopSaysWhichInventoriesWereNotRead) {
  mode_rig rig(test::make_plan(2, 1));
  engine::inventory_mode m(rig.context(), io::origin{false, "api.test", 80});
  m.start(rig.clock.now());
  rig.fx.stop = true;
  m.finish_remaining();
  auto errors = m.take_errors();
  EXPECT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors["100"], "inventory not read");
  EXPECT_EQ(rig.sched.pending(), 0u);
}

// ---- pre-flight ------------------------------------------------------------------------------

// Only organizations with rows to send are read; the answers say visible or not, and the model.
TEST(PreflightMode, ReadsEachOrganizationWithRowsOnce) {
  mode_rig rig(test::make_plan(3, 1));
  const io::row_result done{};
  rig.config.already_done = [&](const plan::row& r) { return r.org == 2 ? &done : nullptr; };
  engine::preflight_mode m(rig.context());
  m.start(rig.clock.now());
  EXPECT_EQ(rig.sched.pending(), 2u);
  auto p = rig.sched.next(rig.clock.now());
  EXPECT_EQ(m.request_for(p.org, p.task, rig.clock.now()).path, "/organizations/100");
  m.on_answer(p.org, p.task, json_answer(404, R"({"errors":["Not found"]})"), rig.parser,
              rig.clock.now());
  answer_next(rig, m,
              json_answer(200, R"({"id":"101","name":"b","licensing":{"model":"co-term"}})"));
  m.finish_remaining();
  auto checks = m.take_checks();
  EXPECT_FALSE(checks["100"].visible);
  EXPECT_EQ(checks["100"].status, 404u);
  EXPECT_EQ(checks["101"].licensing_model, "co-term");
  EXPECT_EQ(checks.count("102"), 0u);
  EXPECT_EQ(engine::licensing_refusal("101", checks["101"]),
            "organization 101 uses co-term licensing: per-device license moves do not apply");
  EXPECT_EQ(engine::licensing_refusal("100", checks["100"]), "");
}

// A rejected key during the pre-flight aborts the run, naming the organization.
TEST(PreflightMode, ARejectedKeyAborts) {
  mode_rig rig(test::make_plan(1, 1));
  engine::preflight_mode m(rig.context());
  m.start(rig.clock.now());
  answer_next(rig, m, json_answer(401, R"({"errors":["Invalid API key"]})"));
  ASSERT_EQ(rig.fx.aborts.size(), 1u);
  EXPECT_NE(rig.fx.aborts[0].find("organization 100"), std::string::npos);
}

// A 5xx is retried after its backoff, as any call.
TEST(PreflightMode, RetriesAServerError) {
  mode_rig rig(test::make_plan(1, 1));
  engine::preflight_mode m(rig.context());
  m.start(rig.clock.now());
  answer_next(rig, m, json_answer(503, "{}"));
  EXPECT_EQ(rig.sched.pending(), 1u);
  EXPECT_EQ(rig.fx.counts.retries[static_cast<std::size_t>(engine::retry_cause::server_error)], 1u);
}

// ---- the worker's choice ---------------------------------------------------------------------

// A worker sends what is due, waits for the earliest of a token and the mode's wake-up, and ends
// only when nothing is queued, in flight or expected.
TEST(ChooseWork, SendsWaitsOrEnds) {
  mode_rig rig(test::make_plan(1, 1), {1, 1, 0});
  engine::put_mode m(rig.context());
  m.start(rig.clock.now());
  auto n = engine::choose_work(rig.sched, m, rig.clock.now(), false, 0);
  EXPECT_EQ(n.what, engine::next_work::kind::task);
  n = engine::choose_work(rig.sched, m, rig.clock.now(), false, 1);
  EXPECT_EQ(n.what, engine::next_work::kind::wait);  // the row is in flight: its answer may retry
  EXPECT_EQ(n.until, engine::steady_time::max());
  rig.sched.push_at(0, 0, rig.clock.now() + std::chrono::seconds(3));
  n = engine::choose_work(rig.sched, m, rig.clock.now(), false, 0);
  EXPECT_EQ(n.what, engine::next_work::kind::wait);
  EXPECT_GE(n.until, rig.clock.now() + std::chrono::seconds(3));
  EXPECT_EQ(engine::choose_work(rig.sched, m, rig.clock.now(), true, 0).what,
            engine::next_work::kind::end);
  rig.sched.drain(0);
  EXPECT_EQ(engine::choose_work(rig.sched, m, rig.clock.now(), false, 0).what,
            engine::next_work::kind::end);
}

// Batch mode's holdoff (the org runs its maximum of batches) is a wake-up, not the end.
TEST(ChooseWork, ABatchHoldoffIsWaitedFor) {
  mode_rig rig(test::make_plan(1, 2));
  engine::batch_run_options options;
  engine::batch_mode m(rig.context(), options);
  m.start(rig.clock.now());
  answer_next(rig, m,
              json_answer(400, R"({"errors":["Too many concurrently executing batches"]})"));
  auto n = engine::choose_work(rig.sched, m, rig.clock.now(), false, 0);
  EXPECT_EQ(n.what, engine::next_work::kind::wait);
  EXPECT_NE(n.until, engine::steady_time::max());
  rig.clock.advance(n.until - rig.clock.now());
  EXPECT_EQ(engine::choose_work(rig.sched, m, rig.clock.now(), false, 0).what,
            engine::next_work::kind::task);
}
