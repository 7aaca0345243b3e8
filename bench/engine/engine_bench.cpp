// Engine benchmarks against the in-process twin:
//  1. Raw throughput, budget off: the engine applies R rows at concurrency C over plain HTTP and
//     over TLS, once through the library (engine::run, a counting sink) and once as the product
//     (`relicense apply` in a child process, writing its report and journal); wrk (if installed)
//     sends the same PUTs with the same connection count against the same twin: requests/s of
//     each, the ratios, and CPU time per request (the engine thread's; the child's whole).
//  Memory: peak RSS of `relicense apply` for R/10 and R rows, beside `relicense plan` alone.
//  2. Budget efficiency: the twin with a scaled budget (rate B/s, burst B per org); N rows in one
//     org, then spread over 5 orgs: actual vs ideal time (rows_per_org − burst)/rate, 429s.
// Each figure: median of --reps runs (min–max). `--quick` is the ctest smoke mode.
//   engine_bench [--quick] [--rows R] [--concurrency C] [--budget B] [--budget-rows N] [--reps K]
//                [--only engine|apply|throughput|budget] [--transport http|https] [--wrap CMD]
//                [--pin]
// Throughput rotates the order of the three clients from rep to rep, so that no client is always
// the one after a given other (a disk flush, a cache state). `--pin` pins the twin's thread to the
// last CPU and the clients (this thread, the apply child, wrk) to the others: steadier on an idle
// machine, but on a shared one any other job on either core then halves that side (measured:
// bench/RESULTS.md), so the scheduler places them by default.
// For profiling: `--only engine` runs the engine library alone (no apply, wrk, memory, budget);
// `--only budget` the budget-efficiency table alone;
// `--only apply` the product alone, which `--wrap` runs under CMD (a valgrind command line).
#include "relicense/engine/runner.hpp"
#include "relicense/sim/server.hpp"

#include "bench_support.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
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

/// Pins the calling thread (and the threads and processes it starts from now on) to the CPUs of
/// the mask [first, last]; false when the machine has fewer or the call fails.
bool pin_to(int first, int last) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c = first; c <= last; ++c) CPU_SET(c, &set);
  return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct engine_run {
  double seconds = 0, cpu_s = 0, sys_s = 0;  ///< CPU: user + kernel; sys_s: the kernel's part
  std::uint64_t requests = 0, throttled = 0;
  std::size_t applied = 0, rows = 0;
};

