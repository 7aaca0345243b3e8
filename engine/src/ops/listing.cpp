#include "relicense/engine/ops/listing.hpp"

#include "relicense/io/link_header.hpp"

namespace relicense::engine::ops {

request organization_list_request() {
  request r;
  r.method = "GET";
  r.kind = call_kind::read;
  r.path = "/organizations";
  return r;
}

std::string percent_encode(std::string_view value) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '.' || c == '_' || c == '~';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

request license_records_request(std::string_view org_id, std::string_view serial) {
  request r;
  r.method = "GET";
  r.kind = call_kind::read;
  r.path = "/organizations/" + std::string(org_id) + "/licenses?perPage=1000";
  if (!serial.empty()) r.path += "&deviceSerial=" + percent_encode(serial);
  return r;
}

listing_verdict<plan::organization_record> judge_organization_page(
    const answer& a, const judge_context& ctx, io::response_parser& parser, bool keep_raw,
    const io::origin& base, const io::origin& current) {
  return judge_page<plan::organization_record>(
      a, ctx, parser, base, current, "organization list",
      [&](std::string_view body) { return parser.parse_organizations(body, keep_raw); });
}

listing_verdict<plan::license_record> judge_license_record_page(
    const answer& a, const judge_context& ctx, io::response_parser& parser, bool keep_raw,
    const io::origin& base, const io::origin& current) {
  return judge_page<plan::license_record>(
      a, ctx, parser, base, current, "license list",
      [&](std::string_view body) { return parser.parse_license_records(body, keep_raw); });
}

}  // namespace relicense::engine::ops
