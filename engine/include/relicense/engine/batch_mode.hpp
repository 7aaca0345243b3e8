// Batch mode: each organization's rows go out as asynchronous action batches
// (ops/action_batch.hpp), at most batch_config::max_running per org, polled with a growing
// interval; a failed batch is bisected (batch.hpp). The mode holds each batch's next poll until it
// is due; when several of an org's batches are to be polled about then, one list of the org's
// batches still running answers for all of them (poll_sharing), and only those missing from it
// (finished) are polled alone for their outcome. Sans-I/O: see mode.hpp.
#pragma once

#include "relicense/engine/batch_runner.hpp"
#include "relicense/engine/mode.hpp"
#include "relicense/engine/slot_pool.hpp"

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace relicense::engine {

/// Times the polls of batch mode's batches and hears what each poll found, for a mode that learns
/// the batches' speed itself (hybrid mode); without one, org_batches learns and times them.
class batch_pacer {
public:
  virtual ~batch_pacer() = default;
  /// From the POST to the first poll of a batch of `actions` actions of `org`.
  virtual nanos first_poll(std::size_t org, std::size_t actions) = 0;
  /// A poll found the batch `done` or still running `elapsed` after its POST.
  virtual void polled(std::size_t org, std::size_t actions, nanos elapsed, bool done) = 0;
  /// After a poll that found it running: the wait for the next poll.
  virtual nanos next_poll(std::size_t org, std::size_t actions, nanos elapsed) = 0;
};

/// When one GET .../actionBatches?status=pending serves the polls of several of an org's batches.
/// It costs one call, and a batch missing from it (finished) its own poll afterwards, which it
/// would have needed anyway: the list saves a call per batch it finds running, minus its own.
struct poll_share_config {
  bool enabled = true;
  /// Batches whose polls one list answers for, at least.
  std::size_t min_batches = 2;
  /// The batches the list is expected to find running (by the org's earlier polls), at least:
  /// with fewer, polls that find batches finished would cost the list on top.
  double min_running = 1.5;
  /// A poll due this soon (from the moment a poll is due) joins the list.
  nanos window = std::chrono::milliseconds(100);
  /// A poll also joins when it is due within this share of its own wait (the list pulls it
  /// forward; its next poll is then timed from the list's answer).
  double pull = 0.5;
  /// Lists that said nothing readable in a row before the org's batches are polled alone.
  unsigned max_failures = 3;
};

/// A batch of an org that holds a running slot, as a mode that sizes batches sees it.
struct running_batch {
  std::size_t actions = 0;
  steady_time submitted{};  ///< when its POST went out
  bool posted = false;      ///< its POST was answered by this run (submitted is its start)
  bool found_done = false;  ///< a list found it finished; its own poll tells the outcome
};

/// One batch's next poll, held by the mode until due.
struct held_poll {
  steady_time due;    ///< when its own poll goes
  steady_time since;  ///< when the wait for it began (its POST's or last poll's answer)
};

/// What an org's polls found so far: batches running, batches done.
struct poll_tally {
  std::uint64_t running = 0;
  std::uint64_t done = 0;
  /// The share of polls that found a batch running; 0 while no poll did (until then, a list
  /// could only cost a call on top of the polls of batches it finds finished).
  double running_share() const noexcept {
    return running == 0 ? 0 : static_cast<double>(running) / static_cast<double>(running + done);
  }
};

/// Which of an org's held polls one list at `now` answers for (indices into `held`): the due
/// ones, and those due within max(window, pull × their wait) from now. Empty (each due poll goes
/// alone) when none is due, fewer than min_batches join, or the list would not be expected to
/// find min_running of them running.
std::vector<std::size_t> poll_sharing(const std::vector<held_poll>& held, steady_time now,
                                      const poll_tally& tally, const poll_share_config& c = {});

class batch_mode final : public mode {
public:
  batch_mode(const mode_context& ctx, const batch_run_options& options, task_channel channel = {});

  void start(steady_time now) override;
  unsigned workers() const override;
  request request_for(std::size_t org, task_id t, steady_time now) override;
  void on_answer(std::size_t org, task_id t, const answer& a, io::response_parser& parser,
                 steady_time now) override;
  void tick(steady_time now) override;
  steady_time wake_at(steady_time now) const override;
  void finish_remaining() override;

  /// start() for a mode that hands rows out itself: batches of an earlier run are queued for
  /// their polls, and the other rows to send are returned per org, in plan order, unpacked.
  std::vector<std::vector<std::size_t>> start_holding(steady_time now);
  /// Packs `rows` of `org` into batches and queues what the running limit allows.
  void add_rows(std::size_t org, const std::vector<std::size_t>& rows, steady_time now);
  const org_batches& batches(std::size_t org) const { return batches_[org]; }
  /// The org's batches that hold a running slot (POST on its way, or polled).
  std::vector<running_batch> running_batches(std::size_t org) const;
  const batch_config& config() const { return options_.batch; }
  /// Hands the timing of polls to `p` (which outlives this mode).
  void set_pacer(batch_pacer* p) noexcept { pacer_ = p; }
  /// When a list of the org's running batches serves several polls (default: poll_share_config).
  void set_poll_share(const poll_share_config& c) noexcept { share_ = c; }
  /// Lists of running batches sent, and the polls they answered for (for tests and metrics).
  std::size_t shared_polls() const noexcept { return shared_polls_; }
  std::size_t polls_shared() const noexcept { return polls_shared_; }
  /// Why `org` takes no more calls ("" while it does).
  const std::string& condemned(std::size_t org) const { return condemned_[org]; }

private:
  /// A batch on its way: submitted (POST, retried after `delay`) and then polled.
  struct live_job {
    batch_job job;
    std::size_t org = 0;
    steady_time submitted{};  ///< when its POST went out (or the run started, on resume)
    bool polling = false;     ///< false: the POST is (re)sent; true: the batch is polled
    bool posted = false;      ///< submitted by this run (its duration is known)
    unsigned status = 0;      ///< HTTP status of the last answer about it
    std::string request_id;   ///< X-Request-Id of that answer
    std::string host;         ///< the host that gave it
    unsigned attempts = 0;    ///< POSTs sent (retry policy)
    unsigned polls = 0;       ///< polls that found it running
    unsigned failures = 0;    ///< polls that failed (against max_poll_failures)
    unsigned streak = 0;      ///< polls that failed in a row (the poll backoff)
    steady_time poll_at{};    ///< held: when its poll is due
    steady_time since{};      ///< held: when the wait began
    /// A list found it finished at this time (its own poll then tells the outcome).
    std::optional<steady_time> done_by;
    /// A list of the org's running batches (not a batch): the batches it answers for.
    bool shared = false;
    std::vector<task_id> covers;
  };

  /// Per org: the shared polls' state.
  struct org_polls {
    std::vector<task_id> held;  ///< jobs whose next poll the mode holds
    poll_tally tally;
    unsigned list_failures = 0;  ///< lists in a row that said nothing readable
    unsigned list_streak = 0;    ///< lists in a row that failed (their backoff)
    bool lists_off = false;      ///< the API does not list this org's batches
  };

  void on_post_answer(std::size_t org, task_id t, const answer& a, io::response_parser& parser,
                      steady_time now);
  void on_poll_answer(std::size_t org, task_id t, const answer& a, io::response_parser& parser,
                      steady_time now);
  void on_list_answer(std::size_t org, task_id t, const answer& a, io::response_parser& parser,
                      steady_time now);
  /// A poll (its own or a list's) found the batch still running: its next poll is held.
  void still_running(std::size_t org, task_id t, steady_time now);
  void hold_poll(std::size_t org, task_id t, steady_time due, steady_time now);
  /// Queues the org's held polls that are due: one list for several, or each alone.
  void release_polls(std::size_t org, steady_time now);
  /// Polls the batches a list answered for alone, now.
  void poll_alone(std::size_t org, const std::vector<task_id>& jobs, steady_time now);
  void end_job(std::size_t org, task_id t, const answer& a, verdict v, const std::string& unknown);
  void accepted(std::size_t org, task_id t, const io::action_batch& b, steady_time now);
  void completed(std::size_t org, task_id t, steady_time now);
  void refused(std::size_t org, task_id t, std::string errors, unsigned status, steady_time now);
  void abandon(std::size_t org, task_id t, io::outcome o, const std::string& error);
  void condemn(std::size_t org, std::string reason);
  void release(task_id t);
  void finish(std::size_t row, io::outcome o, unsigned status, std::string error,
              double latency_ms = 0, const live_job* answered = nullptr);
  std::vector<batch_action_ref> actions_of(const batch_job& job) const;
  std::vector<std::vector<std::size_t>> queue_rows();
  void take_jobs(std::size_t org, steady_time now);

  mode_context ctx_;
  const batch_run_options& options_;
  task_channel channel_;
  retry_policy poll_policy_;
  std::vector<org_batches> batches_;                       ///< per org
  std::vector<std::string> condemned_;                     ///< per org
  slot_pool<live_job> slots_;                              ///< task id -> job
  std::unordered_map<std::size_t, unsigned> posts_;        ///< row -> POSTs that carried it
  std::unordered_map<std::size_t, std::string> batch_of_;  ///< row -> last batch id
  steady_time started_{};
  unsigned lanes_ = 0;
  batch_pacer* pacer_ = nullptr;
  poll_share_config share_;
  std::vector<org_polls> polls_;  ///< per org
  std::size_t shared_polls_ = 0;
  std::size_t polls_shared_ = 0;
};

}  // namespace relicense::engine
