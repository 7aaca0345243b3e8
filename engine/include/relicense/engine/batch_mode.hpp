// Batch mode: each organization's rows go out as asynchronous action batches
// (ops/action_batch.hpp), at most batch_config::max_running per org, polled with a growing
// interval; a failed batch is bisected (batch.hpp). Sans-I/O: see mode.hpp.
#pragma once

#include "relicense/engine/batch_runner.hpp"
#include "relicense/engine/mode.hpp"
#include "relicense/engine/slot_pool.hpp"

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
  const batch_config& config() const { return options_.batch; }
  /// Hands the timing of polls to `p` (which outlives this mode).
  void set_pacer(batch_pacer* p) noexcept { pacer_ = p; }
  /// Why `org` takes no more calls ("" while it does).
  const std::string& condemned(std::size_t org) const { return condemned_[org]; }

private:
  /// A batch on its way: submitted (POST, retried after `delay`) and then polled.
  struct live_job {
    batch_job job;
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
  };

  void on_post_answer(std::size_t org, task_id t, const answer& a, io::response_parser& parser,
                      steady_time now);
  void on_poll_answer(std::size_t org, task_id t, const answer& a, io::response_parser& parser,
                      steady_time now);
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
};

}  // namespace relicense::engine
