// A mode is what a run does, as a sans-I/O state machine: put (one PUT per row), batch (action
// batches), the inventory read, and the other reads. It queues its work in the scheduler, builds
// the request of each task the scheduler picks, and turns each answer into results, retries and
// stops through run_effects. It never waits, sends or reads the clock: the run loop does, and
// calls it with `now`. Tests drive a mode with a fake clock and a recording run_effects.
#pragma once

#include "relicense/engine/call.hpp"
#include "relicense/engine/runner.hpp"
#include "relicense/engine/scheduler.hpp"
#include "relicense/plan/diff.hpp"
#include "relicense/plan/plan.hpp"

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

namespace relicense::engine {

/// What a mode may ask of the run around it.
class run_effects {
public:
  virtual ~run_effects() = default;
  /// A row's final result (exactly one per row of the plan, over the whole run).
  virtual void emit(const io::row_result& r) = 0;
  /// A pause, retry or abort, for operational logs.
  virtual void event(const run_event& e) = 0;
  /// The run stops: no request leaves after this; `reason` never contains the key.
  virtual void abort(std::string reason) = 0;
  /// A side output the mode writes (the journal's batch record) failed: the run stops as an abort.
  virtual void output_failed(std::exception_ptr e) = 0;
  /// True once the run is stopping (signal, abort, sink).
  virtual bool stopping() const = 0;
  /// The run's counters (a mode counts retries and redirects by cause).
  virtual run_counters& counters() = 0;
  /// A uniform draw in [0, 1) for backoff jitter.
  virtual double jitter() = 0;
  /// Calendar time, for Retry-After dates.
  virtual wall_time wall_now() const = 0;
};

/// What every mode of a run shares: the plan, the settings, the budget, the run around it, and
/// what earlier phases learnt.
struct mode_context {
  const plan::plan& plan;
  const run_config& config;
  scheduler& sched;
  run_effects& fx;
  /// The inventory diff (empty unless inventories were read: --skip-unchanged).
  const plan::plan_diff& diff;
  /// Per organization: why it takes no calls ("" when it does); its rows fail unsent.
  const std::vector<std::string>& refused;
};

/// The task ids of one mode when two share a run (the hybrid mode's put and batch channels): its
/// tasks carry `tag` in the bits of `mask`, so that the scheduler's queues can hold both. A mode
/// alone has {0, 0}.
struct task_channel {
  task_id mask = 0;
  task_id tag = 0;
  task_id mark(task_id t) const noexcept { return t | tag; }
  task_id strip(task_id t) const noexcept { return t & ~mask; }
};

/// A retry verdict's bookkeeping, the same in every mode: counted by cause, and a 429 with
/// Retry-After pauses the organization's budget and is logged.
void note_retry(const mode_context& ctx, std::size_t org, const verdict& v, steady_time now);

/// The budget's part of every answer of a read: a 2xx lets the org's rate recover, and a retry
/// verdict is counted (note_retry) and its task queued again after the delay. True when `v` was a
/// retry: the mode has nothing more to do with the answer.
bool requeue_if_retry(const mode_context& ctx, std::size_t org, task_id t, const verdict& v,
                      steady_time now);

class mode {
public:
  virtual ~mode() = default;
  /// Queues the mode's work in the scheduler, or finishes rows that need no request (already done,
  /// unchanged, dry run, stopped). Called once, before any request.
  virtual void start(steady_time now) = 0;
  /// Workers (concurrent calls) the mode can keep busy once started.
  virtual unsigned workers() const = 0;
  /// The request of a task the scheduler picked for `org`.
  virtual request request_for(std::size_t org, task_id t, steady_time now) = 0;
  /// The answer to that request (or `a.not_sent` when the run stopped first).
  virtual void on_answer(std::size_t org, task_id t, const answer& a, io::response_parser& parser,
                         steady_time now) = 0;
  /// Called before the scheduler is asked for work: a mode may queue work whose time came.
  virtual void tick(steady_time) {}
  /// When work not yet in the scheduler may become due (a batch holdoff); max() for none.
  virtual steady_time wake_at(steady_time) const { return steady_time::max(); }
  /// The mode is finished or the run stopped: every row still held gets its result.
  virtual void finish_remaining() = 0;
  /// The concurrency reported in run_result (default: workers()).
  virtual unsigned concurrency() const { return workers(); }
};

/// What a worker of the run loop does next.
struct next_work {
  enum class kind : std::uint8_t {
    task,  ///< send `pick.task` of `pick.org` (its tokens are taken)
    wait,  ///< sleep until `until` (or until new work wakes the workers)
    end    ///< the mode is done (nothing queued, in flight or expected) or the run stops
  };
  kind what = kind::wait;
  scheduler::pick pick;
  steady_time until = steady_time::max();
};

/// The worker's choice at `now`: the mode queues what came due (tick), then the scheduler picks;
/// with nothing to pick, the worker waits for the next token, due task or mode wake-up, or ends
/// when nothing is queued, nothing is in flight (`in_flight`) and the mode expects nothing.
next_work choose_work(scheduler& sched, mode& m, steady_time now, bool stopping,
                      std::size_t in_flight);

}  // namespace relicense::engine
