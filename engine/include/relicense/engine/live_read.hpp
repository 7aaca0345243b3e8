// The live state of organizations, read inside a run's budget: what `plan --live` compares a plan
// with and what a serial map is resolved against.
#pragma once

#include "relicense/engine/runner.hpp"
#include "relicense/plan/diff.hpp"

#include <map>
#include <string>
#include <vector>

namespace relicense::engine {

/// What a live read learnt.
struct live_read_result {
  /// Organizations read whole: license records (inventory::add), devices and licensing model. An
  /// org without per-device licensing has its model and nothing else.
  plan::inventories inventories;
  std::map<std::string, std::string> errors;  ///< org id -> why it could not be read
  run_status status = run_status::completed;  ///< aborted: bad key, TLS, unreachable
  std::string abort_reason;                   ///< never contains the key
  run_counters counters;
};

/// Reads each of `orgs` (GET /organizations/{org}, its licenses and its device inventory, pages
/// and redirects followed) inside `config`'s budgets, on the calling thread. `config`'s
/// concurrency, dry_run and skip_unchanged are ignored. Throws std::runtime_error on setup
/// failures (bad base URL, unreadable CA file), as run() does.
live_read_result read_live(const std::vector<std::string>& orgs, const run_config& config);

}  // namespace relicense::engine
