// Rows/s of put mode, batch mode and auto mode (batches and PUTs at once) side by side in one
// run, for one organization at the Dashboard budget (10/s, burst 10, 100/s per IP), for twin
// batch speeds of MS milliseconds per action. Goal: auto >= 0.95 x (put + batch) and never below
// the better of the two. Put mode does not depend on MS: it is measured once per repetition.
//   hybrid_bench [--quick] [--rows N] [--ms 2,33,330,1000] [--latency-ms L] [--reps N]
// Each repetition measures put, then batch and auto for each MS; the ratios are taken within a
// repetition. Prints medians with [min-max] over the repetitions; exit 1 if a row was not applied.
#include "relicense/engine/batch_runner.hpp"
#include "relicense/engine/runner.hpp"
#include "relicense/sim/server.hpp"

#include "bench_support.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

namespace engine = relicense::engine;
namespace io = relicense::io;
namespace plan = relicense::plan;
namespace sim = relicense::sim;
using relicense::bench::counting_sink;
using relicense::bench::make_plan;

namespace {

struct measured {
  std::size_t rows = 0, applied = 0, by_batch = 0;
  std::uint64_t requests = 0, throttled = 0;
  double seconds = 0;
  double rows_per_s() const { return seconds > 0 ? static_cast<double>(applied) / seconds : 0; }
};

enum class mode { put, batch, hybrid };

/// Median and range of `v` as "median [min-max]" (or the value alone for one repetition).
std::string spread(std::vector<double> v, const char* fmt) {
  std::sort(v.begin(), v.end());
  const double med = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  char buf[96];
  std::snprintf(buf, sizeof buf, fmt, med);
  std::string out = buf;
  if (v.size() > 1) {
    std::string lo, hi;
    std::snprintf(buf, sizeof buf, fmt, v.front());
    lo = buf;
    std::snprintf(buf, sizeof buf, fmt, v.back());
    hi = buf;
    out += " [" + lo + "-" + hi + "]";
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t rows = 300;
  std::vector<double> speeds{2, 33, 330, 1000};
  unsigned latency_ms = 0;
  int reps = 1;
  for (int i = 1; i < argc; ++i) {
    const bool has = i + 1 < argc;
    if (!std::strcmp(argv[i], "--quick")) {
      rows = 60;
      speeds = {2, 33};
    } else if (!std::strcmp(argv[i], "--rows") && has) {
      rows = static_cast<std::size_t>(std::atol(argv[++i]));
    } else if (!std::strcmp(argv[i], "--reps") && has) {
      reps = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--latency-ms") && has) {
      latency_ms = static_cast<unsigned>(std::atol(argv[++i]));
    } else if (!std::strcmp(argv[i], "--ms") && has) {
      speeds.clear();
      std::stringstream in(argv[++i]);
      for (std::string s; std::getline(in, s, ',');) speeds.push_back(std::atof(s.c_str()));
    }
  }
  if (rows == 0 || speeds.empty() || reps < 1) {
    std::fprintf(stderr, "hybrid_bench: --rows, --ms and --reps must be positive\n");
    return 2;
  }

  sim::sim_config cfg;
  cfg.orgs = 1;
  cfg.licenses_per_org = static_cast<unsigned>(rows);
  cfg.rate = 10;
  cfg.burst = 10;
  cfg.ip_rate = 100;
  cfg.latency = std::chrono::milliseconds(latency_ms);
  cfg.seed = 3;
  // One twin per measurement (the same seed, so the same licenses and plan): the batch speed is
  // a setting of the twin.
  auto measure = [&](mode m, double ms) {
    auto tc = cfg;
    tc.batch_action_ms = ms;
    sim::server twin(tc);
    twin.start();
    const auto p = make_plan(twin.orgs().front(), rows);
    engine::run_config c;
    c.base_url = twin.base_url();
    c.api_key = twin.api_key();
    c.rate = cfg.rate;
    c.burst = cfg.burst;
    c.ip_rate = cfg.ip_rate;
    c.handle_signals = false;
    c.seed = 1;
    counting_sink sink;
    engine::batch_run_options o;
    engine::run_result r;
    if (m == mode::put) r = engine::run(p, c, sink);
    else if (m == mode::batch) r = engine::run_batches(p, c, o, sink);
    else r = engine::run_hybrid(p, c, o, sink);
    measured x;
    x.rows = p.rows.size();
    x.applied = sink.applied;
    x.by_batch = sink.by_batch;
    x.requests = r.counters.requests;
    x.throttled = r.counters.throttled;
    x.seconds = r.elapsed_s;
    return x;
  };

  std::printf(
      "one org, %zu rows, budget 10/s burst 10 (100/s per IP), twin latency %u ms, %d "
      "repetition(s)\n",
      rows, latency_ms, reps);
  struct cell {
    std::vector<double> put, batch, hybrid, of_sum, of_best, by_batch, throttled;
    std::vector<double> batch_calls, hybrid_calls;  ///< requests sent (POSTs, polls, PUTs)
  };
  std::vector<cell> cells(speeds.size());
  bool all = true;
  for (int rep = 0; rep < reps; ++rep) {
    const measured put = measure(mode::put, speeds.front());
    all = all && put.applied == put.rows;
    for (std::size_t k = 0; k < speeds.size(); ++k) {
      const measured batch = measure(mode::batch, speeds[k]);
      const measured hybrid = measure(mode::hybrid, speeds[k]);
      all = all && batch.applied == batch.rows && hybrid.applied == hybrid.rows;
      const double sum = put.rows_per_s() + batch.rows_per_s();
      const double best = std::max(put.rows_per_s(), batch.rows_per_s());
      auto& c = cells[k];
      c.put.push_back(put.rows_per_s());
      c.batch.push_back(batch.rows_per_s());
      c.hybrid.push_back(hybrid.rows_per_s());
      c.of_sum.push_back(sum > 0 ? hybrid.rows_per_s() / sum : 0);
      c.of_best.push_back(best > 0 ? hybrid.rows_per_s() / best : 0);
      c.by_batch.push_back(hybrid.applied ? 100.0 * static_cast<double>(hybrid.by_batch) /
                                                static_cast<double>(hybrid.applied)
                                          : 0);
      c.throttled.push_back(static_cast<double>(hybrid.throttled));
      c.batch_calls.push_back(static_cast<double>(batch.requests));
      c.hybrid_calls.push_back(static_cast<double>(hybrid.requests));
      std::fprintf(stderr, "rep %d, %g ms: put %.1f, batch %.1f, auto %.1f rows/s\n", rep + 1,
                   speeds[k], put.rows_per_s(), batch.rows_per_s(), hybrid.rows_per_s());
    }
  }
  std::printf(
      "| ms/action | put r/s | batch r/s | auto r/s | auto / (put + batch) | auto / best "
      "| auto %%b | auto 429s | batch calls | auto calls |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n");
  for (std::size_t k = 0; k < speeds.size(); ++k) {
    const auto& c = cells[k];
    std::printf("| %g | %s | %s | %s | %s | %s | %s %% | %s | %s | %s |\n", speeds[k],
                spread(c.put, "%.1f").c_str(), spread(c.batch, "%.1f").c_str(),
                spread(c.hybrid, "%.1f").c_str(), spread(c.of_sum, "%.2f").c_str(),
                spread(c.of_best, "%.2f").c_str(), spread(c.by_batch, "%.0f").c_str(),
                spread(c.throttled, "%.0f").c_str(), spread(c.batch_calls, "%.0f").c_str(),
                spread(c.hybrid_calls, "%.0f").c_str());
  }
  std::fflush(stdout);
  return all ? 0 : 1;
}
