#include "relicense/plan/live.hpp"

#include "text.hpp"

#include <string_view>
#include <unordered_map>

namespace relicense::plan {

using detail::shown;

const char* to_string(live_kind k) noexcept {
  switch (k) {
    case live_kind::assign: return "assign";
    case live_kind::unassign: return "unassign";
    case live_kind::move: return "move";
    case live_kind::unchanged: return "unchanged";
    case live_kind::unknown: return "unknown";
  }
  return "?";
}

live_kind classify(const row& r, const row_diff& d) noexcept {
  switch (d.kind) {
    case change_kind::unchanged: return live_kind::unchanged;
    case change_kind::unknown_license:
    case change_kind::not_fetched: return live_kind::unknown;
    case change_kind::change: break;
  }
  if (r.serial.empty()) return live_kind::unassign;
  return d.previous_serial && !d.previous_serial->empty() ? live_kind::move : live_kind::assign;
}

std::uint64_t live_plan::orgs_with_changes() const noexcept {
  std::uint64_t n = 0;
  for (const auto& o : orgs) n += o.counts.changes() > 0 ? 1 : 0;
  return n;
}

namespace {

bool per_device(const std::string& model) { return model.empty() || model == "per-device"; }

class warner {
public:
  warner(org_live_plan& o, const live_options& opts) : o_(o), opts_(opts) {}
  void add(std::uint32_t line, std::string message) {
    ++o_.counts.warnings;
    if (o_.warnings.size() >= opts_.max_warnings_per_org) {
      ++o_.warnings_not_shown;
      return;
    }
    std::string where = opts_.file;
    if (line > 0) where += (where.empty() ? "line " : ":") + std::to_string(line);
    o_.warnings.push_back(where.empty() ? std::move(message) : where + ": " + message);
  }

private:
  org_live_plan& o_;
  const live_options& opts_;
};

}  // namespace

live_plan plan_live(const plan& p, const inventories& inv, const live_options& opts) {
  live_plan lp;
  lp.diff = diff(p, inv);
  lp.kinds.resize(p.rows.size());
  lp.orgs.resize(p.orgs.size());
  std::vector<const inventory*> by_org(p.orgs.size(), nullptr);
  std::vector<std::uint64_t> rows_of(p.orgs.size(), 0);
  for (const row& r : p.rows) ++rows_of[r.org];
  std::vector<warner> warn;
  warn.reserve(p.orgs.size());
  for (std::size_t i = 0; i < p.orgs.size(); ++i) {
    org_live_plan& o = lp.orgs[i];
    o.id = p.orgs[i];
    warn.emplace_back(o, opts);
    auto it = inv.find(std::string_view(p.orgs[i]));
    if (it != inv.end()) {
      by_org[i] = &it->second;
      o.licensing_model = it->second.licensing_model();
    }
    if (!per_device(o.licensing_model)) {
      warn[i].add(0, "organization " + shown(o.id) + " uses " + shown(o.licensing_model) +
                         " licensing, not per-device: the license endpoints refuse it, so its " +
                         std::to_string(rows_of[i]) + " row" + (rows_of[i] == 1 ? "" : "s") +
                         " will fail");
    } else if (by_org[i] == nullptr) {
      warn[i].add(0, "the license inventory of organization " + shown(o.id) +
                         " was not read: its " + std::to_string(rows_of[i]) + " row" +
                         (rows_of[i] == 1 ? "" : "s") + " cannot be compared");
    }
  }

  // Licenses the plan takes off their device, per org: a target whose burning license leaves in
  // the same run will not make the incoming one queue for long.
  std::vector<std::unordered_map<std::string_view, std::string_view>> leaving(p.orgs.size());
  for (std::size_t i = 0; i < p.rows.size(); ++i)
    if (lp.diff.rows[i].kind == change_kind::change)
      leaving[p.rows[i].org].emplace(p.rows[i].license_id, p.rows[i].serial);

  for (std::size_t i = 0; i < p.rows.size(); ++i) {
    const row& r = p.rows[i];
    org_live_plan& o = lp.orgs[r.org];
    const inventory* org_inv = by_org[r.org];
    live_kind k = classify(r, lp.diff.rows[i]);
    if (!per_device(o.licensing_model)) k = live_kind::unknown;
    lp.kinds[i] = k;
    switch (k) {
      case live_kind::assign: ++o.counts.assign; break;
      case live_kind::unassign: ++o.counts.unassign; break;
      case live_kind::move: ++o.counts.move; break;
      case live_kind::unchanged: ++o.counts.unchanged; break;
      case live_kind::unknown: ++o.counts.unknown; break;
    }
    if (org_inv == nullptr || !per_device(o.licensing_model)) continue;  // said once for the org
    if (lp.diff.rows[i].kind == change_kind::unknown_license) {
      warn[r.org].add(r.line, "license " + shown(r.license_id) + " is not in organization " +
                                  shown(o.id) + "'s inventory: the API will answer 404");
      continue;
    }
    if (k != live_kind::assign && k != live_kind::move) continue;
    if (const license_record* l = org_inv->find(r.license_id);
        l != nullptr && l->state == "expired") {
      warn[r.org].add(
          r.line, "license " + shown(r.license_id) + " is expired" +
                      (l->expiration_date.empty() ? std::string()
                                                  : " (since " + shown(l->expiration_date) + ")") +
                      ": on " + shown(r.serial) + " it would license nothing");
    }
    if (!opts.device_warnings) continue;
    if (org_inv->devices_known() && !org_inv->has_device(r.serial)) {
      warn[r.org].add(
          r.line, "device " + shown(r.serial) + " is not in organization " + shown(o.id) +
                      "'s device inventory: the API refuses licenses for a device the organization "
                      "has not claimed");
    }
    for (const license_record* held : org_inv->licenses_on(r.serial)) {
      if (!is_burning(*held)) break;  // the burning one comes first
      if (held->id == r.license_id) break;
      auto leaves = leaving[r.org].find(held->id);
      if (leaves != leaving[r.org].end() && leaves->second != r.serial) break;
      warn[r.org].add(r.line, "device " + shown(r.serial) + " already holds an active license (" +
                                  shown(held->id) + "): license " + shown(r.license_id) +
                                  " will queue behind it");
      break;
    }
  }

  for (const auto& o : lp.orgs) {
    lp.totals.assign += o.counts.assign;
    lp.totals.unassign += o.counts.unassign;
    lp.totals.move += o.counts.move;
    lp.totals.unchanged += o.counts.unchanged;
    lp.totals.unknown += o.counts.unknown;
    lp.totals.warnings += o.counts.warnings;
  }
  return lp;
}

namespace {

std::string plural(std::uint64_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

void append_count(std::string& out, std::string_view label, std::uint64_t n,
                  std::string_view note = {}) {
  out += "  ";
  out += label;
  out.append(label.size() < 11 ? 11 - label.size() : 1, ' ');
  out += std::to_string(n);
  if (!note.empty()) {
    out += "  (";
    out += note;
    out += ')';
  }
  out += '\n';
}

}  // namespace

std::string render_live_text(const live_plan& lp) {
  std::string out;
  for (const auto& o : lp.orgs) {
    out += "organization " + detail::printable(o.id) + " (" +
           (o.licensing_model.empty() ? std::string("licensing model not known")
                                      : detail::printable(o.licensing_model)) +
           ")\n";
    append_count(out, "assign", o.counts.assign, "unassigned now");
    append_count(out, "unassign", o.counts.unassign);
    append_count(out, "move", o.counts.move, "from one device to another");
    append_count(out, "unchanged", o.counts.unchanged, "already in place: no request");
    if (o.counts.unknown > 0)
      append_count(out, "unknown", o.counts.unknown, "not in the organization's inventory");
    for (const auto& w : o.warnings) out += "  warning: " + detail::printable(w) + "\n";
    if (o.warnings_not_shown > 0)
      out += "  warning: ... and " + plural(o.warnings_not_shown, "more warning") + "\n";
  }
  const live_counts& t = lp.totals;
  out += "total: " + plural(lp.orgs.size(), "organization") + ", " + plural(t.changes(), "change") +
         " (assign " + std::to_string(t.assign) + ", unassign " + std::to_string(t.unassign) +
         ", move " + std::to_string(t.move) + "), " + std::to_string(t.unchanged) + " unchanged, " +
         std::to_string(t.unknown) + " unknown, " + plural(t.warnings, "warning") + "\n";
  return out;
}

namespace {

void append_counts_json(std::string& out, const live_counts& c) {
  out += "\"assign\":" + std::to_string(c.assign);
  out += ",\"unassign\":" + std::to_string(c.unassign);
  out += ",\"move\":" + std::to_string(c.move);
  out += ",\"unchanged\":" + std::to_string(c.unchanged);
  out += ",\"unknown\":" + std::to_string(c.unknown);
}

}  // namespace

std::string render_live_json(const live_plan& lp) {
  std::string out = "{\"organizations\":[";
  for (std::size_t i = 0; i < lp.orgs.size(); ++i) {
    const auto& o = lp.orgs[i];
    if (i > 0) out += ',';
    out += "{\"id\":";
    detail::append_json_string(out, o.id);
    out += ",\"licensingModel\":";
    if (o.licensing_model.empty()) out += "null";
    else detail::append_json_string(out, o.licensing_model);
    out += ',';
    append_counts_json(out, o.counts);
    out += ",\"warnings\":[";
    for (std::size_t w = 0; w < o.warnings.size(); ++w) {
      if (w > 0) out += ',';
      detail::append_json_string(out, o.warnings[w]);
    }
    out += "],\"warningsNotShown\":" + std::to_string(o.warnings_not_shown) + "}";
  }
  out += "],\"totals\":{\"organizations\":" + std::to_string(lp.orgs.size()) + ',';
  append_counts_json(out, lp.totals);
  out += ",\"changes\":" + std::to_string(lp.totals.changes());
  out += ",\"warnings\":" + std::to_string(lp.totals.warnings) + "}}\n";
  return out;
}

}  // namespace relicense::plan
