// `relicense retry REPORT`: the failed rows of a run's report, applied again with apply's
// options. The report is read as rollback reads it (CSV or JSON Lines); its failed rows become a
// plan that keeps their input lines, so the new report's `line` column still points into the
// original CSV.
#include "commands.hpp"

#include "relicense/io/report.hpp"
#include "relicense/plan/csv.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace relicense::cli {

namespace {

int retry_error(const std::string& message) {
  std::fprintf(stderr, "relicense retry: %s\n", message.c_str());
  return exit_usage;
}

bool has_line_break(const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; }

/// `report`'s name without its run stamp: in.report-20260101T000000Z.csv -> in.retry.csv, so the
/// retry's default report is in.retry.report-<stamp>.csv beside it.
std::string retry_report_base(const std::filesystem::path& report) {
  std::string stem = report.stem().string();
  if (auto at = stem.rfind(".report-"); at != std::string::npos) stem.resize(at);
  return (report.parent_path() / (stem + ".retry.csv")).string();
}

}  // namespace

int run_retry(const apply_options& o) {
  namespace io = relicense::io;
  plan::load_options lo;
  if (auto why = check_run_options(o, lo); !why.empty()) return retry_error(why);
  std::error_code ec;
  if (!o.report.empty() && std::filesystem::equivalent(o.report, o.csv, ec))
    return retry_error("--report " + o.report + " would overwrite the report being retried");
  io::report_data report;
  try {
    report = io::read_report(o.csv);
  } catch (const std::exception& e) {
    return retry_error(e.what());
  }
  if (report.torn_tail)
    std::fprintf(
        stderr,
        "relicense retry: %s ends with an incomplete row (the run was killed while writing it); "
        "that row is left out\n",
        o.csv.c_str());

  std::vector<const io::row_result*> failed;
  for (const auto& r : report.rows)
    if (r.result == io::outcome::failed) failed.push_back(&r);
  if (failed.empty()) {
    std::fprintf(stderr,
                 "relicense retry: %s has no failed rows; nothing to retry, nothing was sent\n",
                 o.csv.c_str());
    return exit_ok;
  }
  // Rows finish out of input order; the plan (and the new report) follows the input.
  std::stable_sort(failed.begin(), failed.end(),
                   [](const auto* a, const auto* b) { return a->line < b->line; });

  // The failed rows as a CSV the plan loader validates like any input; each record is one line,
  // so record k of the text is failed[k] and its diagnostics map back to the input's lines.
  std::string csv = "organizationId,licenseId,deviceSerial\n";
  std::vector<std::uint32_t> input_line{0, 0};  // text line -> input line (header: none)
  for (const auto* r : failed) {
    if (r->line < 2)
      return retry_error(o.csv + ": a failed row has line " + std::to_string(r->line) +
                         ", which cannot be a data row of an input CSV");
    if (input_line.back() == r->line)
      return retry_error(o.csv + ": input line " + std::to_string(r->line) +
                         " has two failed rows");
    if (has_line_break(r->org_id) || has_line_break(r->license_id) || has_line_break(r->serial))
      return retry_error(o.csv + ": the failed row of input line " + std::to_string(r->line) +
                         " holds a line break in a field");
    csv += io::csv_field(r->org_id) + "," + io::csv_field(r->license_id) + "," +
           io::csv_field(r->serial) + "\n";
    input_line.push_back(r->line);
  }
  // Diagnostics name the report and the row's input line (the report's `line` column).
  plan::load_result loaded = plan::parse_plan(csv, o.csv, lo);
  const auto map_line = [&](std::uint32_t& line) {
    if (line < input_line.size()) line = input_line[line];
  };
  for (auto& d : loaded.errors) map_line(d.line);
  for (auto& d : loaded.warnings) map_line(d.line);
  for (auto& r : loaded.plan.rows) map_line(r.line);
  std::fprintf(stderr, "relicense retry: %zu failed row%s of %s\n", failed.size(),
               failed.size() == 1 ? "" : "s", o.csv.c_str());

  given_plan given;
  given.loaded = &loaded;
  given.report_base = retry_report_base(o.csv);
  return run_apply(o, &given);
}

}  // namespace relicense::cli
