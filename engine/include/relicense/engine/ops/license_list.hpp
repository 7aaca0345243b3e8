// Operation: GET /organizations/{organizationId}/licenses?perPage=1000, page by page (Link
// rel=next). Reads an organization's current licenses (verify, --skip-unchanged).
#pragma once

#include "relicense/engine/call.hpp"
#include "relicense/io/json.hpp"

#include <optional>
#include <string_view>
#include <vector>

namespace relicense::engine::ops {

/// The first page's request.
request license_list_request(std::string_view org_id);

/// The verdict on one page. When `what` is done: `ok` with the page's licenses and, if there is
/// one, the next page's URL (checked against the redirect policy); or not `ok` with `message`.
struct page_verdict : verdict {
  bool ok = false;
  std::vector<io::license_ref> licenses;
  std::optional<url_target> next_page;
};

/// `base` is the run's API origin and `current` the origin that answered: a next page may only
/// go where a redirect could.
page_verdict judge_license_page(const answer& a, const judge_context& ctx, io::response_parser& parser,
                                const io::origin& base, const io::origin& current);

} // namespace relicense::engine::ops
