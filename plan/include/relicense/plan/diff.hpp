// Diff a plan against the organizations' current licenses: which rows change something, which
// are already in place, which name a license the org does not have; and what each license was
// on before (the report's previousDeviceSerial, and what rollback restores). Pure: the inventory
// is fetched elsewhere (io/, GET /organizations/{org}/licenses following Link rel=next).
#pragma once

#include "relicense/plan/plan.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace relicense::plan {

namespace detail {
/// Transparent hash so maps keyed by std::string can be searched with a string_view.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
} // namespace detail

/// One organization's licenses: license id -> serial it is on ("" = unassigned).
class inventory {
public:
  /// Records a license; the serial is upper-cased (the plan's serials are).
  void set(std::string license_id, std::string serial);
  /// The license's current serial ("" = unassigned), or nullptr if the org has no such license.
  const std::string* serial_of(std::string_view license_id) const;
  std::size_t size() const noexcept { return serials_.size(); }

private:
  std::unordered_map<std::string, std::string, detail::string_hash, std::equal_to<>> serials_;
};

/// Inventories by organization id; an org missing here was not fetched.
using inventories = std::unordered_map<std::string, inventory, detail::string_hash, std::equal_to<>>;

/// What a row would do to the current state.
enum class change_kind : std::uint8_t {
  change,           ///< the license is on another serial (or unassigned): a PUT is needed
  unchanged,        ///< the license is already on the requested serial: nothing to send
  unknown_license,  ///< the org's inventory has no such license: the PUT would fail (404)
  not_fetched       ///< no inventory for the row's org: previous serial unknown, treat as change
};

/// "change", "unchanged", "unknown_license", "not_fetched".
const char* to_string(change_kind k) noexcept;

/// The diff of one plan row (same index as plan::rows).
struct row_diff {
  change_kind kind = change_kind::not_fetched;
  std::optional<std::string> previous_serial;  ///< nullopt: unknown; "": was unassigned
};

/// Totals of a diff.
struct diff_counts {
  std::uint64_t changes = 0;
  std::uint64_t unchanged = 0;
  std::uint64_t unknown_licenses = 0;
  std::uint64_t not_fetched = 0;
};

/// Per-row diff, parallel to plan::rows.
struct plan_diff {
  std::vector<row_diff> rows;
  diff_counts counts;
};

/// Classifies every row of `p` against `inv`.
plan_diff diff(const plan& p, const inventories& inv);

} // namespace relicense::plan
