#include "relicense/engine/batch_mode.hpp"

#include "relicense/engine/ops/action_batch.hpp"
#include "relicense/engine/row_triage.hpp"

#include <algorithm>
#include <limits>
#include <string_view>
#include <unordered_set>

namespace relicense::engine {
namespace {

double ms_between(steady_time a, steady_time b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string stopped_while(const std::string& id) {
  return "stopped while action batch " + id + " ran; --resume polls it";
}

std::string kept_for_resume(const std::string& id) {
  return "; the journal keeps action batch " + id + " for --resume";
}

}  // namespace

std::vector<std::size_t> poll_sharing(const std::vector<held_poll>& held, steady_time now,
                                      const poll_tally& tally, const poll_share_config& c) {
  std::vector<std::size_t> out;
  if (!c.enabled) return out;
  bool due = false;
  for (std::size_t i = 0; i < held.size(); ++i) {
    const auto& h = held[i];
    due = due || h.due <= now;
    const nanos wait = std::max(nanos(0), h.due - h.since);
    const nanos reach = std::max(c.window, std::chrono::duration_cast<nanos>(wait * c.pull));
    if (h.due <= now + reach) out.push_back(i);
  }
  const double running = static_cast<double>(out.size()) * tally.running_share();
  if (!due || out.size() < std::max<std::size_t>(2, c.min_batches) || running < c.min_running)
    out.clear();
  return out;
}

batch_mode::batch_mode(const mode_context& ctx, const batch_run_options& options,
                       task_channel channel)
    : ctx_(ctx), options_(options), channel_(channel), condemned_(ctx.plan.orgs.size()),
      polls_(ctx.plan.orgs.size()) {
  batches_.reserve(ctx.plan.orgs.size());
  for (std::size_t o = 0; o < ctx.plan.orgs.size(); ++o) batches_.emplace_back(options.batch);
  // Polls are not capped by max_attempts (a batch may run for minutes); failures are counted
  // apart, against batch_config::max_poll_failures.
  poll_policy_ = ctx.config.retry;
  poll_policy_.max_attempts = std::numeric_limits<unsigned>::max();
}

void batch_mode::start(steady_time now) {
  auto fresh = start_holding(now);
  for (std::size_t o = 0; o < fresh.size(); ++o) add_rows(o, fresh[o], now);
}

std::vector<std::vector<std::size_t>> batch_mode::start_holding(steady_time now) {
  started_ = now;
  auto fresh = queue_rows();
  const unsigned per_org = std::max(1u, options_.batch.max_running);
  for (std::size_t o = 0; o < batches_.size(); ++o)
    if (!batches_[o].done() || !fresh[o].empty()) lanes_ += per_org;
  tick(now);
  return fresh;
}

void batch_mode::add_rows(std::size_t org, const std::vector<std::size_t>& rows, steady_time now) {
  batches_[org].add_rows(rows);
  if (!ctx_.fx.stopping() && condemned_[org].empty()) take_jobs(org, now);
}

/// Decides each row's fate before anything is sent, queues the batches of an earlier run, and
/// returns the other rows to send per org.
std::vector<std::vector<std::size_t>> batch_mode::queue_rows() {
  const auto& p = ctx_.plan;
  std::vector<std::vector<std::size_t>> fresh(p.orgs.size());
  std::unordered_map<std::uint32_t, std::size_t> by_line;
  std::uint64_t changes = 0;
  for (std::size_t i = 0; i < p.rows.size(); ++i) {
    auto pre = triage(p, ctx_.config, ctx_.diff, ctx_.refused, i, ctx_.fx.stopping(),
                      " (batch mode)", changes);
    if (!pre.send) {
      if (pre.done) ctx_.fx.emit(*pre.done);
      else finish(i, pre.outcome, 0, std::move(pre.error));
      continue;
    }
    by_line.emplace(p.rows[i].line, i);
    fresh[p.rows[i].org].push_back(i);
  }
  // Batches of an earlier run: each line goes to the last batch that carried it.
  std::unordered_map<std::uint32_t, std::size_t> last_batch;
  for (std::size_t b = 0; b < options_.resumed.size(); ++b)
    for (auto line : options_.resumed[b].lines) last_batch[line] = b;
  std::vector<std::vector<std::size_t>> resumed_rows(options_.resumed.size());
  std::vector<bool> taken(p.rows.size(), false);
  for (const auto& [line, b] : last_batch) {
    auto it = by_line.find(line);
    if (it == by_line.end()) continue;
    if (p.orgs[p.rows[it->second].org] != options_.resumed[b].org_id) continue;  // not the same row
    resumed_rows[b].push_back(it->second);
    taken[it->second] = true;
  }
  for (std::size_t b = 0; b < options_.resumed.size(); ++b) {
    auto& rows = resumed_rows[b];
    if (rows.empty()) continue;
    std::sort(rows.begin(), rows.end());
    for (auto r : rows) batch_of_[r] = options_.resumed[b].id;
    batches_[p.rows[rows.front()].org].add_submitted(options_.resumed[b].id, rows);
  }
  for (auto& rows : fresh) std::erase_if(rows, [&](std::size_t r) { return taken[r]; });
  return fresh;
}

unsigned batch_mode::workers() const { return lanes_; }

void batch_mode::tick(steady_time now) {
  if (ctx_.fx.stopping()) return;
  for (std::size_t o = 0; o < batches_.size(); ++o) {
    // A condemned org's running batches are still polled for their rows' outcome.
    release_polls(o, now);
    if (condemned_[o].empty()) take_jobs(o, now);
  }
}

void batch_mode::hold_poll(std::size_t org, task_id t, steady_time due, steady_time now) {
  auto& j = slots_[t];
  j.poll_at = due;
  j.since = now;
  polls_[org].held.push_back(t);
}

void batch_mode::release_polls(std::size_t o, steady_time now) {
  auto& op = polls_[o];
  std::vector<held_poll> held;
  held.reserve(op.held.size());
  bool due = false;
  for (auto t : op.held) {
    const auto& j = slots_[t];
    held.push_back({j.poll_at, j.since});
    due = due || j.poll_at <= now;
  }
  if (!due) return;
  std::vector<bool> gone(held.size(), false);
  const auto listed =
      op.lists_off ? std::vector<std::size_t>{} : poll_sharing(held, now, op.tally, share_);
  if (!listed.empty()) {
    live_job list;
    list.shared = true;
    list.polling = true;
    for (auto i : listed) {
      list.covers.push_back(op.held[i]);
      gone[i] = true;
    }
    ++shared_polls_;
    polls_shared_ += list.covers.size();
    ctx_.sched.push_at(o, channel_.mark(slots_.put(std::move(list))), now);
  } else {
    for (std::size_t i = 0; i < held.size(); ++i) {
      if (held[i].due > now) continue;
      ctx_.sched.push_at(o, channel_.mark(op.held[i]), held[i].due);
      gone[i] = true;
    }
  }
  std::size_t k = 0;
  std::erase_if(op.held, [&](task_id) { return gone[k++]; });
}

void batch_mode::poll_alone(std::size_t org, const std::vector<task_id>& jobs, steady_time now) {
  for (auto t : jobs) ctx_.sched.push_at(org, channel_.mark(t), now);
}

void batch_mode::take_jobs(std::size_t o, steady_time now) {
  while (auto job = batches_[o].take(now)) {
    live_job j;
    j.polling = !job->id.empty();  // a batch of an earlier run: poll it at once
    j.submitted = started_;
    j.org = o;
    j.job = std::move(*job);
    ctx_.sched.push(o, channel_.mark(slots_.put(std::move(j))));
  }
}

std::vector<running_batch> batch_mode::running_batches(std::size_t org) const {
  std::vector<running_batch> out;
  slots_.for_each([&](const live_job& j) {
    if (j.shared || j.job.rows.empty() || j.org != org) return;
    out.push_back({j.job.rows.size(), j.submitted, j.posted, j.done_by.has_value()});
  });
  return out;
}

steady_time batch_mode::wake_at(steady_time now) const {
  if (ctx_.fx.stopping()) return steady_time::max();
  auto at = steady_time::max();
  const unsigned max_running = std::max(1u, options_.batch.max_running);
  for (std::size_t o = 0; o < batches_.size(); ++o) {
    const auto& b = batches_[o];
    if (condemned_[o].empty() && b.running() < max_running && b.queued() > 0)
      at = std::min(at, b.ready_at(now));
    for (auto t : polls_[o].held) at = std::min(at, slots_[t].poll_at);
  }
  return at;
}

std::vector<batch_action_ref> batch_mode::actions_of(const batch_job& job) const {
  std::vector<batch_action_ref> a;
  a.reserve(job.rows.size());
  for (auto r : job.rows) a.push_back({ctx_.plan.rows[r].license_id, ctx_.plan.rows[r].serial});
  return a;
}

request batch_mode::request_for(std::size_t org, task_id t, steady_time now) {
  t = channel_.strip(t);
  auto& j = slots_[t];
  if (j.shared) return ops::batch_list_request(ctx_.plan.orgs[org]);
  if (j.polling) return ops::batch_poll_request(ctx_.plan.orgs[org], j.job.id);
  j.submitted = now;
  return ops::batch_post_request(ctx_.plan.orgs[org], actions_of(j.job));
}

void batch_mode::on_answer(std::size_t org, task_id t, const answer& a, io::response_parser& parser,
                           steady_time now) {
  t = channel_.strip(t);
  auto& j = slots_[t];
  j.status = a.resp.error == io::transport_error::none ? a.resp.status : 0;
  j.request_id = a.resp.request_id;
  j.host = a.host;
  if (j.shared) on_list_answer(org, t, a, parser, now);
  else if (j.polling) on_poll_answer(org, t, a, parser, now);
  else on_post_answer(org, t, a, parser, now);
}

void batch_mode::on_post_answer(std::size_t org, task_id t, const answer& a,
                                io::response_parser& parser, steady_time now) {
  auto& j = slots_[t];
  if (a.not_sent) {
    abandon(org, t, io::outcome::not_attempted, {});
    return;
  }
  for (auto r : j.job.rows) ++posts_[r];
  auto v = ops::judge_batch_post(
      a, {ctx_.config.retry, ++j.attempts, ctx_.fx.jitter(), ctx_.fx.wall_now()}, parser);
  if (v.went_through) ctx_.sched.succeeded(org, now);
  switch (v.what) {
    case next_step::retry:
      note_retry(ctx_, org, v, now);
      if (!condemned_[org].empty()) {
        abandon(org, t, io::outcome::failed, condemned_[org]);
        return;
      }
      ctx_.sched.push_at(org, channel_.mark(t), now + v.delay);
      return;
    case next_step::abort_run:
      // A rejected key, TLS or an unreachable host is the run's failure, not the rows': the
      // batch was not accepted, and --resume must send its rows again.
    case next_step::condemn_org: return end_job(org, t, a, std::move(v), "");
    case next_step::done: break;
  }
  switch (v.news) {
    case ops::batch_news::busy:
      // Other applications' batches fill the org's limit: wait for them, do not fail rows.
      ++ctx_.fx.counters().retries[static_cast<std::size_t>(retry_cause::throttled)];
      batches_[org].on_busy(std::move(j.job), now);
      release(t);
      return;
    case ops::batch_news::refused: refused(org, t, std::move(v.message), v.status, now); return;
    case ops::batch_news::status: accepted(org, t, *v.batch, now); return;
    case ops::batch_news::unreadable:
    case ops::batch_news::lost:
    case ops::batch_news::failed: abandon(org, t, io::outcome::failed, v.message); return;
  }
}

/// An abort or a condemned org ends the job: not attempted (--resume sends or polls it again;
/// `unknown` says which batch the journal keeps) or failed with the org.
void batch_mode::end_job(std::size_t org, task_id t, const answer& a, verdict v,
                         const std::string& unknown) {
  if (v.what == next_step::abort_run) {
    abandon(org, t, io::outcome::not_attempted, v.message + unknown);
    ctx_.fx.abort(abort_reason(std::move(v.message), a, ctx_.plan.orgs[org]));
    return;
  }
  abandon(org, t, io::outcome::failed, v.message);
  condemn(org, std::move(v.message));
}

void batch_mode::accepted(std::size_t org, task_id t, const io::action_batch& b, steady_time now) {
  auto& j = slots_[t];
  j.job.id = b.id;
  batches_[org].on_accepted();
  io::journal_batch jb;
  jb.id = j.job.id;
  jb.org_id = ctx_.plan.orgs[org];
  for (auto r : j.job.rows) {
    jb.lines.push_back(ctx_.plan.rows[r].line);
    batch_of_[r] = j.job.id;
  }
  if (options_.on_batch_accepted) {
    try {
      options_.on_batch_accepted(jb);
    } catch (...) {
      ctx_.fx.output_failed(std::current_exception());
    }
  }
  if (b.completed) return completed(org, t, now);
  if (b.failed) return refused(org, t, b.errors, 400, now);
  j.posted = true;
  j.polling = true;
  const auto n = j.job.rows.size();
  hold_poll(org, t, now + (pacer_ ? pacer_->first_poll(org, n) : batches_[org].first_poll_delay(n)),
            now);
}

void batch_mode::on_poll_answer(std::size_t org, task_id t, const answer& a,
                                io::response_parser& parser, steady_time now) {
  auto& j = slots_[t];
  const std::string unknown = kept_for_resume(j.job.id);
  if (a.not_sent) {
    abandon(org, t, io::outcome::not_attempted, stopped_while(j.job.id));
    return;
  }
  ++j.streak;
  auto v = ops::judge_batch_poll(
      j.job.id, a, {poll_policy_, std::min(j.streak, 30u), ctx_.fx.jitter(), ctx_.fx.wall_now()},
      parser);
  if (v.went_through) {
    ctx_.sched.succeeded(org, now);
    j.streak = 0;
  }
  const auto& cfg = options_.batch;
  switch (v.what) {
    case next_step::retry:
      note_retry(ctx_, org, v, now);
      if (!v.pause_org && v.cause != retry_cause::throttled_ip &&
          ++j.failures >= cfg.max_poll_failures) {
        abandon(org, t, io::outcome::failed, "status unknown: " + v.message + unknown);
        return;
      }
      ctx_.sched.push_at(org, channel_.mark(t), now + v.delay);
      return;
    case next_step::abort_run:
    case next_step::condemn_org: return end_job(org, t, a, std::move(v), unknown);
    case next_step::done: break;
  }
  switch (v.news) {
    case ops::batch_news::lost:
      // The API does not know the batch (an old journal): its rows are submitted again, which
      // is safe because a license update is idempotent.
      batches_[org].on_lost(std::move(j.job));
      release(t);
      return;
    case ops::batch_news::unreadable:
      if (++j.failures >= cfg.max_poll_failures) {
        abandon(org, t, io::outcome::failed,
                "unreadable action batch status: " + v.message + unknown);
        return;
      }
      ctx_.sched.push_at(org, channel_.mark(t), now + poll_delay(cfg, j.polls++));
      return;
    case ops::batch_news::status: {
      const auto& b = *v.batch;
      const auto n = j.job.rows.size();
      const bool done = b.completed || b.failed;
      // A list that found it finished bounds its end more tightly than this answer.
      const auto seen = (done ? j.done_by.value_or(now) : now) - j.submitted;
      j.done_by.reset();
      ++(done ? polls_[org].tally.done : polls_[org].tally.running);
      if (done && j.posted) batches_[org].observe(seen, n, j.polls == 0);
      if (pacer_ && j.posted) pacer_->polled(org, n, seen, done);
      if (b.completed) return completed(org, t, now);
      if (b.failed) return refused(org, t, b.errors, 400, now);
      still_running(org, t, now);
      return;
    }
    case ops::batch_news::refused:
    case ops::batch_news::busy:
    case ops::batch_news::failed: abandon(org, t, io::outcome::failed, v.message + unknown); return;
  }
}

void batch_mode::still_running(std::size_t org, task_id t, steady_time now) {
  auto& j = slots_[t];
  const auto n = j.job.rows.size();
  ++j.polls;
  hold_poll(org, t,
            now + (pacer_ && j.posted ? pacer_->next_poll(org, n, now - j.submitted)
                                      : batches_[org].repoll_delay(n, j.polls)),
            now);
}

/// The org's batches still running, for the batches `t` covers: one found there runs on (its
/// next poll is timed as after its own poll); one missing finished, and its own poll follows for
/// the outcome. A list that fails leaves the polls to each batch alone.
void batch_mode::on_list_answer(std::size_t org, task_id t, const answer& a,
                                io::response_parser& parser, steady_time now) {
  const std::vector<task_id> covers = std::move(slots_[t].covers);
  release(t);
  if (a.not_sent) {
    for (auto c : covers)
      abandon(org, c, io::outcome::not_attempted, stopped_while(slots_[c].job.id));
    return;
  }
  auto& op = polls_[org];
  ++op.list_streak;
  auto v = ops::judge_batch_list(
      a, {poll_policy_, std::min(op.list_streak, 30u), ctx_.fx.jitter(), ctx_.fx.wall_now()},
      parser);
  if (v.went_through) {
    ctx_.sched.succeeded(org, now);
    op.list_streak = 0;
  }
  switch (v.what) {
    case next_step::retry:
      note_retry(ctx_, org, v, now);
      // As if each batch's own poll had failed so.
      for (auto c : covers) {
        auto& j = slots_[c];
        if (!v.pause_org && v.cause != retry_cause::throttled_ip &&
            ++j.failures >= options_.batch.max_poll_failures) {
          abandon(org, c, io::outcome::failed,
                  "status unknown: " + v.message + kept_for_resume(j.job.id));
          continue;
        }
        hold_poll(org, c, now + v.delay, now);
      }
      return;
    case next_step::abort_run:
      for (auto c : covers)
        abandon(org, c, io::outcome::not_attempted, v.message + kept_for_resume(slots_[c].job.id));
      ctx_.fx.abort(abort_reason(std::move(v.message), a, ctx_.plan.orgs[org]));
      return;
    case next_step::condemn_org:
      for (auto c : covers) abandon(org, c, io::outcome::failed, v.message);
      condemn(org, std::move(v.message));
      return;
    case next_step::done: break;
  }
  if (v.news != ops::batch_news::status) {
    // The API does not list this org's batches, or keeps answering nothing readable: its
    // batches are polled alone from now on.
    if (v.news != ops::batch_news::unreadable || ++op.list_failures >= share_.max_failures)
      op.lists_off = true;
    poll_alone(org, covers, now);
    return;
  }
  op.list_failures = 0;
  std::unordered_set<std::string_view> running;
  for (const auto& b : v.listed)
    if (!b.completed && !b.failed) running.insert(b.id);
  std::vector<task_id> finished;
  for (auto c : covers) {
    auto& j = slots_[c];
    if (!running.contains(j.job.id)) {
      j.done_by = now;
      finished.push_back(c);
      continue;
    }
    ++op.tally.running;
    if (pacer_ && j.posted) pacer_->polled(org, j.job.rows.size(), now - j.submitted, false);
    const auto own = j.poll_at;
    const bool first = j.polls == 0;
    still_running(org, c, now);
    // A first poll pulled forward keeps its own time when that comes sooner: it was aimed at
    // the batch's end (learnt durations), which a poll from now would overshoot.
    if (first && own > now) slots_[c].poll_at = std::min(slots_[c].poll_at, own);
  }
  poll_alone(org, finished, now);
}

void batch_mode::completed(std::size_t org, task_id t, steady_time now) {
  auto& j = slots_[t];
  const double ms = ms_between(j.submitted, now);
  auto out = batches_[org].on_completed(j.job);
  for (auto r : out.applied) finish(r, io::outcome::applied, j.status, {}, ms);
  release(t);
}

/// The API refused the batch (it failed, or its POST got a 400): rows alone fail for good with
/// the API's error; larger batches are split and requeued.
void batch_mode::refused(std::size_t org, task_id t, std::string errors, unsigned status,
                         steady_time now) {
  auto& j = slots_[t];
  if (errors.empty())
    errors = j.job.id.empty() ? "action batch refused" : "action batch " + j.job.id + " failed";
  const double ms = ms_between(j.submitted, now);
  auto out = batches_[org].on_failed(j.job, errors, actions_of(j.job));
  for (auto r : out.failed) finish(r, io::outcome::failed, status, errors, ms, &j);
  release(t);
}

/// The job's fate stays unknown in this run.
void batch_mode::abandon(std::size_t org, task_id t, io::outcome o, const std::string& error) {
  auto& j = slots_[t];
  batches_[org].on_abandoned(j.job);
  for (auto r : j.job.rows) finish(r, o, j.status, error, 0, &j);
  release(t);
}

void batch_mode::release(task_id t) { slots_.release(t); }

void batch_mode::condemn(std::size_t org, std::string reason) {
  if (!condemned_[org].empty()) return;
  condemned_[org] = std::move(reason);
  for (auto r : batches_[org].drain())
    finish(r, io::outcome::failed, 0, condemned_[org] + " (not sent)");
}

void batch_mode::finish_remaining() {
  for (std::size_t o = 0; o < batches_.size(); ++o) {
    std::vector<task_id> polled;
    for (task_id marked : ctx_.sched.drain(o, channel_.mask, channel_.tag)) {
      const task_id t = channel_.strip(marked);
      auto& j = slots_[t];
      if (j.shared) {
        polled.insert(polled.end(), j.covers.begin(), j.covers.end());
        release(t);
        continue;
      }
      abandon(o, t, io::outcome::not_attempted,
              j.polling ? stopped_while(j.job.id) : std::string());
    }
    polled.insert(polled.end(), polls_[o].held.begin(), polls_[o].held.end());
    polls_[o].held.clear();
    for (auto t : polled)
      abandon(o, t, io::outcome::not_attempted, stopped_while(slots_[t].job.id));
    const bool condemned = !condemned_[o].empty();
    const std::string why = condemned ? condemned_[o] + " (not sent)" : std::string();
    for (auto r : batches_[o].drain())
      finish(r, condemned ? io::outcome::failed : io::outcome::not_attempted, 0, why);
  }
}

void batch_mode::finish(std::size_t i, io::outcome o, unsigned status, std::string error,
                        double latency_ms, const live_job* answered) {
  io::row_result r = result_of(ctx_.plan, ctx_.diff, i, o);
  r.http_status = status;
  if (auto it = posts_.find(i); it != posts_.end()) r.attempts = it->second;
  r.latency_ms = latency_ms;
  r.error = std::move(error);
  if (auto it = batch_of_.find(i); it != batch_of_.end()) r.batch_id = it->second;
  if (answered && (o == io::outcome::failed || o == io::outcome::not_attempted)) {
    r.request_id = answered->request_id;
    r.host = answered->host;
  }
  ctx_.fx.emit(r);
}

}  // namespace relicense::engine
