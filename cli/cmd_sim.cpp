// `relicense sim`: serves the twin of the license API until SIGINT/SIGTERM.
#include "commands.hpp"

#include "relicense/sim/server.hpp"

#include <CLI/CLI.hpp>

#include <pthread.h>
#include <csignal>
#include <cstdio>
#include <string>
#include <string_view>

namespace relicense::cli {

CLI::App* add_sim_command(CLI::App& app, sim_options& o) {
  auto* sim = app.add_subcommand("sim", "Serve a local twin of the Meraki license API");
  sim->add_option("--port", o.port, "Port (0: any free port)")->capture_default_str();
  sim->add_option("--orgs", o.orgs, "Organizations")->capture_default_str();
  sim->add_option("--licenses", o.licenses, "Licenses per organization")->capture_default_str();
  sim->add_option("--rate", o.rate, "Requests/s per organization (0: no budget)")
      ->capture_default_str();
  sim->add_option("--burst", o.burst, "Burst above the per-organization rate")
      ->capture_default_str();
  sim->add_option("--ip-rate", o.ip_rate, "Requests/s per client IP")->capture_default_str();
  sim->add_option("--fault-5xx", o.fault_5xx, "Probability of a 5xx (half after applying)");
  sim->add_option("--fault-drop", o.fault_drop, "Probability of closing without a response");
  sim->add_option("--fault-slow", o.fault_slow,
                  "Probability of a response slower than a client timeout");
  sim->add_option("--fault-429", o.fault_429, "Probability of a 429 without Retry-After");
  sim->add_option("--latency-ms", o.latency_ms,
                  "Added latency per API response: the median with --latency-dist lognormal")
      ->capture_default_str();
  sim->add_option("--latency-dist", o.latency_dist,
                  "fixed: exactly --latency-ms; lognormal: median --latency-ms with a tail "
                  "(500 gives p99 1.6 s, p99.9 2.3 s, like the real API's writes)")
      ->check(CLI::IsMember({"fixed", "lognormal"}))
      ->capture_default_str();
  sim->add_flag("--redirect", o.redirect,
                "Redirect to a second shard listener, as the real API does");
  sim->add_flag("--tls", o.tls, "Serve HTTPS with a generated self-signed certificate");
  sim->add_option("--seed", o.seed, "Seed of the generated organizations")->capture_default_str();
  sim->add_option("--coterm-orgs", o.coterm_orgs,
                  "The last N organizations use co-termination: licensing.model \"co-term\", and "
                  "their license calls answer 400")
      ->capture_default_str();
  sim->add_option("--background-rate", o.background_rate,
                  "Another application's requests/s on each organization's budget, at random "
                  "(Poisson) times; its calls and 429s are in /__sim/stats")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sim->add_option("--batch-action-ms", o.batch_action_ms,
                  "Execution time per action-batch action: a batch of n actions completes n x MS "
                  "after it is created (Meraki's own example budgets about 330)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  return sim;
}

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
  config.latency_distribution =
      opts.latency_dist == "fixed" ? sim::latency_dist::fixed : sim::latency_dist::lognormal;
  config.redirect = opts.redirect;
  config.tls = opts.tls;
  config.seed = opts.seed;
  config.coterm_orgs = opts.coterm_orgs;
  config.background_rate = opts.background_rate;
  config.batch_action_ms = opts.batch_action_ms;

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

}  // namespace relicense::cli
