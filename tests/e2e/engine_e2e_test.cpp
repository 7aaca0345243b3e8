// The put runner end to end against the twin, in-process: faults, budgets, redirects, TLS,
// aborts, stops, --skip-unchanged, --dry-run and inventory reads.
#include "e2e_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;
namespace engine = relicense::engine;
namespace io = relicense::io;
namespace sim = relicense::sim;

using relicense::test::collecting_sink;
using relicense::test::expect_one_result_per_row;
using relicense::test::expect_state_matches;

namespace {

/// A twin on a free port with a fast budget (or none) and no latency.
sim::sim_config fast_twin(unsigned orgs, unsigned licenses) {
  return relicense::test::twin_config(orgs, licenses, 7);
}

class EngineE2E : public relicense::test::twin_run_test {
protected:
  EngineE2E() : twin_run_test(99) {}
};

}  // namespace

// A clean run applies every row, with one request per row, and the twin ends as planned.
TEST_F(EngineE2E, AppliesEveryRow) {
  start(fast_twin(2, 150), 150);
  const auto r = run();
  expect_all_applied(r);
  EXPECT_EQ(r.counters.puts, p.rows.size());
  for (const auto& x : sink.results) {
    EXPECT_EQ(x.attempts, 1u);
    EXPECT_EQ(x.http_status, 200u);
    EXPECT_FALSE(x.state.empty());
  }
}

// 5xx answers are retried until the row is applied.
TEST_F(EngineE2E, RetriesServerErrors) {
  auto cfg = fast_twin(1, 200);
  cfg.fault_5xx = 0.2;
  start(cfg, 200);
  client.retry.max_attempts = 12;
  const auto r = run();
  expect_all_applied(r);
  EXPECT_GT(r.counters.retries[static_cast<std::size_t>(engine::retry_cause::server_error)], 0u);
  EXPECT_GT(twin().stats().fault_5xx + twin().stats().fault_5xx_applied, 0u);
}

// Connections closed without an answer are retried until the row is applied.
TEST_F(EngineE2E, RetriesDroppedConnections) {
  auto cfg = fast_twin(1, 150);
  cfg.fault_drop = 0.2;
  start(cfg, 150);
  client.retry.max_attempts = 12;
  const auto r = run();
  expect_all_applied(r);
  const auto& k = r.counters.retries;
  EXPECT_GT(k[static_cast<std::size_t>(engine::retry_cause::reset)] +
                k[static_cast<std::size_t>(engine::retry_cause::truncated)],
            0u);
}

// A response slower than --timeout is abandoned and the row retried.
TEST_F(EngineE2E, RetriesTimeouts) {
  auto cfg = fast_twin(1, 40);
  cfg.fault_slow = 0.1;
  cfg.slow_delay = 3s;
  start(cfg, 40);
  client.client.timeout = 300ms;
  client.retry.max_attempts = 10;
  const auto r = run();
  EXPECT_EQ(r.status, engine::run_status::completed);
  expect_one_result_per_row(sink, p);
  EXPECT_EQ(sink.count(io::outcome::applied), p.rows.size());
  EXPECT_GT(r.counters.retries[static_cast<std::size_t>(engine::retry_cause::timeout)], 0u);
  twin().stop();
}

// 429s without Retry-After are retried with backoff.
TEST_F(EngineE2E, RetriesThrottlingWithoutRetryAfter) {
  auto cfg = fast_twin(1, 150);
  cfg.fault_429 = 0.2;
  start(cfg, 150);
  client.retry.max_attempts = 12;
  const auto r = run();
  EXPECT_EQ(r.status, engine::run_status::completed);
  EXPECT_EQ(sink.count(io::outcome::applied), p.rows.size());
  EXPECT_GT(r.counters.retries[static_cast<std::size_t>(engine::retry_cause::throttled_ip)], 0u);
  EXPECT_EQ(r.counters.throttled, twin().stats().fault_429);
  expect_state_matches(twin(), p);
}

