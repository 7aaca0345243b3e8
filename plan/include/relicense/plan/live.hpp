// The live plan: what a plan would change, organization by organization, compared with what the
// API says now (`relicense plan FILE --live`, and apply's confirmation). Built on diff(): per row
// unchanged = already on the requested serial (null included), assign = unassigned now,
// unassign = to null, move = from one device to another, unknown = the org has no such license
// (or its inventory could not be read). Warnings: an expired license that would be assigned, a
// target that already burns another license (the license will queue), a target the org has not
// claimed, an organization that is not per-device. Pure; rendered as text or as one JSON document.
#pragma once

#include "relicense/plan/diff.hpp"
#include "relicense/plan/plan.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace relicense::plan {

/// What one row does to the live state.
enum class live_kind : std::uint8_t {
  assign,     ///< the license is unassigned now and goes to a device
  unassign,   ///< the license leaves its device (deviceSerial null)
  move,       ///< the license goes from one device to another
  unchanged,  ///< already in place: no request needed
  unknown     ///< the org has no such license, or its inventory was not read
};

/// "assign", "unassign", "move", "unchanged", "unknown".
const char* to_string(live_kind k) noexcept;

/// The kind of row `r` given its diff `d`.
live_kind classify(const row& r, const row_diff& d) noexcept;

/// Options of plan_live.
struct live_options {
  std::string file;                       ///< the plan's file name, for the warnings' file:line
  std::size_t max_warnings_per_org = 20;  ///< kept in full; the rest are counted
  /// Warn about targets (already burning a license, not claimed). Off for a resolved serial map,
  /// whose resolution already said so once per mapping.
  bool device_warnings = true;
};

/// Counts of a set of rows.
struct live_counts {
  std::uint64_t assign = 0;
  std::uint64_t unassign = 0;
  std::uint64_t move = 0;
  std::uint64_t unchanged = 0;
  std::uint64_t unknown = 0;
  std::uint64_t warnings = 0;  ///< every warning, shown or not

  /// Rows that need a request.
  std::uint64_t changes() const noexcept { return assign + unassign + move; }
};

/// One organization's part of the live plan.
struct org_live_plan {
  std::string id;
  std::string licensing_model;  ///< per-device, co-term, ...; empty: not known
  live_counts counts;
  std::vector<std::string> warnings;  ///< "file:line: ..." or about the whole org, in file order
  std::uint64_t warnings_not_shown = 0;
};

/// The live plan of a whole plan.
struct live_plan {
  std::vector<org_live_plan> orgs;  ///< indexed like plan::orgs
  live_counts totals;
  std::vector<live_kind> kinds;  ///< per row, parallel to plan::rows
  plan_diff diff;                ///< per row: previous serial (the report's, rollback's)
  /// Organizations with at least one change.
  std::uint64_t orgs_with_changes() const noexcept;
};

/// Compares `p` with `inv`. For the warnings about states and devices, the inventories must have
/// been filled with inventory::add() and set_devices(); an org whose licensing model is set and
/// is not per-device gets one warning and all its rows counted unknown (the license endpoints
/// refuse such orgs, so its inventory may be empty).
live_plan plan_live(const plan& p, const inventories& inv, const live_options& opts = {});

/// One block per organization, then the totals:
///   organization 123456 (per-device)
///     assign     2
///     ...
///     warning: plan.csv:4: ...
///   total: 1 organization, 3 changes (assign 2, unassign 0, move 1), 1 unchanged, 0 unknown, 1
///   warning
std::string render_live_text(const live_plan& lp);

/// {"organizations":[{"id":"…","licensingModel":"per-device","assign":N,"unassign":N,"move":N,
/// "unchanged":N,"unknown":N,"warnings":["…"],"warningsNotShown":N}],"totals":{"organizations":N,
/// "assign":N,"unassign":N,"move":N,"unchanged":N,"unknown":N,"changes":N,"warnings":N}}
/// followed by a newline; licensingModel is null when not known.
std::string render_live_json(const live_plan& lp);

}  // namespace relicense::plan
