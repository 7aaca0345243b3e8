// What the Dashboard API says about an organization, reduced to what relicense plans with: its
// licenses (GET /organizations/{org}/licenses), its devices (GET .../inventory/devices) and the
// organization itself (GET /organizations[/{org}]). Pure data: io/ parses the answers into these,
// plan/ decides with them, so the planner never sees JSON or sockets.
#pragma once

#include <string>

namespace relicense::plan {

/// One license as the API lists it.
struct license_record {
  std::string id;
  std::string license_type;     ///< e.g. MX64-ENT
  std::string state;            ///< active, expiring, expired, recentlyQueued, unused, unusedActive
  std::string device_serial;    ///< upper case; empty: unassigned
  std::string activation_date;  ///< ISO 8601 as sent; empty: null (never activated)
  std::string expiration_date;  ///< ISO 8601 as sent; empty: null
  std::string head_license_id;  ///< the active license this one queues behind; empty: none
  std::string raw_json;         ///< the object's text as the API sent it; empty unless asked for
};

/// One device of the organization's inventory (claimed hardware, licensed or not).
struct device_record {
  std::string serial;  ///< upper case
  std::string model;   ///< e.g. MX67
  std::string name;    ///< may be empty
};

/// One organization the API key can see.
struct organization_record {
  std::string id;
  std::string name;
  std::string
      licensing_model;   ///< licensing.model: per-device, co-term, subscription; empty: not said
  std::string raw_json;  ///< the object's text as the API sent it; empty unless asked for
};

/// True for the states in which a license is the one burning on its device.
inline bool is_burning(const license_record& l) noexcept {
  return !l.device_serial.empty() && (l.state == "active" || l.state == "expiring");
}

}  // namespace relicense::plan
