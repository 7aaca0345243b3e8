// Output paths and the CA file are checked before the first request: a missing folder, a path
// under a regular file (which no user, root included, can write), a folder where a file should
// be, or an unusable --ca-file is an exit 2 naming the path and the OS error, with nothing sent
// and nothing left behind, and with no hint that does not fit (no --resume for a bad path).
#include "relicense/sim/server.hpp"

#include "fault_support.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <map>
#include <set>
#include <string>

namespace relicense::fault_test {
namespace {

namespace fs = std::filesystem;

std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.insert(e.path().string());
  return out;
}

/// One bad path: which option gets it (with `{out}` replaced by the output folder), and what the
/// message must say besides the path.
struct path_case {
  const char* name;
  const char* option;
  const char* value;
  const char* error;
};

void PrintTo(const path_case& c, std::ostream* os) { *os << c.name; }

class OutputPaths : public fault_test, public ::testing::WithParamInterface<path_case> {};
class OutputPathsPermissions : public fault_test {};
class OutputPathsOtherCommands : public fault_test {};

// The run stops with exit 2 before any request, names the path and the OS error, suggests no
// --resume, and leaves the output folder exactly as it was (no report, journal or temporary file).
TEST_P(OutputPaths, RefusedBeforeTheFirstRequestLeavingNothing) {
  const path_case& pc = GetParam();
  const auto csv = start_moving(relicense::test::twin_config(1, 10, 1515), 10);
  temp_dir out;
  out.write("file", "a regular file\n");
  out.write("not-a-ca.pem", "hello\n");
  out.write("broken-ca.pem",
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
  fs::create_directories(out.path() / "folder");
  std::string value = pc.value;
  if (const auto at = value.find("{out}"); at != std::string::npos)
    value.replace(at, 5, out.path().string());

  std::map<std::string, std::string> paths = {
      {"--report", (out.path() / "report.csv").string()},
      {"--journal", (out.path() / "run.journal").string()},
      {"--summary", (out.path() / "summary.json").string()}};
  paths[pc.option] = value;
  std::vector<std::string> args = {"apply",           csv.string(), "--base-url",
                                   twin().base_url(), "--progress", "off"};
  for (const auto& [option, path] : paths) {
    args.push_back(option);
    args.push_back(path);
  }
  const auto before = listing(out.path());
  const auto r = run(args, twin().api_key(), dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(value), std::string::npos) << "the message names the path: " << r.err;
  EXPECT_NE(r.err.find(pc.error), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("--resume"), std::string::npos) << "a hint that does not fit: " << r.err;
  EXPECT_EQ(r.err.find(".tmp"), std::string::npos) << "names a temporary file: " << r.err;
  EXPECT_EQ(twin().stats().requests, 0u) << "sent requests";
  EXPECT_EQ(listing(out.path()), before) << "files left behind";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, OutputPaths,
    ::testing::Values(
        path_case{"summary_missing_folder", "--summary", "{out}/missing/summary.json",
                  "No such file or directory"},
        path_case{"metrics_missing_folder", "--metrics", "{out}/missing/relicense.prom",
                  "No such file or directory"},
        path_case{"metrics_under_a_file", "--metrics", "{out}/file/relicense.prom",
                  "Not a directory"},
        path_case{"summary_is_a_folder", "--summary", "{out}/folder", "Is a directory"},
        path_case{"report_missing_folder", "--report", "{out}/missing/report.csv",
                  "No such file or directory"},
        path_case{"report_under_a_file", "--report", "{out}/file/report.csv", "Not a directory"},
        path_case{"journal_missing_folder", "--journal", "{out}/missing/run.journal",
                  "No such file or directory"},
        path_case{"journal_under_a_file", "--journal", "{out}/file/run.journal", "Not a directory"},
        path_case{"ca_file_missing", "--ca-file", "{out}/missing.pem", "No such file or directory"},
        path_case{"ca_file_is_a_folder", "--ca-file", "{out}/folder", "Is a directory"},
        path_case{"ca_file_not_pem", "--ca-file", "{out}/not-a-ca.pem",
                  "no usable PEM certificate"},
        path_case{"ca_file_broken_pem", "--ca-file", "{out}/broken-ca.pem",
                  "no usable PEM certificate"}),
    [](const ::testing::TestParamInfo<path_case>& i) { return std::string(i.param.name); });

// A folder the user may not write to (permissions, so skipped as root, who writes anywhere): the
// message says "Permission denied" and nothing is sent or left.
TEST_F(OutputPathsPermissions, UnwritableReportFolder) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes anywhere; the under-a-file cases cover root";
  const auto csv = start_moving(relicense::test::twin_config(1, 10, 1), 10);
  temp_dir out;
  const auto locked = out.path() / "locked";
  fs::create_directories(locked);
  ::chmod(locked.c_str(), 0555);
  const auto r = run({"apply", csv.string(), "--base-url", twin().base_url(), "--progress", "off",
                      "--report", (locked / "report.csv").string()},
                     twin().api_key(), dir.path());
  ::chmod(locked.c_str(), 0755);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("--resume"), std::string::npos) << r.err;
  EXPECT_EQ(twin().stats().requests, 0u);
  EXPECT_TRUE(fs::is_empty(locked));
}

// One file given two roles (the report as the journal, the summary as the input CSV) is refused
// before anything is written: the report's truncation would destroy the other.
TEST_F(OutputPathsOtherCommands, OneFileForTwoRolesRefused) {
  const auto csv = start_moving(relicense::test::twin_config(1, 10, 1), 10);
  const std::string text = temp_dir::read(csv);
  const auto both = (dir.path() / "run.csv").string();
  auto r = run(
      {"apply", csv.string(), "--base-url", twin().base_url(), "--report", both, "--journal", both},
      twin().api_key(), dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(both + " is both the report and the journal"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(both));
  r = run({"apply", csv.string(), "--base-url", twin().base_url(), "--report",
           (dir.path() / "r.csv").string(), "--summary", csv.string()},
          twin().api_key(), dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(temp_dir::read(csv), text);
  EXPECT_EQ(twin().stats().requests, 0u);
}

// verify reads the CA file before its first request too, and rollback checks its --output folder
// before reading the report: exit 2, the path named, not a temporary file's.
TEST_F(OutputPathsOtherCommands, VerifyCaFileAndRollbackOutput) {
  const auto csv = start_moving(relicense::test::twin_config(1, 10, 1), 10);
  const auto missing = (dir.path() / "missing.pem").string();
  auto r = run({"verify", csv.string(), "--base-url", twin().base_url(), "--ca-file", missing},
               twin().api_key(), dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(missing + ": No such file or directory"), std::string::npos) << r.err;
  EXPECT_EQ(twin().stats().requests, 0u);

  const auto old_report = dir.write(
      "report.csv",
      "line,organizationId,licenseId,deviceSerial,previousDeviceSerial,outcome,httpStatus,"
      "attempts,latencyMs,state,error\n");
  const auto output = (dir.path() / "missing" / "rollback.csv").string();
  r = run({"rollback", old_report.string(), "--output", output}, "", dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(output), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(".tmp"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace relicense::fault_test
