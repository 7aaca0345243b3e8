// Operation: GET /organizations/{organizationId}/licenses?perPage=1000, page by page (Link
// rel=next). Reads an organization's current licenses (verify, --skip-unchanged).
#pragma once

#include "relicense/engine/call.hpp"
#include "relicense/engine/ops/paged.hpp"
#include "relicense/io/json.hpp"

#include <optional>
#include <string_view>
#include <vector>

namespace relicense::engine::ops {

/// The first page's request.
request license_list_request(std::string_view org_id);

/// A page of license ids and serials (see paged.hpp).
using page_verdict = page_of<io::license_ref>;

/// `base` is the run's API origin and `current` the origin that answered: a next page may only
/// go where a redirect could.
page_verdict judge_license_page(const answer& a, const judge_context& ctx,
                                io::response_parser& parser, const io::origin& base,
                                const io::origin& current);

}  // namespace relicense::engine::ops
