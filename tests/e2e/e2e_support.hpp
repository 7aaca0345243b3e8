// What the engine's and the batch runner's end-to-end tests share: a fixture that starts the
// twin, plans over it and points a client at it, a sink that keeps every result, and the checks
// that each row has one result and that the twin ends as planned.
#pragma once

#include "relicense/engine/batch_runner.hpp"
#include "relicense/engine/runner.hpp"
#include "relicense/plan/plan.hpp"
#include "relicense/sim/server.hpp"
#include "relicense/test/twin.hpp"
#include "relicense/test/twin_plan.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace relicense::test {

/// Collects every result, and can stop the run after a number of them.
class collecting_sink final : public engine::result_sink {
public:
  std::vector<io::row_result> results;
  std::size_t stop_after = 0;  ///< 0: never
  void on_result(const io::row_result& r) override { results.push_back(r); }
  bool keep_going() override { return stop_after == 0 || results.size() < stop_after; }
  std::size_t count(io::outcome o) const {
    std::size_t n = 0;
    for (const auto& r : results) n += r.result == o;
    return n;
  }
  const io::row_result* find(const std::string& license) const {
    for (const auto& r : results)
      if (r.license_id == license) return &r;
    return nullptr;
  }
};

/// A client for `twin`: no budget unless a test sets one, 16 workers (put mode), no signal
/// handling, jitter seeded with `seed`, short backoff so retry tests take milliseconds, and the
/// twin's CA when it serves TLS.
inline engine::run_config client_for(const sim::server& twin, std::uint64_t seed) {
  using namespace std::chrono_literals;
  engine::run_config c;
  c.base_url = twin.base_url();
  c.api_key = twin.api_key();
  c.rate = 0;
  c.burst = 0;
  c.ip_rate = 0;
  c.concurrency = 16;
  c.handle_signals = false;
  c.seed = seed;
  c.retry.backoff = {1ms, 20ms};
  c.client.timeout = 5s;
  if (!twin.ca_file().empty()) c.client.ca_file = twin.ca_file();
  return c;
}

/// Each plan row has exactly one result.
inline void expect_one_result_per_row(const collecting_sink& sink, const plan::plan& p) {
  ASSERT_EQ(sink.results.size(), p.rows.size());
  std::set<std::uint32_t> lines;
  for (const auto& r : sink.results) lines.insert(r.line);
  EXPECT_EQ(lines.size(), p.rows.size());
}

/// Every row of the plan except the licenses in `except` is, in the twin, where the plan wants it.
inline void expect_state_matches(const sim::server& twin, const plan::plan& p,
                                 const std::set<std::string>& except = {}) {
  const auto state = twin.state();
  for (const auto& r : p.rows) {
    if (except.count(r.license_id)) continue;
    const auto& actual = state.at(p.orgs[r.org]).at(r.license_id);
    if (r.serial.empty()) {
      EXPECT_FALSE(actual.has_value()) << r.license_id;
    } else {
      EXPECT_EQ(actual.value_or("null"), r.serial) << r.license_id;
    }
  }
}

/// An end-to-end test of the engine against the twin. start() brings up a twin, plans the first
/// `per_org` licenses of each of its orgs into `p` (make_plan) and points `client` at it
/// (client_for); the test adjusts `p` and `client`, runs, and checks `sink` and twin(). Calling
/// start() again replaces the twin, the plan, the client and the results (tests that loop over a
/// setting).
class twin_run_test : public ::testing::Test {
protected:
  explicit twin_run_test(std::uint64_t client_seed) : client_seed_(client_seed) {}

  void start(const sim::sim_config& cfg, std::size_t per_org) {
    twin_.reset();
    twin_.emplace(cfg);
    twin_->start();
    p = make_plan(twin_->orgs(), per_org);
    client = client_for(*twin_, client_seed_);
    sink.results.clear();
    sink.stop_after = 0;
  }

  sim::server& twin() { return *twin_; }

  /// Put mode.
  engine::run_result run() { return engine::run(p, client, sink); }
  /// Action-batch mode.
  engine::run_result run_batches(const engine::batch_run_options& o) {
    return engine::run_batches(p, client, o, sink);
  }

  /// The run completed, each row has one result and was applied, and the twin ends as planned.
  void expect_all_applied(const engine::run_result& r) {
    EXPECT_EQ(r.status, engine::run_status::completed);
    expect_one_result_per_row(sink, p);
    EXPECT_EQ(sink.count(io::outcome::applied), p.rows.size());
    expect_state_matches(*twin_, p);
  }

  plan::plan p;
  engine::run_config client;
  collecting_sink sink;

private:
  std::uint64_t client_seed_;
  std::optional<sim::server> twin_;
};

}  // namespace relicense::test
