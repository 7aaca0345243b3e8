// The live state on the command line: reading it for a plan's organizations (`plan --live`), and
// turning a serial map into license rows against it (`plan map.csv --live`, `apply map.csv`).
#pragma once

#include "commands.hpp"

#include "relicense/engine/runner.hpp"
#include "relicense/plan/csv.hpp"
#include "relicense/plan/diff.hpp"
#include "relicense/plan/serial_map.hpp"

#include <string>
#include <vector>

namespace relicense::cli {

/// Reads the live state of `orgs` inside the budget. Organizations that could not be read are
/// named on stderr. Returns exit_ok, or the exit code of a run that could not finish (aborted:
/// 3, interrupted: 130) after saying why; `command` names the messages ("plan", "apply").
/// `cost`, when given, receives the read's calls and 429s.
int read_live_state(const apply_options& o, const char* key, const std::vector<std::string>& orgs,
                    const char* command, plan::inventories& out,
                    engine::run_counters* cost = nullptr);

/// Reads the live state of `map_load`'s organizations and resolves its serial map into license
/// rows (`out`). Prints the resolution's warnings (unless `quiet`) and errors. Returns exit_ok,
/// exit_usage when the map does not resolve (file:line errors; no change was sent), or the exit
/// code of a read that could not finish.
int resolve_map_input(const apply_options& o, const char* key, const plan::load_result& map_load,
                      const char* command, bool quiet, plan::map_resolution& out,
                      plan::inventories& inv, engine::run_counters* cost = nullptr);

/// `relicense apply map.csv`: resolves the map against the live state, then applies the resolved
/// rows as apply applies a CSV (the inventory read first, so the report records each license's
/// previous device and rollback can undo the run). --resume is refused: the resolved rows share
/// their mapping's line, which the journal keys on.
int apply_serial_map(const apply_options& o, const plan::load_result& map_load);

}  // namespace relicense::cli
