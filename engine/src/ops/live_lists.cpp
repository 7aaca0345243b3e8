#include "relicense/engine/ops/live_lists.hpp"

#include "relicense/io/link_header.hpp"

namespace relicense::engine::ops {

namespace {

request read_of(std::string path) {
  request r;
  r.method = "GET";
  r.kind = call_kind::read;
  r.path = std::move(path);
  return r;
}

/// The shared part of judging a page: the HTTP level, the body's parse (`parse`), the next link.
template <class Item, class Parse>
list_page_verdict<Item> judge_page(const answer& a, const judge_context& ctx, io::response_parser& parser,
                                   const io::origin& base, const io::origin& current, const char* what,
                                   Parse parse) {
  list_page_verdict<Item> v;
  if (!went_through(v, ctx, a, parser)) return v;
  auto page = parse(a.resp.body);
  if (!page.value) {
    v.message = std::string("unreadable ") + what + ": " + page.error;
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
  v.items = std::move(*page.value);
  return v;
}

} // namespace

request license_records_request(std::string_view org_id) {
  return read_of("/organizations/" + std::string(org_id) + "/licenses?perPage=1000");
}

request device_inventory_request(std::string_view org_id) {
  return read_of("/organizations/" + std::string(org_id) + "/inventory/devices?perPage=1000");
}

list_page_verdict<plan::license_record> judge_license_records(const answer& a, const judge_context& ctx,
                                                               io::response_parser& parser, const io::origin& base,
                                                               const io::origin& current) {
  return judge_page<plan::license_record>(a, ctx, parser, base, current, "license list",
                                          [&parser](std::string_view body) {
                                            return parser.parse_license_records(body);
                                          });
}

list_page_verdict<plan::device_record> judge_device_page(const answer& a, const judge_context& ctx,
                                                         io::response_parser& parser, const io::origin& base,
                                                         const io::origin& current) {
  return judge_page<plan::device_record>(a, ctx, parser, base, current, "device inventory",
                                         [&parser](std::string_view body) { return parser.parse_device_page(body); });
}

} // namespace relicense::engine::ops
