// Action-batch mode, the pure part: packing an organization's rows into asynchronous
// action batches, the per-org limit of running batches, the bisection of a failed (atomic) batch
// down to the rows the API refuses, the poll schedule, and the request body. No I/O and no Asio:
// batch_mode (batch_mode.hpp) drives these classes; the tests drive them with a fake clock.
//
// Why bisect: a batch is atomic, so one bad action (a serial outside the org, an unknown license)
// fails all its 100 actions and the API's `status.errors` does not say which action failed. The
// failed batch is split and the halves resubmitted until every failing row ran alone (and failed
// alone, with the API's own error), while every other row is applied. When the error text names a
// license id or serial of the batch, those rows are tried alone first and the rest together,
// which isolates one bad row in two batches instead of ~2·log2(100).
#pragma once

#include "relicense/engine/token_bucket.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relicense::engine {

/// Limits and pacing of batch mode; immutable for a run.
struct batch_config {
  std::size_t max_actions = 100;  ///< actions per batch (the API's maximum for asynchronous ones)
  unsigned max_running = 5;       ///< batches running at once per org (the API's limit)
  nanos first_poll = std::chrono::seconds(1);  ///< from submission to the first status poll
  nanos max_poll = std::chrono::seconds(8);    ///< cap of the growing poll interval
  double poll_growth = 1.5;                    ///< poll interval factor after each "running"
  /// Wait before submitting again after the API said too many batches are running (other
  /// applications share the org's limit); doubles on repeated refusals, up to max_poll.
  nanos busy_retry = std::chrono::seconds(1);
  /// Failed polls in a row (timeouts, 5xx, bad bodies) before the rows of a batch are reported
  /// as failed (not permanently: the journal keeps the batch id, so --resume polls it again).
  unsigned max_poll_failures = 6;
  /// Try rows named in the error text alone first (see the header comment).
  bool use_error_hints = true;
  /// Learn how long the org's batches take (per action) and put the first poll there instead of
  /// at first_poll: a poll that comes too early wastes a call of the budget, one that comes too
  /// late idles one of the 5 running slots.
  bool learn_duration = true;
  /// A batch the first poll saw finished may have finished long before: the learnt duration
  /// aims this much of the elapsed time, so that the estimate walks down to the real one.
  double first_poll_aim = 0.8;
};

/// Delay before poll number `polls_done + 1` of a batch: first_poll × growth^polls_done, capped.
nanos poll_delay(const batch_config& c, unsigned polls_done) noexcept;

/// One license update of a batch, viewing the caller's strings.
struct batch_action_ref {
  std::string_view license_id;
  std::string_view serial;  ///< empty: unassign (null)
};

/// `{"confirmed":true,"synchronous":false,"actions":[{"resource":"/organizations/{org}/licenses/
/// {id}","operation":"update","body":{"deviceSerial":"..."|null}}, ...]}`.
std::string build_batch_body(std::string_view org_id, const std::vector<batch_action_ref>& actions);

/// The API's answer when an org already runs its maximum of batches (POST 400).
bool is_too_many_batches_error(std::string_view api_error) noexcept;

/// Indices (into `actions`) of the actions whose license id or serial appears in `errors` as a
/// whole token (not inside a longer id). Used to try them alone first.
std::vector<std::size_t> suspects_in_errors(const std::vector<batch_action_ref>& actions,
                                            std::string_view errors);

/// One unit of work of an org: rows carried by one action batch.
struct batch_job {
  std::vector<std::size_t> rows;  ///< caller's row indices, in input order
  std::string id;                 ///< batch id once the API accepted it (or from the journal)
  unsigned generation = 0;        ///< 0: first packing; n: produced by the n-th split
};

/// What to tell the caller about rows after a batch's end.
struct batch_outcome {
  std::vector<std::size_t> applied;  ///< rows applied by a completed batch
  std::vector<std::size_t> failed;   ///< rows that failed alone: final, with the batch's error
  std::size_t resubmitted = 0;       ///< rows put back in the queue (split halves)
};