engine_run run_engine(const sim::server& twin, const plan::plan& p, double rate, double burst,
                      double ip_rate, unsigned concurrency) {
  engine::run_config c;
  c.base_url = twin.base_url();
  c.api_key = twin.api_key();
  c.rate = rate;
  c.burst = burst;
  c.ip_rate = ip_rate;
  c.concurrency = concurrency;
  c.handle_signals = false;
  if (!twin.ca_file().empty()) c.client.ca_file = twin.ca_file();
  counting_sink sink;
  const double cpu0 = thread_cpu_seconds();
  rusage ru0{};
  ::getrusage(RUSAGE_THREAD, &ru0);
  const auto r = engine::run(p, c, sink);
  engine_run out;
  out.cpu_s = thread_cpu_seconds() - cpu0;  // the runner's single thread is this one
  rusage ru1{};
  ::getrusage(RUSAGE_THREAD, &ru1);
  out.sys_s = static_cast<double>(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
              static_cast<double>(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) * 1e-6;
  out.seconds = r.elapsed_s;
  out.requests = r.counters.requests;
  out.throttled = r.counters.throttled;
  out.applied = sink.applied;
  out.rows = p.rows.size();
  return out;
}

/// Runs `args` (argv[0] a path) with `env` added, output discarded; its exit code and its own
/// rusage (CPU, peak RSS), from wait4.
struct child_run {
  int rc = -1;
  double cpu_s = 0, sys_s = 0;
  double max_rss_mb = 0;
};

child_run run_child(const std::vector<std::string>& args, const std::string& env) {
  child_run out;
  const pid_t pid = ::fork();
  if (pid < 0) return out;
  if (pid == 0) {
    ::putenv(const_cast<char*>(env.c_str()));
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  // The peak RSS is the child's VmHWM, read until it exits: wait4's ru_maxrss would include the
  // bench's own pages, which the forked child held before exec.
  int status = 0;
  rusage ru{};
  const std::string proc = "/proc/" + std::to_string(pid) + "/status";
  for (;;) {
    const pid_t done = ::wait4(pid, &status, WNOHANG, &ru);
    if (done == pid) break;
    if (done < 0) return out;
    std::ifstream st(proc);
    for (std::string line; std::getline(st, line);) {
      if (line.rfind("VmHWM:", 0) == 0)
        out.max_rss_mb = std::atof(line.c_str() + 6) / 1024.0;  // kB
    }
    ::usleep(2000);
  }
  out.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto secs = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  out.cpu_s = secs(ru.ru_utime) + secs(ru.ru_stime);
  out.sys_s = secs(ru.ru_stime);
  return out;
}

/// The plan written out as the CSV a user would give.
void write_csv(const plan::plan& p, const std::filesystem::path& path, std::size_t rows) {
  std::ofstream csv(path);
  csv << "organizationId,licenseId,deviceSerial\n";
  for (std::size_t i = 0; i < rows && i < p.rows.size(); ++i) {
    const auto& r = p.rows[i];
    csv << p.orgs[r.org] << ',' << r.license_id << ',' << r.serial << '\n';
  }
}

struct apply_run {
  engine_run e;
  double max_rss_mb = 0;   ///< peak RSS of `relicense apply`
  double plan_rss_mb = 0;  ///< peak RSS of `relicense plan` on the same CSV (the plan itself)
};

/// The whole product: `relicense apply` as a child process, writing its report and journal, on
/// the first `rows` rows of the plan written out as a CSV. Requests/s from its summary; CPU and
/// peak RSS from its rusage; `relicense plan` on the same CSV gives the plan's own footprint.
apply_run run_apply(const sim::server& twin, const plan::plan& p, unsigned concurrency,
                    std::size_t rows = std::numeric_limits<std::size_t>::max(),
                    const std::vector<std::string>& wrap = {}) {
  apply_run out;
  const auto dir =
      std::filesystem::temp_directory_path() / ("engine_bench_apply_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto csv = (dir / "plan.csv").string();
  write_csv(p, dir / "plan.csv", rows);
  // --no-inventory: the PUTs alone, as wrk sends them (the twin may hold these rows already).
  std::vector<std::string> args = wrap;
  const std::vector<std::string> own = {RELICENSE_BIN,   "apply",
                                        "--quiet",       "--no-inventory",
                                        "--rate",        "0",
                                        "--ip-rate",     "0",
                                        "--concurrency", std::to_string(concurrency),
                                        "--base-url",    twin.base_url(),
                                        "--report",      (dir / "report.csv").string(),
                                        "--summary",     (dir / "summary.json").string()};
  args.insert(args.end(), own.begin(), own.end());
  if (!twin.ca_file().empty()) {
    args.push_back("--ca-file");
    args.push_back(twin.ca_file());
  }
  args.push_back(csv);
  const std::string env = "MERAKI_DASHBOARD_API_KEY=" + twin.api_key();
  const auto c = run_child(args, env);
  out.max_rss_mb = c.max_rss_mb;
  out.e.cpu_s = c.cpu_s;
  out.e.sys_s = c.sys_s;
  std::ifstream in(dir / "summary.json");
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto number_after = [&json](const char* key) {
    const auto at = json.find(key);
    return at == std::string::npos ? 0.0 : std::atof(json.c_str() + at + std::strlen(key));
  };
  out.e.seconds = number_after("\"elapsedSeconds\": ");
  out.e.requests = static_cast<std::uint64_t>(number_after("\"requests\": "));
  out.e.applied = c.rc == 0 ? static_cast<std::size_t>(number_after("{\"applied\": ")) : 0;
  out.e.rows = std::min(rows, p.rows.size());
  out.plan_rss_mb = run_child({RELICENSE_BIN, "plan", csv}, env).max_rss_mb;
  std::filesystem::remove_all(dir);
  return out;
}

/// wrk's requests/s for the same PUTs (a Lua script cycling over the plan's rows), or 0.
struct wrk_run {
  double rps = 0;
  double cpu_us = 0, sys_us = 0;  ///< wrk's CPU per request (user + kernel), and the kernel's part
};

double seconds_of(const timeval& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
}

wrk_run run_wrk(const sim::server& twin, const plan::plan& p, unsigned connections, int seconds) {
  wrk_run out;
  if (std::system("command -v wrk >/dev/null 2>&1") != 0) return out;
  const auto dir = std::filesystem::temp_directory_path();
  const auto script = dir / ("engine_bench_" + std::to_string(::getpid()) + ".lua");
  {
    std::ofstream lua(script);
    lua << "local paths = {}\nlocal bodies = {}\n";
    const std::size_t n = std::min<std::size_t>(p.rows.size(), 2000);
    const std::string prefix = twin.base_url().substr(twin.base_url().find("/api/"));
    for (std::size_t i = 0; i < n; ++i) {
      const auto& r = p.rows[i];
      lua << "paths[" << i + 1 << "] = \"" << prefix << "/organizations/" << p.orgs[r.org]
          << "/licenses/" << r.license_id << "\"\n";
      lua << "bodies[" << i + 1 << "] = '"
          << (r.serial.empty() ? std::string("{\"deviceSerial\":null}")
                               : "{\"deviceSerial\":\"" + r.serial + "\"}")
          << "'\n";
    }
    lua << "local i = 0\n"
           "request = function()\n"
           "  i = i % #paths + 1\n"
           "  return wrk.format(\"PUT\", paths[i], {[\"Authorization\"] = \"Bearer "
        << twin.api_key()
        << "\", [\"Content-Type\"] = \"application/json\"}, bodies[i])\n"
           "end\n";
  }
  const std::string origin = twin.base_url().substr(0, twin.base_url().find("/api/"));
  const std::string cmd = "wrk -t1 -c" + std::to_string(connections) + " -d" +
                          std::to_string(seconds) + "s -s " + script.string() + " " + origin +
                          " 2>&1";
  double requests = 0;
  rusage ru0{}, ru1{};
  ::getrusage(RUSAGE_CHILDREN, &ru0);
  if (FILE* f = ::popen(cmd.c_str(), "r")) {
    char line[512];
    while (std::fgets(line, sizeof line, f)) {
      if (std::strncmp(line, "Requests/sec:", 13) == 0) out.rps = std::atof(line + 13);
      if (std::strstr(line, " requests in ")) requests = std::atof(line);
    }
    ::pclose(f);
  }
  ::getrusage(RUSAGE_CHILDREN, &ru1);  // wrk (and its shell), reaped by pclose
  if (requests > 0) {
    const double sys = seconds_of(ru1.ru_stime) - seconds_of(ru0.ru_stime);
    const double cpu = seconds_of(ru1.ru_utime) - seconds_of(ru0.ru_utime) + sys;
    out.cpu_us = cpu / requests * 1e6;
    out.sys_us = sys / requests * 1e6;
  }
  std::filesystem::remove(script);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::size_t rows = 60000, budget_rows = 4000;
  unsigned concurrency = 64, reps = 3;
  double budget = 200;
  std::string only;  // "", "engine", "apply" or "throughput"
  std::vector<bool> transports = {false, true};
  std::vector<std::string> wrap;  // the apply child runs under this command
  bool pin = false;
  const char* usage =
      "usage: engine_bench [--quick] [--rows R] [--concurrency C] [--budget B] "
      "[--budget-rows N] [--reps K] [--only engine|apply|throughput|budget] [--transport "
      "http|https] "
      "[--wrap CMD] [--pin]\n";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() { return i + 1 < argc ? std::atof(argv[++i]) : 0.0; };
    auto text = [&]() { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--help" || a == "-h") {
      std::printf("%s", usage);
      return 0;
    }
    if (a == "--quick") quick = true;
    else if (a == "--pin") pin = true;
    else if (a == "--only") only = text();
    else if (a == "--transport") transports = {text() == "https"};
    else if (a == "--wrap") {
      wrap.clear();
      std::string w = text();
      for (std::size_t at = 0; at < w.size();) {
        const std::size_t sp = std::min(w.find(' ', at), w.size());
        if (sp > at) wrap.push_back(w.substr(at, sp - at));
        at = sp + 1;
      }
    } else if (a == "--rows") rows = static_cast<std::size_t>(next());
    else if (a == "--concurrency") concurrency = static_cast<unsigned>(next());
    else if (a == "--budget") budget = next();
    else if (a == "--budget-rows") budget_rows = static_cast<std::size_t>(next());
    else if (a == "--reps") reps = static_cast<unsigned>(next());
    else {
      std::fprintf(stderr, "%s", usage);
      return 2;
    }
  }
  if (quick) {
    rows = 2000;
    budget_rows = 300;
    reps = 1;
  }
  bool all_applied = true;

  // ----- 1. throughput, budget off ---------------------------------------------------------
  const bool budget_only = only == "budget";
  if (!budget_only) {
    std::printf("## Throughput, budget off: %zu rows, concurrency %u (median of %u, min-max)\n\n",
                rows, concurrency, reps);
    std::printf(
        "| transport, client | req/s | wrk req/s | client/wrk | client CPU µs/req | of which "
        "kernel "
        "µs/req |\n|---|---|---|---|---|---|\n");
    const bool run_engine_lib = only.empty() || only == "engine" || only == "throughput";
    const bool run_product = only.empty() || only == "apply" || only == "throughput";
    const bool run_wrk_too = only.empty() || only == "throughput";
    for (bool tls : transports) {
      sim::sim_config sc;
      sc.orgs = 1;
      sc.licenses_per_org = static_cast<unsigned>(rows);
      sc.rate = 0;
      sc.tls = tls;
      sim::server twin(sc);
      const int cpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
      bool pinned = false;
      if (pin && cpus >= 2 && pin_to(cpus - 1, cpus - 1)) {
        twin.start();  // its thread inherits the last CPU
        pinned = pin_to(0, cpus - 2);
      } else {
        twin.start();
      }
      const auto p = make_plan(twin.orgs(), rows);
      if (tls == transports.front())
        std::fprintf(
            stderr, "engine_bench: %s\n",
            pinned ? "the twin pinned to the last CPU, the clients to the others" : "not pinned");
      // Each rep: the engine library, `relicense apply` and wrk, back to back, in an order that
      // rotates from rep to rep.
      std::vector<double> rps, cpu, sys, wrk_rps, wrk_cpu, wrk_sys, ratio, app_rps, app_cpu,
          app_sys, app_ratio;
      for (unsigned k = 0; k < reps; ++k) {
        double r = 0, ar = 0;
        wrk_run wr;
        for (unsigned step = 0; step < 3; ++step) {
          const unsigned which = (step + k) % 3;
          if (which == 0 && run_engine_lib) {
            const auto e = run_engine(twin, p, 0, 0, 0, concurrency);
            all_applied = all_applied && e.applied == e.rows;
            r = static_cast<double>(e.requests) / e.seconds;
            rps.push_back(r);
            const double n = static_cast<double>(std::max<std::uint64_t>(e.requests, 1));
            cpu.push_back(e.cpu_s / n * 1e6);
            sys.push_back(e.sys_s / n * 1e6);
          }
          if (which == 1 && run_product) {
            const auto x = run_apply(twin, p, concurrency, p.rows.size(), wrap).e;
            all_applied = all_applied && x.applied == x.rows;
            ar = x.seconds > 0 ? static_cast<double>(x.requests) / x.seconds : 0;
            app_rps.push_back(ar);
            const double n = static_cast<double>(std::max<std::uint64_t>(x.requests, 1));
            app_cpu.push_back(x.cpu_s / n * 1e6);
            app_sys.push_back(x.sys_s / n * 1e6);
          }
          if (which == 2 && run_wrk_too) wr = run_wrk(twin, p, concurrency, quick ? 1 : 5);
        }
        const double w = wr.rps;
        if (w > 0) {
          wrk_rps.push_back(w);
          wrk_cpu.push_back(wr.cpu_us);
          wrk_sys.push_back(wr.sys_us);
          ratio.push_back(r / w);
          app_ratio.push_back(ar / w);
        }
      }
      const auto w = summarize(wrk_rps);
      auto line = [&](const char* what, const stats3& a, const stats3& q, const stats3& c,
                      const stats3& k) {
        if (w.median > 0) {
          std::printf(
              "| %s | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.2f (%.2f-%.2f) | %.1f | %.1f |\n",
              what, a.median, a.min, a.max, w.median, w.min, w.max, q.median, q.min, q.max,
              c.median, k.median);
        } else {
          std::printf("| %s | %.0f (%.0f-%.0f) | wrk not found | - | %.1f | %.1f |\n", what,
                      a.median, a.min, a.max, c.median, k.median);
        }
      };
      if (run_engine_lib)
        line(tls ? "https, engine library" : "http, engine library", summarize(rps),
             summarize(ratio), summarize(cpu), summarize(sys));
      if (run_product)
        line(tls ? "https, relicense apply (report, journal)"
                 : "http, relicense apply (report, journal)",
             summarize(app_rps), summarize(app_ratio), summarize(app_cpu), summarize(app_sys));
      if (!wrk_rps.empty()) {
        const auto wc = summarize(wrk_cpu), ws = summarize(wrk_sys);
        std::printf("| %s, wrk -t1 | - | %.0f (%.0f-%.0f) | 1 | %.1f | %.1f |\n",
                    tls ? "https" : "http", w.median, w.min, w.max, wc.median, ws.median);
      }
      if (pinned) pin_to(0, cpus - 1);  // the twin keeps its CPU until it stops, below
    }
  }
  if (!only.empty() && !budget_only) {
    if (!all_applied) std::fprintf(stderr, "engine_bench: some rows were not applied\n");
    return all_applied ? 0 : 1;
  }

  // ----- memory: flat in the number of rows apart from the plan ------------------------------
  if (!budget_only) {
    std::printf("\n## Memory of `relicense apply` (http, budget off): peak RSS against rows\n\n");
    std::printf(
        "| rows | apply peak RSS MB | plan alone MB | apply minus plan MB |\n|---|---|---|---|\n");
    sim::sim_config sc;
    sc.orgs = 1;
    sc.licenses_per_org = static_cast<unsigned>(rows);
    sc.rate = 0;
    sim::server twin(sc);
    twin.start();
    const auto p = make_plan(twin.orgs(), rows);
    for (std::size_t n : {rows / 10, rows}) {
      const auto x = run_apply(twin, p, concurrency, n);
      all_applied = all_applied && x.e.applied == x.e.rows;
      std::printf("| %zu | %.1f | %.1f | %.1f |\n", x.e.rows, x.max_rss_mb, x.plan_rss_mb,
                  x.max_rss_mb - x.plan_rss_mb);
    }
  }

  // ----- 2. budget efficiency --------------------------------------------------------------
  std::printf("\n## Budget efficiency: rate %.0f/s, burst %.0f per org (median of %u, min-max)\n\n",
              budget, budget, reps);
  std::printf(
      "| orgs | twin faults | rows | ideal s | actual s | efficiency | 429s "
      "|\n|---|---|---|---|---|---|---|\n");
  // Clean runs, then the twin injecting 429s without Retry-After (another application eating the
  // org's budget, or per-IP throttling in front of the API) and 5xx (half applied before the
  // error).
  struct scenario {
    unsigned orgs;
    double fault_429, fault_5xx;
    const char* label;
  };
  for (const scenario sn : {scenario{1, 0, 0, "none"}, scenario{5, 0, 0, "none"},
                            scenario{1, 0.02, 0, "2% 429"}, scenario{1, 0, 0.02, "2% 5xx"}}) {
    const unsigned orgs = sn.orgs;
    sim::sim_config sc;
    sc.fault_429 = sn.fault_429;
    sc.fault_5xx = sn.fault_5xx;
    sc.orgs = orgs;
    sc.licenses_per_org = static_cast<unsigned>(budget_rows);
    sc.rate = budget;
    sc.burst = budget;
    sc.ip_rate = budget * orgs * 10;
    sim::server twin(sc);
    twin.start();
    const auto p = make_plan(twin.orgs(), budget_rows);
    const double ideal = (static_cast<double>(budget_rows) - budget) / budget;
    std::vector<double> actual, eff, t429;
    for (unsigned k = 0; k < reps; ++k) {
      twin.reset();
      const auto e = run_engine(twin, p, budget, budget, budget * orgs * 10, 0);
      all_applied = all_applied && e.applied == e.rows;
      actual.push_back(e.seconds);
      eff.push_back(ideal / e.seconds);
      t429.push_back(static_cast<double>(e.throttled));
    }
    const auto a = summarize(actual), f = summarize(eff), t = summarize(t429);
    std::printf(
        "| %u | %s | %zu | %.2f | %.2f (%.2f-%.2f) | %.3f (%.3f-%.3f) | %.0f (%.0f-%.0f) |\n", orgs,
        sn.label, p.rows.size(), ideal, a.median, a.min, a.max, f.median, f.min, f.max, t.median,
        t.min, t.max);
  }
  if (!all_applied) {
    std::fprintf(stderr, "engine_bench: some rows were not applied\n");
    return 1;
  }
  return 0;
}
