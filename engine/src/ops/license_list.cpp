#include "relicense/engine/ops/license_list.hpp"

#include "relicense/io/link_header.hpp"

namespace relicense::engine::ops {

request license_list_request(std::string_view org_id) {
  request r;
  r.method = "GET";
  r.kind = call_kind::read;
  r.path = "/organizations/" + std::string(org_id) + "/licenses?perPage=1000";
  return r;
}

page_verdict judge_license_page(const answer& a, const judge_context& ctx, io::response_parser& parser,
                                const io::origin& base, const io::origin& current) {
  page_verdict v;
  if (!went_through(v, ctx, a, parser)) return v;
  auto page = parser.parse_license_page(a.resp.body);
  if (!page.value) {
    v.message = "unreadable license list: " + page.error;
    return v;
  }
  if (auto next = io::next_link(a.resp.link)) {
    auto r = check_redirect(base, current, *next);
    if (!r.allowed) {
      v.message = "next page: " + r.reason;
      return v;
    }
    v.next_page = std::move(r.target);
  }
  v.ok = true;
  v.licenses = std::move(*page.value);
  return v;
}

} // namespace relicense::engine::ops
