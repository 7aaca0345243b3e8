// CSVs built from the twin's generated organizations, for the tests that run the relicense
// binary against it (artefacts, fault suite). Header-only: only targets that link
// relicense::sim include it.
#pragma once

#include "relicense/sim/server.hpp"

#include <cstddef>
#include <map>
#include <string>

namespace relicense::test {

/// org id -> license id -> requested serial ("" = unassign).
using wanted_map = std::map<std::string, std::map<std::string, std::string>>;

/// A CSV that moves the first `per_org` licenses of every org (co-term orgs left out) to another
/// of its devices, so every row changes something and any re-applied row shows in the twin's
/// duplicate count. `wanted` receives what each row asks for.
inline std::string moving_csv(const sim::server& twin, std::size_t per_org, wanted_map& wanted) {
  std::string csv = "organizationId,licenseId,deviceSerial\n";
  for (const auto& org : twin.orgs()) {
    if (org.coterm) continue;
    for (std::size_t i = 0; i < per_org && i < org.licenses.size(); ++i) {
      const auto& lic = org.licenses[i];
      std::string target;
      for (std::size_t d = 0; d < org.devices.size(); ++d) {
        const auto& dev = org.devices[(i + d) % org.devices.size()];
        if (!lic.device_serial || *lic.device_serial != dev) {
          target = dev;
          break;
        }
      }
      wanted[org.id][lic.id] = target;
      csv += org.id + "," + lic.id + "," + target + "\n";
    }
  }
  return csv;
}

}  // namespace relicense::test
