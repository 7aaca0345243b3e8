#include "relicense/engine/preflight.hpp"

#include "relicense/engine/ops/organization_get.hpp"

#include <algorithm>

namespace relicense::engine {

preflight_mode::preflight_mode(const mode_context& ctx)
    : ctx_(ctx), attempts_(ctx.plan.orgs.size()) {}

void preflight_mode::start(steady_time) {
  // Only organizations with rows still to send: a resumed run that is done asks nothing. A plan
  // without rows (preflight_organizations) asks about every organization.
  std::vector<bool> needed(ctx_.plan.orgs.size(), ctx_.plan.rows.empty());
  for (const auto& row : ctx_.plan.rows) {
    if (!ctx_.config.already_done || !ctx_.config.already_done(row)) needed[row.org] = true;
  }
  for (std::size_t o = 0; o < needed.size(); ++o) {
    if (needed[o] && !ctx_.fx.stopping()) ctx_.sched.push(o, static_cast<task_id>(o));
  }
}

unsigned preflight_mode::workers() const {
  return static_cast<unsigned>(std::min<std::size_t>(ctx_.sched.pending(), 8));
}

request preflight_mode::request_for(std::size_t org, task_id, steady_time) {
  return ops::organization_get_request(ctx_.plan.orgs[org]);
}

void preflight_mode::on_answer(std::size_t org, task_id t, const answer& a,
                               io::response_parser& parser, steady_time now) {
  const auto& id = ctx_.plan.orgs[org];
  if (a.not_sent) return;  // finish_remaining says it was not read
  auto& check = checks_[id];
  check.status = a.resp.error == io::transport_error::none ? a.resp.status : 0;
  auto v = ops::judge_organization(
      a, {ctx_.config.retry, ++attempts_[org], ctx_.fx.jitter(), ctx_.fx.wall_now()}, parser);
  if (requeue_if_retry(ctx_, org, t, v, now)) return;
  switch (v.what) {
    case next_step::abort_run: ctx_.fx.abort(abort_reason(std::move(v.message), a, id)); return;
    case next_step::condemn_org:
    case next_step::retry:  // requeue_if_retry queued it
    case next_step::done: break;
  }
  check.visible = v.visible;
  check.licensing_model = std::move(v.licensing_model);
  check.error = std::move(v.message);
}

void preflight_mode::finish_remaining() {
  for (std::size_t o = 0; o < ctx_.plan.orgs.size(); ++o) {
    ctx_.sched.drain(o);
    auto it = checks_.find(ctx_.plan.orgs[o]);
    if (it != checks_.end() && it->second.error.empty() && it->second.licensing_model.empty() &&
        it->second.visible)
      it->second.error = "not read";
  }
}

std::string licensing_refusal(const std::string& org_id, const org_check& check) {
  if (!check.visible || check.licensing_model.empty() || check.licensing_model == "per-device")
    return {};
  return "organization " + org_id + " uses " + check.licensing_model +
         " licensing: per-device license moves do not apply";
}

}  // namespace relicense::engine
