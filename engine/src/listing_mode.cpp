#include "relicense/engine/listing_mode.hpp"

#include "relicense/engine/ops/listing.hpp"

#include <iterator>
#include <string>

namespace relicense::engine {

listing_mode::listing_mode(const mode_context& ctx, io::origin base, listing_query q)
    : ctx_(ctx), base_(std::move(base)), q_(std::move(q)) {}

void listing_mode::start(steady_time) {
  if (!ctx_.refused.empty() && !ctx_.refused[0].empty()) return fail(ctx_.refused[0]);
  ctx_.sched.push(0, 0);
}

request listing_mode::request_for(std::size_t, task_id, steady_time) {
  auto r = q_.what == listing_query::of::organizations
               ? ops::organization_list_request()
               : ops::license_records_request(q_.org_id, q_.serial);
  if (next_) r.at = next_;
  return r;
}

void listing_mode::fail(std::string why) {
  finished_ = true;
  error_ = why.empty() ? "not read: the run stopped first" : std::move(why);
  orgs_.clear();
  licenses_.clear();
}

std::string listing_mode::abort_text(std::string message, const answer& a) const {
  if (q_.what == listing_query::of::licenses) return abort_reason(std::move(message), a, q_.org_id);
  const auto& r = a.resp;
  if (r.error == io::transport_error::none && (r.status == 401 || r.status == 403))
    message += "; check the API key in MERAKI_DASHBOARD_API_KEY";
  return message + trace_of(a);
}

template <class Verdict, class Record>
void listing_mode::settle(std::size_t org, task_id t, const answer& a, steady_time now, Verdict v,
                          std::vector<Record>& into) {
  if (requeue_if_retry(ctx_, org, t, v, now)) return;
  switch (v.what) {
    case next_step::abort_run:
      fail(v.message);
      ctx_.fx.abort(abort_text(std::move(v.message), a));
      return;
    case next_step::condemn_org:  // a co-term organization: it has no per-device licenses to list
    case next_step::retry:        // requeue_if_retry queued it
    case next_step::done: break;
  }
  if (!v.ok) return fail(std::move(v.message));
  into.insert(into.end(), std::make_move_iterator(v.items.begin()),
              std::make_move_iterator(v.items.end()));
  if (!v.next_page) {
    finished_ = true;
    complete_ = true;
    return;
  }
  // A server that links back to a page already read would keep the listing going for ever.
  std::string key =
      v.next_page->where.host + ":" + std::to_string(v.next_page->where.port) + v.next_page->path;
  if (!seen_.insert(std::move(key)).second)
    return fail("the API's next page link points back to a page already read");
  next_ = std::move(v.next_page);
  attempts_ = 0;
  ctx_.sched.push(org, t);
}

void listing_mode::on_answer(std::size_t org, task_id t, const answer& a,
                             io::response_parser& parser, steady_time now) {
  if (a.not_sent) return fail({});
  ++attempts_;
  const judge_context jc{ctx_.config.retry, attempts_, ctx_.fx.jitter(), ctx_.fx.wall_now()};
  if (q_.what == listing_query::of::organizations)
    settle(org, t, a, now, ops::judge_organization_page(a, jc, parser, q_.keep_raw, base_, a.where),
           orgs_);
  else
    settle(org, t, a, now,
           ops::judge_license_record_page(a, jc, parser, q_.keep_raw, base_, a.where), licenses_);
}

void listing_mode::finish_remaining() {
  ctx_.sched.drain(0);
  if (!finished_) fail({});
}

}  // namespace relicense::engine
