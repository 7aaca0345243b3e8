// Checks of the files a command will write, and of the CA file it will read, made before the
// first request: a path that cannot work is an exit 2 with nothing sent and nothing left behind,
// not a failure after every PUT went out.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace relicense::cli {

struct apply_options;

/// Why `path` cannot be written as `what` ("report", "--summary", ...), or empty. The file's
/// folder must exist and be writable, and the file, if there, must be a writable non-folder
/// (readable too when `read_too`). "-" (standard output) always passes. Creates nothing.
std::string check_output_path(const std::filesystem::path& path, std::string_view what,
                              bool read_too = false);

/// Why the --ca-file cannot be used (unreadable, a folder, nothing OpenSSL loads as a CA), or empty
/// for an empty path (no private CA).
std::string check_ca_file(const std::string& path);

/// Every output path of `apply` (report, journal unless a dry run, summary, metrics) and its CA
/// file; the first problem found, or empty.
std::string check_apply_paths(const apply_options& o, const std::filesystem::path& report,
                              const std::filesystem::path& journal);

}  // namespace relicense::cli
