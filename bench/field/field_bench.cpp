// Field conditions: the engine library against the twin with the real budget's shape (10/s,
// burst 10 per org) and what the field adds:
//  1. another application spending R of the organization's 10/s (the twin's background
//     application, Poisson), R = 3 throughout, then R going 0 -> 5 -> 0 during the run;
//  2. slow answers, log-normal with a median of --latency-ms (tail to 6x).
// Reported: elapsed against the fair-share ideal, i.e. the time the run's rows minus the burst
// take at the rate the other application leaves, (rows - burst) / (rate - R) integrated over
// R's schedule (plus one median latency when answers are slow); the run's 429s; the share of the
// other application's calls answered 429 (from the twin's stats). Medians of --reps runs (min-max).
// With slow answers no client reaches that ideal: the run ends when the slowest of its last
// requests answers, and the expected maximum of several log-normal draws is well above their
// median. The floor column is that expectation for a perfect client (the burst at once, then
// every token the moment the rate left allows, answers drawn as the twin draws them).
//   field_bench [--quick] [--rows N] [--reps K] [--latency-ms MS] [--concurrency C] [--only I]
//               [--seed S] [--trace]
// (I: run only the I-th scenario; S: the twin's seed of the first run, run k using S + k;
// --trace: counters each second, and when the first and last requests reached the twin)
#include "relicense/engine/runner.hpp"
#include "relicense/sim/server.hpp"

#include "bench_support.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace engine = relicense::engine;
namespace io = relicense::io;
namespace plan = relicense::plan;
namespace sim = relicense::sim;
using relicense::bench::counting_sink;
using relicense::bench::make_plan;
using relicense::bench::stats3;
using relicense::bench::summarize;

namespace {

/// The other application's rate: `rates[i]` from `at[i]` seconds after the run starts.
struct schedule {
  std::vector<double> at;
  std::vector<double> rates;
  double rate_at(double t) const {
    double r = 0;
    for (std::size_t i = 0; i < at.size(); ++i)
      if (t >= at[i]) r = rates[i];
    return r;
  }
  /// Seconds for `tokens` beyond the burst at the rate left, 10 - R(t).
  double ideal(double tokens, double rate) const {
    double t = 0, got = 0;
    constexpr double dt = 0.001;
    while (got < tokens) {
      got += std::max(0.0, rate - rate_at(t)) * dt;
      t += dt;
    }
    return t;
  }
};

/// The twin's log-normal answers (sim/src/twin.cpp, draw_latency): median x exp(0.5 z), capped at
/// 6x the median, whole milliseconds.
double twin_latency_s(double median_s, std::mt19937_64& rng) {
  const double z = std::normal_distribution<double>(0, 1)(rng);
  return std::round(std::min(median_s * std::exp(0.5 * z), 6 * median_s) * 1000) / 1000;
}

/// Expected end of a perfect client: `burst` requests at 0, then one each time the rate left by
/// the schedule gives a token, each answered after a draw of the twin's distribution; the run
/// ends with the last answer. Without latency, the last send.
double floor_seconds(const schedule& s, std::size_t rows, double burst, double rate,
                     double median_latency_s) {
  std::vector<double> sends(std::min<std::size_t>(rows, static_cast<std::size_t>(burst)), 0.0);
  double t = 0, got = 0;
  constexpr double dt = 0.0001;
  while (sends.size() < rows) {
    got += std::max(0.0, rate - s.rate_at(t)) * dt;
    t += dt;
    if (got >= 1) {
      got -= 1;
      sends.push_back(t);
    }
  }
  if (median_latency_s <= 0) return sends.back();
  std::mt19937_64 rng(42);
  constexpr int draws = 20000;
  double sum = 0;
  for (int k = 0; k < draws; ++k) {
    double end = 0;
    for (double at : sends) end = std::max(end, at + twin_latency_s(median_latency_s, rng));
    sum += end;
  }
  return sum / draws;
}

struct scenario {
  const char* label;
  schedule background;
  std::chrono::milliseconds latency{0};
};

struct outcome {
  double seconds = 0;
  std::uint64_t throttled = 0, requests = 0;
  double background_429_share = 0;
  bool all_applied = false;
};

bool trace = false;  ///< --trace: the twin's counters every second on stderr

/// Moves the twin's background rate along the schedule until told to stop.
void drive_background(sim::server* twin, const schedule* s,
                      std::chrono::steady_clock::time_point start, std::mutex* m,
                      std::condition_variable* cv, bool* stop) {
  std::size_t next = 1;
  sim::stats_snapshot last = twin->stats();
  for (int tick = 1;; ++tick) {
    auto when = start + std::chrono::seconds(tick);
    if (!trace && next < s->at.size()) when = start;
    if (next < s->at.size()) {
      const auto change = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                      std::chrono::duration<double>(s->at[next]));
      if (!trace || change < when) when = change;
    } else if (!trace) {
      return;
    }
    std::unique_lock lock(*m);
    if (cv->wait_until(lock, when, [stop] { return *stop; })) return;
    if (next < s->at.size() &&
        std::chrono::steady_clock::now() >=
            start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(s->at[next]))) {
      twin->set_background_rate(s->rates[next]);
      ++next;
      --tick;
      continue;
    }
    const auto now = twin->stats();
    auto status = [](const sim::stats_snapshot& x, unsigned code) {
      const auto it = x.by_status.find(code);
      return it == x.by_status.end() ? 0ULL : static_cast<unsigned long long>(it->second);
    };
    std::fprintf(stderr, "t=%2d ours 200: %llu 429: %llu  other app: %llu calls, %llu 429\n", tick,
                 status(now, 200) - status(last, 200), status(now, 429) - status(last, 429),
                 static_cast<unsigned long long>(now.background_calls - last.background_calls),
                 static_cast<unsigned long long>(now.background_rate_limited -
                                                 last.background_rate_limited));
    last = now;
  }
}

