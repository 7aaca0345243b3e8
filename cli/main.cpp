// relicense: argument parsing and dispatch only; every subcommand's work lives in the libraries.
#include "commands.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

namespace relicense::cli {

int not_yet(const char* what, int issue) {
  std::fprintf(stderr, "relicense: %s is not available yet (issue #%d)\n", what, issue);
  return exit_usage;
}

namespace {

void add_connection_options(CLI::App& cmd, apply_options& o) {
  cmd.add_option("--org", o.org, "Organization id (required when the CSV has no organizationId column)");
  cmd.add_option("--base-url", o.base_url, "Dashboard API base URL")->capture_default_str();
  cmd.add_option("--rate", o.rate, "Requests per second per organization")->capture_default_str();
  cmd.add_option("--burst", o.burst, "Burst above the per-organization rate")->capture_default_str();
  cmd.add_option("--ip-rate", o.ip_rate, "Requests per second for this source IP")->capture_default_str();
  cmd.add_option("--concurrency", o.concurrency, "Worker connections (0: automatic)")->capture_default_str();
  cmd.add_option("--max-attempts", o.max_attempts, "Attempts per row for retryable failures")->capture_default_str();
  cmd.add_option("--timeout", o.timeout, "Seconds per request")->capture_default_str();
  cmd.add_option("--shard", o.shard, "Only organizations in shard K of N (K/N)");
  cmd.add_option("--ca-file", o.ca_file, "PEM file of a private CA to trust (verification stays on)");
  auto* proxy = cmd.add_option("--proxy", o.proxy,
                               "HTTP proxy URL http://[user:password@]host[:port] (default: HTTPS_PROXY, "
                               "ALL_PROXY; NO_PROXY applies)");
  cmd.add_flag("--no-proxy", o.no_proxy, "Connect directly, ignoring *_proxy variables")->excludes(proxy);
  cmd.add_option("--progress", o.progress, "Progress on stderr: auto|on|off")
      ->check(CLI::IsMember({"auto", "on", "off"}))->capture_default_str();
  cmd.add_flag("--quiet", o.quiet, "No progress, only errors and the summary");
}

} // namespace
} // namespace relicense::cli

int main(int argc, char** argv) {
  using namespace relicense::cli;
  CLI::App app{"relicense: reassign Cisco Meraki licenses in bulk, inside the Dashboard API budget.\n"
               "The API key is read from MERAKI_DASHBOARD_API_KEY.",
               "relicense"};
  app.set_version_flag("--version", std::string("relicense ") + RELICENSE_VERSION);
  app.require_subcommand(1);

  plan_options plan_o;
  auto* plan = app.add_subcommand("plan", "Validate a CSV and print the plan's summary (sends nothing)");
  plan->add_option("CSV", plan_o.csv, "Input CSV")->required();
  plan->add_option("--org", plan_o.org, "Organization id (required when the CSV has no organizationId column)");
  plan->add_option("--shard", plan_o.shard, "Only organizations in shard K of N (K/N)");

  apply_options apply_o;
  auto* apply = app.add_subcommand("apply", "Apply a CSV's license assignments");
  apply->add_option("CSV", apply_o.csv, "Input CSV")->required();
  add_connection_options(*apply, apply_o);
  apply->add_option("--report", apply_o.report, "Report file (.csv or .jsonl)");
  apply->add_option("--summary", apply_o.summary, "Summary JSON file");
  apply->add_option("--metrics", apply_o.metrics, "Prometheus textfile metrics");
  apply->add_option("--journal", apply_o.journal, "Journal file (crash-safe progress)");
  apply->add_flag("--resume", apply_o.resume, "Skip rows the journal shows as done");
  apply->add_flag("--dry-run", apply_o.dry_run, "Plan (and diff) but send no PUT");
  apply->add_flag("--skip-unchanged", apply_o.skip_unchanged, "Fetch inventories first; send only changes");
  apply->add_option("--mode", apply_o.mode, "put: one PUT per row; batch: action batches")
      ->check(CLI::IsMember({"put", "batch"}))->capture_default_str();

  apply_options verify_o;
  auto* verify = app.add_subcommand("verify", "Check that every row's license is on the requested serial");
  verify->add_option("CSV", verify_o.csv, "Input CSV")->required();
  add_connection_options(*verify, verify_o);

  rollback_options rollback_o;
  auto* rollback = app.add_subcommand("rollback", "Write the CSV that undoes a run's applied rows");
  rollback->add_option("REPORT", rollback_o.report, "Report of the run to undo")->required();
  rollback->add_option("--output", rollback_o.output, "CSV to write")->required();

  sim_options sim_o;
  auto* sim = add_sim_command(app, sim_o);

  auto* demo = app.add_subcommand("demo", "Run a whole migration against the built-in twin");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every other parse failure is a usage error (exit 2).
    return app.exit(e) == 0 ? exit_ok : exit_usage;
  }

  try {
    if (*plan) return run_plan(plan_o);
    if (*apply) return run_apply(apply_o);
    if (*verify) return run_verify(verify_o);
    if (*rollback) return run_rollback(rollback_o);
    if (*sim) return run_sim(sim_o);
    if (*demo) return run_demo();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "relicense: %s\n", e.what());
    return exit_aborted;
  }
  return exit_usage;
}
