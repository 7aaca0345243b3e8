// The Dashboard API's JSON answers, parsed with simdjson On-Demand: the license object, the
// {"errors":[...]} body, a page of the license list (ids and serials for the run's inventory, or
// full records for the live plan and `relicense licenses`), a page of the device inventory, the
// organizations and an action batch. One response_parser per
// worker reuses its parser and padded buffer across calls. Malformed input or wrong types give
// an error value, never an exception or a crash.
#pragma once

#include "relicense/plan/records.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relicense::io {

/// The fields of a license object relicense uses; the others are read loosely (skipped).
struct license {
  std::string id;
  std::optional<std::string> device_serial;  ///< nullopt: null or absent (unassigned)
  bool has_device_serial = false;            ///< the field was there (null or a string)
  std::string state;                         ///< active, unused, recentlyQueued, ...
  std::string license_type;
  std::string network_id;
  std::string head_license_id;
};

/// One license of a list page: what the plan diff needs.
struct license_ref {
  std::string id;
  std::optional<std::string> device_serial;  ///< nullopt: unassigned
  bool has_device_serial = false;            ///< the field was there (null or a string)
  std::string state;
};

/// An action batch as POST/GET .../actionBatches returns it.
struct action_batch {
  std::string id;
  bool confirmed = false;
  bool completed = false;  ///< status.completed
  bool failed = false;     ///< status.failed
  std::string errors;      ///< status.errors joined with "; "
};

/// A value or why there is none.
template <class T>
struct json_result {
  std::optional<T> value;
  std::string error;  ///< non-empty exactly when value is empty
};

/// True for application/json and application/<x>+json, any parameters, any case.
bool is_json_content_type(std::string_view content_type) noexcept;

/// A reusable parser; not thread-safe (one per worker).
class response_parser {
public:
  response_parser();
  ~response_parser();
  response_parser(response_parser&&) noexcept;
  response_parser& operator=(response_parser&&) noexcept;

  /// A license object (GET or PUT .../licenses/{id}). `id` is required. Without `details`,
  /// licenseType, networkId and headLicenseId are checked (a string or null) but left empty:
  /// the PUT judge reads id, deviceSerial and state only, and copies nothing else per row.
  json_result<license> parse_license(std::string_view body, bool details = true);

  /// {"errors":["a","b"]} → "a; b". An error value when the body is not of that shape.
  json_result<std::string> parse_errors(std::string_view body);

  /// A page of GET .../licenses: an array of license objects, each with "id" and "deviceSerial"
  /// (null when unassigned): a license that does not say where it is cannot be compared.
  json_result<std::vector<license_ref>> parse_license_page(std::string_view body);

  /// A page of GET .../licenses as full records: id (required), licenseType, state, deviceSerial
  /// (required, null when unassigned; upper-cased), activationDate, expirationDate, headLicenseId
  /// (null or absent: empty). With `keep_raw`, each record's raw_json is the object's text as
  /// sent (for `relicense licenses --json`); that costs a second parse of each object, so the
  /// run's inventory pass uses parse_license_page instead.
  json_result<std::vector<plan::license_record>> parse_license_records(std::string_view body,
                                                                       bool keep_raw = false);

  /// A page of GET /organizations/{org}/inventory/devices: serial (required; upper-cased), model
  /// and name (null or absent: empty).
  json_result<std::vector<plan::device_record>> parse_device_page(std::string_view body);

  /// GET /organizations: an array of organizations, each with id (required), name and
  /// licensing.model (null or absent: empty); raw_json kept with `keep_raw`.
  json_result<std::vector<plan::organization_record>> parse_organizations(std::string_view body,
                                                                          bool keep_raw = false);

  /// GET /organizations/{org}: one organization, as parse_organizations reads each.
  json_result<plan::organization_record> parse_organization(std::string_view body,
                                                            bool keep_raw = false);

  /// An action batch object (id, confirmed, status{completed, failed, errors}).
  json_result<action_batch> parse_action_batch(std::string_view body);

  /// GET /organizations/{org}/actionBatches: an array of action batch objects, each read as
  /// parse_action_batch reads one (an object without "id" makes the whole answer an error).
  json_result<std::vector<action_batch>> parse_action_batches(std::string_view body);

  /// A human-readable reason for a non-2xx answer: the joined "errors" when the body has them,
  /// else the start of the body (at most 200 bytes, control characters escaped), else "HTTP n".
  std::string describe_error(unsigned status, std::string_view body);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace relicense::io
