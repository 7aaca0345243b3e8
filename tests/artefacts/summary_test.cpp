// Run summary: counters, percentiles, budget efficiency, and its JSON document.
#include "relicense/io/summary.hpp"

#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace io = relicense::io;
using relicense::test::temp_dir;

namespace {

io::row_result sent(std::string org, double latency, io::outcome o = io::outcome::applied) {
  io::row_result r;
  r.org_id = std::move(org);
  r.result = o;
  r.attempts = 1;
  r.latency_ms = latency;
  return r;
}

}  // namespace

// Nearest-rank percentiles over 1..100 ms are 50, 95, 99; one sample is every percentile.
TEST(ArtefactsSummary, PercentilesNearestRank) {
  io::run_summary s;
  EXPECT_EQ(s.latency_ms(0.5), 0.0) << "no samples";
  for (int i = 100; i >= 1; --i)
    s.add(sent("A", i));  // reverse order: sorting is the summary's job
  EXPECT_EQ(s.latency_ms(0.50), 50.0);
  EXPECT_EQ(s.latency_ms(0.95), 95.0);
  EXPECT_EQ(s.latency_ms(0.99), 99.0);
  EXPECT_EQ(s.latency_ms(1.0), 100.0);
  EXPECT_EQ(s.latency_ms(0.0), 1.0);
  io::run_summary one;
  one.add(sent("A", 7));
  EXPECT_EQ(one.latency_ms(0.5), 7.0);
  EXPECT_EQ(one.latency_ms(0.99), 7.0);
}

// Rows not sent (unchanged without a request, not attempted) are counted but are no latency sample.
TEST(ArtefactsSummary, OutcomesAndCounters) {
  io::run_summary s;
  s.add(sent("A", 10));
  s.add(sent("A", 20, io::outcome::failed));
  io::row_result untouched;
  untouched.result = io::outcome::not_attempted;
  s.add(untouched);
  untouched.result = io::outcome::skipped;
  s.add(untouched);
  s.count_request(5);
  s.count_429(2);
  s.count_retry(io::retry_cause::throttled, 2);
  s.count_retry(io::retry_cause::timeout);
  s.set_elapsed(std::chrono::seconds(2));
  EXPECT_EQ(s.rows_total(), 4u);
  EXPECT_EQ(s.rows(io::outcome::applied), 1u);
  EXPECT_EQ(s.rows(io::outcome::failed), 1u);
  EXPECT_EQ(s.latency_samples(), 2u);
  EXPECT_EQ(s.retries_total(), 3u);
  EXPECT_DOUBLE_EQ(s.rows_per_second(), 1.0) << "applied + failed over 2 s";
  std::string h = s.human();
  EXPECT_NE(h.find("4 rows"), std::string::npos) << h;
  EXPECT_NE(h.find("429s 2"), std::string::npos) << h;
  EXPECT_NE(h.find("throttled 2"), std::string::npos) << h;
}

// Ideal time is the slowest org's (n - burst) / rate, or the IP limit; efficiency = ideal / actual.
TEST(ArtefactsSummary, BudgetEfficiency) {
  io::run_summary s(io::run_budget{10, 10, 100});
  for (int i = 0; i < 110; ++i) s.add(sent("A", 1));
  for (int i = 0; i < 50; ++i) s.add(sent("B", 1));
  s.set_elapsed(std::chrono::seconds(20));
  EXPECT_DOUBLE_EQ(s.ideal_seconds(), 10.0);
  EXPECT_DOUBLE_EQ(s.budget_efficiency(), 0.5);
  io::run_summary many(io::run_budget{10, 10, 100});
  for (int o = 0; o < 30; ++o)
    for (int i = 0; i < 30; ++i) many.add(sent("org" + std::to_string(o), 1));
  EXPECT_DOUBLE_EQ(many.ideal_seconds(), 8.0) << "900 rows at 100/s per IP, one second of burst";
  io::run_summary none;
  EXPECT_EQ(none.budget_efficiency(), 0.0) << "no elapsed time: unknown, not a division by zero";
}

