#include "relicense/plan/diff.hpp"
#include "relicense/plan/csv.hpp"

namespace relicense::plan {

void inventory::set(std::string license_id, std::string serial) {
  rules::to_upper(serial);
  serials_.insert_or_assign(std::move(license_id), std::move(serial));
}

const std::string* inventory::serial_of(std::string_view license_id) const {
  auto it = serials_.find(license_id);
  return it == serials_.end() ? nullptr : &it->second;
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

} // namespace relicense::plan
