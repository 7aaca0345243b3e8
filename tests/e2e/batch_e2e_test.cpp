// The action-batch runner end to end against the twin, in-process: batching, failing rows,
// the running-batch limit, throttled polls, resume, dry run, co-term orgs, a bad key and
// skip_unchanged.
#include "e2e_support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <set>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace engine = relicense::engine;
namespace io = relicense::io;
namespace sim = relicense::sim;

using relicense::test::collecting_sink;
using relicense::test::expect_one_result_per_row;
using relicense::test::expect_state_matches;

namespace {

/// A twin without budget (unless a test sets one) that runs batches quickly.
sim::sim_config fast_twin(unsigned orgs, unsigned licenses) {
  auto c = relicense::test::twin_config(orgs, licenses, 11);
  c.batch_actions_per_second = 5000;
  return c;
}

class BatchE2E : public relicense::test::twin_run_test {
protected:
  BatchE2E() : twin_run_test(5) {}
};

/// Polls in tens of milliseconds so the tests take well under a second each.
engine::batch_run_options fast_batches() {
  engine::batch_run_options o;
  o.batch.first_poll = 20ms;
  o.batch.max_poll = 100ms;
  o.batch.busy_retry = 20ms;
  return o;
}

}  // namespace

// A clean run applies every row through batches of at most 100, each journaled once.
TEST_F(BatchE2E, AppliesEveryRow) {
  start(fast_twin(2, 250), 250);
  auto opts = fast_batches();
  std::vector<io::journal_batch> accepted;
  opts.on_batch_accepted = [&](const io::journal_batch& b) { accepted.push_back(b); };
  const auto r = run_batches(opts);
  expect_all_applied(r);
  ASSERT_EQ(accepted.size(), 6u);  // 100 + 100 + 50 per org
  std::set<std::uint32_t> journaled;
  for (const auto& b : accepted) {
    EXPECT_LE(b.lines.size(), 100u);
    journaled.insert(b.lines.begin(), b.lines.end());
  }
  EXPECT_EQ(journaled.size(), p.rows.size());
  for (const auto& x : sink.results) {
    EXPECT_FALSE(x.batch_id.empty());
    EXPECT_EQ(x.attempts, 1u);
    EXPECT_EQ(x.http_status, 200u);
  }
  EXPECT_EQ(twin().stats().batch_actions_applied, p.rows.size());
  EXPECT_EQ(r.counters.by_status.at(201), 6u);
}

// A serial outside the org and an unknown license fail alone with the API's error; every other
// row of their batches is applied. Both with error hints and with plain bisection.
TEST_F(BatchE2E, IsolatesFailingRows) {
  for (bool hints : {true, false}) {
    start(fast_twin(2, 120), 120);
    const auto orgs = twin().orgs();
    p.orgs.resize(1);
    p.rows.resize(120);                           // org 0 only
    p.rows[37].serial = orgs[1].devices.front();  // a device of the other org
    p.rows[101].license_id = "no-such-license";
    auto opts = fast_batches();
    opts.batch.use_error_hints = hints;
    const auto r = run_batches(opts);
    EXPECT_EQ(r.status, engine::run_status::completed);
    expect_one_result_per_row(sink, p);
    EXPECT_EQ(sink.count(io::outcome::failed), 2u);
    EXPECT_EQ(sink.count(io::outcome::applied), 118u);
    const auto* bad_serial = sink.find(p.rows[37].license_id);
    ASSERT_NE(bad_serial, nullptr);
    EXPECT_EQ(bad_serial->result, io::outcome::failed);
    EXPECT_NE(bad_serial->error.find("is not in organization"), std::string::npos)
        << bad_serial->error;
    EXPECT_EQ(bad_serial->http_status, 400u);
    EXPECT_FALSE(bad_serial->batch_id.empty());
    const auto* bad_license = sink.find("no-such-license");
    ASSERT_NE(bad_license, nullptr);
    EXPECT_EQ(bad_license->result, io::outcome::failed);
    EXPECT_NE(bad_license->error.find("not found"), std::string::npos) << bad_license->error;
    EXPECT_TRUE(io::is_permanent_failure(*bad_license));
    expect_state_matches(twin(), p, {p.rows[37].license_id, "no-such-license"});
    EXPECT_EQ(twin().stats().batch_actions_applied, 118u);
  }
}

// At most 5 batches run per org: the twin never refuses one; and a client configured above the
// API's limit (8) hears "too many batches", waits, and still applies every row.
TEST_F(BatchE2E, RunningLimit) {
  for (unsigned limit : {5u, 8u}) {
    auto cfg = fast_twin(1, 400);
    cfg.batch_actions_per_second = 200;  // 20-action batches run 100 ms: several overlap
    start(cfg, 400);
    auto opts = fast_batches();
    opts.batch.max_actions = 20;
    opts.batch.max_running = limit;
    const auto r = run_batches(opts);
    expect_all_applied(r);
    const auto refused = r.counters.by_status.count(400) ? r.counters.by_status.at(400) : 0;
    if (limit == 5) {
      EXPECT_EQ(refused, 0u);
    } else {
      EXPECT_GT(refused, 0u);
    }
    EXPECT_EQ(twin().stats().batch_actions_applied, p.rows.size());
  }
}

// Polls answered 429 (the twin's budget with Retry-After, and injected 429s without it) are
// waited out; every row is applied once.
TEST_F(BatchE2E, ThrottledPolls) {
  auto cfg = fast_twin(1, 200);
  cfg.rate = 10;
  cfg.burst = 2;
  cfg.ip_rate = 1000;
  start(cfg, 200);
  twin().set_faults(0, 0, 0, 0.2);
  auto opts = fast_batches();
  opts.batch.max_actions = 50;
  // Faster than the twin's budget, so it answers 429 with Retry-After; many attempts, since
  // throttled POSTs count against them.
  client.rate = 40;
  client.burst = 5;
  client.retry.max_attempts = 30;
  const auto r = run_batches(opts);
  expect_all_applied(r);
  EXPECT_GT(r.counters.throttled, 0u);
  EXPECT_GT(twin().stats().rate_limited, 0u);
  EXPECT_EQ(twin().stats().batch_actions_applied, p.rows.size());
}

