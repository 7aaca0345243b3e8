// Serial maps, resolved: "every license on the old device moves to the new one" becomes license
// rows, decided against the organizations' live inventories (licenses with their states, and the
// devices). Pure: the inventories are fetched elsewhere; the map is loaded by csv.hpp's loader
// (load_options::accept_serial_map).
#pragma once

#include "relicense/plan/csv.hpp"
#include "relicense/plan/diff.hpp"
#include "relicense/plan/plan.hpp"

#include <string>
#include <vector>

namespace relicense::plan {

/// A serial map turned into license rows.
struct map_resolution {
  /// result.plan: one row per license that moves (line = its mapping's line, serial = the new
  /// device), the burning license of each old device first, then the ones queued behind it; orgs
  /// as in the map; fingerprint over those rows. result.errors and warnings name the map's
  /// file:line and column, with the same caps as a load.
  load_result result;
  /// Parallel to result.plan.rows: the old device each license leaves.
  std::vector<std::string> previous_serials;

  bool ok() const noexcept { return result.ok(); }
};

/// Limits of the diagnostics kept (the rest are counted).
struct resolve_options {
  std::size_t max_errors = 20;
  std::size_t max_warnings = 20;
};

/// Resolves `map` against `inv`, whose inventories must have been filled with inventory::add()
/// (license states) and, for the "not in the inventory" warning, inventory::set_devices().
/// Errors: an org without an inventory; an old device holding no license (expired ones do not
/// count: they stay, with a warning). Warnings: the new device already holds a burning license
/// (the moved ones will queue behind it); the new device is not in the org's device inventory.
map_resolution resolve_serial_map(const serial_map& map, const inventories& inv,
                                  const resolve_options& opts = {});

/// The CSV that `plan --emit` writes: organizationId,licenseId,deviceSerial,previousDeviceSerial,
/// one line per row, quoted as RFC 4180 wants. The license-CSV loader reads it back (the extra
/// previousDeviceSerial column is ignored), so a reviewed file can be applied as it is.
std::string moves_csv(const plan& p, const std::vector<std::string>& previous_serials);

/// moves_csv of a resolution.
inline std::string moves_csv(const map_resolution& r) {
  return moves_csv(r.result.plan, r.previous_serials);
}

}  // namespace relicense::plan
