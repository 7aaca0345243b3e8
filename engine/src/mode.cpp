#include "relicense/engine/mode.hpp"

#include <algorithm>

namespace relicense::engine {

next_work choose_work(scheduler& sched, mode& m, steady_time now, bool stopping,
                      std::size_t in_flight) {
  next_work n;
  if (stopping) {
    n.what = next_work::kind::end;
    return n;
  }
  m.tick(now);
  n.pick = sched.next(now);
  if (n.pick.what == scheduler::pick::kind::task) {
    n.what = next_work::kind::task;
    return n;
  }
  const auto wake = m.wake_at(now);
  if (n.pick.what == scheduler::pick::kind::idle && wake == steady_time::max() && in_flight == 0) {
    n.what = next_work::kind::end;
    return n;
  }
  n.until = n.pick.what == scheduler::pick::kind::wait ? std::min(n.pick.at, wake) : wake;
  return n;
}

void note_retry(const mode_context& ctx, std::size_t org, const verdict& v, steady_time now) {
  ++ctx.fx.counters().retries[static_cast<std::size_t>(v.cause)];
  if (!v.pause_org) return;
  ctx.sched.throttled(org, now, v.delay);
  ctx.fx.event({run_event::kind::org_paused, ctx.plan.orgs[org], v.delay, v.cause, v.message});
}

bool requeue_if_retry(const mode_context& ctx, std::size_t org, task_id t, const verdict& v,
                      steady_time now) {
  if (v.went_through) ctx.sched.succeeded(org, now);
  if (v.what != next_step::retry) return false;
  note_retry(ctx, org, v, now);
  ctx.sched.push_at(org, t, now + v.delay);
  return true;
}

}  // namespace relicense::engine
