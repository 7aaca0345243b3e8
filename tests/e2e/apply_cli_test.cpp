// Exit codes of `relicense apply` (docs/exit-codes.md), running the built binary against the twin.
#include "relicense/sim/server.hpp"

#include "relicense/test/run_process.hpp"
#include "relicense/test/run_with_stdin.hpp"
#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <map>
#include <thread>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <string>
#include <string_view>
#include <vector>

namespace sim = relicense::sim;
using relicense::test::run_relicense;
using relicense::test::temp_dir;

namespace {

sim::sim_config twin_config() {
  sim::sim_config c;
  c.orgs = 1;
  c.licenses_per_org = 30;
  c.rate = 0;
  c.seed = 11;
  return c;
}

/// A CSV moving the org's first `n` licenses to its first device.
std::string csv_for(const sim::server& twin, std::size_t n, const std::string& extra_row = {}) {
  const auto orgs = twin.orgs();
  std::string csv = "organizationId,licenseId,deviceSerial\n";
  for (std::size_t i = 0; i < n; ++i) {
    csv += orgs[0].id + "," + orgs[0].licenses[i].id + "," + orgs[0].devices[0] + "\n";
  }
  if (!extra_row.empty()) csv += orgs[0].id + "," + extra_row + "\n";
  return csv;
}

std::vector<std::string> apply_args(const sim::server& twin, const temp_dir& dir, const std::string& csv) {
  return {"apply", csv, "--base-url", twin.base_url(), "--rate", "0", "--ip-rate", "0",
          "--report", (dir.path() / "report.csv").string(), "--progress", "off"};
}

} // namespace

// Every row applied: exit 0, and the report has one line per row plus the header.
TEST(ApplyCli, ExitZeroWhenAllApplied) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", csv_for(twin, 10));
  const auto r = run_relicense(apply_args(twin, dir, csv.string()), {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto report = temp_dir::read(dir.path() / "report.csv");
  EXPECT_EQ(std::count(report.begin(), report.end(), '\n'), 11);
  EXPECT_EQ(r.err.find(twin.api_key()), std::string::npos);  // the key is never printed
}

// A row the API refuses: exit 1, and the report says which row failed and that the others were
// applied. (The sanitizers' own exit code is 86, and run_relicense fails the test on a sanitizer
// report, so a child's memory error cannot pass for this 1.)
TEST(ApplyCli, ExitOneWhenARowFails) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", csv_for(twin, 5, "123456789,"));
  const auto r = run_relicense(apply_args(twin, dir, csv.string()), {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto report = temp_dir::read(dir.path() / "report.csv");
  EXPECT_EQ(std::count(report.begin(), report.end(), '\n'), 7) << report;
  const auto failed_at = report.find(",123456789,");
  ASSERT_NE(failed_at, std::string::npos) << report;
  const auto failed_line = report.substr(report.rfind('\n', failed_at) + 1,
                                         report.find('\n', failed_at) - report.rfind('\n', failed_at) - 1);
  EXPECT_EQ(failed_line.rfind("7,", 0), 0u) << failed_line;  // CSV line 7
  EXPECT_NE(failed_line.find(",failed,"), std::string::npos) << failed_line;
  std::size_t applied = 0;
  for (auto at = report.find(",applied,"); at != std::string::npos; at = report.find(",applied,", at + 1)) ++applied;
  EXPECT_EQ(applied, 5u) << report;
  EXPECT_EQ(twin.stats().puts_applied, 5u);
}

// No API key: exit 2 and nothing sent.
TEST(ApplyCli, ExitTwoWithoutKey) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", csv_for(twin, 5));
  const auto r = run_relicense(apply_args(twin, dir, csv.string()), {{"MERAKI_DASHBOARD_API_KEY", ""}});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("MERAKI_DASHBOARD_API_KEY"), std::string::npos);
  EXPECT_EQ(twin.stats().requests, 0u);
}

// A CSV with errors: exit 2, file:line in the message, nothing sent.
TEST(ApplyCli, ExitTwoOnBadCsv) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", "organizationId,licenseId,deviceSerial\n1,2,not-a-serial\n");
  const auto r = run_relicense(apply_args(twin, dir, csv.string()), {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("in.csv:2"), std::string::npos) << r.err;
  EXPECT_EQ(twin.stats().requests, 0u);
}

// Plain http to a non-loopback host would send the key in clear: exit 2.
TEST(ApplyCli, ExitTwoOnCleartextToRemoteHost) {
  temp_dir dir;
  const auto csv = dir.write("in.csv", "organizationId,licenseId,deviceSerial\n1,2,Q2AA-BBBB-CCCC\n");
  const auto r = run_relicense({"apply", csv.string(), "--base-url", "http://api.meraki.com/api/v1",
                                "--report", (dir.path() / "r.csv").string()},
                               {{"MERAKI_DASHBOARD_API_KEY", "secret-key-123"}});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err.find("secret-key-123"), std::string::npos);
}

// A rejected key: exit 3, the key not in the output.
TEST(ApplyCli, ExitThreeOnBadKey) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", csv_for(twin, 5));
  const auto r = run_relicense(apply_args(twin, dir, csv.string()), {{"MERAKI_DASHBOARD_API_KEY", "bad-key-456"}});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.err.find("bad-key-456"), std::string::npos);
}

