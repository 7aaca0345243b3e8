// Hybrid mode (`--mode auto`): action batches and direct PUTs at once, inside one organization
// budget. Each org's rows wait in one queue; a free batch slot takes a batch from its front when
// the split rule says the batch ends no later than the two channels together would (so the put
// channel never idles while a long batch still runs), and the put channel takes single rows
// whenever the org has a token to spare and no batch POST or poll is due. The batches' speed is
// learnt from their polls (batch_speed, which also times them): slots are filled one by one, a
// probe first, each sized by what the polls of the earlier ones said. Both channels are the put
// and batch modes themselves, with task ids tagged apart. Sans-I/O: see mode.hpp.
#pragma once

#include "relicense/engine/batch_mode.hpp"
#include "relicense/engine/batch_runner.hpp"
#include "relicense/engine/batch_speed.hpp"
#include "relicense/engine/mode.hpp"
#include "relicense/engine/put_mode.hpp"

#include <cstddef>
#include <deque>
#include <vector>

namespace relicense::engine {

/// The constants of the split rule.
struct split_config {
  std::size_t max_actions = 100;  ///< the largest batch
  /// A batch costs at least two calls (POST and poll): fewer rows than this go by PUT.
  std::size_t min_rows = 4;
  /// Seconds per action assumed for an org whose batches are slow but not yet seen finishing. A
  /// guess too low sends long batches that the put channel then waits for; one too high sends
  /// short batches for one round only.
  double prior_per_action_s = 1.0;
  /// The first batch of an org, while nothing is known of its speed: this many rows, polled
  /// early (speed_config::probe_poll), so that a fast org gets full batches almost at once.
  std::size_t probe_rows = 4;
  /// Until the probe is seen done, the other slots wait, unless its polls found an action slower
  /// than this: then they take batches sized for the prior (or twice that lower bound).
  double slow_s = 0.05;
  /// Tokens kept for the POSTs of the slots that wait for the probe's polls (a fast org's full
  /// batches go out at once instead of one per refill).
  double learn_reserve = 4;
  /// How the polls of the org's batches are timed and learnt from (batch_speed).
  speed_config speed;
  /// The first poll of a batch of an earlier run (--resume), which the split learns nothing from.
  nanos first_poll = std::chrono::milliseconds(250);
  /// batch_config::first_poll_aim of the batch channel, for those batches.
  double first_poll_aim = 0.5;
  /// A batch's time beyond its actions: the POST, the poll that sees it done, the poll lag.
  double overhead_s = 0.5;
  /// The calls a batch costs the org's budget: its POST and about three polls (the first, one
  /// that narrows its end, the one that sees it done).
  double calls_per_batch = 4;
  /// The share of the org's budget beyond which batches' calls crowd PUTs out (see puts_pay).
  double batch_budget_share = 0.8;
  /// Learnt batches moving this many times the put channel's rows/s leave the tokens to the
  /// batches' calls (see puts_idle).
  double put_worth = 8;
  /// Tokens kept for running batches' polls and next POSTs (at most this many, and two fewer
  /// than the bucket holds).
  double max_reserve = 8;
  /// The shortest a batch lasts as polled (the first poll of a learnt duration comes no sooner).
  double min_batch_s = 0.25;
};

/// What the split rule looks at, for one organization.
struct split_state {
  std::size_t queued = 0;      ///< rows no channel has taken yet
  std::size_t in_batches = 0;  ///< rows in the org's unfinished batches
  double put_rate = 0;         ///< rows/s the put channel moves (the org's rate; 0: unlimited)
  double per_action_s = 0;     ///< learnt batch time per action (0: none learnt)
  unsigned slots = 5;          ///< batches that may run at once
  /// Per running batch: the seconds until its slot is expected to free (its actions left at
  /// per_action_s, and the poll that sees it done). Empty: the old estimate from in_batches.
  std::vector<double> busy_s;
};

/// How many rows from the queue's front a free batch slot takes now (0: leave them to PUTs).
/// Both channels move the queue in T seconds: PUTs on the tokens the batches' calls leave, each
/// free slot from now and each running one from when its batch is expected to end (busy_s;
/// before a speed is known, the queue and the rows in batches at the channels' combined rate);
/// the batch is as large as fits in T at the per-action time (or the shortest batch, when T is
/// shorter), at most max_actions; full when PUTs do not pay (puts_pay). None when PUTs alone
/// would move the whole queue before it ends, when fewer than min_rows fit (except a first probe
/// of min_rows while nothing is learnt or running), or when the put channel is unlimited.
std::size_t batch_share(const split_state& s, const split_config& c = {});

/// Whether PUTs should spend the org's spare tokens: false when full batches at the per-action
/// time would want more than batch_budget_share of the budget for their POSTs and polls (fast
/// batches move ~50 rows per call, a PUT one).
bool puts_pay(const split_state& s, const split_config& c = {});

/// Whether PUTs should leave the tokens to the batches' calls though they pay: a PUT moves one
/// row, while a POST or poll it delays idles a slot that moves slots / per_action_s rows/s; when
/// that is more than put_worth × put_rate, the PUTs would slow the run down. False while nothing
/// is learnt.
bool puts_idle(const split_state& s, const split_config& c = {});

class hybrid_mode final : public mode, private batch_pacer {
public:
  /// Task ids carry the channel in this bit (put's own retry bit is bit 31).
  static constexpr task_id batch_bit = task_id{1} << 30;

