#include "relicense/engine/ops/license_put.hpp"

#include "relicense/io/json.hpp"

namespace relicense::engine::ops {

request license_put_request(std::string_view org_id, const plan::row& row) {
  request r;
  r.method = "PUT";
  r.kind = call_kind::license_put;
  r.path.reserve(32 + org_id.size() + row.license_id.size());
  r.path += "/organizations/";
  r.path += org_id;
  r.path += "/licenses/";
  r.path += row.license_id;
  if (row.serial.empty()) {
    r.body = R"({"deviceSerial":null})";
  } else {
    // Sized once: a sum of the three parts reallocates for the last.
    r.body.reserve(20 + row.serial.size());
    r.body.append(R"({"deviceSerial":")").append(row.serial).append("\"}");
  }
  return r;
}

std::string answer_mismatch(const plan::row& row, const io::license& got) {
  const std::string wanted = row.serial.empty() ? std::string("null") : row.serial;
  if (got.id != row.license_id) {
    return "the API answered about license " + got.id + " instead of " + row.license_id +
           " (asked for deviceSerial " + wanted + ")";
  }
  if (!got.has_device_serial) {
    return "the API's answer for license " + got.id + " has no deviceSerial (asked for " + wanted +
           ")";
  }
  const bool match = row.serial.empty() ? !got.device_serial.has_value()
                                        : (got.device_serial && *got.device_serial == row.serial);
  if (!match) {
    return "the API returned deviceSerial " + got.device_serial.value_or("null") + " instead of " +
           wanted + " for license " + got.id;
  }
  return {};
}

put_verdict judge_license_put(const plan::row& row, const answer& a, const judge_context& ctx,
                              io::response_parser& parser) {
  put_verdict v;
  if (!went_through(v, ctx, a, parser)) return v;
  auto lic = parser.parse_license(a.resp.body, false);
  if (!lic.value) {
    v.message = "unreadable license in the response: " + lic.error;
    return v;
  }
  v.state = lic.value->state;
  v.message = answer_mismatch(row, *lic.value);
  if (v.message.empty()) v.outcome = io::outcome::applied;
  return v;
}

}  // namespace relicense::engine::ops