// A certificate from an unknown CA: exit 3; with --ca-file the same run succeeds.
TEST(ApplyCli, ExitThreeOnUnknownCaAndZeroWithCaFile) {
  auto cfg = twin_config();
  cfg.tls = true;
  sim::server twin(cfg);
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", csv_for(twin, 5));
  auto r = run_relicense(apply_args(twin, dir, csv.string()), {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(twin.stats().puts_applied, 0u);
  auto args = apply_args(twin, dir, csv.string());
  args.push_back("--ca-file");
  args.push_back(twin.ca_file());
  args[args.size() - 5] = (dir.path() / "report2.csv").string();
  r = run_relicense(args, {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// SIGINT mid-run: in-flight calls finish, the rest is not_attempted, exit 130, journal written.
TEST(ApplyCli, ExitOneThirtyOnSigint) {
  auto cfg = twin_config();
  cfg.licenses_per_org = 300;
  cfg.rate = 20;  // 300 rows take ~15 s: the signal lands mid-run
  cfg.burst = 5;
  cfg.ip_rate = 1000;
  sim::server twin(cfg);
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", csv_for(twin, 300));
  const auto report = dir.path() / "report.csv";
  const std::string bin = relicense::test::relicense_binary();
  const std::string key = "MERAKI_DASHBOARD_API_KEY=" + twin.api_key();
  const std::string url = twin.base_url();
  const std::string csv_s = csv.string(), report_s = report.string();
  // Everything the child needs is built before fork(): the twin's threads make the child
  // async-signal-safe-only until execve.
  std::vector<std::string> args = {bin, "apply", csv_s, "--base-url", url, "--rate", "20", "--burst", "5",
                                   "--report", report_s, "--progress", "off"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).rfind("MERAKI_DASHBOARD_API_KEY=", 0) != 0) env_strings.emplace_back(*e);
  }
  env_strings.push_back(key);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int null_fd = ::open("/dev/null", O_WRONLY);
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
    ::execve(bin.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  // Wait (bounded) until the run is sending, then interrupt it.
  for (int i = 0; i < 2000 && twin.stats().requests < 10; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GE(twin.stats().requests, 10u);
  ::kill(pid, SIGINT);
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 3000 && done == 0; ++i) {
    done = ::waitpid(pid, &status, WNOHANG);
    if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (done == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    FAIL() << "relicense did not stop within 15 s of SIGINT";
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const auto text = temp_dir::read(report);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 301);  // every row reported
  EXPECT_NE(text.find("not_attempted"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "report.journal"));
}

// `apply -` reads the CSV from standard input; `--report -` writes the report, and only the
// report, to standard output (the summary stays on stderr); verify reads stdin too.
TEST(ApplyCli, StdinCsvAndReportOnStdout) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", csv_for(twin, 10));
  const std::map<std::string, std::string> env{{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}};
  auto r = relicense::test::run_relicense_with_stdin(
      {"apply", "-", "--base-url", twin.base_url(), "--rate", "0", "--ip-rate", "0", "--report", "-",
       "--journal", (dir.path() / "run.journal").string(), "--progress", "on"},
      csv, dir.path(), env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.out.rfind("line,organizationId,licenseId,", 0), 0u) << r.out.substr(0, 200);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 11) << r.out;
  std::size_t applied = 0;
  for (auto p = r.out.find(",applied,"); p != std::string::npos; p = r.out.find(",applied,", p + 1)) ++applied;
  EXPECT_EQ(applied, 10u) << r.out;
  EXPECT_NE(r.err.find("report: standard output"), std::string::npos) << r.err;
  EXPECT_EQ(twin.stats().puts_applied, 10u);

  r = relicense::test::run_relicense_with_stdin({"verify", "-", "--base-url", twin.base_url(), "--rate", "0",
                                                 "--ip-rate", "0"},
                                                csv, dir.path(), env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// The report's format follows --report-format over the name, and the name otherwise (any case):
// JSON Lines on stdout, in a .JSONL file, and in a file named otherwise; a name that says no
// format is exit 2 with nothing sent.
TEST(ApplyCli, ReportFormatSelection) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", csv_for(twin, 3));
  const std::map<std::string, std::string> env{{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}};
  int run = 0;
  auto args_with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a{"apply", csv.string(), "--base-url", twin.base_url(), "--rate", "0",
                               "--ip-rate", "0", "--progress", "off",
                               "--journal", (dir.path() / ("run" + std::to_string(++run) + ".journal")).string()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  auto r = run_relicense(args_with({"--report", (dir.path() / "bad.txt").string()}), env);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(twin.stats().requests, 0u);

  r = run_relicense(args_with({"--report", "-", "--report-format", "jsonl"}), env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("{\"line\":", 0), 0u) << r.out.substr(0, 200);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3);

  const auto upper = dir.path() / "r.JSONL";
  r = run_relicense(args_with({"--report", upper.string()}), env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(temp_dir::read(upper).rfind("{\"line\":", 0), 0u);

  const auto named = dir.path() / "report.out";
  r = run_relicense(args_with({"--report", named.string(), "--report-format", "jsonl"}), env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(temp_dir::read(named).rfind("{\"line\":", 0), 0u);
  // rollback reads that report by its content, since its name does not say.
  r = run_relicense({"rollback", named.string(), "--output", (dir.path() / "undo.csv").string()});
  EXPECT_NE(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("wrote 0 rollback rows"), std::string::npos) << r.err;
}
