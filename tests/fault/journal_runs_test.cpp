// The journal across runs, end to end: a damaged record costs only its own row on --resume, and
// a second run on the files of a run still going stops at once, sending nothing.
#include "relicense/sim/server.hpp"

#include "fault_support.hpp"
#include "relicense/io/journal.hpp"
#include "relicense/io/report.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace relicense::fault_test {
namespace {

class JournalRuns : public fault_test {};

/// Every row of the report once, all applied or unchanged; returns how many rows it has.
std::size_t rows_reported_once(const std::filesystem::path& report) {
  const auto rows = io::read_report(report).rows;
  std::set<std::uint32_t> lines;
  for (const auto& row : rows) {
    EXPECT_TRUE(lines.insert(row.line).second) << "line " << row.line << " reported twice";
    EXPECT_TRUE(row.result == io::outcome::applied || row.result == io::outcome::unchanged)
        << "line " << row.line << " " << row.error;
  }
  return rows.size();
}

std::size_t count(const wanted_map& wanted) {
  std::size_t n = 0;
  for (const auto& [org, lics] : wanted) n += lics.size();
  return n;
}

// A flipped byte in a middle journal record: --resume warns that one damaged record was
// skipped, sends exactly that row again (one PUT), keeps every other row, and ends exact; the
// next --resume neither warns again nor sends anything.
TEST_F(JournalRuns, DamagedRecordCostsOnlyItsRow) {
  const auto csv = start_moving(relicense::test::twin_config(2, 40, 1313), 40);
  const std::size_t total = count(wanted);
  // Without the inventory read, which would find the lost row in place: the resume sends it.
  auto args = apply_args(csv, {"--rate", "1000", "--burst", "100", "--ip-rate", "1000", "--report",
                               report.string(), "--journal", journal.string(), "--no-inventory"});
  auto r = run(args, twin().api_key(), dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // Damage the JSON of the record in the middle of the journal.
  std::string text = temp_dir::read(journal);
  std::vector<std::size_t> starts{0};
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] == '\n') starts.push_back(i + 1);
  }
  ASSERT_EQ(starts.size(), total + 1) << "a header and one record per row";
  text[starts[total / 2] + 40] ^= 0x01;
  dir.write("run.journal", text);

  args.push_back("--resume");
  const auto before = twin().stats();
  r = run(args, twin().api_key(), dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("journal: 1 damaged record skipped; its row will be sent again"),
            std::string::npos)
      << r.err;
  const auto after = twin().stats();
  EXPECT_EQ(after.requests - before.requests, 2u)
      << "only the lost row is sent again (after its org's check)";
  EXPECT_EQ(after.duplicate_applies - before.duplicate_applies, 1u);
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
  EXPECT_EQ(rows_reported_once(report), total);
  EXPECT_EQ(io::read_journal(journal).done.size(), total);

  r = run(args, twin().api_key(), dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("damaged"), std::string::npos)
      << "reported once, not at every resume: " << r.err;
  EXPECT_EQ(twin().stats().requests, after.requests);
  EXPECT_EQ(rows_reported_once(report), total);
}

// While a slow run holds its journal and report, a second run on the same journal, or on the same
// report with a journal of its own, exits 2 at once naming the first run's pid, sends nothing
// and leaves no file; once the first run is SIGKILLed, --resume goes ahead and ends exact.
TEST_F(JournalRuns, SecondRunOnTheSameFilesStops) {
  auto cfg = relicense::test::twin_config(2, 40, 1414);
  cfg.latency = std::chrono::milliseconds(100);
  const auto csv = start_moving(cfg, 40);
  sim::sim_config cfg2 = cfg;
  cfg2.latency = std::chrono::milliseconds(0);
  sim::server other(cfg2);  // the refused runs are pointed here: anything they send shows
  other.start();

  auto args = [&](const std::string& url, const std::filesystem::path& rep,
                  const std::filesystem::path& jou) {
    return std::vector<std::string>{
        "apply",    csv.string(), "--base-url", url,          "--rate",        "1000",
        "--burst",  "100",        "--ip-rate",  "1000",       "--concurrency", "1",
        "--report", rep.string(), "--journal",  jou.string(), "--progress",    "off"};
  };
  child first(args(twin().base_url(), report, journal), twin().api_key(), dir.path(), "first");
  // Bounded wait until the first run sends (process synchronisation: its files are locked by then).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!first.poll() && twin().stats().requests == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_FALSE(first.poll()) << "the first run ended before the second could start";
  ASSERT_GT(twin().stats().requests, 0u);
  const std::string pid = "(pid " + std::to_string(first.pid()) + ")";

  auto same_journal = args(other.base_url(), dir.path() / "second.csv", journal);
  same_journal.push_back("--resume");
  auto r = run(same_journal, other.api_key(), dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(
      r.err.find("journal " + journal.string() + " is in use by another relicense run " + pid),
      std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "second.csv"));

  r = run(args(other.base_url(), report, dir.path() / "second.journal"), other.api_key(),
          dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("report " + report.string() + " is in use by another relicense run " + pid),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "second.journal"))
      << "the refused run left its journal";
  EXPECT_EQ(other.stats().requests, 0u) << "a refused run sent requests";

  ASSERT_TRUE(first.kill()) << "the first run ended before it was killed";
  auto resume = args(twin().base_url(), report, journal);
  resume.push_back("--resume");
  resume[std::find(resume.begin(), resume.end(), "--concurrency") - resume.begin() + 1] = "8";
  r = run(resume, twin().api_key(), dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
  EXPECT_EQ(rows_reported_once(report), count(wanted));
}

}  // namespace
}  // namespace relicense::fault_test
