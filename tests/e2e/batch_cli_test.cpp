// `relicense apply --mode batch` and `--mode auto` through the built binary: exit codes, and a
// crash (SIGKILL) with action batches in flight followed by --resume.
#include "relicense/sim/server.hpp"

#include "relicense/test/child.hpp"
#include "relicense/test/run_process.hpp"
#include "relicense/test/temp_dir.hpp"
#include "relicense/test/twin.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace sim = relicense::sim;
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

class BatchCli : public relicense::test::twin_cli_test {};

}  // namespace

// Batch mode applies every row (exit 0); a row the API refuses fails alone (exit 1) and the
// report names the batch of every row.
TEST_F(BatchCli, ExitCodes) {
  auto cfg = relicense::test::twin_config(1, 150, 13);
  cfg.batch_actions_per_second = 5000;
  start(cfg);
  for (bool bad : {false, true}) {
    const std::string tag = bad ? "bad" : "good";
    const auto csv =
        dir.write(tag + ".csv", csv_for(twin(), 120, bad ? "no-such-license,Q2AA-0000-0000" : ""));
    const auto report = file(tag + ".jsonl");
    // Without the inventory read: the second run sends the rows again, the unknown license too.
    const auto r = apply(csv, {"--mode", "batch", "--rate", "0", "--ip-rate", "0", "--report",
                               report.string(), "--no-inventory"});
    EXPECT_EQ(r.exit_code, bad ? 1 : 0) << r.err;
    const auto text = temp_dir::read(report);
    EXPECT_EQ(count_of(text, "\"outcome\":\"applied\""), 120u);
    EXPECT_EQ(count_of(text, "\"outcome\":\"failed\""), bad ? 1u : 0u);
    EXPECT_EQ(count_of(text, "\"batchId\":"), bad ? 121u : 120u) << text.substr(0, 400);
    EXPECT_EQ(r.err.find(twin().api_key()), std::string::npos);
  }
}

// Killed (SIGKILL) while batches run, a run resumed from its journal polls the journaled batches
// instead of submitting them again: every row ends applied once, and the only batches created
// after the crash carry the rows no journaled batch held.
TEST_F(BatchCli, ResumeAfterSigkillWithBatchesInFlight) {
  auto cfg = relicense::test::twin_config(1, 1000, 17);
  cfg.batch_actions_per_second = 100;  // 1 s per 100-action batch: they are in flight when killed
  start(cfg);
  const auto csv = dir.write("in.csv", csv_for(twin(), 1000));
  const auto journal = file("run.journal");
  const std::vector<std::string> options = {"--mode",    "batch", "--rate",    "0",
                                            "--ip-rate", "0",     "--journal", journal.string()};
  auto first = options;
  first.insert(first.end(), {"--report", file("r1.csv").string()});
  relicense::test::child c(apply_args(csv, first), twin().api_key(), dir.path());
  // Wait (bounded) until two batches are journaled, then kill without warning.
  std::size_t journaled = 0;
  relicense::test::eventually([&] {
    if (std::filesystem::exists(journal))
      journaled = count_of(temp_dir::read(journal), "\"t\":\"batch\"");
    return journaled >= 2;
  });
  c.kill();
  const auto killed = c.wait();
  ASSERT_GE(journaled, 2u) << "the run never journaled two batches";
  ASSERT_EQ(killed.signal, SIGKILL) << "exit " << killed.exit_code << ": " << killed.err;
  const auto before = temp_dir::read(journal);
  journaled = count_of(before, "\"t\":\"batch\"");
  const std::uint64_t created_before = created(twin());
  EXPECT_GE(created_before, journaled);
  EXPECT_EQ(count_of(before, "\"outcome\":\"applied\""), 0u);  // killed before any poll

  auto second = options;
  second.insert(second.end(), {"--resume", "--report", file("r2.csv").string()});
  const auto r = apply(csv, second);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto text = temp_dir::read(file("r2.csv"));
  EXPECT_EQ(count_of(text, ",applied,"), 1000u);
  // Journaled batches were polled, not re-sent: 10 batches of 100 in all, plus any batch the
  // twin created whose acceptance the killed run never got to journal (re-sent, harmlessly).
  EXPECT_EQ(created(twin()), created_before + (10 - journaled));
  const auto s = twin().stats();
  EXPECT_EQ(s.batch_actions_applied, 1000u + 100u * (created_before - journaled));
  const auto state = twin().state().begin()->second;
  const auto o = twin().orgs().front();
  for (std::size_t i = 0; i < 1000; ++i)
    EXPECT_EQ(state.at(o.licenses[i].id).value_or("null"),
              o.devices[(i * 7 + 3) % o.devices.size()]);
}

// Auto mode applies every row of the plan (exit 0) by both channels at once: batches carry some
// rows (their batchId in the report), PUTs the others, inside the org's budget of 20/s.
TEST_F(BatchCli, AutoModeAppliesEveryRowByBatchesAndPuts) {
  auto cfg = relicense::test::twin_config(1, 400, 19);
  cfg.batch_action_ms = 33;
  start(cfg);
  const auto csv = dir.write("auto.csv", csv_for(twin(), 300));
  const auto report = file("auto.jsonl");
  const auto r =
      apply(csv, {"--mode", "auto", "--rate", "20", "--burst", "10", "--report", report.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto text = temp_dir::read(report);
  EXPECT_EQ(count_of(text, "\"outcome\":\"applied\""), 300u);
  const auto by_batch = count_of(text, "\"batchId\":");
  EXPECT_GT(by_batch, 0u);
  EXPECT_LT(by_batch, 300u);
  const auto s = twin().stats();
  EXPECT_EQ(s.puts_applied + s.batch_actions_applied, 300u);
  EXPECT_EQ(r.err.find(twin().api_key()), std::string::npos);
}
