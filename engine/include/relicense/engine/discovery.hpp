// Discovery: what a user reads before writing a CSV. The organizations an API key can see and an
// organization's licenses, each read whole through the run loop (the budget, retries, 429 pauses,
// redirects and signals of a run), on the calling thread.
#pragma once

#include "relicense/engine/runner.hpp"
#include "relicense/plan/records.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace relicense::engine {

/// A collection read whole, or why not.
template <class Record>
struct listing_result {
  std::vector<Record> items;  ///< every record, in the API's order; empty unless read whole
  /// Why the listing was not read whole ("" when it was): the API's refusal (an unknown
  /// organization's 404, a co-term organization's 400), an unreadable page, or a stop.
  std::string error;
  run_status status = run_status::completed;  ///< aborted: bad key, TLS, unreachable host
  std::string abort_reason;                   ///< when aborted (never contains the key)
  run_counters counters;
};

/// GET /organizations, every page. `keep_raw`: each record keeps the object's text as sent.
/// Throws std::runtime_error on setup failures (bad base URL, unreadable CA file), as run() does.
listing_result<plan::organization_record> list_organizations(const run_config& config,
                                                             bool keep_raw = false);

/// GET /organizations/{org_id}/licenses?perPage=1000, every page; a non-empty `serial` keeps only
/// that device's licenses (&deviceSerial=). `org_id` must be a valid path segment
/// (plan::rules::id_problem). Throws as list_organizations does.
listing_result<plan::license_record> list_licenses(std::string_view org_id, std::string_view serial,
                                                   const run_config& config, bool keep_raw = false);

}  // namespace relicense::engine