/// The batches of one organization: a queue of jobs to submit (split halves first, so a failing
/// batch is resolved before new work starts), jobs already submitted (resume) to poll, and the
/// count of running batches under `max_running`. Single-threaded; time comes in as arguments.
class org_batches {
public:
  explicit org_batches(const batch_config& config) : config_(config) {}

  /// Packs `rows` (in order) into jobs of at most max_actions.
  void add_rows(const std::vector<std::size_t>& rows);
  /// A batch submitted by an earlier run (journal): polled before anything new is submitted.
  void add_submitted(std::string id, std::vector<std::size_t> rows);

  /// The next job to work on, counted as running until one of the on_* calls below: a submitted
  /// one (its id set: poll it) or a new one (id empty: submit it). nullopt when the running limit
  /// is reached, the queue is empty, or the org is holding off (`ready_at`).
  std::optional<batch_job> take(steady_time now);
  /// Earliest time take() could give work after a refusal by the API (busy holdoff); `now` if
  /// none.
  steady_time ready_at(steady_time now) const noexcept;

  /// The batch completed: every row applied.
  batch_outcome on_completed(const batch_job& job);
  /// The batch failed (or its POST was refused with a 4xx naming the actions): a single row
  /// fails for good; more rows are split and requeued at the front.
  batch_outcome on_failed(const batch_job& job, std::string_view errors,
                          const std::vector<batch_action_ref>& actions);
  /// The POST was refused because the org already runs its maximum: requeue the job at the
  /// front and hold off (busy_retry, doubling up to max_poll while refusals continue).
  void on_busy(batch_job job, steady_time now);
  /// The API accepted a batch: the busy holdoff resets.
  void on_accepted() noexcept { busy_streak_ = 0; }
  /// The job's fate will not be learnt in this run (abort, interrupt, polls gave up): it stops
  /// counting as running.
  void on_abandoned(const batch_job& job) noexcept;
  /// A submitted batch vanished (404 on poll, e.g. expired): resubmit its rows as a new job.
  void on_lost(batch_job job);

  /// Drops every queued job (not the running ones) and returns their rows (e.g. abort).
  std::vector<std::size_t> drain();

  unsigned running() const noexcept { return running_; }
  std::size_t queued() const noexcept { return queue_.size() + submitted_.size(); }
  /// Nothing queued and nothing running.
  bool done() const noexcept { return running_ == 0 && queue_.empty() && submitted_.empty(); }
  /// A batch of `actions` actions was seen finished `elapsed` after its POST; `first_poll` says
  /// whether the first poll saw it (then it may have finished earlier: the estimate probes
  /// lower) or later polls did (then `elapsed` is close to the truth, plus the poll lag).
  void observe(nanos elapsed, std::size_t actions, bool first_poll) noexcept;
  /// When to poll a batch of `actions` actions first: config.first_poll until a batch was
  /// observed, then the learnt duration, within [first_poll / 4, 4 × max_poll].
  nanos first_poll_delay(std::size_t actions) const noexcept;
  /// When to poll again after poll number `polls_done` (≥ 1) found the batch still running:
  /// poll_delay() from first_poll, except once a duration is learnt: a quarter of it (within
  /// [first_poll / 4, first_poll]) growing from there, since a learnt first poll misses by little.
  nanos repoll_delay(std::size_t actions, unsigned polls_done) const noexcept;

  /// The learnt duration per action in seconds (0: nothing learnt yet).
  double per_action_s() const noexcept { return config_.learn_duration ? per_action_ns_ / 1e9 : 0; }

  /// Failed batches split so far (for metrics).
  std::uint64_t splits() const noexcept { return splits_; }

private:
  void release() noexcept;

  batch_config config_;
  std::deque<batch_job> submitted_;
  std::deque<batch_job> queue_;
  unsigned running_ = 0;
  unsigned busy_streak_ = 0;
  steady_time hold_until_{};
  std::uint64_t splits_ = 0;
  double per_action_ns_ = 0;  ///< learnt duration per action (0: nothing learnt yet)
};

}  // namespace relicense::engine
