// A run's failures in view, `relicense retry`, and the confirmation question, running the built
// binary against the twin.
#include "relicense/sim/server.hpp"

#include "relicense/test/run_process.hpp"
#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace sim = relicense::sim;
using relicense::test::run_relicense;
using relicense::test::temp_dir;

namespace {

sim::sim_config twin_config() {
  sim::sim_config c;
  c.orgs = 1;
  c.licenses_per_org = 30;
  c.rate = 0;
  c.seed = 23;
  return c;
}

/// `good` rows moving the org's first licenses to its first device, then `unknown` rows naming
/// licenses the org does not have (the twin answers 404).
std::string mixed_csv(const sim::server& twin, std::size_t good, std::size_t unknown) {
  const auto orgs = twin.orgs();
  const auto& org = orgs[0];
  std::string csv = "organizationId,licenseId,deviceSerial\n";
  for (std::size_t i = 0; i < good; ++i)
    csv += org.id + "," + org.licenses[i].id + "," + org.devices[0] + "\n";
  for (std::size_t i = 0; i < unknown; ++i)
    csv += org.id + ",99000" + std::to_string(i) + "," + org.devices[0] + "\n";
  return csv;
}

std::vector<std::string> run_args(const char* cmd, const sim::server& twin,
                                  const std::string& input, const std::filesystem::path& report) {
  return {cmd,         input, "--base-url", twin.base_url(), "--rate",     "0",
          "--ip-rate", "0",   "--report",   report.string(), "--progress", "off"};
}

std::size_t count(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

/// What a run on a terminal did: everything it wrote there, and its exit code.
struct tty_run {
  std::string screen;
  int exit_code = -1;
};

/// Runs relicense with a pseudo-terminal as its standard input, output and error, answers
/// `answer` once the question appears (nothing when `answer` is empty), and waits for it.
tty_run run_on_terminal(const std::vector<std::string>& args, const std::string& key,
                        const std::string& answer) {
  std::vector<std::string> strings{relicense::test::relicense_binary()};
  strings.insert(strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).rfind("MERAKI_DASHBOARD_API_KEY=", 0) != 0)
      env_strings.emplace_back(*e);
  }
  env_strings.push_back("MERAKI_DASHBOARD_API_KEY=" + key);
  for (const auto& s : relicense::test::sanitizer_env()) env_strings.push_back(s);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  tty_run run;
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) return run;
  if (pid == 0) {
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  bool answered = answer.empty();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO: the child closed the terminal
    run.screen.append(buf, static_cast<std::size_t>(n));
    if (!answered && run.screen.find("[y/N] ") != std::string::npos) {
      const std::string line = answer + "\n";
      if (::write(master, line.data(), line.size()) < 0) break;
      answered = true;
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(master);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  relicense::test::expect_no_sanitizer_report(run.screen, "relicense on a terminal");
  return run;
}

}  // namespace

