#include "serial_map_input.hpp"

#include "output_paths.hpp"

#include "relicense/engine/live_read.hpp"
#include "relicense/io/user_agent.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace relicense::cli {

int read_live_state(const apply_options& o, const char* key, const std::vector<std::string>& orgs,
                    const char* command, plan::inventories& out, engine::run_counters* cost) {
  auto read = engine::read_live(orgs, read_config(o, key));
  if (cost) *cost = read.counters;
  if (read.status == engine::run_status::aborted) {
    std::fprintf(stderr, "relicense %s: reading the live state aborted: %s\n", command,
                 read.abort_reason.c_str());
    return exit_aborted;
  }
  if (read.status == engine::run_status::interrupted) {
    std::fprintf(stderr,
                 "relicense %s: interrupted while reading the live state; nothing was changed\n",
                 command);
    return exit_interrupted;
  }
  for (const auto& [org, why] : read.errors)
    std::fprintf(stderr, "relicense %s: organization %s: %s\n", command, org.c_str(), why.c_str());
  out = std::move(read.inventories);
  return exit_ok;
}

int resolve_map_input(const apply_options& o, const char* key, const plan::load_result& map_load,
                      const char* command, bool quiet, plan::map_resolution& out,
                      plan::inventories& inv, engine::run_counters* cost) {
  if (auto code = read_live_state(o, key, map_load.map->orgs, command, inv, cost); code != exit_ok)
    return code;
  out = plan::resolve_serial_map(*map_load.map, inv);
  const auto& r = out.result;
  if (!quiet) {
    for (const auto& d : r.warnings)
      std::fprintf(stderr, "warning: %s\n", plan::to_string(d).c_str());
    if (r.warnings_not_shown > 0)
      std::fprintf(stderr, "warning: ... and %zu more warnings\n", r.warnings_not_shown);
  }
  if (!out.ok()) {
    for (const auto& d : r.errors) std::fprintf(stderr, "%s\n", plan::to_string(d).c_str());
    if (r.errors_not_shown > 0)
      std::fprintf(stderr, "... and %zu more errors\n", r.errors_not_shown);
    std::fprintf(
        stderr,
        "relicense %s: %zu error%s resolving %s against the live inventory; no change was sent\n",
        command, r.error_count(), r.error_count() == 1 ? "" : "s", input_name(o.csv).c_str());
    return exit_usage;
  }
  return exit_ok;
}

int apply_serial_map(const apply_options& o, const plan::load_result& map_load) {
  if (o.resume) {
    std::fprintf(stderr,
                 "relicense apply: --resume does not take a serial map (its license rows are only "
                 "known against "
                 "the live inventory, which the first run changed); write them with `relicense "
                 "plan %s --live "
                 "--emit moves.csv`, then apply (and resume) moves.csv\n",
                 input_name(o.csv).c_str());
    return exit_usage;
  }
  const char* key = std::getenv("MERAKI_DASHBOARD_API_KEY");
  if (key == nullptr || *key == '\0') {
    std::fprintf(stderr,
                 "relicense apply: set MERAKI_DASHBOARD_API_KEY to the Dashboard API key (it is "
                 "never printed)\n");
    return exit_usage;
  }
  if (auto why = check_ca_file(o.ca_file); !why.empty()) {
    std::fprintf(stderr, "relicense apply: %s\n", why.c_str());
    return exit_usage;
  }
  plan::map_resolution resolved;
  plan::inventories inv;
  engine::run_counters read_cost;
  if (auto code = resolve_map_input(o, key, map_load, "apply", o.quiet, resolved, inv, &read_cost);
      code != exit_ok)
    return code;

  std::error_code ec;
  given_plan given;
  given.loaded = &resolved.result;
  given.source = input_name(o.csv);
  given.report_base = o.csv == "-"                                  ? "stdin"
                      : std::filesystem::is_regular_file(o.csv, ec) ? o.csv
                                                                    : "input";
  given.command = "apply";
  given.requests_before = read_cost.requests;
  given.throttled_before = read_cost.throttled;
  // The inventory read before the changes records each license's previous device in the report.
  apply_options with_inventory = o;
  with_inventory.skip_unchanged = true;
  return run_apply(with_inventory, &given);
}

}  // namespace relicense::cli
