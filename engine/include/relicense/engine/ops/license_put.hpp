// Operation: PUT /organizations/{organizationId}/licenses/{licenseId} with {"deviceSerial": ...}.
// Assigns, moves or unassigns one license. Only an answer about the very license and serial asked
// for counts as applied.
#pragma once

#include "relicense/engine/call.hpp"
#include "relicense/io/row_result.hpp"
#include "relicense/plan/plan.hpp"

#include <string>
#include <string_view>

namespace relicense::engine::ops {

request license_put_request(std::string_view org_id, const plan::row& row);

/// The verdict on a PUT's answer. When `what` is done, the row ends with `outcome` (applied or
/// failed), `message` saying why it failed, and `state` the license's state in the answer.
struct put_verdict : verdict {
  io::outcome outcome = io::outcome::failed;
  std::string state;
};

put_verdict judge_license_put(const plan::row& row, const answer& a, const judge_context& ctx,
                              io::response_parser& parser);

/// Why the license in a PUT's answer does not confirm `row` (another license, another serial, or
/// no deviceSerial field at all), or "" when it does.
std::string answer_mismatch(const plan::row& row, const io::license& got);

}  // namespace relicense::engine::ops
