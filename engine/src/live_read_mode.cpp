#include "relicense/engine/live_read_mode.hpp"

#include "relicense/engine/ops/listing.hpp"
#include "relicense/engine/ops/live_lists.hpp"
#include "relicense/engine/ops/organization_get.hpp"

namespace relicense::engine {

live_read_mode::live_read_mode(const mode_context& ctx, io::origin base)
    : org_read_mode(ctx, std::move(base)), cursors_(ctx.plan.orgs.size()) {}

void live_read_mode::start(steady_time) {
  for (std::size_t o = 0; o < cursors_.size(); ++o) {
    if (o < ctx_.refused.size() && !ctx_.refused[o].empty()) {
      fail(o, ctx_.refused[o]);  // nothing may be sent for it
      continue;
    }
    ctx_.sched.push(o, static_cast<task_id>(o));
  }
}

request live_read_mode::request_for(std::size_t org, task_id, steady_time) {
  const auto& c = cursors_[org];
  const auto& id = ctx_.plan.orgs[org];
  request r = c.at == step::model      ? ops::organization_get_request(id)
              : c.at == step::licenses ? ops::license_records_request(id, {})
                                       : ops::device_inventory_request(id);
  if (c.next) r.at = c.next;
  return r;
}

void live_read_mode::fail(std::size_t org, std::string why) {
  cursors_[org].at = step::finished;
  note_error(org, std::move(why), "live state not read");
}

void live_read_mode::finish(std::size_t org) {
  auto& c = cursors_[org];
  c.at = step::finished;
  read_.insert_or_assign(ctx_.plan.orgs[org], std::move(c.read));
}

void live_read_mode::advance(std::size_t org, task_id t, step s) {
  auto& c = cursors_[org];
  c.at = s;
  c.next.reset();
  c.attempts = 0;
  ctx_.sched.push(org, t);
}

void live_read_mode::on_answer(std::size_t org, task_id t, const answer& a,
                               io::response_parser& parser, steady_time now) {
  auto& c = cursors_[org];
  if (c.at == step::finished) return;
  if (a.not_sent) return fail(org, {});
  ++c.attempts;
  const judge_context jc{ctx_.config.retry, c.attempts, ctx_.fx.jitter(), ctx_.fx.wall_now()};
  const auto& id = ctx_.plan.orgs[org];
  const char* what = c.at == step::model      ? "organization"
                     : c.at == step::licenses ? "licenses"
                                              : "devices";

  // The verdict's shared part: true when the mode goes on with the operation's result.
  const auto go_on = [&](verdict& v) {
    if (requeue_if_retry(ctx_, org, t, v, now)) return false;
    switch (v.what) {
      case next_step::abort_run:
        fail(org, std::string(what) + ": " + v.message);
        ctx_.fx.abort(abort_reason(std::move(v.message), a, id));
        return false;
      case next_step::condemn_org:
        // No per-device licensing: what was read (its model) is all there is to know.
        if (c.read.licensing_model().empty()) c.read.set_licensing_model("co-term");
        finish(org);
        return false;
      case next_step::retry:  // requeue_if_retry queued it
      case next_step::done: return true;
    }
    return true;
  };

  switch (c.at) {
    case step::model: {
      auto v = ops::judge_organization(a, jc, parser);
      if (!go_on(v)) return;
      if (!v.visible) return fail(org, "organization: not found, or not visible to this API key");
      if (!v.message.empty()) return fail(org, "organization: " + v.message);
      c.read.set_licensing_model(v.licensing_model);
      if (!v.licensing_model.empty() && v.licensing_model != "per-device") return finish(org);
      return advance(org, t, step::licenses);
    }
    case step::licenses: {
      auto v = ops::judge_license_record_page(a, jc, parser, false, base_, a.where);
      if (!go_on(v)) return;
      if (!v.ok) return fail(org, "licenses: " + v.message);
      for (auto& l : v.items) c.read.add(std::move(l));
      if (!v.next_page) return advance(org, t, step::devices);
      c.next = std::move(v.next_page);
      c.attempts = 0;
      ctx_.sched.push(org, t);
      return;
    }
    case step::devices: {
      auto v = ops::judge_device_page(a, jc, parser, base_, a.where);
      if (!go_on(v)) return;
      if (!v.ok) return fail(org, "devices: " + v.message);
      c.read.add_devices(std::move(v.items));
      if (!v.next_page) return finish(org);
      c.next = std::move(v.next_page);
      c.attempts = 0;
      ctx_.sched.push(org, t);
      return;
    }
    case step::finished: return;
  }
}

void live_read_mode::finish_remaining() {
  for (std::size_t o = 0; o < cursors_.size(); ++o) {
    ctx_.sched.drain(o);
    if (cursors_[o].at != step::finished) fail(o, {});
  }
}

}  // namespace relicense::engine