// A client that believes in a bigger burst than the org has gets 429s with Retry-After once:
// the org's bucket is paused for every worker, so the twin never sees more than its budget in
// any second and the 429s stay few; the pause is honoured (the run lasts at least Retry-After).
TEST_F(EngineE2E, RetryAfterPausesOrgWithoutStampede) {
  auto cfg = fast_twin(1, 70);
  cfg.rate = 50;
  cfg.burst = 5;
  cfg.ip_rate = 10000;
  start(cfg, 70);
  client.rate = 50;
  client.burst = 30;  // wrong on purpose: the twin allows 5
  client.ip_rate = 10000;
  client.concurrency = 32;
  client.retry.max_attempts = 20;
  const auto r = run();
  EXPECT_EQ(r.status, engine::run_status::completed);
  EXPECT_EQ(sink.count(io::outcome::applied), p.rows.size());
  const auto st = twin().stats();
  EXPECT_GT(st.rate_limited, 0u);
  EXPECT_LE(st.max_org_requests_1s, 55u);  // rate + the twin's burst
  EXPECT_LT(st.rate_limited, 40u);         // the first burst's excess, not a storm
  EXPECT_GE(r.elapsed_s, 1.0);             // Retry-After: 1 s was waited
  EXPECT_GT(r.counters.retries[static_cast<std::size_t>(engine::retry_cause::throttled)], 0u);
  expect_state_matches(twin(), p);
}

// With a correct budget the client stays inside it: no 429 at all and no 1-second window over it.
TEST_F(EngineE2E, StaysInsideBudget) {
  auto cfg = fast_twin(1, 150);
  cfg.rate = 100;
  cfg.burst = 20;
  cfg.ip_rate = 10000;
  start(cfg, 150);
  client.rate = 100;
  client.burst = 20;
  client.ip_rate = 10000;
  const auto r = run();
  EXPECT_EQ(sink.count(io::outcome::applied), p.rows.size());
  EXPECT_EQ(twin().stats().rate_limited, 0u);
  EXPECT_LE(twin().stats().max_org_requests_1s, 120u);
  EXPECT_EQ(r.counters.throttled, 0u);
}

// Several orgs proceed side by side: no org waits behind another's empty bucket, so each org
// gets its share of the first half of the results.
TEST_F(EngineE2E, MultiOrgFairness) {
  auto cfg = fast_twin(3, 90);
  cfg.rate = 100;
  cfg.burst = 10;
  cfg.ip_rate = 10000;
  start(cfg, 90);
  client.rate = 100;
  client.burst = 10;
  client.ip_rate = 10000;
  const auto r = run();
  EXPECT_EQ(sink.count(io::outcome::applied), p.rows.size());
  std::map<std::string, std::size_t> first_half;
  for (std::size_t i = 0; i < sink.results.size() / 2; ++i) ++first_half[sink.results[i].org_id];
  ASSERT_EQ(first_half.size(), 3u);
  for (const auto& [org, n] : first_half) EXPECT_GE(n, sink.results.size() / 2 / 5) << org;
  EXPECT_EQ(r.counters.throttled, 0u);
}

// The sink is flushed in groups, never lagging by more than one result per worker: a worker
// sends its next request only after its previous row's result was flushed, so a kill loses only
// rows that were in flight anyway. The last results are flushed before run() returns.
TEST_F(EngineE2E, SinkFlushedBeforeWorkersMoveOn) {
  class flush_counting_sink final : public engine::result_sink {
  public:
    std::size_t results = 0, flushed = 0, flushes = 0, max_unflushed = 0;
    void on_result(const io::row_result&) override {
      ++results;
      max_unflushed = std::max(max_unflushed, results - flushed);
    }
    void flush() override {
      ++flushes;
      flushed = results;
    }
  };
  start(fast_twin(2, 400), 400);
  client.concurrency = 16;
  flush_counting_sink sink;
  const auto r = engine::run(p, client, sink);
  EXPECT_EQ(r.status, engine::run_status::completed);
  EXPECT_EQ(sink.results, p.rows.size());
  EXPECT_EQ(sink.flushed, p.rows.size());
  EXPECT_LE(sink.max_unflushed, 16u);
  EXPECT_GE(sink.flushes, 2u);
  EXPECT_LT(sink.flushes, p.rows.size());  // grouped: fewer flushes than rows
}

// A sink whose flush fails (a full disk under the journal) stops the run; run() rethrows.
TEST_F(EngineE2E, SinkFlushFailureStopsTheRun) {
  class failing_sink final : public engine::result_sink {
  public:
    std::size_t results = 0;
    void on_result(const io::row_result&) override { ++results; }
    void flush() override { throw std::runtime_error("disk full"); }
  };
  start(fast_twin(1, 500), 500);
  client.concurrency = 4;
  failing_sink sink;
  EXPECT_THROW(engine::run(p, client, sink), std::runtime_error);
  EXPECT_LT(twin().stats().puts_applied, 100u);  // stopped early, not after every row
}

