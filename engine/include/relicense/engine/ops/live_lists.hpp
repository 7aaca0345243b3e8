// Operations of the live read (`plan --live`, serial maps), beside organization_get.hpp (the
// licensing model): GET /organizations/{org}/licenses?perPage=1000 for the organization's full
// license records (states, queues), and GET /organizations/{org}/inventory/devices?perPage=1000
// for its claimed hardware, licensed or not. Both come page by page (Link rel=next).
#pragma once

#include "relicense/engine/call.hpp"
#include "relicense/io/json.hpp"
#include "relicense/plan/records.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relicense::engine::ops {

/// The first page of the organization's full license records.
request license_records_request(std::string_view org_id);

/// The first page of the organization's device inventory.
request device_inventory_request(std::string_view org_id);

/// The verdict on one page of a list: when `what` is done, `ok` with the page's items and the next
/// page's URL if there is one (checked against the redirect policy), or not `ok` with `message`.
template <class Item>
struct list_page_verdict : verdict {
  bool ok = false;
  std::vector<Item> items;
  std::optional<url_target> next_page;
};

/// `base` is the run's API origin and `current` the origin that answered: a next page may only
/// go where a redirect could.
list_page_verdict<plan::license_record> judge_license_records(const answer& a, const judge_context& ctx,
                                                               io::response_parser& parser, const io::origin& base,
                                                               const io::origin& current);

list_page_verdict<plan::device_record> judge_device_page(const answer& a, const judge_context& ctx,
                                                         io::response_parser& parser, const io::origin& base,
                                                         const io::origin& current);

} // namespace relicense::engine::ops
