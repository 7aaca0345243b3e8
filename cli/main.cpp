// relicense: argument parsing and dispatch only; every subcommand's work lives in the libraries.
#include "commands.hpp"

#include "relicense/io/user_agent.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace relicense::cli {

namespace {

constexpr const char* exit_codes_help =
    "Exit codes:\n"
    "  0    every row applied or already in place\n"
    "  1    some rows failed (the report says which)\n"
    "  2    bad usage or bad input; nothing was sent\n"
    "  3    run aborted (401/403, TLS failure, host unreachable, write error on an output file)\n"
    "  130  interrupted; the journal allows --resume\n";

/// The options of `apply` beyond the connection's, which `retry` takes too.
void add_apply_options(CLI::App* apply, apply_options& apply_o) {
  add_connection_options(*apply, apply_o);
  apply->add_option("--concurrency", apply_o.concurrency, "Worker connections (0: automatic)")
      ->capture_default_str();
  apply->add_option("--progress", apply_o.progress, "Progress on stderr: auto|on|off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  apply->add_flag("--quiet", apply_o.quiet, "No progress, only errors and the summary");
  apply->add_option("--report", apply_o.report, "Report file (.csv or .jsonl; -: standard output)");
  apply
      ->add_option("--report-format", apply_o.report_format,
                   "Report format when the name does not say: csv|jsonl")
      ->check(CLI::IsMember({"csv", "jsonl"}));
  apply->add_option("--summary", apply_o.summary, "Summary JSON file");
  apply->add_option("--metrics", apply_o.metrics, "Prometheus textfile metrics");
  apply->add_option("--log-file", apply_o.log_file,
                    "Append timestamped lines of what the run did (never the key)");
  apply->add_flag("-v,--verbose", apply_o.verbose, "The --log-file lines on stderr too");
  apply->add_option("--journal", apply_o.journal, "Journal file (crash-safe progress)");
  apply->add_flag("--resume", apply_o.resume, "Skip rows the journal shows as done");
  apply->add_flag("--dry-run", apply_o.dry_run, "Plan (and diff) but send no PUT");
  apply->add_flag("--yes", apply_o.yes, "Do not ask for confirmation on a terminal");
  auto* no_inventory = apply->add_flag(
      "--no-inventory", apply_o.no_inventory,
      "Do not read the inventory first: send every row, record no previous serial (no rollback)");
  apply
      ->add_flag("--skip-unchanged", apply_o.skip_unchanged,
                 "Accepted for compatibility: the inventory is read first by default")
      ->excludes(no_inventory);
  apply->add_option(
      "--limit", apply_o.limit,
      "Apply only the first N changes (a canary run); the rest are left for --resume");
  apply
      ->add_option("--mode", apply_o.mode,
                   "put: one PUT per row; batch: action batches; auto: batches and PUTs at once")
      ->check(CLI::IsMember({"put", "batch", "auto"}))
      ->capture_default_str();
}

/// `relicense x` where x is no subcommand: says so and lists them (CLI11 would only say that an
/// argument was not expected).
bool unknown_command(const CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return false;
  const std::string name = argv[1];
  std::string names;
  bool known = false;
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    known = known || sub->get_name() == name;
    std::string line = "  " + sub->get_name();
    line.resize(std::max<std::size_t>(line.size() + 1, 12), ' ');
    names += line + sub->get_description() + "\n";
  }
  if (known) return false;
  std::fprintf(stderr, "relicense: unknown command '%s'\ncommands:\n%sSee relicense --help.\n",
               name.c_str(), names.c_str());
  return true;
}

/// An apply option given to verify gets a message that says so, rather than CLI11's "not expected".
void explain_unused_options(const CLI::App& app, const CLI::App& verify, const CLI::App& apply) {
  std::vector<std::string> extras = app.remaining();
  const auto more = verify.remaining();
  extras.insert(extras.end(), more.begin(), more.end());
  for (const auto& arg : extras) {
    if (arg.rfind("--", 0) != 0) continue;
    const std::string name = arg.substr(0, arg.find('='));
    if (apply.get_option_no_throw(name) != nullptr)
      std::fprintf(stderr, "relicense verify: %s is an apply option; verify does not use it\n",
                   name.c_str());
  }
}

/// --caller, else RELICENSE_CALLER; checked here so that a bad one is exit 2 naming its source.
bool resolve_caller(const CLI::App& cmd, apply_options& o) {
  const bool from_flag = cmd.count("--caller") > 0;
  if (!from_flag) {
    const char* env = std::getenv("RELICENSE_CALLER");
    if (env == nullptr || *env == '\0') return true;
    o.caller = env;
  }
  if (auto why = relicense::io::caller_problem(o.caller); !why.empty()) {
    std::fprintf(stderr, "relicense %s: %s %s\n", cmd.get_name().c_str(),
                 from_flag ? "--caller" : "RELICENSE_CALLER", why.c_str());
    return false;
  }
  return true;
}

}  // namespace
}  // namespace relicense::cli

