#include "relicense/plan/diff.hpp"
#include "relicense/plan/csv.hpp"

#include <algorithm>

namespace relicense::plan {

void inventory::set(std::string license_id, std::string serial) {
  rules::to_upper(serial);
  serials_.insert_or_assign(std::move(license_id), std::move(serial));
}

const std::string* inventory::serial_of(std::string_view license_id) const {
  auto it = serials_.find(license_id);
  return it == serials_.end() ? nullptr : &it->second;
}

void inventory::add(license_record l) {
  rules::to_upper(l.device_serial);
  set(l.id, l.device_serial);
  if (auto it = record_index_.find(std::string_view(l.id)); it != record_index_.end()) {
    // Seen again (a page boundary that moved under concurrent changes): the later answer wins.
    license_record& old = records_[it->second];
    if (old.device_serial != l.device_serial) {
      if (auto on_old = on_serial_.find(std::string_view(old.device_serial));
          on_old != on_serial_.end())
        std::erase(on_old->second, it->second);
      if (!l.device_serial.empty()) on_serial_[l.device_serial].push_back(it->second);
    }
    old = std::move(l);
    return;
  }
  const std::size_t index = records_.size();
  record_index_.emplace(l.id, index);
  if (!l.device_serial.empty()) on_serial_[l.device_serial].push_back(index);
  records_.push_back(std::move(l));
}

const license_record* inventory::find(std::string_view license_id) const {
  auto it = record_index_.find(license_id);
  return it == record_index_.end() ? nullptr : &records_[it->second];
}

std::vector<const license_record*> inventory::licenses_on(std::string_view serial) const {
  std::vector<const license_record*> out;
  auto it = on_serial_.find(serial);
  if (it == on_serial_.end()) return out;
  for (std::size_t i : it->second) out.push_back(&records_[i]);
  // Stable: the queued ones keep the API's order behind the burning one.
  std::stable_partition(out.begin(), out.end(),
                        [](const license_record* l) { return is_burning(*l); });
  return out;
}

void inventory::set_devices(std::vector<device_record> devices) {
  devices_.clear();
  device_index_.clear();
  add_devices(std::move(devices));
}

void inventory::add_devices(std::vector<device_record> page) {
  devices_.reserve(devices_.size() + page.size());
  for (auto& d : page) {
    rules::to_upper(d.serial);
    if (device_index_.contains(std::string_view(d.serial))) continue;  // listed on two pages
    device_index_.emplace(d.serial, devices_.size());
    devices_.push_back(std::move(d));
  }
  devices_known_ = true;
}

bool inventory::has_device(std::string_view serial) const { return device_index_.contains(serial); }

const device_record* inventory::device(std::string_view serial) const {
  auto it = device_index_.find(serial);
  return it == device_index_.end() ? nullptr : &devices_[it->second];
}

const char* to_string(change_kind k) noexcept {
  switch (k) {
    case change_kind::change: return "change";
    case change_kind::unchanged: return "unchanged";
    case change_kind::unknown_license: return "unknown_license";
    case change_kind::not_fetched: return "not_fetched";
  }
  return "?";
}

plan_diff diff(const plan& p, const inventories& inv) {
  plan_diff out;
  out.rows.resize(p.rows.size());
  // Resolve each org's inventory once, not once per row.
  std::vector<const inventory*> by_org(p.orgs.size(), nullptr);
  for (std::size_t i = 0; i < p.orgs.size(); ++i) {
    auto it = inv.find(std::string_view(p.orgs[i]));
    if (it != inv.end()) by_org[i] = &it->second;
  }
  for (std::size_t i = 0; i < p.rows.size(); ++i) {
    const row& r = p.rows[i];
    row_diff& d = out.rows[i];
    const inventory* org_inv = r.org < by_org.size() ? by_org[r.org] : nullptr;
    if (org_inv == nullptr) {
      d.kind = change_kind::not_fetched;
      ++out.counts.not_fetched;
      continue;
    }
    const std::string* current = org_inv->serial_of(r.license_id);
    if (current == nullptr) {
      d.kind = change_kind::unknown_license;
      ++out.counts.unknown_licenses;
      continue;
    }
    d.previous_serial = *current;
    if (*current == r.serial) {
      d.kind = change_kind::unchanged;
      ++out.counts.unchanged;
    } else {
      d.kind = change_kind::change;
      ++out.counts.changes;
    }
  }
  return out;
}

}  // namespace relicense::plan
