// Diff a plan against the organizations' current licenses: which rows change something, which
// are already in place, which name a license the org does not have; and what each license was
// on before (the report's previousDeviceSerial, and what rollback restores). Pure: the inventory
// is fetched elsewhere (io/, GET /organizations/{org}/licenses following Link rel=next).
#pragma once

#include "relicense/plan/plan.hpp"
#include "relicense/plan/records.hpp"

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
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
}  // namespace detail

/// One organization's licenses: license id -> serial it is on ("" = unassigned). The run's
/// inventory pass fills only that (set()); the live plan and serial maps also need each license's
/// state and the org's devices and licensing model (add(), set_devices(), set_licensing_model()).
class inventory {
public:
  /// Records a license; the serial is upper-cased (the plan's serials are).
  void set(std::string license_id, std::string serial);
  /// The license's current serial ("" = unassigned), or nullptr if the org has no such license.
  const std::string* serial_of(std::string_view license_id) const;
  std::size_t size() const noexcept { return serials_.size(); }

  /// Records a license with its details (its serial upper-cased); set() is implied. A license
  /// added twice keeps the last details.
  void add(license_record l);
  /// The details of a license added with add(), or nullptr.
  const license_record* find(std::string_view license_id) const;
  /// Licenses added with add() that are on `serial` (upper case): the burning one first, then
  /// the others in the order they were added (the API's order, which is the queue's).
  std::vector<const license_record*> licenses_on(std::string_view serial) const;
  /// Every license added with add(), in order.
  const std::vector<license_record>& licenses() const noexcept { return records_; }

  /// The org's device inventory (serials upper-cased); from now on devices_known() is true.
  void set_devices(std::vector<device_record> devices);
  /// Adds one page of the device inventory (a page may be empty); devices_known() becomes true.
  void add_devices(std::vector<device_record> page);
  /// True once set_devices() was called (an org with no device at all included).
  bool devices_known() const noexcept { return devices_known_; }
  /// True if `serial` (upper case) is in the device inventory.
  bool has_device(std::string_view serial) const;
  /// The device with that serial, or nullptr.
  const device_record* device(std::string_view serial) const;

  /// licensing.model of GET /organizations/{org}: per-device, co-term, ...; empty: not known.
  void set_licensing_model(std::string model) { licensing_model_ = std::move(model); }
  const std::string& licensing_model() const noexcept { return licensing_model_; }

private:
  using index_map =
      std::unordered_map<std::string, std::size_t, detail::string_hash, std::equal_to<>>;
  std::unordered_map<std::string, std::string, detail::string_hash, std::equal_to<>> serials_;
  std::vector<license_record> records_;
  index_map record_index_;  // license id -> records_ index
  std::unordered_map<std::string, std::vector<std::size_t>, detail::string_hash, std::equal_to<>>
      on_serial_;
  std::vector<device_record> devices_;
  index_map device_index_;  // serial -> devices_ index
  bool devices_known_ = false;
  std::string licensing_model_;
};

/// Inventories by organization id; an org missing here was not fetched.
using inventories =
    std::unordered_map<std::string, inventory, detail::string_hash, std::equal_to<>>;

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

}  // namespace relicense::plan
