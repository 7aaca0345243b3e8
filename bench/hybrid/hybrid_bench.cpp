// Rows/s of put mode, batch mode and auto mode (batches and PUTs at once) side by side in one
// run, for one organization at the Dashboard budget (10/s, burst 10, 100/s per IP), for twin
// batch speeds of MS milliseconds per action. Goal: auto >= 0.95 x (put + batch) and never below
// the better of the two. Put mode does not depend on MS: it is measured once per run.
//   hybrid_bench [--quick] [--rows N] [--ms 2,33,330,1000] [--latency-ms L]
// Prints one table; exit 1 if a row was not applied.
#include "relicense/engine/batch_runner.hpp"
#include "relicense/engine/runner.hpp"
#include "relicense/sim/server.hpp"

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

namespace {

class counting_sink final : public engine::result_sink {
public:
  std::size_t applied = 0, by_batch = 0, other = 0;
  void on_result(const io::row_result& r) override {
    (r.result == io::outcome::applied ? applied : other) += 1;
    if (!r.batch_id.empty()) ++by_batch;
  }
};

/// The first `n` licenses of the org, each moved to another device (every 5th unassigned).
plan::plan make_plan(const sim::org_info& o, std::size_t n) {
  plan::plan p;
  p.orgs.push_back(o.id);
  for (std::size_t i = 0; i < n && i < o.licenses.size(); ++i) {
    plan::row r;
    r.line = static_cast<std::uint32_t>(i + 2);
    r.license_id = o.licenses[i].id;
    if (i % 5 != 4) {
      r.serial = o.devices[(i * 7 + 3) % o.devices.size()];
      if (o.licenses[i].device_serial == r.serial)
        r.serial = o.devices[(i * 7 + 4) % o.devices.size()];
    }
    p.rows.push_back(std::move(r));
  }
  return p;
}

struct measured {
  std::size_t rows = 0, applied = 0, by_batch = 0;
  std::uint64_t requests = 0, throttled = 0;
  double seconds = 0;
  double rows_per_s() const { return seconds > 0 ? static_cast<double>(applied) / seconds : 0; }
};

enum class mode { put, batch, hybrid };

}  // namespace

int main(int argc, char** argv) {
  std::size_t rows = 300;
  std::vector<double> speeds{2, 33, 330, 1000};
  unsigned latency_ms = 0;
  for (int i = 1; i < argc; ++i) {
    const bool has = i + 1 < argc;
    if (!std::strcmp(argv[i], "--quick")) {
      rows = 60;
      speeds = {2, 33};
    } else if (!std::strcmp(argv[i], "--rows") && has) {
      rows = static_cast<std::size_t>(std::atol(argv[++i]));
    } else if (!std::strcmp(argv[i], "--latency-ms") && has) {
      latency_ms = static_cast<unsigned>(std::atol(argv[++i]));
    } else if (!std::strcmp(argv[i], "--ms") && has) {
      speeds.clear();
      std::stringstream in(argv[++i]);
      for (std::string s; std::getline(in, s, ',');) speeds.push_back(std::atof(s.c_str()));
    }
  }
  if (rows == 0 || speeds.empty()) {
    std::fprintf(stderr, "hybrid_bench: --rows and --ms must be positive\n");
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

  std::printf("one org, %zu rows, budget 10/s burst 10 (100/s per IP), twin latency %u ms\n", rows,
              latency_ms);
  const measured put = measure(mode::put, speeds.front());
  bool all = put.applied == put.rows;
  std::printf("%9s %10s %10s %10s %12s %10s %8s %10s\n", "ms/action", "put r/s", "batch r/s",
              "auto r/s", "auto/(p+b)", "auto/best", "auto %b", "auto 429s");
  for (double ms : speeds) {
    const measured batch = measure(mode::batch, ms);
    const measured hybrid = measure(mode::hybrid, ms);
    all = all && batch.applied == batch.rows && hybrid.applied == hybrid.rows;
    const double sum = put.rows_per_s() + batch.rows_per_s();
    const double best = std::max(put.rows_per_s(), batch.rows_per_s());
    std::printf("%9g %10.1f %10.1f %10.1f %12.2f %10.2f %7.0f%% %10llu\n", ms, put.rows_per_s(),
                batch.rows_per_s(), hybrid.rows_per_s(), sum > 0 ? hybrid.rows_per_s() / sum : 0,
                best > 0 ? hybrid.rows_per_s() / best : 0,
                hybrid.applied ? 100.0 * static_cast<double>(hybrid.by_batch) /
                                     static_cast<double>(hybrid.applied)
                               : 0,
                static_cast<unsigned long long>(hybrid.throttled));
    std::fflush(stdout);
  }
  return all ? 0 : 1;
}
