#include "relicense/engine/inventory_mode.hpp"

#include "relicense/engine/ops/license_list.hpp"

namespace relicense::engine {

inventory_mode::inventory_mode(const mode_context& ctx, io::origin base)
    : org_read_mode(ctx, std::move(base)), cursors_(ctx.plan.orgs.size()), refused_(ctx.refused) {
  refused_.resize(ctx.plan.orgs.size());
}

void inventory_mode::start(steady_time) {
  for (std::size_t o = 0; o < cursors_.size(); ++o) {
    if (!refused_[o].empty()) {
      cursors_[o].finished = true;  // nothing to read where nothing may be sent
      continue;
    }
    ctx_.sched.push(o, static_cast<task_id>(o));
  }
}

request inventory_mode::request_for(std::size_t org, task_id, steady_time) {
  auto r = ops::license_list_request(ctx_.plan.orgs[org]);
  if (cursors_[org].next) r.at = cursors_[org].next;
  return r;
}

void inventory_mode::fail(std::size_t org, std::string why) {
  cursors_[org].finished = true;
  note_error(org, std::move(why), "inventory not read");
}

void inventory_mode::on_answer(std::size_t org, task_id t, const answer& a,
                               io::response_parser& parser, steady_time now) {
  auto& c = cursors_[org];
  if (a.not_sent) return fail(org, {});
  ++c.attempts;
  auto v = ops::judge_license_page(
      a, {ctx_.config.retry, c.attempts, ctx_.fx.jitter(), ctx_.fx.wall_now()}, parser, base_,
      a.where);
  if (requeue_if_retry(ctx_, org, t, v, now)) return;
  const auto& id = ctx_.plan.orgs[org];
  switch (v.what) {
    case next_step::abort_run:
      fail(org, v.message);
      ctx_.fx.abort(abort_reason(std::move(v.message), a, id));
      return;
    case next_step::condemn_org:
      // A co-term org: the modes that follow fail its rows unsent.
      refused_[org] = v.message;
      fail(org, std::move(v.message));
      return;
    case next_step::retry:  // requeue_if_retry queued it
    case next_step::done: break;
  }
  if (!v.ok) return fail(org, std::move(v.message));
  for (auto& l : v.items) c.pages.set(std::move(l.id), l.device_serial.value_or(""));
  if (!v.next_page) {
    c.finished = true;
    read_.emplace(id, std::move(c.pages));
    return;
  }
  c.next = std::move(v.next_page);
  c.attempts = 0;
  ctx_.sched.push(org, t);
}

void inventory_mode::finish_remaining() {
  for (std::size_t o = 0; o < cursors_.size(); ++o) {
    ctx_.sched.drain(o);
    if (!cursors_[o].finished) fail(o, {});
  }
}

}  // namespace relicense::engine
