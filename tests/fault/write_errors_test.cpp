// Write errors on the run's own files, in put and batch mode: a report or journal on /dev/full,
// and a filesystem that fills in the middle of a run (a small tmpfs, when the tests run as root).
// The run never hangs: it stops sending, settles the rows in flight, exits 3 with one line naming
// the file and the OS error, and a --resume on a good disk ends with the twin exactly in the
// CSV's state and every row reported once.
#include "relicense/sim/server.hpp"

#include "fault_support.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <sys/mount.h>
#include <unistd.h>

namespace relicense::fault_test {
namespace {

namespace fs = std::filesystem;

class WriteErrors : public mode_test {
protected:
  void SetUp() override {
    // Batch mode sends 5 batches of 100 per org at once: more than that, so some are still queued
    // when the run stops.
    per_org_ = batch() ? 1000 : 300;
    total_ = 2 * per_org_;
    auto cfg = relicense::test::twin_config(2, static_cast<unsigned>(per_org_), 4242);
    cfg.batch_actions_per_second = 1000;
    csv_ = start_moving(cfg, per_org_);
  }
  void TearDown() override {
    if (mounted_) ::umount2(mnt_.c_str(), MNT_DETACH);
  }

  std::vector<std::string> args(const fs::path& report, const fs::path& journal) {
    return {"apply",           csv_.string(),
            "--mode",          GetParam(),
            "--base-url",      twin().base_url(),
            "--rate",          "100",
            "--burst",         "10",
            "--ip-rate",       "1000",
            "--concurrency",   "8",
            "--report",        report.string(),
            "--journal",       journal.string(),
            "--report-format", "csv",
            "--progress",      "off"};
  }

