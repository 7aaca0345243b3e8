// `relicense apply --mode batch` through the built binary: exit codes, and a crash (SIGKILL) with
// action batches in flight followed by --resume.
#include "relicense/sim/server.hpp"

#include "relicense/test/run_process.hpp"
#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sim = relicense::sim;
using relicense::test::run_relicense;
using relicense::test::temp_dir;

namespace {

/// A CSV moving the org's first `n` licenses to its devices in turn.
std::string csv_for(const sim::server& twin, std::size_t n, const std::string& extra_row = {}) {
  const auto o = twin.orgs().front();
  std::string csv = "organizationId,licenseId,deviceSerial\n";
  for (std::size_t i = 0; i < n; ++i)
    csv += o.id + "," + o.licenses[i].id + "," + o.devices[(i * 7 + 3) % o.devices.size()] + "\n";
  if (!extra_row.empty()) csv += o.id + "," + extra_row + "\n";
  return csv;
}

std::size_t count_of(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string_view::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

std::uint64_t created(const sim::server& twin) {
  const auto s = twin.stats();
  auto it = s.by_status.find(201);
  return it == s.by_status.end() ? 0 : it->second;
}

} // namespace

// Batch mode applies every row (exit 0); a row the API refuses fails alone (exit 1) and the
// report names the batch of every row.
TEST(BatchCli, ExitCodes) {
  sim::sim_config cfg;
  cfg.orgs = 1;
  cfg.licenses_per_org = 150;
  cfg.rate = 0;
  cfg.seed = 13;
  cfg.batch_actions_per_second = 5000;
  sim::server twin(cfg);
  twin.start();
  for (bool bad : {false, true}) {
    temp_dir dir;
    const auto csv = dir.write("in.csv", csv_for(twin, 120, bad ? "no-such-license,Q2AA-0000-0000" : ""));
    const auto report = dir.path() / "report.jsonl";
    const auto r = run_relicense({"apply", csv.string(), "--mode", "batch", "--base-url", twin.base_url(),
                                  "--rate", "0", "--ip-rate", "0", "--report", report.string(),
                                  "--progress", "off"},
                                 {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
    EXPECT_EQ(r.exit_code, bad ? 1 : 0) << r.err;
    const auto text = temp_dir::read(report);
    EXPECT_EQ(count_of(text, "\"outcome\":\"applied\""), 120u);
    EXPECT_EQ(count_of(text, "\"outcome\":\"failed\""), bad ? 1u : 0u);
    EXPECT_EQ(count_of(text, "\"batchId\":"), bad ? 121u : 120u) << text.substr(0, 400);
    EXPECT_EQ(r.err.find(twin.api_key()), std::string::npos);
  }
}

// Killed (SIGKILL) while batches run, a run resumed from its journal polls the journaled batches
// instead of submitting them again: every row ends applied once, and the only batches created
// after the crash carry the rows no journaled batch held.
TEST(BatchCli, ResumeAfterSigkillWithBatchesInFlight) {
  sim::sim_config cfg;
  cfg.orgs = 1;
  cfg.licenses_per_org = 1000;
  cfg.rate = 0;
  cfg.seed = 17;
  cfg.batch_actions_per_second = 100;  // 1 s per 100-action batch: they are in flight when killed
  sim::server twin(cfg);
  twin.start();
  temp_dir dir;
  const auto csv = dir.write("in.csv", csv_for(twin, 1000));
  const auto journal = dir.path() / "run.journal";
  const std::string bin = relicense::test::relicense_binary();
  const std::string csv_s = csv.string(), journal_s = journal.string();
  const std::string report1 = (dir.path() / "r1.csv").string(), report2 = (dir.path() / "r2.csv").string();
  const std::string url = twin.base_url();
  // Everything the child needs is built before fork(): with the twin's threads running, the
  // child may only make async-signal-safe calls until execve.
  std::vector<std::string> args = {bin, "apply", csv_s, "--mode", "batch", "--base-url", url, "--rate", "0",
                                   "--ip-rate", "0", "--journal", journal_s, "--report", report1,
                                   "--progress", "off"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e)
    if (std::string_view(*e).rfind("MERAKI_DASHBOARD_API_KEY=", 0) != 0) env_strings.emplace_back(*e);
  env_strings.push_back("MERAKI_DASHBOARD_API_KEY=" + twin.api_key());
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
  // Wait (bounded) until two batches are journaled, then kill without warning.
  std::size_t journaled = 0;
  for (int i = 0; i < 3000 && journaled < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (std::filesystem::exists(journal)) journaled = count_of(temp_dir::read(journal), "\"t\":\"batch\"");
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_GE(journaled, 2u) << "the run never journaled two batches";
  ASSERT_TRUE(WIFSIGNALED(status));
  const auto before = temp_dir::read(journal);
  journaled = count_of(before, "\"t\":\"batch\"");
  const std::uint64_t created_before = created(twin);
  EXPECT_GE(created_before, journaled);
  EXPECT_EQ(count_of(before, "\"outcome\":\"applied\""), 0u);  // killed before any poll

  const auto r = run_relicense({"apply", csv_s, "--mode", "batch", "--base-url", url, "--rate", "0",
                                "--ip-rate", "0", "--journal", journal_s, "--resume", "--report", report2,
                                "--progress", "off"},
                               {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto text = temp_dir::read(report2);
  EXPECT_EQ(count_of(text, ",applied,"), 1000u);
  // Journaled batches were polled, not re-sent: 10 batches of 100 in all, plus any batch the
  // twin created whose acceptance the killed run never got to journal (re-sent, harmlessly).
  EXPECT_EQ(created(twin), created_before + (10 - journaled));
  const auto s = twin.stats();
  EXPECT_EQ(s.batch_actions_applied, 1000u + 100u * (created_before - journaled));
  const auto state = twin.state().begin()->second;
  const auto o = twin.orgs().front();
  for (std::size_t i = 0; i < 1000; ++i)
    EXPECT_EQ(state.at(o.licenses[i].id).value_or("null"), o.devices[(i * 7 + 3) % o.devices.size()]);
}
