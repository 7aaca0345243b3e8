// Exit codes of `relicense apply` (docs/exit-codes.md), running the built binary against the twin.
#include "relicense/sim/server.hpp"

#include "relicense/test/child.hpp"
#include "relicense/test/run_process.hpp"
#include "relicense/test/run_with_stdin.hpp"
#include "relicense/test/temp_dir.hpp"
#include "relicense/test/twin.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace sim = relicense::sim;
using relicense::test::run_relicense;
using relicense::test::temp_dir;

namespace {

/// One org of 30 licenses, no budget.
sim::sim_config twin_config() { return relicense::test::twin_config(1, 30, 11); }

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

class ApplyCli : public relicense::test::twin_cli_test {
protected:
  /// No client budget either, and the report in `report`.
  std::vector<std::string> unpaced(const std::string& report = "report.csv") const {
    return {"--rate", "0", "--ip-rate", "0", "--report", file(report).string()};
  }
};

}  // namespace

// Every row applied: exit 0, and the report has one line per row plus the header.
TEST_F(ApplyCli, ExitZeroWhenAllApplied) {
  start(twin_config());
  const auto r = apply(dir.write("in.csv", csv_for(twin(), 10)), unpaced());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto report = temp_dir::read(file("report.csv"));
  EXPECT_EQ(std::count(report.begin(), report.end(), '\n'), 11);
  EXPECT_EQ(r.err.find(twin().api_key()), std::string::npos);  // the key is never printed
}

// A row the API refuses: exit 1, and the report says which row failed and that the others were
// applied. (The sanitizers' own exit code is 86, and run_relicense fails the test on a sanitizer
// report, so a child's memory error cannot pass for this 1.)
TEST_F(ApplyCli, ExitOneWhenARowFails) {
  start(twin_config());
  const auto r = apply(dir.write("in.csv", csv_for(twin(), 5, "123456789,")), unpaced());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto report = temp_dir::read(file("report.csv"));
  EXPECT_EQ(std::count(report.begin(), report.end(), '\n'), 7) << report;
  const auto failed_at = report.find(",123456789,");
  ASSERT_NE(failed_at, std::string::npos) << report;
  const auto failed_line =
      report.substr(report.rfind('\n', failed_at) + 1,
                    report.find('\n', failed_at) - report.rfind('\n', failed_at) - 1);
  EXPECT_EQ(failed_line.rfind("7,", 0), 0u) << failed_line;  // CSV line 7
  EXPECT_NE(failed_line.find(",failed,"), std::string::npos) << failed_line;
  std::size_t applied = 0;
  for (auto at = report.find(",applied,"); at != std::string::npos;
       at = report.find(",applied,", at + 1))
    ++applied;
  EXPECT_EQ(applied, 5u) << report;
  EXPECT_EQ(twin().stats().puts_applied, 5u);
}

// No API key: exit 2 and nothing sent.
TEST_F(ApplyCli, ExitTwoWithoutKey) {
  start(twin_config());
  const auto r = apply(dir.write("in.csv", csv_for(twin(), 5)), unpaced(), "");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("MERAKI_DASHBOARD_API_KEY"), std::string::npos);
  EXPECT_EQ(twin().stats().requests, 0u);
}

// A CSV with errors: exit 2, file:line in the message, nothing sent.
TEST_F(ApplyCli, ExitTwoOnBadCsv) {
  start(twin_config());
  const auto r = apply(
      dir.write("in.csv", "organizationId,licenseId,deviceSerial\n1,2,not-a-serial\n"), unpaced());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("in.csv:2"), std::string::npos) << r.err;
  EXPECT_EQ(twin().stats().requests, 0u);
}

// Plain http to a non-loopback host would send the key in clear: exit 2.
TEST_F(ApplyCli, ExitTwoOnCleartextToRemoteHost) {
  const auto csv =
      dir.write("in.csv", "organizationId,licenseId,deviceSerial\n1,2,Q2AA-BBBB-CCCC\n");
  const auto r = run_relicense({"apply", csv.string(), "--base-url", "http://api.meraki.com/api/v1",
                                "--report", file("r.csv").string()},
                               {{"MERAKI_DASHBOARD_API_KEY", "secret-key-123"}});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err.find("secret-key-123"), std::string::npos);
}

// A rejected key: exit 3, the key not in the output.
TEST_F(ApplyCli, ExitThreeOnBadKey) {
  start(twin_config());
  const auto r = apply(dir.write("in.csv", csv_for(twin(), 5)), unpaced(), "bad-key-456");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.err.find("bad-key-456"), std::string::npos);
}