// A run with failed rows ends with them grouped by reason: the count, the reason with the
// license id taken out, example rows as file:line in input order.
TEST(FailuresInView, RunEndsWithFailedRowsByReason) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", mixed_csv(twin, 5, 4));
  auto args = run_args("apply", twin, csv.string(), dir.path() / "r.csv");
  args.push_back("--no-inventory");  // the unknown licenses reach the API and get its 404
  const auto r = run_relicense(args, {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(
      r.err.find("relicense: 4 rows failed, by reason:\n  HTTP 404: License not found (4 rows)\n"
                 "    " +
                 csv.string() + ":7 990000 -> "),
      std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(":9 990002 -> "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("    ... and 1 more row\n"), std::string::npos) << r.err;
}

// A run without failures prints no such section.
TEST(FailuresInView, NothingWhenNoRowFailed) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", mixed_csv(twin, 5, 0));
  const auto r = run_relicense(run_args("apply", twin, csv.string(), dir.path() / "r.csv"),
                               {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("failed, by reason"), std::string::npos) << r.err;
}

// The progress line counts the failed rows.
TEST(FailuresInView, ProgressShowsTheFailedCount) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", mixed_csv(twin, 5, 4));
  auto args = run_args("apply", twin, csv.string(), dir.path() / "r.csv");
  args.back() = "on";
  const auto r = run_relicense(args, {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("9/9 rows (100.0%)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("failed: 4  ETA 0s"), std::string::npos) << r.err;
}

// retry sends only the report's failed rows, keeps their input lines, and takes apply's options
// (here a JSON Lines report).
TEST(Retry, SendsOnlyTheFailedRows) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto orgs = twin.orgs();
  const auto& org = orgs[0];
  // A report as a run would leave it: rows 2 and 3 applied, 4 and 6 failed (they can succeed
  // now), 5 failed for good.
  std::string report =
      "line,organizationId,licenseId,deviceSerial,previousDeviceSerial,outcome,httpStatus,attempts,"
      "latencyMs,state,error\n";
  const auto row = [&](int line, const std::string& license, const char* outcome,
                       const char* error) {
    report += std::to_string(line) + "," + org.id + "," + license + "," + org.devices[1] + ",," +
              outcome + ",0,1,1,," + error + "\n";
  };
  row(6, org.licenses[3].id, "failed", "gave up after 6 attempts: HTTP 503");
  row(2, org.licenses[0].id, "applied", "");
  row(3, org.licenses[1].id, "applied", "");
  row(4, org.licenses[2].id, "failed", "HTTP 502");
  row(5, "990009", "failed", "HTTP 404: License not found");
  const auto path = dir.write("in.report-20260101T000000Z.csv", report);
  const auto out = dir.path() / "retry.jsonl";
  const auto r = run_relicense(run_args("retry", twin, path.string(), out),
                               {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("relicense retry: 3 failed rows of "), std::string::npos) << r.err;
  EXPECT_EQ(twin.stats().puts_applied, 2u);
  const auto text = temp_dir::read(out);
  EXPECT_EQ(count(text, "\n"), 3u) << text;
  EXPECT_NE(text.find("{\"line\":4,\"organizationId\":\"" + org.id + "\",\"licenseId\":\"" +
                      org.licenses[2].id),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("{\"line\":6,"), std::string::npos) << text;
  EXPECT_NE(text.find("{\"line\":5,"), std::string::npos) << text;
  EXPECT_EQ(count(text, "\"outcome\":\"applied\""), 2u) << text;
  EXPECT_NE(r.err.find("    line 5 990009 -> "), std::string::npos) << r.err;
  const auto state = twin.state();
  EXPECT_EQ(state.at(org.id).at(org.licenses[2].id).value_or(""), org.devices[1]);
}

// retry of the failed rows a real run left, from its JSON Lines report, with the default report
// name beside it.
TEST(Retry, ReadsAJsonLinesReport) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", mixed_csv(twin, 3, 2));
  const auto first = dir.path() / "in.report-20260101T000000Z.jsonl";
  auto r = run_relicense(run_args("apply", twin, csv.string(), first),
                         {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const auto requests = twin.stats().requests;
  std::vector<std::string> args = {
      "retry", first.string(), "--base-url", twin.base_url(), "--rate", "0", "--ip-rate",
      "0",     "--progress",   "off",        "--no-inventory"};
  r = run_relicense(args, {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(twin.stats().requests - requests, 3u)
      << "only the two failed rows, after their org's pre-flight";
  EXPECT_NE(r.err.find("report: " + (dir.path() / "in.retry.report-").string()), std::string::npos)
      << r.err;
}

// A report without failed rows: retry says so, exits 0 and sends nothing.
TEST(Retry, NoFailedRowsSendsNothing) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", mixed_csv(twin, 3, 0));
  const auto first = dir.path() / "first.csv";
  auto r = run_relicense(run_args("apply", twin, csv.string(), first),
                         {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto requests = twin.stats().requests;
  r = run_relicense(run_args("retry", twin, first.string(), dir.path() / "second.csv"),
                    {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("has no failed rows"), std::string::npos) << r.err;
  EXPECT_EQ(twin.stats().requests, requests);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "second.csv"));
}

// A report that is not one: exit 2 naming it, nothing sent; so is a --report over it.
TEST(Retry, BadReportIsExitTwo) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto bad = dir.write("bad.csv", "line,licenseId\nx,1\n");
  auto r = run_relicense(run_args("retry", twin, bad.string(), dir.path() / "out.csv"),
                         {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("bad.csv"), std::string::npos) << r.err;
  const auto csv = dir.write("in.csv", mixed_csv(twin, 1, 1));
  const auto first = dir.path() / "first.csv";
  r = run_relicense(run_args("apply", twin, csv.string(), first),
                    {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const auto requests = twin.stats().requests;
  r = run_relicense(run_args("retry", twin, first.string(), first),
                    {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(twin.stats().requests, requests);
}

// On a terminal, apply asks; "n" changes nothing (only the pre-flight and the inventory read went
// out), writes no report and exits 0.
TEST(Confirmation, RefusalOnATerminalSendsNothing) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", mixed_csv(twin, 4, 0));
  const auto report = dir.path() / "r.csv";
  const auto r =
      run_on_terminal(run_args("apply", twin, csv.string(), report), twin.api_key(), "n");
  EXPECT_EQ(r.exit_code, 0) << r.screen;
  EXPECT_NE(r.screen.find("Apply 4 changes in 1 organization? [y/N] "), std::string::npos)
      << r.screen;
  EXPECT_NE(r.screen.find("not confirmed; nothing was changed"), std::string::npos) << r.screen;
  EXPECT_EQ(twin.stats().puts_applied, 0u);
  EXPECT_EQ(twin.stats().requests, 2u) << "the pre-flight GET and one inventory page, no PUT";
  EXPECT_FALSE(std::filesystem::exists(report));
}

// The question counts live changes, not rows: rows already in place and unknown licenses are not
// changes (with --no-inventory every row is), --limit caps the count, and the run uses the
// inventory read for the question (no second read) and still skips the rows in place.
TEST(Confirmation, TotalsCountLiveChanges) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto orgs = twin.orgs();
  const auto& org = orgs[0];
  const auto state = twin.state();
  std::string csv_text = mixed_csv(twin, 4, 1);
  for (std::size_t i = 10; i < 13; ++i) {  // three rows already in place
    const auto now = state.at(org.id).at(org.licenses[i].id).value_or("");
    csv_text += org.id + "," + org.licenses[i].id + "," + now + "\n";
  }
  const auto csv = dir.write("in.csv", csv_text);
  auto r = run_on_terminal(run_args("apply", twin, csv.string(), dir.path() / "r.csv"),
                           twin.api_key(), "n");
  EXPECT_NE(r.screen.find("Apply 4 changes in 1 organization? [y/N] "), std::string::npos)
      << r.screen;
  auto args = run_args("apply", twin, csv.string(), dir.path() / "r2.csv");
  args.insert(args.end(), {"--limit", "3"});
  r = run_on_terminal(args, twin.api_key(), "n");
  EXPECT_NE(r.screen.find("Apply 3 changes in 1 organization? [y/N] "), std::string::npos)
      << r.screen;
  // Without the inventory read every row counts, and only the pre-flight is sent before the answer.
  args = run_args("apply", twin, csv.string(), dir.path() / "r4.csv");
  args.push_back("--no-inventory");
  const auto unread = twin.stats().requests;
  r = run_on_terminal(args, twin.api_key(), "n");
  EXPECT_NE(r.screen.find("Apply 8 changes in 1 organization? [y/N] "), std::string::npos)
      << r.screen;
  EXPECT_EQ(twin.stats().requests, unread + 1);
  const auto before = twin.stats().requests;
  r = run_on_terminal(run_args("apply", twin, csv.string(), dir.path() / "r3.csv"), twin.api_key(),
                      "y");
  EXPECT_EQ(r.exit_code, 1) << r.screen;  // the unknown license fails unsent
  EXPECT_EQ(twin.stats().requests - before, 1u + 1u + 4u)
      << "the pre-flight GET and one inventory page (before the question), then the 4 changes";
  EXPECT_EQ(twin.stats().puts_applied, 4u);
}

// On a terminal, "y" applies.
TEST(Confirmation, YesOnATerminalApplies) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", mixed_csv(twin, 4, 0));
  const auto r = run_on_terminal(run_args("apply", twin, csv.string(), dir.path() / "r.csv"),
                                 twin.api_key(), "y");
  EXPECT_EQ(r.exit_code, 0) << r.screen;
  EXPECT_EQ(twin.stats().puts_applied, 4u);
}

// An organization the key cannot see stops apply before the question: exit 2 naming it, nothing
// but the pre-flight GET sent, nothing written.
TEST(Confirmation, InvisibleOrganizationStopsBeforeTheQuestion) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto orgs = twin.orgs();
  const auto csv = dir.write("in.csv", mixed_csv(twin, 2, 0) + "999," + orgs[0].licenses[5].id +
                                           "," + orgs[0].devices[0] + "\n");
  const auto report = dir.path() / "r.csv";
  const auto r =
      run_on_terminal(run_args("apply", twin, csv.string(), report), twin.api_key(), "y");
  EXPECT_EQ(r.exit_code, 2) << r.screen;
  EXPECT_NE(r.screen.find("organization 999 is not visible to this API key (404)"),
            std::string::npos)
      << r.screen;
  EXPECT_EQ(r.screen.find("[y/N]"), std::string::npos) << r.screen;
  EXPECT_EQ(r.screen.find(twin.api_key()), std::string::npos);
  EXPECT_EQ(twin.stats().requests, 2u) << "one pre-flight GET per organization";
  EXPECT_EQ(twin.stats().puts_applied, 0u);
  EXPECT_FALSE(std::filesystem::exists(report));
}

// On a terminal, an organization without per-device licensing (found by the pre-flight, before
// the question) is not counted as changes; after "y" its rows fail unsent with the warning and the
// other organization's rows are applied.
TEST(Confirmation, CotermOrganizationIsNotCountedAndFailsUnsent) {
  auto config = twin_config();
  config.orgs = 2;
  config.coterm_orgs = 1;
  sim::server twin(config);
  twin.start();
  temp_dir dir;
  const auto orgs = twin.orgs();
  ASSERT_TRUE(orgs[1].coterm);
  std::string csv_text = mixed_csv(twin, 3, 0);
  for (std::size_t i = 0; i < 2; ++i)
    csv_text += orgs[1].id + "," + orgs[1].licenses[i].id + "," + orgs[0].devices[0] + "\n";
  const auto csv = dir.write("in.csv", csv_text);
  auto args = run_args("apply", twin, csv.string(), dir.path() / "r.csv");
  args.push_back("--no-inventory");
  const auto r = run_on_terminal(args, twin.api_key(), "y");
  EXPECT_EQ(r.exit_code, 1) << r.screen;
  EXPECT_NE(r.screen.find("Apply 3 changes in 1 organization? [y/N] "), std::string::npos)
      << r.screen;
  EXPECT_NE(r.screen.find("warning: organization " + orgs[1].id + " uses co-term licensing"),
            std::string::npos)
      << r.screen;
  EXPECT_EQ(twin.stats().puts_applied, 3u);
  EXPECT_EQ(twin.stats().requests, 2u + 3u) << "one pre-flight GET per organization, 3 PUTs";
}

// A resumed run's question leaves out the rows its journal holds as done (with --no-inventory,
// where nothing else would tell).
TEST(Confirmation, ResumedRunCountsOnlyWhatIsLeft) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", mixed_csv(twin, 4, 0));
  const auto journal = (dir.path() / "run.journal").string();
  auto args = run_args("apply", twin, csv.string(), dir.path() / "r.csv");
  args.insert(args.end(), {"--journal", journal, "--no-inventory", "--limit", "3"});
  auto first = run_relicense(args, {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  args = run_args("apply", twin, csv.string(), dir.path() / "r2.csv");
  args.insert(args.end(), {"--journal", journal, "--no-inventory", "--resume"});
  const auto r = run_on_terminal(args, twin.api_key(), "y");
  EXPECT_EQ(r.exit_code, 0) << r.screen;
  EXPECT_NE(r.screen.find("Apply 1 change in 1 organization? [y/N] "), std::string::npos)
      << r.screen;
  EXPECT_EQ(twin.stats().puts_applied, 4u);
}

// --yes and --dry-run never ask, even on a terminal; without a terminal apply never asks (every
// other test here runs without one).
TEST(Confirmation, YesAndDryRunDoNotAsk) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", mixed_csv(twin, 4, 0));
  auto args = run_args("apply", twin, csv.string(), dir.path() / "r.csv");
  args.push_back("--yes");
  auto r = run_on_terminal(args, twin.api_key(), "");
  EXPECT_EQ(r.exit_code, 0) << r.screen;
  EXPECT_EQ(r.screen.find("[y/N]"), std::string::npos) << r.screen;
  EXPECT_EQ(twin.stats().puts_applied, 4u);
  args = run_args("apply", twin, csv.string(), dir.path() / "dry.csv");
  args.push_back("--dry-run");
  r = run_on_terminal(args, twin.api_key(), "");
  EXPECT_EQ(r.exit_code, 0) << r.screen;
  EXPECT_EQ(r.screen.find("[y/N]"), std::string::npos) << r.screen;
}

// Batch mode ends with the same view; the batch's per-action errors group by reason too.
TEST(FailuresInView, BatchModeGroupsTheRefusedActions) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", mixed_csv(twin, 5, 3));
  auto args = run_args("apply", twin, csv.string(), dir.path() / "r.csv");
  args.insert(args.end(),
              {"--mode", "batch", "--no-inventory"});  // the API refuses the unknown ones
  const auto r = run_relicense(args, {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(
      r.err.find("relicense: 3 rows failed, by reason:\n  License <license> not found (3 rows)\n"),
      std::string::npos)
      << r.err;
}

// A resumed run that sends nothing: the journal's rows are not a rate (no "777155.8 rows/s")
// and there is no budget efficiency to speak of.
TEST(ResumedRun, RateCountsOnlyTheRowsItSent) {
  sim::server twin(twin_config());
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", mixed_csv(twin, 30, 0));
  const auto journal = (dir.path() / "run.journal").string();
  auto args = run_args("apply", twin, csv.string(), dir.path() / "r.csv");
  args.insert(args.end(), {"--journal", journal});
  auto r = run_relicense(args, {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The default budget this time (10/s, burst 10): the 30 journaled rows would be an ideal 2 s.
  args = {"apply",         csv.string(), "--base-url",
          twin.base_url(), "--report",   (dir.path() / "r2.csv").string(),
          "--journal",     journal,      "--resume",
          "--progress",    "off"};
  r = run_relicense(args, {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("relicense: 30 rows (30 done by an earlier run) in "), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(" s (0.0 rows/s): 30 applied"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("budget efficiency"), std::string::npos) << r.err;
}
