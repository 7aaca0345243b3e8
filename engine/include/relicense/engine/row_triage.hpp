// What every mode decides about a row before anything is sent, and how a row's result is
// assembled. Pure.
#pragma once

#include "relicense/engine/runner.hpp"
#include "relicense/io/row_result.hpp"
#include "relicense/plan/diff.hpp"
#include "relicense/plan/plan.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relicense::engine {

/// What becomes of a row before anything is sent: queue it (`send`), report the result an
/// earlier run's journal holds (`done`), or finish it unsent with `outcome` and `error`.
struct pre_send {
  bool send = true;
  const io::row_result* done = nullptr;
  io::outcome outcome = io::outcome::unchanged;
  std::string error;
};

/// Row `i` of the plan, in this order: an earlier run's result (--resume), the inventory diff
/// (unchanged, unknown license), an organization that takes no calls (`refused`, per org), the
/// run's limit (`changes` counts the rows that reached it so far, so the caller triages rows in
/// plan order with one counter; beyond config.limit a row ends not_attempted), a dry run
/// (`dry_run_note` is added when there is no diff to say what would change), a stopped run.
pre_send triage(const plan::plan& p, const run_config& config, const plan::plan_diff& diff,
                const std::vector<std::string>& refused, std::size_t i, bool stopping,
                std::string_view dry_run_note, std::uint64_t& changes);

/// The previous serial of row `i` as the inventory diff saw it (nullopt without a diff).
std::optional<std::string> previous_of(const plan::plan_diff& diff, std::size_t i);

/// The result of row `i` with its plan fields filled in.
io::row_result result_of(const plan::plan& p, const plan::plan_diff& diff, std::size_t i,
                         io::outcome o);

}  // namespace relicense::engine
