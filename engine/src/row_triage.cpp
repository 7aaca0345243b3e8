#include "relicense/engine/row_triage.hpp"

namespace relicense::engine {

std::optional<std::string> previous_of(const plan::plan_diff& diff, std::size_t i) {
  if (diff.rows.empty()) return std::nullopt;
  return diff.rows[i].previous_serial;
}

pre_send triage(const plan::plan& p, const run_config& config, const plan::plan_diff& diff,
                const std::vector<std::string>& refused, std::size_t i, bool stopping,
                std::string_view dry_run_note, std::uint64_t& changes) {
  const auto& row = p.rows[i];
  pre_send s;
  if (config.already_done) {
    s.done = config.already_done(row);
    if (s.done) {
      s.send = false;
      return s;
    }
  }
  if (!diff.rows.empty()) {
    const auto kind = diff.rows[i].kind;
    if (kind == plan::change_kind::unchanged) {
      s.send = false;
      return s;
    }
    if (kind == plan::change_kind::unknown_license) {
      s.send = false;
      s.outcome = io::outcome::failed;
      s.error = "license not found in the organization's inventory (not sent)";
      return s;
    }
  }
  if (row.org < refused.size() && !refused[row.org].empty()) {
    s.send = false;
    s.outcome = io::outcome::failed;
    s.error = refused[row.org] + " (not sent)";
    return s;
  }
  if (config.limit > 0 && ++changes > config.limit) {
    s.send = false;
    s.outcome = io::outcome::not_attempted;
    s.error = "left by --limit " + std::to_string(config.limit);
    return s;
  }
  if (config.dry_run) {
    s.send = false;
    s.outcome = io::outcome::skipped;
    if (auto prev = previous_of(diff, i)) {
      s.error = "dry run: would move from " + (prev->empty() ? std::string("unassigned") : *prev) +
                " to " + (row.serial.empty() ? std::string("unassigned") : row.serial);
    } else {
      s.error = "dry run: not sent";
      s.error += dry_run_note;
    }
    return s;
  }
  if (stopping) {
    s.send = false;
    s.outcome = io::outcome::not_attempted;
  }
  return s;
}

io::row_result result_of(const plan::plan& p, const plan::plan_diff& diff, std::size_t i,
                         io::outcome o) {
  const auto& row = p.rows[i];
  io::row_result r;
  r.line = row.line;
  r.org_id = p.orgs[row.org];
  r.license_id = row.license_id;
  r.serial = row.serial;
  r.previous_serial = previous_of(diff, i);
  r.result = o;
  return r;
}

}  // namespace relicense::engine
