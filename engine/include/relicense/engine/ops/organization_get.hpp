// Operation: GET /organizations/{organizationId}. The pre-flight reads each organization once:
// whether the key can see it, and its licensing model (only per-device organizations have
// licenses to move).
#pragma once

#include "relicense/engine/call.hpp"

#include <string>
#include <string_view>

namespace relicense::engine::ops {

request organization_get_request(std::string_view org_id);

/// When `what` is done: `visible` false for a 404/403 (the key cannot see the org); else the
/// model when the answer said it, or `message` saying why the org could not be read.
struct organization_verdict : verdict {
  bool visible = true;
  std::string licensing_model;
};

organization_verdict judge_organization(const answer& a, const judge_context& ctx,
                                        io::response_parser& parser);

}  // namespace relicense::engine::ops
