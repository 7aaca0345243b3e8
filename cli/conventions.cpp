// Command-line conventions shared by the subcommands: `-` for standard input and output, and the
// report's format from its name.
#include "commands.hpp"

#include "relicense/io/report.hpp"
#include "relicense/plan/csv.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include <unistd.h>

namespace relicense::cli {

std::string input_name(const std::string& csv) { return csv == "-" ? "<stdin>" : csv; }

plan::load_result load_csv(const std::string& csv, const plan::load_options& lo) {
  if (csv != "-") return plan::load_plan(csv, lo);
  // Streamed through the same push parser as a file, so a large input never sits in memory.
  plan::plan_loader loader(input_name(csv), lo);
  std::string chunk(64 * 1024, '\0');
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, chunk.data(), chunk.size());
    if (n > 0) {
      loader.feed(std::string_view(chunk.data(), static_cast<std::size_t>(n)));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      plan::load_result failed = loader.finish();
      failed.errors.insert(failed.errors.begin(),
                           plan::diagnostic{input_name(csv), 0, 0, {},
                                            std::string("cannot read standard input: ") + std::strerror(errno)});
      return failed;
    }
  }
  return loader.finish();
}

std::string choose_report_format(const apply_options& o, io::report_format& format) {
  if (o.report_format == "jsonl") {
    format = io::report_format::jsonl;
    return {};
  }
  format = io::report_format::csv;
  if (!o.report_format.empty() || o.report.empty() || o.report == "-") return {};
  std::string ext = std::filesystem::path(o.report).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".csv") return {};
  if (ext == ".jsonl") {
    format = io::report_format::jsonl;
    return {};
  }
  return "--report " + o.report +
         ": the format follows the name, which must end in .csv or .jsonl (or say --report-format csv|jsonl)";
}

} // namespace relicense::cli