int main(int argc, char** argv) {
  using namespace relicense::cli;
  CLI::App app{
      "relicense: reassign Cisco Meraki licenses in bulk, inside the Dashboard API budget.\n"
      "The API key is read from MERAKI_DASHBOARD_API_KEY.",
      "relicense"};
  app.set_version_flag("--version", std::string("relicense ") + relicense::io::relicense_version());
  app.require_subcommand(1);
  app.footer(
      std::string(
          "A CSV argument of - reads standard input; --report - writes the report to standard "
          "output.\n\n") +
      exit_codes_help);

  plan_options plan_o;
  auto* plan = app.add_subcommand("plan",
                                  "Validate a CSV or serial map and print the plan (--live: "
                                  "against the live state; changes nothing)");
  plan->add_option("CSV", plan_o.csv, "Input CSV (-: standard input)")->required();
  plan->add_option("--org", plan_o.org,
                   "Organization id (required when the CSV has no organizationId column)");
  plan->add_option("--shard", plan_o.shard, "Only organizations in shard K of N (K/N)");
  apply_options plan_conn;
  plan->add_flag("--live", plan_o.live,
                 "Compare with the live state: read each organization inside the budget");
  plan->add_flag("--json", plan_o.json, "With --live: the live plan as one JSON document");
  plan->add_option("--emit", plan_o.emit,
                   "With --live and a serial map: write its resolved license rows (CSV)");
  add_connection_options(*plan, plan_conn, {.org_and_shard = false});

  apply_options apply_o;
  auto* apply = app.add_subcommand("apply", "Apply a CSV's license assignments");
  apply->add_option("CSV", apply_o.csv, "Input CSV (-: standard input)")->required();
  add_apply_options(apply, apply_o);

  apply_options verify_o;
  auto* verify =
      app.add_subcommand("verify", "Check that every row's license is on the requested serial");
  verify->add_option("CSV", verify_o.csv, "Input CSV (-: standard input)")->required();
  add_connection_options(*verify, verify_o);
  verify->add_option("--log-file", verify_o.log_file,
                     "Append timestamped lines of what the run did (never the key)");
  verify->add_flag("-v,--verbose", verify_o.verbose, "The --log-file lines on stderr too");

  rollback_options rollback_o;
  auto* rollback = app.add_subcommand("rollback", "Write the CSV that undoes a run's applied rows");
  rollback->add_option("REPORT", rollback_o.report, "Report of the run to undo")->required();
  rollback->add_option("--output", rollback_o.output, "CSV to write")->required();

  apply_options retry_o;
  auto* retry = app.add_subcommand(
      "retry", "Apply the failed rows of a run's report again (apply's options)");
  retry->add_option("REPORT", retry_o.csv, "Report of the run (.csv or .jsonl)")->required();
  add_apply_options(retry, retry_o);

  discovery_options orgs_o;
  auto* orgs = add_orgs_command(app, orgs_o);
  discovery_options licenses_o;
  auto* licenses = add_licenses_command(app, licenses_o);

  sim_options sim_o;
  auto* sim = add_sim_command(app, sim_o);

  auto* demo = app.add_subcommand("demo", "Run a whole migration against the built-in twin");

  if (unknown_command(app, argc, argv)) return exit_usage;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (verify->parsed()) explain_unused_options(app, *verify, *apply);
    // --help and --version exit 0; every other parse failure is a usage error (exit 2).
    return app.exit(e) == 0 ? exit_ok : exit_usage;
  }
  if (*apply && !resolve_caller(*apply, apply_o)) return exit_usage;
  if (*plan && plan_o.live && !resolve_caller(*plan, plan_conn)) return exit_usage;
  if (*verify && !resolve_caller(*verify, verify_o)) return exit_usage;
  if (*retry && !resolve_caller(*retry, retry_o)) return exit_usage;
  if (*orgs && !resolve_caller(*orgs, orgs_o.connection)) return exit_usage;
  if (*licenses && !resolve_caller(*licenses, licenses_o.connection)) return exit_usage;

  try {
    if (*plan && plan_o.live) return run_plan_live(plan_o, plan_conn);
    if (*plan) {
      // The connection options only mean something to a plan that reads the API.
      for (const char* name : {"--base-url", "--rate", "--burst", "--ip-rate", "--max-attempts",
                               "--timeout", "--ca-file", "--proxy", "--no-proxy", "--caller"}) {
        if (plan->count(name) > 0) {
          std::fprintf(
              stderr,
              "relicense plan: %s needs --live (without it, plan reads nothing from the API)\n",
              name);
          return exit_usage;
        }
      }
      if (plan_o.json || !plan_o.emit.empty()) {
        std::fprintf(
            stderr,
            "relicense plan: --json and --emit need --live (they describe the live state)\n");
        return exit_usage;
      }
      return run_plan(plan_o);
    }
    if (*apply) return run_apply(apply_o);
    if (*verify) return run_verify(verify_o);
    if (*rollback) return run_rollback(rollback_o);
    if (*retry) return run_retry(retry_o);
    if (*orgs) return run_orgs(orgs_o);
    if (*licenses) return run_licenses(licenses_o);
    if (*sim) return run_sim(sim_o);
    if (*demo) return run_demo();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "relicense: %s\n", e.what());
    return exit_aborted;
  }
  return exit_usage;
}
