// The command-line surface: help, version, and usage errors (docs/exit-codes.md).
#include "relicense/test/run_process.hpp"
#include "relicense/test/run_with_stdin.hpp"
#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

using relicense::test::run_relicense;
using relicense::test::temp_dir;

namespace {
const char* const subcommands[] = {"plan", "apply",    "verify", "rollback", "retry",
                                   "orgs", "licenses", "sim",    "demo"};
const std::string one_row = "organizationId,licenseId,deviceSerial\n1,L1,Q2AA-BBBB-CCCC\n";
}  // namespace

// --version prints the program name and version and exits 0.
TEST(CliContract, version) {
  auto r = run_relicense({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("relicense "), std::string::npos);
}

// --help lists every subcommand of the contract.
TEST(CliContract, HelpListsSubcommands) {
  auto r = run_relicense({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* sub : subcommands) EXPECT_NE(r.out.find(sub), std::string::npos) << sub;
}

// Each subcommand has its own --help and exits 0 with it.
TEST(CliContract, SubcommandHelp) {
  for (const char* sub : subcommands) {
    auto r = run_relicense({sub, "--help"});
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
}

// No subcommand, an unknown option, or a missing required argument are usage errors: exit 2.
TEST(CliContract, UsageErrorsExit2) {
  EXPECT_EQ(run_relicense({}).exit_code, 2);
  EXPECT_EQ(run_relicense({"apply"}).exit_code, 2);
  EXPECT_EQ(run_relicense({"plan", "x.csv", "--no-such-option"}).exit_code, 2);
  EXPECT_EQ(run_relicense({"apply", "x.csv", "--mode", "fast"}).exit_code, 2);
}

// An unknown subcommand is named, the subcommands are listed, and the exit code is 2.
TEST(CliContract, UnknownCommand) {
  auto r = run_relicense({"aply", "x.csv"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'aply'"), std::string::npos) << r.err;
  for (const char* sub : subcommands)
    EXPECT_NE(r.err.find(std::string("  ") + sub), std::string::npos) << sub;
  EXPECT_EQ(r.out, "");
}

// --help lists every exit code with its meaning.
TEST(CliContract, HelpListsExitCodes) {
  auto r = run_relicense({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Exit codes:"), std::string::npos) << r.out;
  for (const char* line : {"  0    every row applied", "  1    some rows failed",
                           "  2    bad usage", "  3    run aborted", "  130  interrupted"})
    EXPECT_NE(r.out.find(line), std::string::npos) << line;
}

// verify refuses the options it has no use for (apply's run and output options): exit 2, named.
TEST(CliContract, VerifyRejectsApplyOptions) {
  temp_dir dir;
  const auto csv = dir.write("in.csv", one_row).string();
  for (std::vector<std::string> extra : {std::vector<std::string>{"--concurrency", "4"},
                                         {"--progress", "off"},
                                         {"--quiet"},
                                         {"--report", "r.csv"},
                                         {"--dry-run"},
                                         {"--mode", "batch"},
                                         {"--journal", "j"}}) {
    std::vector<std::string> args{"verify", csv, "--base-url", "http://127.0.0.1:9/api/v1"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_relicense(args, {{"MERAKI_DASHBOARD_API_KEY", "k"}});
    EXPECT_EQ(r.exit_code, 2) << extra[0];
    EXPECT_NE(r.err.find(extra[0] + " is an apply option"), std::string::npos) << r.err;
  }
}

// `plan -` reads the CSV from standard input and names it <stdin> in its output and errors.
TEST(CliContract, PlanReadsStdin) {
  temp_dir dir;
  auto r = relicense::test::run_relicense_with_stdin({"plan", "-"}, dir.write("in.csv", one_row),
                                                     dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("plan of <stdin>"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unique licenses                1"), std::string::npos) << r.out;
  r = relicense::test::run_relicense_with_stdin(
      {"plan", "-"}, dir.write("bad.csv", "organizationId,licenseId,deviceSerial\n1,L1,x\n"),
      dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("<stdin>:2:"), std::string::npos) << r.err;
}

// A report whose name says no format is refused before anything is read or sent, unless
// --report-format says which; --report-format accepts only csv and jsonl.
TEST(CliContract, ReportFormatFromName) {
  temp_dir dir;
  const auto csv = dir.write("in.csv", one_row).string();
  const std::vector<std::string> base{"apply",      csv,  "--base-url", "http://127.0.0.1:9/api/v1",
                                      "--progress", "off"};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return run_relicense(args, {{"MERAKI_DASHBOARD_API_KEY", "k"}});
  };
  auto r = with({"--report", (dir.path() / "out.txt").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(".csv or .jsonl"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "out.txt"));
  r = with({"--report", (dir.path() / "out").string()});
  EXPECT_EQ(r.exit_code, 2);
  r = with({"--report", (dir.path() / "out.csv").string(), "--report-format", "xml"});
  EXPECT_EQ(r.exit_code, 2);
}

// retry is a command: in --help, with its own --help taking apply's options (--yes included),
// and a missing REPORT is a usage error.
TEST(CliContract, RetryIsACommand) {
  auto r = run_relicense({"--help"});
  EXPECT_NE(r.out.find("\n  retry "), std::string::npos) << r.out;
  r = run_relicense({"retry", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* option :
       {"REPORT", "--report", "--journal", "--resume", "--mode", "--rate", "--yes", "--dry-run"})
    EXPECT_NE(r.out.find(option), std::string::npos) << option;
  EXPECT_EQ(run_relicense({"retry"}).exit_code, 2);
  r = run_relicense({"apply", "--help"});
  EXPECT_NE(r.out.find("--yes"), std::string::npos) << r.out;
}
