// Shared helpers of the fault suite: CSVs built from the twin, the expected final state, and
// runs of the relicense binary as a child process (relicense/test/child.hpp) that tests kill,
// watch the memory of, and scan everything it wrote for the API key.
#pragma once

#include "relicense/io/journal.hpp"
#include "relicense/io/report.hpp"
#include "relicense/sim/server.hpp"
#include "relicense/test/child.hpp"
#include "relicense/test/temp_dir.hpp"
#include "relicense/test/twin.hpp"
#include "relicense/test/twin_csv.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace relicense::fault_test {

namespace sim = relicense::sim;
using relicense::test::temp_dir;

using relicense::test::child;
using relicense::test::child_result;
using relicense::test::moving_csv;
using relicense::test::wanted_map;

/// Every wanted license holds its wanted serial in the twin; returns the number of mismatches.
inline std::size_t state_mismatches(const sim::server& twin, const wanted_map& wanted) {
  const auto state = twin.state();
  std::size_t bad = 0;
  for (const auto& [org, lics] : wanted) {
    for (const auto& [lic, serial] : lics) {
      if (state.at(org).at(lic).value_or("") != serial) {
        ADD_FAILURE() << org << "/" << lic << " holds '" << state.at(org).at(lic).value_or("")
                      << "', wanted '" << serial << "'";
        ++bad;
      }
    }
  }
  return bad;
}

/// Runs `relicense args...` to the end (bounded) and returns what it did.
inline child_result run(const std::vector<std::string>& args, const std::string& key,
                        const std::filesystem::path& dir,
                        std::chrono::seconds bound = std::chrono::seconds(120)) {
  child c(args, key, dir);
  return c.wait(bound);
}

/// Licenses the twin has applied so far: PUTs in put mode, action-batch updates in batch mode.
inline std::uint64_t applied_so_far(const sim::server& twin, bool batch) {
  const auto s = twin.stats();
  // Auto mode applies by both; put and batch modes leave the other count at 0.
  return batch ? s.batch_actions_applied + s.puts_applied : s.puts_applied;
}

/// Waits until the twin has applied at least `n` licenses or the child ended (bounded: a
/// process-synchronisation wait, not a timing assumption). False when the child ended first.
inline bool wait_for_applied(child& c, const sim::server& twin, bool batch, std::uint64_t n,
                             std::chrono::seconds bound = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (applied_so_far(twin, batch) < n) {
    if (c.poll() || std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return !c.poll();
}

/// Outcomes of a report whose rows must be the plan's lines 2..1+`rows`, each exactly once
/// (failures recorded with ADD_FAILURE).
inline std::map<io::outcome, std::size_t> outcomes_once(const std::filesystem::path& report,
                                                        std::size_t rows) {
  std::map<io::outcome, std::size_t> n;
  std::set<std::uint32_t> lines;
  for (const auto& row : io::read_report(report).rows) {
    if (!lines.insert(row.line).second) ADD_FAILURE() << "line " << row.line << " reported twice";
    ++n[row.result];
  }
  EXPECT_EQ(lines.size(), rows) << report;
  if (!lines.empty()) {
    EXPECT_EQ(*lines.begin(), 2u);
    EXPECT_EQ(*lines.rbegin(), rows + 1);
  }
  return n;
}

/// Every row of the report is applied or unchanged, and each is there once.
inline void expect_all_in_place(const std::filesystem::path& report, std::size_t rows) {
  for (const auto& row : io::read_report(report).rows) {
    EXPECT_TRUE(row.result == io::outcome::applied || row.result == io::outcome::unchanged)
        << "line " << row.line << ": " << io::to_string(row.result) << " " << row.error;
  }
  outcomes_once(report, rows);
}

/// The lines of `text`, without empty ones.
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

/// A fault-suite test of the binary against the twin. start_moving() starts the twin and writes
/// in.csv moving the first `per_org` licenses of each org (`wanted` says where each goes);
/// `report` and `journal` are the run's report.csv and run.journal in the test's directory.
class fault_test : public relicense::test::twin_cli_test {
protected:
  std::filesystem::path start_moving(const sim::sim_config& cfg, std::size_t per_org) {
    start(cfg);
    wanted.clear();
    return dir.write("in.csv", moving_csv(twin(), per_org, wanted));
  }

  /// Runs `relicense apply <csv> --base-url <the twin> --progress off` and `options` to the end
  /// (bounded), with the twin's key.
  child_result run_apply(const std::filesystem::path& csv,
                         const std::vector<std::string>& options) {
    return run(apply_args(csv, options), twin().api_key(), dir.path());
  }

  wanted_map wanted;
  const std::filesystem::path report = file("report.csv");
  const std::filesystem::path journal = file("run.journal");
};

/// A fault_test over the apply modes, "put" and "batch".
class mode_test : public fault_test, public ::testing::WithParamInterface<std::string> {
protected:
  /// Action batches run (batch mode, or auto mode beside PUTs).
  bool batch() const { return GetParam() != "put"; }
};

/// "put" and "batch", for TEST_P over the apply modes.
inline std::string mode_name(const ::testing::TestParamInfo<std::string>& i) { return i.param; }

}  // namespace relicense::fault_test