/// --trace: when the run's first and last requests reached the twin, seconds after `start`.
void watch_arrivals(sim::server* twin, std::chrono::steady_clock::time_point start,
                    const std::atomic<bool>* stop, double* first, double* last) {
  std::uint64_t seen = twin->stats().requests;
  while (!stop->load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const auto n = twin->stats().requests;
    if (n == seen) continue;
    const double at =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (*first < 0) *first = at;
    *last = at;
    seen = n;
  }
}

outcome run_once(sim::server& twin, const plan::plan& p, const scenario& sn, unsigned concurrency) {
  twin.reset();
  twin.set_background_rate(sn.background.rates.empty() ? 0 : sn.background.rates[0]);
  const auto before = twin.stats();
  engine::run_config c;
  c.base_url = twin.base_url();
  c.api_key = twin.api_key();
  c.rate = 10;
  c.burst = 10;
  c.ip_rate = 100;
  c.concurrency = concurrency;
  c.handle_signals = false;
  counting_sink sink;
  std::mutex m;
  std::condition_variable cv;
  bool stop = false;
  const auto start = std::chrono::steady_clock::now();
  std::thread driver(drive_background, &twin, &sn.background, start, &m, &cv, &stop);
  std::atomic<bool> stop_watch{false};
  double first = -1, last = -1;
  std::thread watcher;
  if (trace) watcher = std::thread(watch_arrivals, &twin, start, &stop_watch, &first, &last);
  const auto r = engine::run(p, c, sink);
  if (trace) {
    stop_watch = true;
    watcher.join();
    std::fprintf(stderr,
                 "first request at the twin %.3f s after the run started, last %.3f s; "
                 "the run took %.3f s (engine) / %.3f s (wall)\n",
                 first, last, r.elapsed_s,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  {
    std::lock_guard lock(m);
    stop = true;
  }
  cv.notify_all();
  driver.join();
  const auto after = twin.stats();
  outcome o;
  o.seconds = r.elapsed_s;
  o.throttled = r.counters.throttled;
  o.requests = r.counters.requests;
  const auto calls = after.background_calls - before.background_calls;
  const auto limited = after.background_rate_limited - before.background_rate_limited;
  o.background_429_share = calls ? static_cast<double>(limited) / static_cast<double>(calls) : 0;
  o.all_applied = sink.applied == p.rows.size();
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::size_t rows = 300;
  unsigned reps = 3, concurrency = 0;
  double latency_ms = 800;
  int only = 0;
  std::uint64_t seed = 1;  ///< the twin's seed of the first run; run k uses seed + k
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() { return i + 1 < argc ? std::atof(argv[++i]) : 0.0; };
    if (a == "--quick") quick = true;
    else if (a == "--rows") rows = static_cast<std::size_t>(next());
    else if (a == "--reps") reps = static_cast<unsigned>(next());
    else if (a == "--latency-ms") latency_ms = next();
    else if (a == "--concurrency") concurrency = static_cast<unsigned>(next());
    else if (a == "--only") only = static_cast<int>(next());
    else if (a == "--seed") seed = static_cast<std::uint64_t>(next());
    else if (a == "--trace") trace = true;
    else {
      std::fprintf(
          stderr,
          "usage: field_bench [--quick] [--rows N] [--reps K] [--latency-ms MS] [--concurrency C] "
          "[--only I] [--seed S] [--trace]\n");
      return 2;
    }
  }
  if (quick) {
    rows = 60;
    reps = 1;
  }
  const auto lat = std::chrono::milliseconds(static_cast<long>(latency_ms));
  // The 0 -> 5 -> 0 schedule scales with the run: R = 5 over its middle half at the ideal pace.
  const double span = (static_cast<double>(rows) - 10) / 10;
  const std::vector<scenario> scenarios = {
      {"R = 3", {{0}, {3}}, {}},
      {"R = 0 -> 5 -> 0", {{0, span * 0.25, span * 0.25 + span * 0.5 * 2}, {0, 5, 0}}, {}},
      {"no other app, log-normal answers", {{0}, {0}}, lat},
      {"R = 3, log-normal answers", {{0}, {3}}, lat},
  };
  std::printf(
      "## Field conditions: 1 org x %zu rows, rate 10/s, burst 10 (median of %u, min-max)\n\n",
      rows, reps);
  std::printf(
      "| scenario | ideal s | floor s | actual s | actual / ideal | actual / floor | run's 429s | "
      "other app's calls answered 429 |\n"
      "|---|---|---|---|---|---|---|---|\n");
  bool all_applied = true;
  for (std::size_t si = 0; si < scenarios.size(); ++si) {
    if (only > 0 && static_cast<std::size_t>(only) != si + 1) continue;
    const auto& sn = scenarios[si];
    sim::sim_config sc;
    sc.orgs = 1;
    sc.licenses_per_org = static_cast<unsigned>(std::max<std::size_t>(rows, 100));
    sc.rate = 10;
    sc.burst = 10;
    sc.ip_rate = 100;
    sc.latency = sn.latency;
    sc.latency_distribution = sim::latency_dist::lognormal;
    const double ideal = sn.background.ideal(static_cast<double>(rows) - 10, 10) +
                         std::chrono::duration<double>(sn.latency).count();
    const double floor = floor_seconds(sn.background, rows, 10, 10,
                                       std::chrono::duration<double>(sn.latency).count());
    std::vector<double> secs, ratio, to_floor, t429, bg;
    for (unsigned k = 0; k < reps; ++k) {
      // A twin per run, each with its own seed: the twin reseeds the other application's calls
      // on reset, so runs of one twin would all meet the same sequence of calls (and every
      // execution of the bench the same answer times), not independent draws.
      sc.seed = seed + k;
      sim::server twin(sc);
      twin.start();
      const auto p = make_plan(twin.orgs().front(), rows);
      const auto o = run_once(twin, p, sn, concurrency);
      all_applied = all_applied && o.all_applied;
      secs.push_back(o.seconds);
      ratio.push_back(o.seconds / ideal);
      to_floor.push_back(o.seconds / floor);
      t429.push_back(static_cast<double>(o.throttled));
      bg.push_back(o.background_429_share * 100);
    }
    const auto s = summarize(secs), q = summarize(ratio), f = summarize(to_floor),
               t = summarize(t429), b = summarize(bg);
    std::printf(
        "| %s | %.1f | %.1f | %.1f (%.1f-%.1f) | %.3f (%.3f-%.3f) | %.3f (%.3f-%.3f) | %.0f "
        "(%.0f-%.0f) | %.1f %% (%.1f-%.1f) |\n",
        sn.label, ideal, floor, s.median, s.min, s.max, q.median, q.min, q.max, f.median, f.min,
        f.max, t.median, t.min, t.max, b.median, b.min, b.max);
    std::fflush(stdout);
  }
  if (!all_applied) {
    std::fprintf(stderr, "field_bench: some rows were not applied\n");
    return 1;
  }
  return 0;
}
