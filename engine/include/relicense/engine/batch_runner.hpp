// Action-batch mode, the driver: `relicense apply --mode batch`. Same inputs and outputs
// as engine::run() (run_config, result_sink, run_result), so the CLI switches modes with one call:
// each org's rows go out as asynchronous action batches of up to 100 license updates, at most 5
// running per org, polled with a growing interval; every POST and poll is taken from the same
// per-org and per-IP token buckets as put mode and goes through the same retry decision (429s
// pause the org's bucket). A failed batch is bisected (batch.hpp). Asio lives in the .cpp only.
#pragma once

#include "relicense/engine/batch.hpp"
#include "relicense/engine/runner.hpp"
#include "relicense/io/journal.hpp"

#include <functional>
#include <vector>

namespace relicense::engine {

/// What batch mode needs beyond run_config.
struct batch_run_options {
  batch_config batch;
  /// Batches an earlier run had submitted (io::journal_contents::batches, for --resume): a row
  /// not yet done whose line is in one of them is polled there (the last batch naming a line
  /// wins), not sent again. A batch the API no longer knows (404) is resubmitted.
  std::vector<io::journal_batch> resumed;
  /// Called once the API accepted a batch, before its first poll: the journal records it here
  /// (io::journal_writer::append_batch) so that a crash never loses a batch in flight.
  std::function<void(const io::journal_batch&)> on_batch_accepted;
};

/// Runs the plan in batch mode on the calling thread until every row has a result, exactly one
/// per row, handed to `sink` (row_result::batch_id names the batch that applied or refused it).
/// Applied rows carry the HTTP status of the call that saw the batch complete; a row whose
/// single-action batch failed carries 400 (the API refused that action: a permanent failure, as
/// put mode's 4xx) and the batch's errors. Honours run_config's dry_run, skip_unchanged (via
/// fetch_inventories), already_done, handle_signals and drain_timeout; `concurrency` is unused
/// (batch_config::max_running per org sets the parallelism). Throws std::runtime_error on setup
/// failures (bad base URL, unreadable CA file).
run_result run_batches(const plan::plan& p, const run_config& config,
                       const batch_run_options& options, result_sink& sink);

/// Runs the plan in hybrid mode (`--mode auto`, hybrid_mode.hpp): action batches and single
/// PUTs at once in each organization's budget, the rows split between them as the batches' speed
/// is learnt. Same contract as run_batches(); a row applied by a PUT has no batch_id.
run_result run_hybrid(const plan::plan& p, const run_config& config,
                      const batch_run_options& options, result_sink& sink);

}  // namespace relicense::engine
