#include "relicense/engine/put_mode.hpp"

#include "relicense/engine/ops/license_put.hpp"
#include "relicense/engine/row_triage.hpp"

#include <algorithm>

namespace relicense::engine {

put_mode::put_mode(const mode_context& ctx, task_channel channel)
    : ctx_(ctx), channel_(channel), condemned_(ctx.plan.orgs.size()) {
  const auto& c = ctx.config;
  concurrency_ = c.concurrency ? c.concurrency
                               : default_concurrency(ctx.plan.orgs.size(), ctx.plan.rows.size(),
                                                     c.rate, c.ip_rate);
}

void put_mode::start(steady_time) {
  const auto& p = ctx_.plan;
  std::uint64_t changes = 0;
  for (std::uint32_t i = 0; i < p.rows.size(); ++i) {
    auto pre = triage(p, ctx_.config, ctx_.diff, ctx_.refused, i, ctx_.fx.stopping(), "", changes);
    if (pre.send) {
      send(p.rows[i].org, i);
    } else if (pre.done) {
      ctx_.fx.emit(*pre.done);
    } else {
      job j;
      j.row = i;
      finish(j, pre.outcome, std::move(pre.error));
    }
  }
}

void put_mode::send(std::size_t org, std::uint32_t row) {
  ctx_.sched.push(org, channel_.mark(row));
}

unsigned put_mode::workers() const {
  return static_cast<unsigned>(std::min<std::size_t>(concurrency_, ctx_.sched.pending()));
}

put_mode::job put_mode::take_job(task_id t) {
  t = channel_.strip(t);
  if (!(t & retry_bit)) {
    job j;
    j.row = t;
    return j;
  }
  return slots_.take(t & ~retry_bit);
}

request put_mode::request_for(std::size_t org, task_id t, steady_time) {
  t = channel_.strip(t);
  const std::uint32_t row = (t & retry_bit) ? slots_[t & ~retry_bit].row : t;
  return ops::license_put_request(ctx_.plan.orgs[org], ctx_.plan.rows[row]);
}

void put_mode::note_answer(job& j, const answer& a) {
  j.last_request_id = a.resp.request_id;
  j.last_host = a.host;
}

void put_mode::on_answer(std::size_t org, task_id t, const answer& a, io::response_parser& parser,
                         steady_time now) {
  job j = take_job(t);
  if (a.not_sent) {
    // Only a redirect was answered: nothing was applied, and nothing leaves after a stop.
    j.requests += a.hops;
    finish(j, io::outcome::not_attempted, "stopped before following a redirect");
    return;
  }
  ++j.attempts;
  j.requests += 1 + a.hops;
  j.last_latency_ms = a.latency_ms;
  j.last_status = a.resp.error == io::transport_error::none ? a.resp.status : 0;
  const auto& row = ctx_.plan.rows[j.row];
  auto v = ops::judge_license_put(
      row, a, {ctx_.config.retry, j.attempts, ctx_.fx.jitter(), ctx_.fx.wall_now()}, parser);
  if (v.went_through) ctx_.sched.succeeded(org, now);
  // Kept for the report of a failed row; applied rows, most of a run, skip the copies.
  if (v.what != next_step::done || v.outcome != io::outcome::applied) note_answer(j, a);
  switch (v.what) {
    case next_step::done: finish(j, v.outcome, std::move(v.message), std::move(v.state)); return;
    case next_step::retry: {
      note_retry(ctx_, org, v, now);
      j.last_error = std::move(v.message);
      if (!condemned_[org].empty()) {
        finish(j, io::outcome::failed, condemned_[org]);
        return;
      }
      ctx_.sched.push_at(org, channel_.mark(slots_.put(std::move(j)) | retry_bit), now + v.delay);
      return;
    }
    case next_step::abort_run:
      // A rejected key, TLS or an unreachable host is the run's failure, not the row's: the
      // row was not applied, and --resume must send it again.
      finish(j, io::outcome::not_attempted, v.message);
      ctx_.fx.abort(abort_reason(std::move(v.message), a, ctx_.plan.orgs[org]));
      return;
    case next_step::condemn_org:
      finish(j, io::outcome::failed, v.message);
      condemn(org, std::move(v.message));
      return;
  }
}

void put_mode::condemn(std::size_t org, std::string reason) {
  if (!condemned_[org].empty()) return;
  condemned_[org] = std::move(reason);
  // Fail the org's remaining rows without sending them.
  for (task_id t : ctx_.sched.drain(org, channel_.mask, channel_.tag)) {
    const bool retry = (t & retry_bit) != 0;
    job j = take_job(t);
    finish(j, io::outcome::failed, retry ? condemned_[org] : condemned_[org] + " (not sent)");
  }
}

void put_mode::finish_remaining() {
  for (std::size_t o = 0; o < ctx_.sched.orgs(); ++o) {
    for (task_id t : ctx_.sched.drain(o, channel_.mask, channel_.tag)) {
      job j = take_job(t);
      std::string why =
          j.last_error.empty() ? std::string() : "stopped before retrying: " + j.last_error;
      finish(j, io::outcome::not_attempted, std::move(why));
    }
  }
}

void put_mode::finish(const job& j, io::outcome o, std::string error, std::string state) {
  io::row_result r = result_of(ctx_.plan, ctx_.diff, j.row, o);
  r.http_status = j.last_status;
  r.attempts = j.requests;
  r.latency_ms = j.last_latency_ms;
  r.state = std::move(state);
  r.error = std::move(error);
  // Failed rows, and the row whose answer aborted the run (not_attempted, so --resume sends it).
  if (o == io::outcome::failed || o == io::outcome::not_attempted) {
    r.request_id = j.last_request_id;
    r.host = j.last_host;
  }
  ctx_.fx.emit(r);
}

}  // namespace relicense::engine
