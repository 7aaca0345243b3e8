#include "relicense/engine/ops/license_list.hpp"

namespace relicense::engine::ops {

request license_list_request(std::string_view org_id) {
  request r;
  r.method = "GET";
  r.kind = call_kind::read;
  r.path = "/organizations/" + std::string(org_id) + "/licenses?perPage=1000";
  return r;
}

page_verdict judge_license_page(const answer& a, const judge_context& ctx,
                                io::response_parser& parser, const io::origin& base,
                                const io::origin& current) {
  return judge_page<io::license_ref>(
      a, ctx, parser, base, current, "license list",
      [&](std::string_view body) { return parser.parse_license_page(body); });
}

}  // namespace relicense::engine::ops
