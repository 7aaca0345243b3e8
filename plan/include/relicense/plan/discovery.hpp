// What `relicense licenses` and `relicense orgs` print: an organization's licenses and the
// organizations a key can see, as a table for people, as the API's own JSON objects, or as a CSV
// the license loader reads back (edit deviceSerial, then plan and apply it). Pure rendering; the
// lists are fetched elsewhere (io/ parses them into records.hpp's types).
#pragma once

#include "relicense/plan/records.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace relicense::plan {

/// A table with the columns ID, TYPE, STATE, DEVICE, EXPIRATION, aligned; "-" for an unassigned
/// license or a missing date; control characters from the server escaped. No licenses: a line
/// saying so.
std::string render_licenses_table(const std::vector<license_record>& licenses);

/// The licenses as one JSON array of the API's objects, as sent (license_record::raw_json; a
/// record without raw text is written from its fields), one per line, then a newline.
std::string render_licenses_json(const std::vector<license_record>& licenses);

/// organizationId,licenseId,deviceSerial,licenseType,state,expirationDate: a license CSV that
/// `relicense plan`/`apply` accept as it is (the last three columns are ignored there).
std::string render_licenses_csv(const std::vector<license_record>& licenses,
                                std::string_view org_id);

/// A table with the columns ID, NAME, LICENSING, aligned ("-" when the model is not said).
std::string render_orgs_table(const std::vector<organization_record>& orgs);

/// The organizations as one JSON array of the API's objects, as sent
/// (organization_record::raw_json; a record without raw text is written from its fields), then a
/// newline.
std::string render_orgs_json(const std::vector<organization_record>& orgs);

}  // namespace relicense::plan
