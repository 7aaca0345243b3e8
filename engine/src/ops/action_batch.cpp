#include "relicense/engine/ops/action_batch.hpp"

namespace relicense::engine::ops {
namespace {

unsigned status_of(const answer& a) {
  return a.resp.error == io::transport_error::none ? a.resp.status : 0;
}

batch_verdict failed(batch_verdict v, std::string message) {
  v.what = next_step::done;
  v.news = batch_news::failed;
  v.message = std::move(message);
  return v;
}

/// The judge of a GET about batches (one batch or the list): `read` fills `v` from a 2xx body.
template <class Read>
batch_verdict judge_batch_read(batch_verdict v, const answer& a, const judge_context& ctx,
                               io::response_parser& parser, Read read) {
  const std::string api_error = api_error_of(parser, a.resp);
  decision d = decide_answer(ctx, a, api_error);
  switch (d.what) {
    case action::succeeded:
      v.went_through = true;
      read(v);
      return v;
    case action::retry:
    case action::abort_run:
    case action::condemn_org: static_cast<verdict&>(v) = verdict_of(std::move(d)); return v;
    case action::fail_row:
    case action::follow_redirect: break;
  }
  return failed(std::move(v), std::move(d.message));
}

}  // namespace

request batch_post_request(std::string_view org_id, const std::vector<batch_action_ref>& actions) {
  request r;
  r.method = "POST";
  r.path = "/organizations/" + std::string(org_id) + "/actionBatches";
  r.body = build_batch_body(org_id, actions);
  return r;
}

request batch_poll_request(std::string_view org_id, std::string_view batch_id) {
  request r;
  r.method = "GET";
  r.path = "/organizations/" + std::string(org_id) + "/actionBatches/" + std::string(batch_id);
  return r;
}

request batch_list_request(std::string_view org_id) {
  request r;
  r.method = "GET";
  r.path = "/organizations/" + std::string(org_id) + "/actionBatches?status=pending";
  return r;
}

batch_verdict judge_batch_post(const answer& a, const judge_context& ctx,
                               io::response_parser& parser) {
  batch_verdict v;
  v.status = status_of(a);
  if (!a.refused.empty()) return failed(std::move(v), a.refused);
  const std::string api_error = api_error_of(parser, a.resp);
  if (v.status == 400 && is_too_many_batches_error(api_error)) {
    v.news = batch_news::busy;
    return v;
  }
  decision d = decide_answer(ctx, a, api_error);
  switch (d.what) {
    case action::succeeded: {
      v.went_through = true;
      auto b = parser.parse_action_batch(a.resp.body);
      if (!b.value)
        return failed(std::move(v), "unreadable action batch in the response: " + b.error);
      v.news = batch_news::status;
      v.batch = std::move(*b.value);
      return v;
    }
    case action::fail_row:
      if (v.status == 400 || v.status == 422) {
        // The API refused the batch as a whole; which action it objects to, bisection tells.
        v.news = batch_news::refused;
        v.message = api_error.empty() ? std::move(d.message) : api_error;
        return v;
      }
      if (v.status >= 400 && v.status < 500) {
        // 404, 405, ...: the org's batch endpoint itself says no; every row would hear the same.
        static_cast<verdict&>(v) = verdict_of(std::move(d));
        v.what = next_step::condemn_org;
        return v;
      }
      return failed(std::move(v), std::move(d.message));
    case action::follow_redirect:
      return failed(std::move(v), "unexpected answer to the batch POST");
    case action::retry:
    case action::abort_run:
    case action::condemn_org: break;
  }
  static_cast<verdict&>(v) = verdict_of(std::move(d));
  return v;
}

batch_verdict judge_batch_poll(std::string_view id, const answer& a, const judge_context& ctx,
                               io::response_parser& parser) {
  batch_verdict v;
  v.status = status_of(a);
  if (!a.refused.empty()) return failed(std::move(v), a.refused);
  if (v.status == 404) {
    v.news = batch_news::lost;
    return v;
  }
  return judge_batch_read(std::move(v), a, ctx, parser, [&](batch_verdict& out) {
    auto b = parser.parse_action_batch(a.resp.body);
    if (b.value && b.value->id != id) {
      // An answer about another batch says nothing about this one's rows.
      b.error =
          "the API answered about action batch " + b.value->id + " instead of " + std::string(id);
      b.value.reset();
    }
    if (!b.value) {
      out.news = batch_news::unreadable;
      out.message = std::move(b.error);
      return;
    }
    out.news = batch_news::status;
    out.batch = std::move(*b.value);
  });
}

batch_verdict judge_batch_list(const answer& a, const judge_context& ctx,
                               io::response_parser& parser) {
  batch_verdict v;
  v.status = status_of(a);
  if (!a.refused.empty()) return failed(std::move(v), a.refused);
  return judge_batch_read(std::move(v), a, ctx, parser, [&](batch_verdict& out) {
    auto list = parser.parse_action_batches(a.resp.body);
    if (!list.value) {
      out.news = batch_news::unreadable;
      out.message = "unreadable list of action batches: " + list.error;
      return;
    }
    out.news = batch_news::status;
    out.listed = std::move(*list.value);
  });
}

}  // namespace relicense::engine::ops
