// Pre-run checks of output paths and the CA file: stat and access only, so a check that passes
// leaves no trace. Each message names the path and the OS error, and suggests nothing that does
// not fit the error (a permission problem is not solved by --resume).
#include "output_paths.hpp"

#include "commands.hpp"
#include "relicense/io/ca_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace relicense::cli {

namespace fs = std::filesystem;

namespace {

std::string cannot(std::string_view verb, std::string_view what, const fs::path& path,
                   const std::string& why) {
  return "cannot " + std::string(verb) + " " + std::string(what) + " " + path.string() + ": " + why;
}

}  // namespace

std::string check_output_path(const fs::path& path, std::string_view what, bool read_too) {
  if (path == "-") return {};
  const std::string_view verb = "write";
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return cannot(verb, what, path, std::strerror(EISDIR));
    if (::access(path.c_str(), read_too ? R_OK | W_OK : W_OK) != 0)
      return cannot(verb, what, path, std::strerror(errno));
  } else if (errno != ENOENT) {
    return cannot(verb, what, path, std::strerror(errno));  // e.g. a path under a regular file
  }
  // The file is created (or replaced through a temporary file) in its folder.
  fs::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  if (::stat(dir.c_str(), &st) != 0)
    return cannot(verb, what, path, "folder " + dir.string() + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return cannot(verb, what, path, "folder " + dir.string() + ": " + std::strerror(ENOTDIR));
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return cannot(verb, what, path, "folder " + dir.string() + ": " + std::strerror(errno));
  return {};
}

std::string check_ca_file(const std::string& path) {
  if (path.empty()) return {};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cannot("read", "--ca-file", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    return cannot("read", "--ca-file", path, std::strerror(EISDIR));
  }
  ::close(fd);
  if (auto why = io::ca_file_problem(path); !why.empty()) return "--ca-file " + path + ": " + why;
  return {};
}

std::string check_apply_paths(const apply_options& o, const fs::path& report,
                              const fs::path& journal) {
  // Two roles on one file would have one writer destroy the other's work (the report's truncation
  // would empty the journal, or the input CSV).
  std::vector<std::pair<std::string, fs::path>> files = {{"the input CSV", o.csv},
                                                         {"the report", report}};
  if (!o.dry_run) files.emplace_back("the journal", journal);
  if (!o.summary.empty()) files.emplace_back("--summary", o.summary);
  if (!o.metrics.empty()) files.emplace_back("--metrics", o.metrics);
  if (!o.log_file.empty()) files.emplace_back("--log-file", o.log_file);
  for (std::size_t i = 1; i < files.size(); ++i) {
    if (files[i].second == "-") continue;
    std::error_code ec;
    const fs::path a = fs::weakly_canonical(files[i].second, ec);
    for (std::size_t j = 0; j < i && !ec; ++j) {
      std::error_code ec2;
      if (files[j].second != "-" && fs::weakly_canonical(files[j].second, ec2) == a && !ec2)
        return files[i].second.string() + " is both " + files[j].first + " and " + files[i].first +
               "; give each its own file";
    }
  }
  if (auto why = check_output_path(report, "report"); !why.empty()) return why;
  if (!o.dry_run) {
    if (auto why = check_output_path(journal, "journal", o.resume); !why.empty()) return why;
  }
  if (!o.summary.empty()) {
    if (auto why = check_output_path(o.summary, "--summary"); !why.empty()) return why;
  }
  if (!o.metrics.empty()) {
    if (auto why = check_output_path(o.metrics, "--metrics"); !why.empty()) return why;
  }
  if (!o.log_file.empty()) {
    if (auto why = check_output_path(o.log_file, "--log-file"); !why.empty()) return why;
  }
  return check_ca_file(o.ca_file);
}

}  // namespace relicense::cli
