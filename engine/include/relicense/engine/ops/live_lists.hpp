// Operation of the live read (`plan --live`, serial maps), beside organization_get.hpp (the
// licensing model) and listing.hpp (the full license records):
// GET /organizations/{org}/inventory/devices?perPage=1000, the organization's claimed hardware,
// licensed or not, page by page (Link rel=next).
#pragma once

#include "relicense/engine/call.hpp"
#include "relicense/engine/ops/paged.hpp"
#include "relicense/io/json.hpp"
#include "relicense/plan/records.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relicense::engine::ops {

/// The first page of the organization's device inventory (the license records are listing.hpp's).
request device_inventory_request(std::string_view org_id);

/// A page of the device inventory (see paged.hpp).
page_of<plan::device_record> judge_device_page(const answer& a, const judge_context& ctx,
                                               io::response_parser& parser, const io::origin& base,
                                               const io::origin& current);

}  // namespace relicense::engine::ops
