// Operations: the reads behind `relicense orgs` and `relicense licenses`, each a collection the
// API hands out page by page (Link rel=next).
//   GET /organizations                                         the organizations the key can see
//   GET /organizations/{org}/licenses?perPage=1000[&deviceSerial=S]  an organization's licenses
// Unlike license_list (ids and serials for the run's inventory), these keep whole records and,
// for --json, the objects' text as sent.
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

/// The first page of GET /organizations.
request organization_list_request();

/// The first page of an organization's licenses; a non-empty `serial` keeps only the licenses of
/// that device (percent-encoded into the query).
request license_records_request(std::string_view org_id, std::string_view serial);

/// "%XX" for every byte outside A-Z a-z 0-9 - . _ ~ (a query value).
std::string percent_encode(std::string_view value);

/// The verdict on one page of a listing (see paged.hpp).
template <class Record>
using listing_verdict = page_of<Record>;

/// A page of GET /organizations. `keep_raw`: each record keeps its object's text. `base` is the
/// run's API origin and `current` the origin that answered: a next page may only go where a
/// redirect could.
listing_verdict<plan::organization_record> judge_organization_page(
    const answer& a, const judge_context& ctx, io::response_parser& parser, bool keep_raw,
    const io::origin& base, const io::origin& current);

/// A page of an organization's licenses, as full records (see judge_organization_page).
listing_verdict<plan::license_record> judge_license_record_page(
    const answer& a, const judge_context& ctx, io::response_parser& parser, bool keep_raw,
    const io::origin& base, const io::origin& current);

}  // namespace relicense::engine::ops