// --summary JSON parses and carries the numbers.
TEST(ArtefactsSummary, JsonDocument) {
  temp_dir dir;
  io::run_summary s;
  for (int i = 1; i <= 10; ++i) s.add(sent("A", i));
  s.count_request(12);
  s.count_429(1);
  s.count_retry(io::retry_cause::server_error, 2);
  s.set_elapsed(std::chrono::milliseconds(2500));
  auto p = dir.path() / "summary.json";
  s.write_json(p);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.load(p.string()).get(doc), simdjson::SUCCESS) << temp_dir::read(p);
  EXPECT_EQ(uint64_t(doc["rows"]["applied"]), 10u);
  EXPECT_EQ(uint64_t(doc["requests"]), 12u);
  EXPECT_EQ(uint64_t(doc["http429"]), 1u);
  EXPECT_EQ(uint64_t(doc["retries"]["server_error"]), 2u);
  EXPECT_DOUBLE_EQ(double(doc["elapsedSeconds"]), 2.5);
  EXPECT_DOUBLE_EQ(double(doc["latencyMs"]["p50"]), 5.0);
  EXPECT_DOUBLE_EQ(double(doc["rowsPerSecond"]), 4.0);
}

// The run's identity (times, version, plan, host, mode, dry run, exit status) joins the JSON
// after the counters, which keep their names.
TEST(ArtefactsSummary, JsonIdentityFields) {
  io::run_summary s;
  s.add(sent("A", 5));
  io::run_identity id;
  id.started = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795988400123LL));
  id.ended = id.started + std::chrono::seconds(61);
  id.version = "1.2.3";
  id.plan_fingerprint = "abc123";
  id.base_url_host = "api.meraki.com";
  id.mode = "batch";
  id.dry_run = true;
  id.exit_status = 1;
  s.set_identity(id);
  simdjson::dom::parser parser;
  const auto text = s.json();
  auto doc = parser.parse(simdjson::padded_string(text));
  ASSERT_FALSE(doc.error()) << text;
  EXPECT_EQ(std::string(doc["startedAt"].get_string().value()), "2026-11-29T21:40:00.123Z");
  EXPECT_EQ(std::string(doc["endedAt"].get_string().value()), "2026-11-29T21:41:01.123Z");
  EXPECT_EQ(std::string(doc["version"].get_string().value()), "1.2.3");
  EXPECT_EQ(std::string(doc["planFingerprint"].get_string().value()), "abc123");
  EXPECT_EQ(std::string(doc["baseUrlHost"].get_string().value()), "api.meraki.com");
  EXPECT_EQ(std::string(doc["mode"].get_string().value()), "batch");
  EXPECT_TRUE(doc["dryRun"].get_bool().value());
  EXPECT_EQ(doc["exitStatus"].get_int64().value(), 1);
  EXPECT_EQ(doc["rowsTotal"].get_uint64().value(), 1u);
}

// A resumed run: the journal's rows count by outcome but not in this run's rate, latencies or
// budget efficiency (700 carried rows in 2 s are not 350 rows/s).
TEST(RunSummary, CarriedRowsAreNotThisRunsRate) {
  io::run_summary s({10, 10, 100});
  for (int i = 0; i < 700; ++i) s.add_carried(sent("A", 500));
  for (int i = 0; i < 20; ++i) s.add(sent("A", 40));
  s.set_elapsed(std::chrono::seconds(2));
  EXPECT_EQ(s.rows(io::outcome::applied), 720u);
  EXPECT_EQ(s.rows_total(), 720u);
  EXPECT_EQ(s.rows_carried(), 700u);
  EXPECT_DOUBLE_EQ(s.rows_per_second(), 10.0);
  EXPECT_EQ(s.latency_samples(), 20u);
  EXPECT_DOUBLE_EQ(s.ideal_seconds(), 1.0);  // (20 - 10) / 10
  EXPECT_DOUBLE_EQ(s.budget_efficiency(), 0.5);
  EXPECT_NE(s.human().find("720 rows (700 done by an earlier run) in 2.0 s (10.0 rows/s)"),
            std::string::npos)
      << s.human();
}
