// Run artefacts end to end, with the built binary against the in-process twin: resume after
// SIGKILL at several points, rollback restoring the original state, verify.
#include "relicense/sim/server.hpp"

#include "relicense/io/journal.hpp"
#include "relicense/io/report.hpp"
#include "relicense/test/run_process.hpp"
#include "relicense/test/temp_dir.hpp"
#include "relicense/test/twin_csv.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <csignal>
#include <fcntl.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace io = relicense::io;
namespace sim = relicense::sim;
using relicense::test::run_relicense;
using relicense::test::temp_dir;

namespace {

using relicense::test::moving_csv;
using relicense::test::wanted_map;

void expect_state(const sim::server& twin, const wanted_map& wanted) {
  const auto state = twin.state();
  for (const auto& [org, lics] : wanted)
    for (const auto& [lic, serial] : lics)
      EXPECT_EQ(state.at(org).at(lic).value_or(""), serial) << org << "/" << lic;
}

std::size_t count_lines(const std::filesystem::path& p) {
  std::error_code ec;
  if (!std::filesystem::exists(p, ec)) return 0;
  const std::string s = temp_dir::read(p);
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

/// Starts `relicense args...` (output discarded), waits until `journal` holds at least
/// `records` lines or the process ends, then SIGKILLs it. Returns true if it was killed mid-run.
bool run_and_kill(const std::vector<std::string>& args, const std::string& key,
                  const std::filesystem::path& journal, std::size_t records) {
  const std::string bin = relicense::test::relicense_binary();
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::setenv("MERAKI_DASHBOARD_API_KEY", key.c_str(), 1);
    std::vector<char*> argv{const_cast<char*>(bin.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  // Polls the journal (a process-synchronisation wait, not a timing assumption), bounded.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;  // finished before the kill point
    if (count_lines(journal) >= records) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return WIFSIGNALED(status);
}

sim::sim_config twin_config(unsigned orgs, unsigned licenses) {
  sim::sim_config c;
  c.orgs = orgs;
  c.licenses_per_org = licenses;
  c.rate = 0;  // no budget: the test is about crash safety, not throttling
  c.latency = std::chrono::milliseconds(15);
  c.seed = 23;
  return c;
}

} // namespace

// SIGKILL at several points (just after start, early, late), then --resume: the final state is
// the requested one, every row is reported applied, and only rows in flight at a kill were sent
// twice (at most --concurrency per kill).
TEST(artefacts_e2e, sigkill_and_resume) {
  sim::server twin(twin_config(2, 40));
  twin.start();
  temp_dir dir;
  wanted_map wanted;
  const auto csv = dir.write("in.csv", moving_csv(twin, 40, wanted));
  const auto report = dir.path() / "report.csv";
  const auto journal = dir.path() / "run.journal";
  const unsigned concurrency = 2;
  std::vector<std::string> args = {"apply", csv.string(), "--base-url", twin.base_url(), "--rate", "0",
                                   "--ip-rate", "0", "--concurrency", std::to_string(concurrency),
                                   "--report", report.string(), "--journal", journal.string(),
                                   "--progress", "off"};
  unsigned kills = 0;
  bool first = true;
  // Kill points count rows finished by that run: a resumed run first re-reports (and journals)
  // the rows already done.
  for (std::size_t fresh_rows : {1u, 12u, 25u, 20u}) {
    auto a = args;
    std::size_t base = count_lines(journal);
    if (!first) {
      a.push_back("--resume");
      try {
        base += io::read_journal(journal).done.size();
      } catch (const io::journal_error&) {
        // Missing, or killed while writing its header: nothing done yet.
      }
    }
    first = false;
    kills += run_and_kill(a, twin.api_key(), journal, base + fresh_rows) ? 1 : 0;
  }
  EXPECT_GE(kills, 2u) << "the run was too fast to be killed mid-way";

  args.push_back("--resume");
  const auto r = run_relicense(args, {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_state(twin, wanted);

  const auto stats = twin.stats();
  std::printf("kills: %u, duplicate applies: %llu\n", kills,
              static_cast<unsigned long long>(stats.duplicate_applies));
  EXPECT_LE(stats.duplicate_applies, std::uint64_t{kills} * concurrency) << "rows re-sent beyond those in flight";
  const auto rows = io::read_report(report).rows;
  ASSERT_EQ(rows.size(), 80u);
  for (const auto& row : rows) EXPECT_EQ(row.result, io::outcome::applied) << "line " << row.line;
  EXPECT_EQ(io::read_journal(journal).done.size(), 80u);
}

// Resuming a journal with another CSV is refused before anything is sent.
TEST(artefacts_e2e, resume_with_another_csv_refused) {
  sim::server twin(twin_config(1, 10));
  twin.start();
  temp_dir dir;
  wanted_map wanted;
  const auto csv = dir.write("in.csv", moving_csv(twin, 5, wanted));
  const auto other = dir.write("other.csv", moving_csv(twin, 6, wanted));
  const auto journal = dir.path() / "run.journal";
  std::vector<std::string> base = {"--base-url", twin.base_url(), "--rate", "0", "--ip-rate", "0",
                                   "--journal", journal.string(), "--progress", "off"};
  auto a1 = base;
  a1.insert(a1.begin(), {"apply", csv.string(), "--report", (dir.path() / "r1.csv").string()});
  ASSERT_EQ(run_relicense(a1, {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}}).exit_code, 0);
  const auto sent = twin.stats().requests;
  auto a2 = base;
  a2.insert(a2.begin(), {"apply", other.string(), "--resume", "--report", (dir.path() / "r2.csv").string()});
  const auto r = run_relicense(a2, {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("different plan"), std::string::npos) << r.err;
  EXPECT_EQ(twin.stats().requests, sent) << "nothing sent";
}

// apply (with --skip-unchanged, which learns each previous serial), rollback, apply the rollback
// CSV: the twin is back in its original state; verify says so, and flags the moved rows before.
TEST(artefacts_e2e, rollback_restores_original_state) {
  sim::server twin(twin_config(2, 20));
  twin.start();
  const auto original = twin.state();
  temp_dir dir;
  wanted_map wanted;
  std::string text = moving_csv(twin, 12, wanted);
  // One unassign too, so rollback has to re-assign it.
  const auto orgs = twin.orgs();
  for (const auto& lic : orgs[0].licenses) {
    if (lic.device_serial && !wanted[orgs[0].id].count(lic.id)) {
      text += orgs[0].id + "," + lic.id + ",\n";
      wanted[orgs[0].id][lic.id] = "";
      break;
    }
  }
  const auto csv = dir.write("in.csv", text);
  const std::map<std::string, std::string> env = {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}};
  const std::vector<std::string> conn = {"--base-url", twin.base_url(), "--rate", "0", "--ip-rate", "0"};
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.end(), conn.begin(), conn.end());
    return a;
  };

  auto before = run_relicense(with({"verify", csv.string()}), env);
  EXPECT_EQ(before.exit_code, 1) << before.err;
  EXPECT_EQ(std::count(before.out.begin(), before.out.end(), '\n'), 25) << before.out;

  const auto report = dir.path() / "report.jsonl";
  auto applied = run_relicense(with({"apply", csv.string(), "--skip-unchanged", "--report", report.string()}), env);
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  expect_state(twin, wanted);
  auto after = run_relicense(with({"verify", csv.string()}), env);
  EXPECT_EQ(after.exit_code, 0) << after.out << after.err;

  const auto undo = dir.path() / "undo.csv";
  auto rb = run_relicense({"rollback", report.string(), "--output", undo.string()});
  ASSERT_EQ(rb.exit_code, 0) << rb.err;
  auto restored = run_relicense(with({"apply", undo.string(), "--report", (dir.path() / "undo-report.csv").string()}), env);
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_EQ(twin.state(), original);
}