// Redirects to the shard listener are followed, and the shard is remembered per organization,
// not per worker or per run. With one worker each org is redirected exactly once: memory per
// worker (or one for the whole run) would redirect only the first org, no memory every row. With
// fewer workers than orgs, every org is still redirected at least once, and at most once per
// worker (the requests already in flight when its first redirect came back).
TEST_F(EngineE2E, RemembersTheShardPerOrganization) {
  constexpr unsigned orgs = 10, rows_per_org = 30;
  for (unsigned workers : {1u, 3u}) {
    auto cfg = fast_twin(orgs, rows_per_org);
    cfg.redirect = true;
    start(cfg, rows_per_org);
    ASSERT_EQ(p.orgs.size(), orgs);
    client.concurrency = workers;
    const auto r = run();
    EXPECT_EQ(r.status, engine::run_status::completed) << workers;
    EXPECT_EQ(sink.count(io::outcome::applied), p.rows.size()) << workers;
    expect_state_matches(twin(), p);
    const auto redirected = twin().stats().redirects;  // 3xx answers of the base host
    EXPECT_EQ(r.counters.redirects, redirected) << workers;
    if (workers == 1) {
      EXPECT_EQ(redirected, orgs) << "one redirect per org";
    } else {
      EXPECT_GE(redirected, orgs) << "an org used a shard it was never redirected to";
      EXPECT_LE(redirected, orgs * workers) << "an org forgot its shard";
    }
  }
}

// Over TLS with the twin's CA file every row is applied.
TEST_F(EngineE2E, TlsWithCaFile) {
  auto cfg = fast_twin(1, 60);
  cfg.tls = true;
  start(cfg, 60);
  ASSERT_EQ(twin().base_url().rfind("https://", 0), 0u);
  const auto r = run();
  EXPECT_EQ(r.status, engine::run_status::completed);
  EXPECT_EQ(sink.count(io::outcome::applied), p.rows.size());
  expect_state_matches(twin(), p);
}

// Without the CA the certificate is refused: the run aborts and nothing is applied.
TEST_F(EngineE2E, TlsUnknownCaAborts) {
  auto cfg = fast_twin(1, 30);
  cfg.tls = true;
  start(cfg, 30);
  client.client.ca_file.clear();
  const auto r = run();
  EXPECT_EQ(r.status, engine::run_status::aborted);
  EXPECT_NE(r.abort_reason.find("TLS"), std::string::npos) << r.abort_reason;
  expect_one_result_per_row(sink, p);
  EXPECT_EQ(sink.count(io::outcome::applied), 0u);
  EXPECT_EQ(twin().stats().puts_applied, 0u);
}

// A certificate for another host name is refused even with the right CA.
TEST_F(EngineE2E, TlsWrongHostAborts) {
  auto cfg = fast_twin(1, 30);
  cfg.tls = true;
  cfg.cert_host = "other.example";
  start(cfg, 30);
  const auto r = run();
  EXPECT_EQ(r.status, engine::run_status::aborted);
  EXPECT_EQ(sink.count(io::outcome::applied), 0u);
  EXPECT_EQ(twin().stats().puts_applied, 0u);
}

// A wrong key (401) aborts the run; rows not sent are not_attempted.
TEST_F(EngineE2E, BadKeyAborts) {
  start(fast_twin(1, 200), 200);
  client.api_key = "wrong";
  client.concurrency = 4;
  const auto r = run();
  EXPECT_EQ(r.status, engine::run_status::aborted);
  EXPECT_NE(r.abort_reason.find("401"), std::string::npos) << r.abort_reason;
  EXPECT_EQ(r.abort_reason.find("wrong"), std::string::npos);  // the key never shows
  expect_one_result_per_row(sink, p);
  EXPECT_GT(sink.count(io::outcome::not_attempted), 150u);
  EXPECT_LE(r.counters.puts, 8u);  // the in-flight ones only
}

// A co-term org fails all its rows after its first answer; the other org is applied.
TEST_F(EngineE2E, CotermOrgCondemned) {
  auto cfg = fast_twin(2, 100);
  cfg.coterm_orgs = 1;
  start(cfg, 100);
  const auto orgs = twin().orgs();
  ASSERT_TRUE(orgs[1].coterm);
  client.concurrency = 4;
  const auto r = run();
  EXPECT_EQ(r.status, engine::run_status::completed);
  expect_one_result_per_row(sink, p);
  std::size_t coterm_failed = 0, other_applied = 0;
  for (const auto& x : sink.results) {
    if (x.org_id == orgs[1].id) {
      EXPECT_EQ(x.result, io::outcome::failed);
      EXPECT_NE(x.error.find("per-device licensing"), std::string::npos) << x.error;
      ++coterm_failed;
    } else {
      other_applied += x.result == io::outcome::applied;
    }
  }
  EXPECT_EQ(coterm_failed, 100u);
  EXPECT_EQ(other_applied, 100u);
  EXPECT_LE(twin().stats().by_status[400], 8u);  // not one request per row
}