// A certificate from an unknown CA: exit 3; with --ca-file the same run succeeds.
TEST_F(ApplyCli, ExitThreeOnUnknownCaAndZeroWithCaFile) {
  auto cfg = twin_config();
  cfg.tls = true;
  start(cfg);
  const auto csv = dir.write("in.csv", csv_for(twin(), 5));
  auto r = apply(csv, unpaced());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(twin().stats().puts_applied, 0u);
  auto options = unpaced("report2.csv");
  options.insert(options.end(), {"--ca-file", twin().ca_file()});
  r = apply(csv, options);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// SIGINT mid-run: in-flight calls finish, the rest is not_attempted, exit 130, journal written.
TEST_F(ApplyCli, ExitOneThirtyOnSigint) {
  auto cfg = twin_config();
  cfg.licenses_per_org = 300;
  cfg.rate = 20;  // 300 rows take ~15 s: the signal lands mid-run
  cfg.burst = 5;
  cfg.ip_rate = 1000;
  start(cfg);
  const auto csv = dir.write("in.csv", csv_for(twin(), 300));
  relicense::test::child c(
      apply_args(csv, {"--rate", "20", "--burst", "5", "--report", file("report.csv").string()}),
      twin().api_key(), dir.path());
  // Wait (bounded) until the run is sending, then interrupt it.
  relicense::test::eventually([&] { return twin().stats().requests >= 10; },
                              std::chrono::seconds(10));
  EXPECT_GE(twin().stats().requests, 10u);
  c.signal(SIGINT);
  const auto r = c.wait(std::chrono::seconds(15));
  ASSERT_FALSE(r.timed_out) << "relicense did not stop within 15 s of SIGINT";
  ASSERT_EQ(r.signal, 0) << "killed by signal " << r.signal;
  EXPECT_EQ(r.exit_code, 130);
  const auto text = temp_dir::read(file("report.csv"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 301);  // every row reported
  EXPECT_NE(text.find("not_attempted"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(file("report.journal")));
}

// `apply -` reads the CSV from standard input; `--report -` writes the report, and only the
// report, to standard output (the summary stays on stderr); verify reads stdin too.
TEST_F(ApplyCli, StdinCsvAndReportOnStdout) {
  start(twin_config());
  const auto csv = dir.write("in.csv", csv_for(twin(), 10));
  auto r = relicense::test::run_relicense_with_stdin(
      {"apply", "-", "--base-url", twin().base_url(), "--rate", "0", "--ip-rate", "0", "--report",
       "-", "--journal", file("run.journal").string(), "--progress", "on"},
      csv, dir.path(), key_env());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.out.rfind("line,organizationId,licenseId,", 0), 0u) << r.out.substr(0, 200);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 11) << r.out;
  std::size_t applied = 0;
  for (auto p = r.out.find(",applied,"); p != std::string::npos; p = r.out.find(",applied,", p + 1))
    ++applied;
  EXPECT_EQ(applied, 10u) << r.out;
  EXPECT_NE(r.err.find("report: standard output"), std::string::npos) << r.err;
  EXPECT_EQ(twin().stats().puts_applied, 10u);

  r = relicense::test::run_relicense_with_stdin(
      {"verify", "-", "--base-url", twin().base_url(), "--rate", "0", "--ip-rate", "0"}, csv,
      dir.path(), key_env());
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// The report's format follows --report-format over the name, and the name otherwise (any case):
// JSON Lines on stdout, in a .JSONL file, and in a file named otherwise; a name that says no
// format is exit 2 with nothing sent.
TEST_F(ApplyCli, ReportFormatSelection) {
  start(twin_config());
  const auto csv = dir.write("in.csv", csv_for(twin(), 3));
  int run = 0;
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a{
        "--rate", "0",         "--ip-rate",
        "0",      "--journal", file("run" + std::to_string(++run) + ".journal").string()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  auto r = apply(csv, with({"--report", file("bad.txt").string()}));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(twin().stats().requests, 0u);

  r = apply(csv, with({"--report", "-", "--report-format", "jsonl"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("{\"line\":", 0), 0u) << r.out.substr(0, 200);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3);

  const auto upper = file("r.JSONL");
  r = apply(csv, with({"--report", upper.string()}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(temp_dir::read(upper).rfind("{\"line\":", 0), 0u);

  const auto named = file("report.out");
  r = apply(csv, with({"--report", named.string(), "--report-format", "jsonl"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(temp_dir::read(named).rfind("{\"line\":", 0), 0u);
  // rollback reads that report by its content, since its name does not say.
  r = run_relicense({"rollback", named.string(), "--output", file("undo.csv").string()});
  EXPECT_NE(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("wrote 0 rollback rows"), std::string::npos) << r.err;
}

namespace {

std::size_t occurrences(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

// --limit 3 (a canary run), in put and batch mode: exactly 3 changes are applied, rows already in
// place do not count, the report says which rows were left ("left by --limit 3", not_attempted),
// and --resume applies exactly those, no row twice.
TEST_F(ApplyCli, LimitAppliesTheFirstChangesAndResumeFinishes) {
  for (const std::string mode : {"put", "batch"}) {
    auto cfg = twin_config();
    cfg.batch_actions_per_second = 5000;
    start(cfg);
    const auto orgs = twin().orgs();
    const auto state = twin().state();
    const auto& org = orgs[0];
    // Two rows already in place first, then ten rows that change.
    std::string csv_text = "organizationId,licenseId,deviceSerial\n";
    for (std::size_t i = 0; i < 2; ++i)
      csv_text += org.id + "," + org.licenses[i].id + "," +
                  state.at(org.id).at(org.licenses[i].id).value_or("") + "\n";
    std::size_t changes = 0;
    for (std::size_t i = 2; changes < 10 && i < org.licenses.size(); ++i) {
      const auto& lic = org.licenses[i];
      const std::string target = org.devices[i % org.devices.size()];
      if (state.at(org.id).at(lic.id) == target) continue;
      csv_text += org.id + "," + lic.id + "," + target + "\n";
      ++changes;
    }
    ASSERT_EQ(changes, 10u);
    const auto csv = dir.write(mode + ".csv", csv_text);
    const auto journal = file(mode + ".journal");
    const auto applied_now = [&] {
      const auto s = twin().stats();
      return mode == "batch" ? s.batch_actions_applied : s.puts_applied;
    };

    auto r =
        apply(csv, {"--mode", mode, "--rate", "0", "--ip-rate", "0", "--limit", "3", "--journal",
                    journal.string(), "--report", file(mode + "-1.csv").string()});
    EXPECT_EQ(r.exit_code, 0) << mode << ": " << r.err;
    EXPECT_EQ(applied_now(), 3u) << mode;
    EXPECT_NE(r.err.find("--limit 3: 7 rows left"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--resume --journal " + journal.string()), std::string::npos) << r.err;
    const auto first = temp_dir::read(file(mode + "-1.csv"));
    EXPECT_EQ(occurrences(first, ",unchanged,"), 2u) << first;
    EXPECT_EQ(occurrences(first, ",applied,"), 3u) << first;
    EXPECT_EQ(occurrences(first, ",not_attempted,"), 7u) << first;
    EXPECT_EQ(occurrences(first, "left by --limit 3"), 7u) << first;
    // The first three changes in input order (lines 4, 5, 6) are the ones applied.
    for (const char* line : {"\n4,", "\n5,", "\n6,"}) {
      const auto at = first.find(line);
      ASSERT_NE(at, std::string::npos) << first;
      EXPECT_NE(first.substr(at, first.find('\n', at + 1) - at).find(",applied,"),
                std::string::npos)
          << first;
    }

    r = apply(csv, {"--mode", mode, "--rate", "0", "--ip-rate", "0", "--resume", "--journal",
                    journal.string(), "--report", file(mode + "-2.csv").string()});
    EXPECT_EQ(r.exit_code, 0) << mode << ": " << r.err;
    EXPECT_EQ(applied_now(), 10u) << mode << ": each change exactly once";
    EXPECT_EQ(twin().stats().duplicate_applies, 0u) << mode;
    const auto second = temp_dir::read(file(mode + "-2.csv"));
    EXPECT_EQ(occurrences(second, ",applied,"), 10u) << second;
    EXPECT_EQ(occurrences(second, ",unchanged,"), 2u) << second;
    EXPECT_EQ(occurrences(second, "not_attempted"), 0u) << second;
  }
}

// The inventory is read by default, so rows already in place are not sent; --no-inventory sends
// every row and says (one line, not with --quiet) that the run cannot be rolled back;
// --skip-unchanged is still accepted and changes nothing.
TEST_F(ApplyCli, NoInventorySendsEveryRowAndSaysSo) {
  start(twin_config());
  const auto csv = dir.write("in.csv", csv_for(twin(), 6));
  auto r = apply(csv, {"--rate", "0", "--ip-rate", "0", "--report", file("r1.csv").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto applied = twin().stats().puts_applied;
  EXPECT_EQ(r.err.find("rolled back"), std::string::npos) << r.err;

  r = apply(csv, {"--rate", "0", "--ip-rate", "0", "--skip-unchanged", "--report",
                  file("r2.csv").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(twin().stats().puts_applied, applied) << "every row already in place";
  EXPECT_EQ(occurrences(temp_dir::read(file("r2.csv")), ",unchanged,"), 6u);

  r = apply(csv, {"--rate", "0", "--ip-rate", "0", "--no-inventory", "--report",
                  file("r3.csv").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(twin().stats().puts_applied, applied + 6) << "every row sent";
  EXPECT_EQ(
      occurrences(
          r.err,
          "--no-inventory: previous serials are not recorded; this run cannot be rolled back\n"),
      1u)
      << r.err;
  r = apply(csv, {"--rate", "0", "--ip-rate", "0", "--no-inventory", "--quiet", "--report",
                  file("r4.csv").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("rolled back"), std::string::npos) << r.err;
}
