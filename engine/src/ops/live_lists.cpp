#include "relicense/engine/ops/live_lists.hpp"

namespace relicense::engine::ops {

request device_inventory_request(std::string_view org_id) {
  request r;
  r.method = "GET";
  r.kind = call_kind::read;
  r.path = "/organizations/" + std::string(org_id) + "/inventory/devices?perPage=1000";
  return r;
}

page_of<plan::device_record> judge_device_page(const answer& a, const judge_context& ctx,
                                               io::response_parser& parser, const io::origin& base,
                                               const io::origin& current) {
  return judge_page<plan::device_record>(
      a, ctx, parser, base, current, "device inventory",
      [&parser](std::string_view body) { return parser.parse_device_page(body); });
}

}  // namespace relicense::engine::ops