  hybrid_mode(const mode_context& ctx, const batch_run_options& options, split_config split = {});

  void start(steady_time now) override;
  void tick(steady_time now) override;
  steady_time wake_at(steady_time now) const override;
  unsigned workers() const override;
  unsigned concurrency() const override { return workers(); }
  request request_for(std::size_t org, task_id t, steady_time now) override;
  void on_answer(std::size_t org, task_id t, const answer& a, io::response_parser& parser,
                 steady_time now) override;
  void finish_remaining() override;

  /// When one list of an org's running batches serves several polls (batch_mode).
  void set_poll_share(const poll_share_config& c) noexcept { batch_.set_poll_share(c); }
  const batch_mode& batches() const noexcept { return batch_; }

  /// Rows each channel took so far (for tests and metrics).
  std::size_t rows_by_put() const noexcept { return by_put_; }
  std::size_t rows_by_batch() const noexcept { return by_batch_; }

private:
  /// Counts the rows the batch channel finishes, per org, and passes everything on.
  class batch_effects final : public run_effects {
  public:
    batch_effects(run_effects& fx, const plan::plan& p, std::vector<std::size_t>& in_batches)
        : fx_(fx), plan_(p), in_batches_(in_batches) {}
    void emit(const io::row_result& r) override;
    void event(const run_event& e) override { fx_.event(e); }
    void abort(std::string reason) override { fx_.abort(std::move(reason)); }
    void output_failed(std::exception_ptr e) override { fx_.output_failed(std::move(e)); }
    bool stopping() const override { return fx_.stopping(); }
    run_counters& counters() override { return fx_.counters(); }
    double jitter() override { return fx_.jitter(); }
    wall_time wall_now() const override { return fx_.wall_now(); }

  private:
    run_effects& fx_;
    const plan::plan& plan_;
    std::vector<std::size_t>& in_batches_;
  };

  nanos first_poll(std::size_t org, std::size_t actions) override;
  void polled(std::size_t org, std::size_t actions, nanos elapsed, bool done) override;
  nanos next_poll(std::size_t org, std::size_t actions, nanos elapsed) override;

  bool is_batch(task_id t) const noexcept { return (t & batch_bit) != 0; }
  split_state state_of(std::size_t org, steady_time now) const;
  /// Whether the org's PUTs leave the tokens and rows to the batches (puts_pay, puts_idle).
  bool puts_held(std::size_t org, steady_time now) const;
  /// Whether the org's free slots wait for the probe's next poll.
  bool learning(std::size_t org) const;
  /// Tokens of `org` kept from PUTs: one per running batch for its poll, and the POSTs of the
  /// slots that wait for the probe (learning).
  double reserve(std::size_t org) const;
  /// Tokens `org` may spend on a PUT now, keeping one per running batch for its next call.
  std::size_t spare_tokens(std::size_t org, steady_time now) const;
  void feed(std::size_t org, steady_time now);
  void drop_queued(std::size_t org, io::outcome o, const std::string& why);

  mode_context ctx_;
  split_config split_;
  batch_run_options options_;  ///< the caller's, with a sooner first poll (see the constructor)
  std::vector<std::size_t> in_batches_;  ///< per org (before batch_fx_, which counts into it)
  batch_effects batch_fx_;
  mode_context batch_ctx_;
  put_mode put_;
  batch_mode batch_;
  std::vector<std::deque<std::size_t>> queued_;  ///< per org: rows no channel took yet
  std::vector<batch_speed> speeds_;              ///< per org
  std::size_t by_put_ = 0;
  std::size_t by_batch_ = 0;
};

}  // namespace relicense::engine
