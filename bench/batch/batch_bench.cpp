// Rows/s of batch mode against put mode, for one organization, at the Dashboard budget's shape
// scaled by S (org rate 10·S/s, burst 10·S, IP 100·S/s; the twin runs batches at
// batch-speed·S actions/s; batch polls start at 1 s/S): scaling time keeps the ratio of the
// modes while the benchmark runs S times faster than against the real API.
//   batch_bench [--quick] [--rows N] [--put-rows N] [--scale S] [--batch-speed A]
// Put mode is linear in the rows (the org's rate bounds it), so it is measured on --put-rows
// rows (default rows/10) to keep the run short. Prints one table; exit 1 if a row was not applied.
#include "relicense/engine/batch_runner.hpp"
#include "relicense/engine/runner.hpp"
#include "relicense/sim/server.hpp"

#include "bench_support.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace engine = relicense::engine;
namespace io = relicense::io;
namespace plan = relicense::plan;
namespace sim = relicense::sim;
using relicense::bench::counting_sink;
using relicense::bench::make_plan;

namespace {

struct measured {
  std::size_t rows = 0, applied = 0;
  std::uint64_t requests = 0, throttled = 0;
  double seconds = 0;
  double rows_per_s() const { return seconds > 0 ? static_cast<double>(applied) / seconds : 0; }
};

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::size_t rows = 10000, put_rows = 0;
  double scale = 10, batch_speed = 200;
  for (int i = 1; i < argc; ++i) {
    auto next = [&] { return i + 1 < argc ? std::atof(argv[++i]) : 0.0; };
    if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--rows")) rows = static_cast<std::size_t>(next());
    else if (!std::strcmp(argv[i], "--put-rows")) put_rows = static_cast<std::size_t>(next());
    else if (!std::strcmp(argv[i], "--scale")) scale = next();
    else if (!std::strcmp(argv[i], "--batch-speed")) batch_speed = next();
  }
  if (quick) {
    rows = 1000;
    scale = 50;
  }
  if (put_rows == 0) put_rows = std::max<std::size_t>(1, rows / 10);
  if (rows == 0 || !(scale > 0) || !(batch_speed > 0)) {
    std::fprintf(stderr, "batch_bench: --rows, --scale and --batch-speed must be positive\n");
    return 2;
  }

  sim::sim_config cfg;
  cfg.orgs = 1;
  cfg.licenses_per_org = static_cast<unsigned>(std::max(rows, put_rows));
  cfg.rate = 10 * scale;
  cfg.burst = 10 * scale;
  cfg.ip_rate = 100 * scale;
  cfg.batch_actions_per_second = batch_speed * scale;
  cfg.seed = 3;
  sim::server twin(cfg);
  twin.start();
  const auto org = twin.orgs().front();

  engine::run_config c;
  c.base_url = twin.base_url();
  c.api_key = twin.api_key();
  c.rate = cfg.rate;
  c.burst = cfg.burst;
  c.ip_rate = cfg.ip_rate;
  c.handle_signals = false;
  c.seed = 1;

  auto measure = [&](bool batch, std::size_t n) {
    twin.reset();
    const auto p = make_plan(org, n);
    counting_sink sink;
    engine::run_result r;
    if (batch) {
      engine::batch_run_options o;
      o.batch.first_poll = std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::duration<double>(1.0 / scale));
      o.batch.max_poll = std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::duration<double>(8.0 / scale));
      o.batch.busy_retry = o.batch.first_poll;
      r = engine::run_batches(p, c, o, sink);
    } else {
      r = engine::run(p, c, sink);
    }
    measured m;
    m.rows = p.rows.size();
    m.applied = sink.applied;
    m.requests = r.counters.requests;
    m.throttled = r.counters.throttled;
    m.seconds = r.elapsed_s;
    return m;
  };

  const measured put = measure(false, put_rows);
  const measured batch = measure(true, rows);

  std::printf("budget x%g (org %g/s burst %g, ip %g/s), twin batch speed %g actions/s\n", scale,
              cfg.rate, cfg.burst, cfg.ip_rate, cfg.batch_actions_per_second);
  std::printf("%-6s %8s %8s %9s %9s %10s %12s %14s\n", "mode", "rows", "applied", "requests",
              "429s", "seconds", "rows/s", "rows/s @real");
  for (const auto* m : {&put, &batch}) {
    std::printf("%-6s %8zu %8zu %9llu %9llu %10.2f %12.1f %14.1f\n", m == &put ? "put" : "batch",
                m->rows, m->applied, static_cast<unsigned long long>(m->requests),
                static_cast<unsigned long long>(m->throttled), m->seconds, m->rows_per_s(),
                m->rows_per_s() / scale);
  }
  const double ratio = put.rows_per_s() > 0 ? batch.rows_per_s() / put.rows_per_s() : 0;
  std::printf("batch / put: %.1fx\n", ratio);
  return put.applied == put.rows && batch.applied == batch.rows ? 0 : 1;
}
