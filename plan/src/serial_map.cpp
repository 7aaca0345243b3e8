#include "relicense/plan/serial_map.hpp"

#include "text.hpp"

namespace relicense::plan {

using detail::shown;

namespace {

// Keeps diagnostics up to the caps, counting the rest.
class collector {
public:
  collector(load_result& r, const resolve_options& o) : r_(r), o_(o) {}

  void error(diagnostic d) {
    if (r_.errors.size() < o_.max_errors) r_.errors.push_back(std::move(d));
    else ++r_.errors_not_shown;
  }
  void warning(diagnostic d) {
    if (r_.warnings.size() < o_.max_warnings) r_.warnings.push_back(std::move(d));
    else ++r_.warnings_not_shown;
  }

private:
  load_result& r_;
  const resolve_options& o_;
};

}  // namespace

map_resolution resolve_serial_map(const serial_map& map, const inventories& inv,
                                  const resolve_options& opts) {
  map_resolution out;
  load_result& r = out.result;
  collector diag(r, opts);
  plan& p = r.plan;
  p.orgs = map.orgs;
  p.counts.input_rows = map.rows.size();

  std::vector<const inventory*> by_org(map.orgs.size(), nullptr);
  std::vector<bool> reported(map.orgs.size(), false);
  for (std::size_t i = 0; i < map.orgs.size(); ++i) {
    auto it = inv.find(std::string_view(map.orgs[i]));
    if (it != inv.end()) by_org[i] = &it->second;
  }
  auto at_old = [&](const serial_mapping& m, std::string message) {
    return diagnostic{map.file, m.line, map.old_column, map.old_column_name, std::move(message)};
  };
  auto at_new = [&](const serial_mapping& m, std::string message) {
    return diagnostic{map.file, m.line, map.new_column, map.new_column_name, std::move(message)};
  };

  for (const serial_mapping& m : map.rows) {
    const std::string& org = map.orgs[m.org];
    const inventory* org_inv = by_org[m.org];
    if (org_inv == nullptr) {
      // Once per org: every other mapping of it fails for the same reason.
      if (!reported[m.org]) {
        reported[m.org] = true;
        diag.error(diagnostic{map.file, m.line, 0, "",
                              "organization " + shown(org) +
                                  ": its license inventory could not be read, so "
                                  "its mappings cannot be resolved"});
      }
      continue;
    }

    std::vector<const license_record*> moving;
    std::vector<const license_record*> expired;
    for (const license_record* l : org_inv->licenses_on(m.old_serial))
      (l->state == "expired" ? expired : moving).push_back(l);
    if (moving.empty()) {
      std::string why =
          "device " + shown(m.old_serial) + " holds no license in organization " + shown(org);
      if (!expired.empty()) {
        why += " (only expired ones:";
        for (std::size_t i = 0; i < expired.size() && i < 3; ++i)
          why += " " + shown(expired[i]->id);
        if (expired.size() > 3) why += " and " + std::to_string(expired.size() - 3) + " more";
        why += ")";
      }
      diag.error(at_old(m, std::move(why)));
      continue;
    }
    for (const license_record* l : expired)
      diag.warning(at_old(m, "license " + shown(l->id) + " on " + shown(m.old_serial) +
                                 " is expired: it stays on the old device"));

    if (org_inv->devices_known() && !org_inv->has_device(m.new_serial))
      diag.warning(at_new(m, "device " + shown(m.new_serial) + " is not in organization " +
                                 shown(org) +
                                 "'s device inventory: the API refuses licenses for a device the "
                                 "organization has not claimed"));
    for (const license_record* l : org_inv->licenses_on(m.new_serial)) {
      if (!is_burning(*l)) continue;
      diag.warning(at_new(m, "device " + shown(m.new_serial) +
                                 " already holds an active license (" + shown(l->id) +
                                 "): the licenses moved onto it will queue behind it"));
      break;
    }

    for (const license_record* l : moving) {
      p.rows.push_back(row{m.line, m.org, l->id, m.new_serial});
      out.previous_serials.push_back(m.old_serial);
      ++p.counts.assigns;
    }
  }
  p.fingerprint = fingerprint_of(p);
  return out;
}

std::string moves_csv(const plan& p, const std::vector<std::string>& previous_serials) {
  std::string out = "organizationId,licenseId,deviceSerial,previousDeviceSerial\n";
  out.reserve(out.size() + p.rows.size() * 56);
  for (std::size_t i = 0; i < p.rows.size(); ++i) {
    const row& r = p.rows[i];
    detail::append_csv_field(out, p.orgs[r.org]);
    out += ',';
    detail::append_csv_field(out, r.license_id);
    out += ',';
    detail::append_csv_field(out, r.serial);
    out += ',';
    if (i < previous_serials.size()) detail::append_csv_field(out, previous_serials[i]);
    out += '\n';
  }
  return out;
}

}  // namespace relicense::plan
