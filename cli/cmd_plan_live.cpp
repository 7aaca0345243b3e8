// `relicense plan FILE --live [--json] [--emit FILE]`: reads the live state of the plan's
// organizations inside the budget and prints, per organization, what the plan would change. A
// serial map is first resolved against that state into license rows (errors: file:line, exit 2);
// --emit writes those rows for review, as a CSV that apply takes. Sends no change.
#include "commands.hpp"
#include "output_paths.hpp"
#include "serial_map_input.hpp"

#include "relicense/io/text.hpp"
#include "relicense/plan/csv.hpp"
#include "relicense/plan/live.hpp"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace relicense::cli {

namespace {

int plan_error(const std::string& message) {
  std::fprintf(stderr, "relicense plan: %s\n", message.c_str());
  return exit_usage;
}

}  // namespace

int run_plan_live(const plan_options& opts, const apply_options& conn) {
  apply_options o = conn;
  o.csv = opts.csv;
  o.org = opts.org;
  o.shard = opts.shard;
  plan::load_options lo;
  if (auto why = check_run_options(o, lo); !why.empty()) return plan_error(why);
  if (auto why = check_ca_file(o.ca_file); !why.empty()) return plan_error(why);
  if (!opts.emit.empty()) {
    if (auto why = check_output_path(opts.emit, "--emit"); !why.empty()) return plan_error(why);
  }
  const char* key = std::getenv("MERAKI_DASHBOARD_API_KEY");
  if (key == nullptr || *key == '\0')
    return plan_error(
        "--live reads the API: set MERAKI_DASHBOARD_API_KEY to the Dashboard API key (it is never "
        "printed)");

  lo.accept_serial_map = true;
  const plan::load_result loaded = plan::load_plan(opts.csv, lo);
  for (const auto& d : loaded.warnings)
    std::fprintf(stderr, "warning: %s\n", plan::to_string(d).c_str());
  if (!loaded.ok()) {
    for (const auto& d : loaded.errors) std::fprintf(stderr, "%s\n", plan::to_string(d).c_str());
    if (loaded.errors_not_shown > 0)
      std::fprintf(stderr, "... and %zu more errors\n", loaded.errors_not_shown);
    return plan_error(std::to_string(loaded.error_count()) + " error" +
                      (loaded.error_count() == 1 ? "" : "s") + " in " + input_name(opts.csv) +
                      "; nothing was read or sent");
  }
  if (!opts.emit.empty() && !loaded.map)
    return plan_error("--emit writes a serial map's resolved rows; " + input_name(opts.csv) +
                      " is a license CSV");

  plan::live_options lopts;
  lopts.file = input_name(opts.csv);
  plan::inventories inv;
  plan::live_plan live;
  if (loaded.map) {
    plan::map_resolution resolved;
    if (auto code = resolve_map_input(o, key, loaded, "plan", false, resolved, inv);
        code != exit_ok)
      return code;
    if (!opts.emit.empty()) {
      try {
        io::write_file_atomically(opts.emit, plan::moves_csv(resolved));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "relicense plan: --emit %s: %s\n", opts.emit.c_str(), e.what());
        return exit_aborted;
      }
      std::fprintf(stderr, "relicense plan: %zu license row%s written to %s\n",
                   resolved.result.plan.rows.size(),
                   resolved.result.plan.rows.size() == 1 ? "" : "s", opts.emit.c_str());
    }
    // The resolution already warned about each mapping's new device.
    lopts.device_warnings = false;
    live = plan::plan_live(resolved.result.plan, inv, lopts);
  } else {
    if (auto code = read_live_state(o, key, loaded.plan.orgs, "plan", inv); code != exit_ok)
      return code;
    live = plan::plan_live(loaded.plan, inv, lopts);
  }
  const std::string out = opts.json ? plan::render_live_json(live) : plan::render_live_text(live);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return exit_ok;
}

}  // namespace relicense::cli
