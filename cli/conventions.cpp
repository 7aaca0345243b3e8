// Command-line conventions shared by the subcommands: `-` for standard input and output, and the
// report's format from its name.
#include "commands.hpp"

#include "relicense/io/report.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>

namespace relicense::cli {

std::string input_name(const std::string& csv) { return csv == "-" ? "<stdin>" : csv; }

std::string choose_report_format(const apply_options& o, io::report_format& format) {
  if (o.report_format == "jsonl") {
    format = io::report_format::jsonl;
    return {};
  }
  format = io::report_format::csv;
  if (!o.report_format.empty() || o.report.empty() || o.report == "-") return {};
  std::string ext = std::filesystem::path(o.report).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (ext == ".csv") return {};
  if (ext == ".jsonl") {
    format = io::report_format::jsonl;
    return {};
  }
  return "--report " + o.report +
         ": the format follows the name, which must end in .csv or .jsonl (or say --report-format "
         "csv|jsonl)";
}

}  // namespace relicense::cli