// Interrupted with batches in flight, a resumed run polls the journaled batches instead of
// submitting them again, and submits only the rest.
TEST_F(BatchE2E, ResumePollsSubmittedBatches) {
  start(fast_twin(1, 300), 300);
  client.handle_signals = true;
  auto opts = fast_batches();
  opts.batch.first_poll = 5s;  // nothing is polled before the interrupt
  std::vector<io::journal_batch> journal;
  opts.on_batch_accepted = [&](const io::journal_batch& b) {
    journal.push_back(b);
    if (journal.size() == 2) std::raise(SIGINT);  // as a user's Ctrl-C, caught by the run
  };
  collecting_sink first;
  const auto r1 = engine::run_batches(p, client, opts, first);
  EXPECT_EQ(r1.status, engine::run_status::interrupted);
  expect_one_result_per_row(first, p);
  EXPECT_EQ(first.count(io::outcome::applied), 0u);
  ASSERT_GE(journal.size(), 2u);
  std::set<std::string> ids;
  for (const auto& b : journal) ids.insert(b.id);
  for (const auto& x : first.results) {
    EXPECT_EQ(x.result, io::outcome::not_attempted);
    if (!x.batch_id.empty()) {
      EXPECT_TRUE(ids.count(x.batch_id));
    }
  }

  collecting_sink second;
  auto resume = fast_batches();
  resume.resumed = journal;
  client.handle_signals = false;
  const auto r2 = engine::run_batches(p, client, resume, second);
  EXPECT_EQ(r2.status, engine::run_status::completed);
  expect_one_result_per_row(second, p);
  EXPECT_EQ(second.count(io::outcome::applied), p.rows.size());
  const std::size_t posts = r2.counters.by_status.count(201) ? r2.counters.by_status.at(201) : 0;
  EXPECT_EQ(posts, 3u - journal.size());
  for (const auto& x : second.results) EXPECT_FALSE(x.batch_id.empty());
  EXPECT_EQ(twin().stats().batch_actions_applied, p.rows.size());  // nothing applied twice
  expect_state_matches(twin(), p);
}

// A dry run sends nothing and skips every row.
TEST_F(BatchE2E, DryRunSendsNothing) {
  start(fast_twin(1, 50), 50);
  client.dry_run = true;
  const auto r = run_batches(fast_batches());
  EXPECT_EQ(r.status, engine::run_status::completed);
  EXPECT_EQ(sink.count(io::outcome::skipped), p.rows.size());
  EXPECT_EQ(twin().stats().requests, 0u);
}

// A co-term org's rows all fail with the API's reason (its first batch says so; the rest are not
// sent); the other org is applied.
TEST_F(BatchE2E, CotermOrgCondemned) {
  auto cfg = fast_twin(2, 300);
  cfg.coterm_orgs = 1;
  start(cfg, 300);
  const auto r = run_batches(fast_batches());
  EXPECT_EQ(r.status, engine::run_status::completed);
  expect_one_result_per_row(sink, p);
  EXPECT_EQ(sink.count(io::outcome::applied), 300u);
  EXPECT_EQ(sink.count(io::outcome::failed), 300u);
  for (const auto& x : sink.results) {
    if (x.org_id == p.orgs[1]) {
      EXPECT_NE(x.error.find("does not support per-device licensing"), std::string::npos)
          << x.error;
    }
  }
  const auto s = twin().stats();
  EXPECT_LE(s.by_status.count(400) ? s.by_status.at(400) : 0, 5u);  // not one call per batch
}

// A rejected key aborts the run: nothing applied, every row reported, the key never echoed.
TEST_F(BatchE2E, BadKeyAborts) {
  start(fast_twin(1, 300), 300);
  client.api_key = "not-the-key";
  const auto r = run_batches(fast_batches());
  EXPECT_EQ(r.status, engine::run_status::aborted);
  expect_one_result_per_row(sink, p);
  EXPECT_EQ(sink.count(io::outcome::applied), 0u);
  EXPECT_EQ(r.abort_reason.find("not-the-key"), std::string::npos);
  EXPECT_EQ(twin().stats().batch_actions_applied, 0u);
}

// With skip_unchanged, rows already in place are reported unchanged and never batched.
TEST_F(BatchE2E, SkipUnchanged) {
  start(fast_twin(1, 100), 100);
  const auto o = twin().orgs().front();
  for (std::size_t i = 0; i < 10; ++i) p.rows[i].serial = o.licenses[i].device_serial.value_or("");
  client.skip_unchanged = true;
  const auto r = run_batches(fast_batches());
  EXPECT_EQ(r.status, engine::run_status::completed);
  expect_one_result_per_row(sink, p);
  std::size_t in_place = 0;  // the first 10, and any unassign of an unassigned license
  for (std::size_t i = 0; i < p.rows.size(); ++i)
    in_place += p.rows[i].serial == o.licenses[i].device_serial.value_or("");
  ASSERT_GE(in_place, 10u);
  EXPECT_EQ(sink.count(io::outcome::unchanged), in_place);
  EXPECT_EQ(sink.count(io::outcome::applied), 100u - in_place);
  EXPECT_EQ(twin().stats().batch_actions_applied, 100u - in_place);
  for (const auto& x : sink.results) EXPECT_TRUE(x.previous_serial.has_value());
}
