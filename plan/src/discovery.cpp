#include "relicense/plan/discovery.hpp"

#include "text.hpp"

#include <algorithm>
#include <array>

namespace relicense::plan {
namespace {

// Width on a terminal: UTF-8 continuation bytes take no column.
std::size_t width(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

template <std::size_t N>
std::string render_table(const std::array<std::string_view, N>& header,
                         const std::vector<std::array<std::string, N>>& rows) {
  std::array<std::size_t, N> w{};
  for (std::size_t c = 0; c < N; ++c) w[c] = width(header[c]);
  for (const auto& r : rows)
    for (std::size_t c = 0; c < N; ++c) w[c] = std::max(w[c], width(r[c]));
  std::string out;
  auto line = [&](auto const& cells) {
    std::string l;
    for (std::size_t c = 0; c < N; ++c) {
      l += cells[c];
      if (c + 1 < N) l.append(w[c] - width(cells[c]) + 2, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l;
    out += '\n';
  };
  line(header);
  for (const auto& r : rows) line(r);
  return out;
}

std::string cell(std::string_view v) { return v.empty() ? std::string("-") : detail::printable(v); }

void append_license_json(std::string& out, const license_record& l) {
  if (!l.raw_json.empty()) {
    out += l.raw_json;
    return;
  }
  auto field = [&](std::string_view key, std::string_view v, bool first = false) {
    if (!first) out += ',';
    detail::append_json_string(out, key);
    out += ':';
    if (v.empty() && key != "id") out += "null";
    else detail::append_json_string(out, v);
  };
  out += '{';
  field("id", l.id, true);
  field("licenseType", l.license_type);
  field("deviceSerial", l.device_serial);
  field("state", l.state);
  field("activationDate", l.activation_date);
  field("expirationDate", l.expiration_date);
  field("headLicenseId", l.head_license_id);
  out += '}';
}

void append_org_json(std::string& out, const organization_record& o) {
  if (!o.raw_json.empty()) {
    out += o.raw_json;
    return;
  }
  out += "{\"id\":";
  detail::append_json_string(out, o.id);
  out += ",\"name\":";
  detail::append_json_string(out, o.name);
  out += ",\"licensing\":{\"model\":";
  if (o.licensing_model.empty()) out += "null";
  else detail::append_json_string(out, o.licensing_model);
  out += "}}";
}

template <class T, class F>
std::string json_array(const std::vector<T>& items, F&& append) {
  if (items.empty()) return "[]\n";
  std::string out = "[\n";
  for (std::size_t i = 0; i < items.size(); ++i) {
    append(out, items[i]);
    out += i + 1 < items.size() ? ",\n" : "\n";
  }
  out += "]\n";
  return out;
}

}  // namespace

std::string render_licenses_table(const std::vector<license_record>& licenses) {
  if (licenses.empty()) return "no licenses\n";
  std::vector<std::array<std::string, 5>> rows;
  rows.reserve(licenses.size());
  for (const auto& l : licenses)
    rows.push_back({cell(l.id), cell(l.license_type), cell(l.state), cell(l.device_serial),
                    cell(l.expiration_date)});
  return render_table<5>({"ID", "TYPE", "STATE", "DEVICE", "EXPIRATION"}, rows);
}

std::string render_licenses_json(const std::vector<license_record>& licenses) {
  return json_array(licenses, append_license_json);
}

std::string render_licenses_csv(const std::vector<license_record>& licenses,
                                std::string_view org_id) {
  std::string out = "organizationId,licenseId,deviceSerial,licenseType,state,expirationDate\n";
  for (const auto& l : licenses) {
    for (std::string_view v : {org_id, std::string_view(l.id), std::string_view(l.device_serial),
                               std::string_view(l.license_type), std::string_view(l.state)}) {
      detail::append_csv_field(out, v);
      out += ',';
    }
    detail::append_csv_field(out, l.expiration_date);
    out += '\n';
  }
  return out;
}

std::string render_orgs_table(const std::vector<organization_record>& orgs) {
  if (orgs.empty()) return "no organizations\n";
  std::vector<std::array<std::string, 3>> rows;
  rows.reserve(orgs.size());
  for (const auto& o : orgs) rows.push_back({cell(o.id), cell(o.name), cell(o.licensing_model)});
  return render_table<3>({"ID", "NAME", "LICENSING"}, rows);
}

std::string render_orgs_json(const std::vector<organization_record>& orgs) {
  return json_array(orgs, append_org_json);
}

}  // namespace relicense::plan