// A license unknown to the org fails with the API's error text; the rest is applied.
TEST_F(EngineE2E, ApiErrorFailsRowWithText) {
  start(fast_twin(1, 20), 20);
  p.rows[3].license_id = "999999999";
  const auto r = run();
  EXPECT_EQ(r.status, engine::run_status::completed);
  EXPECT_EQ(sink.count(io::outcome::failed), 1u);
  for (const auto& x : sink.results) {
    if (x.license_id == "999999999") {
      EXPECT_EQ(x.http_status, 404u);
      EXPECT_NE(x.error.find("License not found"), std::string::npos) << x.error;
      EXPECT_EQ(x.attempts, 1u);
    }
  }
}

// Stopping (as SIGINT does) ends the run with every remaining row not_attempted.
TEST_F(EngineE2E, StopLeavesRestNotAttempted) {
  auto cfg = fast_twin(1, 300);
  cfg.rate = 200;
  cfg.burst = 10;
  cfg.ip_rate = 10000;
  start(cfg, 300);
  client.rate = 200;
  client.burst = 10;
  client.ip_rate = 10000;
  sink.stop_after = 20;
  const auto r = run();
  EXPECT_EQ(r.status, engine::run_status::interrupted);
  expect_one_result_per_row(sink, p);
  EXPECT_GT(sink.count(io::outcome::not_attempted), 200u);
  EXPECT_EQ(sink.count(io::outcome::applied) + sink.count(io::outcome::not_attempted),
            p.rows.size());
}

// --skip-unchanged reads the inventory first and sends only the rows that change.
TEST_F(EngineE2E, SkipUnchangedSendsOnlyChanges) {
  start(fast_twin(1, 1200), 1200);
  const auto orgs = twin().orgs();
  for (std::size_t i = 0; i < p.rows.size(); i += 3) {
    p.rows[i].serial = orgs[0].licenses[i].device_serial.value_or("");
  }
  std::size_t in_place = 0;  // rows asking for what the license already has
  for (std::size_t i = 0; i < p.rows.size(); ++i) {
    in_place += p.rows[i].serial == orgs[0].licenses[i].device_serial.value_or("");
  }
  client.skip_unchanged = true;
  const auto r = run();
  EXPECT_EQ(r.status, engine::run_status::completed);
  expect_one_result_per_row(sink, p);
  EXPECT_EQ(sink.count(io::outcome::unchanged), in_place);
  EXPECT_EQ(r.counters.puts, p.rows.size() - in_place);
  EXPECT_GE(r.counters.gets, 2u);  // 1200 licenses: two pages of 1000
  for (const auto& x : sink.results) EXPECT_TRUE(x.previous_serial.has_value());
  expect_state_matches(twin(), p);
}

// --dry-run sends no PUT and changes nothing.
TEST_F(EngineE2E, DryRunSendsNothing) {
  start(fast_twin(1, 50), 50);
  const auto before = twin().state();
  client.dry_run = true;
  const auto r = run();
  EXPECT_EQ(r.status, engine::run_status::completed);
  EXPECT_EQ(sink.count(io::outcome::skipped), p.rows.size());
  EXPECT_EQ(r.counters.requests, 0u);
  EXPECT_EQ(twin().stats().requests, 0u);
  EXPECT_EQ(twin().state(), before);
}

// fetch_inventories reads whole orgs through the budget, for `relicense verify`.
TEST_F(EngineE2E, FetchInventories) {
  start(fast_twin(2, 1100), 3);
  const auto orgs = twin().orgs();
  const auto inv = engine::fetch_inventories(p, client);
  EXPECT_EQ(inv.status, engine::run_status::completed);
  EXPECT_TRUE(inv.errors.empty());
  ASSERT_EQ(inv.inventories.size(), 2u);
  EXPECT_EQ(inv.inventories.at(orgs[0].id).size(), 1100u);
  EXPECT_EQ(inv.counters.gets, 4u);
}
