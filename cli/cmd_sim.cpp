// `relicense sim`: serves the twin of the license API until SIGINT/SIGTERM.
#include "commands.hpp"

#include "relicense/sim/server.hpp"

#include <csignal>
#include <cstdio>
#include <pthread.h>
#include <string>
#include <string_view>

namespace relicense::cli {

int run_sim(const sim_options& opts) {
  sim::sim_config config;
  config.port = opts.port;
  config.orgs = opts.orgs;
  config.licenses_per_org = opts.licenses;
  config.rate = opts.rate;
  config.burst = opts.burst;
  config.ip_rate = opts.ip_rate;
  config.fault_5xx = opts.fault_5xx;
  config.fault_drop = opts.fault_drop;
  config.fault_slow = opts.fault_slow;
  config.fault_429 = opts.fault_429;
  config.latency = std::chrono::milliseconds(opts.latency_ms);
  config.redirect = opts.redirect;
  config.tls = opts.tls;
  config.seed = opts.seed;

  // Block the signals before the server's threads exist so they inherit the mask and only
  // sigwait below sees SIGINT/SIGTERM.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  sim::server server(config);
  server.start();
  // The twin's own key opens only this local server, so printing it is fine (and needed).
  std::printf("%s\n%s\n", server.base_url().c_str(), server.api_key().c_str());
  if (opts.tls) std::printf("%s\n", server.ca_file().c_str());
  std::fflush(stdout);
  const std::string base = server.base_url();
  const std::string origin = base.substr(0, base.size() - std::string_view("/api/v1").size());
  std::fprintf(stderr,
               "relicense sim: %u orgs x %u licenses, serving until interrupted "
               "(stats: %s/__sim/stats)\n",
               opts.orgs, opts.licenses, origin.c_str());

  int received = 0;
  sigwait(&signals, &received);
  server.stop();
  return exit_ok;
}

} // namespace relicense::cli
