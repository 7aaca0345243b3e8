#include "relicense/engine/call.hpp"

#include "relicense/io/json.hpp"

namespace relicense::engine {

std::string api_error_of(io::response_parser& parser, const io::response& r) {
  if (r.error != io::transport_error::none || (r.status >= 200 && r.status < 400)) return {};
  std::string e = parser.describe_error(r.status, r.body);
  // describe_error falls back to "HTTP n", which decide() already says.
  if (e.starts_with("HTTP ")) e.clear();
  return e;
}

decision decide_answer(const judge_context& ctx, const answer& a, std::string_view api_error) {
  if (!a.refused.empty()) {
    decision d;
    d.what = action::fail_row;
    d.message = a.refused;
    return d;
  }
  const io::response& r = a.resp;
  attempt_result ar;
  ar.error = r.error;
  ar.error_detail = r.error_detail;
  ar.status = r.status;
  if (r.retry_after) ar.retry_after = *r.retry_after;
  ar.api_error = api_error;
  ar.location = r.location;
  ar.content_type = r.content_type;
  return decide(ctx.policy, ar, ctx.attempt, ctx.jitter, ctx.wall_now);
}

verdict verdict_of(decision d) {
  verdict v;
  v.message = std::move(d.message);
  switch (d.what) {
    case action::retry:
      v.what = next_step::retry;
      v.delay = d.delay;
      v.cause = d.cause;
      v.pause_org = d.cause == retry_cause::throttled;
      break;
    case action::abort_run: v.what = next_step::abort_run; break;
    case action::condemn_org: v.what = next_step::condemn_org; break;
    case action::follow_redirect:
      // The loop follows allowed redirects; one that reaches a judge had no usable Location.
      if (v.message.empty()) v.message = "redirect not followed";
      break;
    case action::succeeded:
    case action::fail_row: break;
  }
  return v;
}

bool went_through(verdict& v, const judge_context& ctx, const answer& a,
                  io::response_parser& parser) {
  decision d = decide_answer(ctx, a, api_error_of(parser, a.resp));
  if (d.what != action::succeeded) {
    v = verdict_of(std::move(d));
    return false;
  }
  v.went_through = true;
  return true;
}

std::string trace_of(const answer& a) {
  if (a.host.empty()) return {};
  if (a.resp.request_id.empty()) return " (host " + a.host + ")";
  return " (request id " + a.resp.request_id + ", host " + a.host + ")";
}

std::string abort_reason(std::string message, const answer& a, std::string_view org_id) {
  const io::response& resp = a.resp;
  if (resp.error == io::transport_error::none && (resp.status == 401 || resp.status == 403)) {
    message += " for organization ";
    message += org_id;
    message += "; check the API key in MERAKI_DASHBOARD_API_KEY and its access to organization ";
    message += org_id;
  }
  return message + trace_of(a);
}

}  // namespace relicense::engine