  /// Exit 3, bounded, and stderr is one line naming `file` and the OS error.
  static void expect_one_line(const child_result& r, const std::string& file,
                              const std::string& os_error) {
    ASSERT_FALSE(r.timed_out) << "the run hung on a write error";
    EXPECT_EQ(r.exit_code, 3) << r.err;
    const auto lines = lines_of(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_NE(lines[0].find(file), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find(os_error), std::string::npos) << lines[0];
  }

  /// --resume with report and journal in a good directory: exit 0, exact, every row once.
  void resume_on_good_disk(const fs::path& journal) {
    const auto good = dir.path() / "good";
    fs::create_directories(good);
    auto a = args(good / "report.csv", journal);
    a.push_back("--resume");
    const auto r = run(a, twin().api_key(), dir.path());
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
    expect_all_in_place(good / "report.csv", total_);
    EXPECT_EQ(io::read_journal(journal).done.size(), total_);
  }

  /// Mounts a tmpfs of `bytes` on a fresh directory; false (the test skips) when not root or
  /// when the mount fails.
  bool mount_tmpfs(std::size_t bytes) {
    if (::geteuid() != 0) return false;
    mnt_ = dir.path() / "small";
    fs::create_directories(mnt_);
    const std::string opts = "size=" + std::to_string(bytes);
    mounted_ = ::mount("tmpfs", mnt_.c_str(), "tmpfs", 0, opts.c_str()) == 0;
    return mounted_;
  }

  fs::path csv_;
  fs::path mnt_;
  bool mounted_ = false;
  std::size_t per_org_ = 0;
  std::size_t total_ = 0;
};

// A report on /dev/full from the start: exit 3 with one line, nothing sent; --resume with a good
// report ends exact.
TEST_P(WriteErrors, ReportOnDevFull) {
  const auto journal = dir.path() / "run.journal";
  const auto r = run(args("/dev/full", journal), twin().api_key(), dir.path());
  expect_one_line(r, "/dev/full", "No space left on device");
  EXPECT_EQ(twin().stats().requests, 0u);
  resume_on_good_disk(journal);
}

// A report that fails only when its first rows are flushed (a .jsonl name, so no header, linked
// to /dev/full): the run stops early instead of hanging, exits 3 with one line; --resume ends
// exact.
TEST_P(WriteErrors, ReportFailsMidRun) {
  const auto report = dir.path() / "report.jsonl";
  fs::create_symlink("/dev/full", report);
  const auto journal = dir.path() / "run.journal";
  const auto r = run(args(report, journal), twin().api_key(), dir.path(), std::chrono::seconds(60));
  expect_one_line(r, report.string(), "No space left on device");
  EXPECT_LT(applied_so_far(twin(), batch()), total_) << "the run did not stop at the write error";
  resume_on_good_disk(journal);
}

// A journal on /dev/full: its header cannot be written, exit 3 with one line, nothing sent; a
// run with a journal on a good disk ends exact.
TEST_P(WriteErrors, JournalOnDevFull) {
  const auto r = run(args(dir.path() / "report.csv", "/dev/full"), twin().api_key(), dir.path());
  expect_one_line(r, "/dev/full", "No space left on device");
  EXPECT_EQ(twin().stats().requests, 0u);
  resume_on_good_disk(dir.path() / "run.journal");
}

// Report and journal on a 64 KiB tmpfs that fills in the middle of the run: exit 3 with one line
// naming the file that hit the limit; the journal, copied to a good disk, resumes to an exact end.
TEST_P(WriteErrors, FilesystemFillsMidRun) {
  if (!mount_tmpfs(64 * 1024)) GTEST_SKIP() << "needs root to mount a small tmpfs";
  const auto report = mnt_ / "report.csv";
  const auto journal = mnt_ / "run.journal";
  const auto r = run(args(report, journal), twin().api_key(), dir.path(), std::chrono::seconds(60));
  expect_one_line(r, mnt_.string(), "No space left on device");
  EXPECT_LT(applied_so_far(twin(), batch()), total_) << "the run did not stop at the write error";
  const auto kept = dir.path() / "kept.journal";
  fs::copy_file(journal, kept);
  resume_on_good_disk(kept);
}

// Only the journal on a 32 KiB tmpfs that fills in the middle of the run (the report on a good
// disk): exit 3 with one line naming the journal; its valid prefix, copied to a good disk,
// resumes to an exact end.
TEST_P(WriteErrors, JournalFillsMidRun) {
  if (!mount_tmpfs(32 * 1024)) GTEST_SKIP() << "needs root to mount a small tmpfs";
  const auto journal = mnt_ / "run.journal";
  const auto r = run(args(dir.path() / "report.csv", journal), twin().api_key(), dir.path(),
                     std::chrono::seconds(60));
  expect_one_line(r, journal.string(), "No space left on device");
  EXPECT_LT(applied_so_far(twin(), batch()), total_) << "the run did not stop at the write error";
  const auto kept = dir.path() / "kept.journal";
  fs::copy_file(journal, kept);
  resume_on_good_disk(kept);
}

// A summary and metrics on a full filesystem after every row was applied: exit 3 with one line
// naming the summary (never a temporary file), and the rows are all in place.
TEST_P(WriteErrors, SummaryOnFullFilesystem) {
  if (!mount_tmpfs(16 * 1024)) GTEST_SKIP() << "needs root to mount a small tmpfs";
  {
    std::ofstream filler(mnt_ / "filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {}
  }
  auto a = args(dir.path() / "report.csv", dir.path() / "run.journal");
  const auto summary = mnt_ / "summary.json";
  a.insert(a.end(), {"--summary", summary.string(), "--metrics", (mnt_ / "run.prom").string()});
  const auto r = run(a, twin().api_key(), dir.path());
  expect_one_line(r, summary.string(), "No space left on device");
  EXPECT_EQ(r.err.find(".tmp"), std::string::npos) << r.err;
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, WriteErrors, ::testing::Values("put", "batch"), mode_name);

}  // namespace
}  // namespace relicense::fault_test
