#include "relicense/engine/ops/organization_get.hpp"

namespace relicense::engine::ops {

request organization_get_request(std::string_view org_id) {
  request r;
  r.method = "GET";
  r.kind = call_kind::read;
  r.path = "/organizations/" + std::string(org_id);
  return r;
}

organization_verdict judge_organization(const answer& a, const judge_context& ctx,
                                        io::response_parser& parser) {
  organization_verdict v;
  // 403 as well as 404: the API answers either for an organization outside the key's reach. A
  // 401 (the key itself rejected) stays the run's abort.
  if (a.refused.empty() && a.resp.error == io::transport_error::none &&
      (a.resp.status == 404 || a.resp.status == 403)) {
    v.visible = false;
    return v;
  }
  if (!went_through(v, ctx, a, parser)) return v;
  auto org = parser.parse_organization(a.resp.body);
  if (org.value) v.licensing_model = org.value->licensing_model;
  else v.message = "unreadable organization: " + org.error;
  return v;
}

}  // namespace relicense::engine::ops
