// `relicense rollback REPORT --output CSV`: the inverse of a run. Each applied row goes back to
// the serial the license was on before (or is unassigned again when it was unassigned); rows
// whose previous serial is unknown (a run with --no-inventory) are listed on stderr, the first
// few of them and then a count, never guessed.
#include "commands.hpp"
#include "output_paths.hpp"

#include "relicense/io/report.hpp"
#include "relicense/io/text.hpp"

#include <cstdio>
#include <filesystem>
#include <string>

namespace relicense::cli {
namespace {
/// Rows with an unknown previous serial listed one per line; beyond, only their count (a whole
/// run without the inventory read would otherwise print a line per row).
constexpr std::size_t unknown_listed = 20;
}  // namespace

int run_rollback(const rollback_options& opts) {
  namespace io = relicense::io;
  std::error_code ec;
  if (std::filesystem::equivalent(opts.report, opts.output, ec)) {
    std::fprintf(stderr, "relicense: --output %s would overwrite the report\n",
                 opts.output.c_str());
    return exit_usage;
  }
  if (auto why = check_output_path(opts.output, "--output"); !why.empty()) {
    std::fprintf(stderr, "relicense: %s\n", why.c_str());
    return exit_usage;
  }
  io::report_data report;
  try {
    report = io::read_report(opts.report);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "relicense: %s\n", e.what());
    return exit_usage;
  }
  if (report.torn_tail)
    std::fprintf(stderr,
                 "relicense: %s ends with an incomplete row (the run was killed while writing it); "
                 "that row is left out\n",
                 opts.report.c_str());

  std::string out = "organizationId,licenseId,deviceSerial\n";
  std::size_t written = 0, unknown = 0;
  for (const auto& r : report.rows) {
    if (r.result != io::outcome::applied) continue;
    if (!r.previous_serial) {
      if (unknown++ == 0)
        std::fprintf(stderr,
                     "relicense: applied rows whose previous serial is unknown (not in the "
                     "rollback CSV):\n");
      if (unknown <= unknown_listed)
        std::fprintf(stderr, "  line %u: organization %s, license %s (now on %s)\n", r.line,
                     r.org_id.c_str(), r.license_id.c_str(),
                     r.serial.empty() ? "no device" : r.serial.c_str());
      continue;
    }
    out += io::csv_field(r.org_id);
    out += ',';
    out += io::csv_field(r.license_id);
    out += ',';
    out += io::csv_field(*r.previous_serial);  // "" = unassign, as in any input CSV
    out += '\n';
    ++written;
  }
  if (unknown > unknown_listed)
    std::fprintf(stderr, "  ... and %zu more\n", unknown - unknown_listed);
  try {
    io::write_file_atomically(opts.output, out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "relicense: %s\n", e.what());
    return exit_usage;
  }
  std::fprintf(stderr, "relicense: wrote %zu rollback rows to %s", written, opts.output.c_str());
  if (unknown) {
    std::fprintf(
        stderr,
        "; %zu applied rows could not be included (%s above): their run did not know the previous "
        "serial (--no-inventory, or an inventory it could not read)",
        unknown, unknown > unknown_listed ? "the first listed" : "listed");
  }
  std::fprintf(stderr, "\n");
  // An incomplete inverse must not look like success to a script.
  return unknown ? exit_rows_failed : exit_ok;
}

}  // namespace relicense::cli
