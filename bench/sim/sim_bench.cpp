// Throughput of the twin with the budget off, measured with wrk issuing keep-alive PUTs
// (a Lua script cycles through licenses and devices of every org so each PUT is applied).
//   sim_bench [--quick] [--seconds S] [--connections C] [--server-threads N] [--wrk-threads N]
// Prints a one-row table; the server runs in-process, wrk in a child process.
#include "relicense/sim/server.hpp"

#include <sys/resource.h>
#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

int main(int argc, char** argv) {
  bool quick = false;
  int seconds = 10, connections = 32, server_threads = 1, wrk_threads = 1;
  for (int i = 1; i < argc; ++i) {
    auto next = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--seconds")) seconds = next();
    else if (!std::strcmp(argv[i], "--connections")) connections = next();
    else if (!std::strcmp(argv[i], "--server-threads")) server_threads = next();
    else if (!std::strcmp(argv[i], "--wrk-threads")) wrk_threads = next();
  }
  if (quick) {
    seconds = 1;
    connections = 4;
  }
  if (std::system("command -v wrk >/dev/null 2>&1") != 0) {
    std::puts("sim_bench: wrk not found, skipped");
    return 0;
  }

  relicense::sim::sim_config config;
  config.rate = 0;  // budget off: measure the server, not the limiter
  config.orgs = 3;
  config.licenses_per_org = 1000;
  config.threads = static_cast<unsigned>(server_threads);
  relicense::sim::server server(config);
  server.start();

  // The Lua script: a table of (path, body) pairs, one PUT per request, round-robin.
  char dir_template[] = "/tmp/relicense-sim-bench-XXXXXX";
  if (!::mkdtemp(dir_template)) return 1;
  const std::string dir = dir_template;
  const std::string script = dir + "/put.lua";
  {
    std::ofstream lua(script);
    lua << "local reqs = {}\n";
    for (const auto& o : server.orgs()) {
      for (std::size_t i = 0; i < o.licenses.size(); ++i) {
        lua << "reqs[#reqs+1] = {\"/api/v1/organizations/" << o.id << "/licenses/"
            << o.licenses[i].id << "\", '{\"deviceSerial\":\""
            << o.devices[(i * 7 + 3) % o.devices.size()] << "\"}'}\n";
      }
    }
    // Requests are formatted once in init(): a per-request wrk.format would make wrk, not the
    // twin, the bottleneck.
    lua << "local headers = {[\"Authorization\"] = \"Bearer " << server.api_key()
        << "\", [\"Content-Type\"] = \"application/json\"}\n"
           "local formatted = {}\n"
           "for k, r in ipairs(reqs) do formatted[k] = wrk.format(\"PUT\", r[1], headers, r[2]) "
           "end\n"
           "local i = 0\n"
           "request = function()\n"
           "  i = i % #formatted + 1\n"
           "  return formatted[i]\n"
           "end\n";
  }
  const std::string base = server.base_url();
  const std::string origin = base.substr(0, base.size() - 7);
  const std::string cmd = "wrk -t" + std::to_string(wrk_threads) + " -c" +
                          std::to_string(connections) + " -d" + std::to_string(seconds) + "s -s " +
                          script + " " + origin + " 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return 1;
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int rc = ::pclose(p);
  std::remove(script.c_str());
  ::rmdir(dir.c_str());

  double rps = 0;
  if (auto pos = out.find("Requests/sec:"); pos != std::string::npos)
    rps = std::atof(out.c_str() + pos + 13);
  const auto stats = server.stats();
  std::uint64_t non200 =
      stats.requests - (stats.by_status.count(200) ? stats.by_status.at(200) : 0);
  server.stop();

  // CPU the twin itself used: on a loaded machine req/s understates it, requests per CPU-second
  // says what one dedicated core would sustain.
  auto cpu_seconds = [](int who) {
    rusage u{};
    ::getrusage(who, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  const double server_cpu = cpu_seconds(RUSAGE_SELF);
  const double wrk_cpu = cpu_seconds(RUSAGE_CHILDREN);

  std::printf("%-28s %7s %5s %7s %10s %10s %8s %8s %12s %8s\n", "benchmark", "seconds", "conns",
              "threads", "requests", "req/s", "sim-cpu", "wrk-cpu", "req/sim-cpu-s", "non-200");
  std::printf("%-28s %7d %5d %7d %10llu %10.0f %8.2f %8.2f %12.0f %8llu\n",
              "sim PUT (budget off, wrk)", seconds, connections, server_threads,
              static_cast<unsigned long long>(stats.requests), rps, server_cpu, wrk_cpu,
              server_cpu > 0 ? static_cast<double>(stats.requests) / server_cpu : 0.0,
              static_cast<unsigned long long>(non200));
  if (rc != 0 || non200 != 0 || stats.requests == 0) {
    std::fprintf(stderr, "sim_bench: wrk failed or non-200 answers\n%s", out.c_str());
    return 1;
  }
  return 0;
}
