// Hostile input files: `relicense apply` against the twin with files that are wrong in
// every way a user's file can be. Each is refused before anything is sent (exit 2, the twin saw
// no request) with a message naming the file and the line; a 100 MB file of valid rows plans
// fine. The child's peak memory (wait4 rusage) stays bounded throughout.
#include "relicense/sim/server.hpp"

#include "fault_support.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include <malloc.h>
#include <sys/stat.h>

namespace relicense::fault_test {
namespace {

using relicense::test::sanitized;

// Bounds on the child's peak resident set, a little above what the loader needs. Measured with
// `relicense plan` and `apply` (release build): any refused file, /dev/zero and a 20 MB header
// included, peaks at 7.7 MB, the program itself (the loader reads 1 MiB chunks and keeps at
// most one 64 KiB record); 100 MB of valid rows (1.06 M) at 115 MB (the plan at ~72 B a row, its
// 16 MB index, the read buffer). So a refusal gets 16 MiB, less than the program plus one copy
// of the 10 MB line it must not hold; a valid file gets twice its size plus 64 MiB, one copy of
// the file plus the plan, so a loader holding the file twice fails. The sanitizer build adds its
// runtime, shadow memory and quarantine (measured: 64 MB for any refusal, 188 MB for the 100 MB
// file); 64 MiB more covers both.
constexpr long mib = 1024;  // in KiB
constexpr long sanitizer_rss_kb = sanitized ? 64 * mib : 0;
constexpr long refused_rss_kb = 16 * mib + sanitizer_rss_kb;
long valid_rss_kb(std::uintmax_t file_bytes) {
  return static_cast<long>(file_bytes / 1024) * 2 + 64 * mib + sanitizer_rss_kb;
}

/// This process's resident set after returning free heap pages. A forked child's peak (wait4)
/// includes what it shared with the test until execve, so each bound adds it.
long test_rss_kb() {
  ::malloc_trim(0);
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

class HostileInput : public fault_test {
protected:
  void SetUp() override {
    start(relicense::test::twin_config(1, 20, 77));
    const auto org = twin().orgs()[0];
    org_ = org.id;
    for (int i = 0; i < 4; ++i)
      good_rows_.push_back(org.id + "," + org.licenses[i].id + "," + org.devices[0]);
  }

  /// Applies `file` and checks the refusal: exit 2 well within the bound (an endless input is
  /// killed at it), "<file>:<line>" in stderr, nothing sent, memory bounded.
  child_result expect_refused(const std::filesystem::path& file, unsigned line) {
    const long before_kb = test_rss_kb();
    const auto r =
        run({"apply", file.string(), "--base-url", twin().base_url(), "--rate", "0", "--ip-rate",
             "0", "--report", (dir.path() / "report.csv").string(), "--progress", "off"},
            twin().api_key(), dir.path(), std::chrono::seconds(60));
    EXPECT_FALSE(r.timed_out) << "still reading " << file << " after 60 s";
    EXPECT_EQ(r.exit_code, 2) << r.err;
    // Line 0: any line (random input may hold line breaks before its first bad byte).
    const std::string where =
        file.string() + ":" + (line > 0 ? std::to_string(line) : std::string());
    EXPECT_NE(r.err.find(where), std::string::npos)
        << "expected '" << where << "' in: " << r.err.substr(0, 2000);
    EXPECT_EQ(twin().stats().requests, 0u) << "something was sent";
    EXPECT_LT(r.max_rss_kb, refused_rss_kb + before_kb) << "the test held " << before_kb << " KiB";
    std::printf("%s: exit %d, peak RSS %ld KiB (the test held %ld KiB)\n", file.filename().c_str(),
                r.exit_code, r.max_rss_kb, before_kb);
    return r;
  }

  /// Header, two good rows, `bad` (line 4), two more good rows.
  std::string with_bad_row(const std::string& bad) const {
    return "organizationId,licenseId,deviceSerial\n" + good_rows_[0] + "\n" + good_rows_[1] + "\n" +
           bad + "\n" + good_rows_[2] + "\n" + good_rows_[3] + "\n";
  }

  std::string org_;
  std::vector<std::string> good_rows_;
};

// A header without the deviceSerial column: refused, the header line named.
TEST_F(HostileInput, MissingColumn) {
  expect_refused(dir.write("missing.csv", "organizationId,licenseId\n" + org_ + ",L1\n"), 1);
}

// One license asked onto two different serials: refused, the second line named.
TEST_F(HostileInput, ConflictingRows) {
  const auto org = twin().orgs()[0];
  const std::string conflict = org.id + "," + org.licenses[0].id + "," + org.devices[1];
  expect_refused(dir.write("conflict.csv", with_bad_row(conflict)), 4);
}

// A serial without the Meraki XXXX-XXXX-XXXX shape: refused at its line.
TEST_F(HostileInput, InvalidSerial) {
  expect_refused(dir.write("serial.csv", with_bad_row(org_ + "," + twin().orgs()[0].licenses[5].id +
                                                      ",not-a-serial!")),
                 4);
}

// Random binary bytes after a valid header: refused, naming the file and a line.
TEST_F(HostileInput, BinaryGarbage) {
  std::mt19937 rng(4242);
  std::string junk = "organizationId,licenseId,deviceSerial\n";
  for (int i = 0; i < 64 * 1024; ++i) junk.push_back(static_cast<char>(rng() & 0xff));
  expect_refused(dir.write("garbage.bin", junk), 2);
}

// A NUL byte inside a row: refused at that row.
TEST_F(HostileInput, NulByte) {
  std::string bad = org_ + "," + twin().orgs()[0].licenses[5].id + ",Q2AA";
  bad.push_back('\0');
  bad += "-BBBB-CCCC";
  expect_refused(dir.write("nul.csv", with_bad_row(bad)), 4);
}

// A quote opened and never closed swallows the rest of the file: refused, the opening line named.
TEST_F(HostileInput, UnterminatedQuote) {
  expect_refused(
      dir.write("quote.csv",
                with_bad_row(org_ + ",\"" + twin().orgs()[0].licenses[5].id + ",Q2AA-BBBB-CCCC")),
      4);
}

// A single 10 MB line: refused at that line, without holding it in memory many times over.
TEST_F(HostileInput, TenMegabyteLine) {
  // Written first: the test must not hold the 10 MB while the child runs (it would count there).
  const auto file =
      dir.write("long.csv",
                with_bad_row(org_ + "," + std::string(10 * 1024 * 1024, 'L') + ",Q2AA-BBBB-CCCC"));
  const auto r = expect_refused(file, 4);
  EXPECT_NE(
      r.err.find("long.csv:4: the line is longer than 65536 bytes (the limit for one record)"),
      std::string::npos)
      << r.err;
}

// Endless input: /dev/zero is refused at its first byte (it used to be read forever).
TEST_F(HostileInput, DevZero) {
  const auto r = expect_refused("/dev/zero", 1);
  EXPECT_NE(r.err.find("/dev/zero:1: column 1: a NUL byte"), std::string::npos) << r.err;
}

// Endless random bytes: /dev/urandom is refused at once, exit 2, naming the file. Usually at its
// first byte that is not UTF-8 (or a NUL); but random bytes may also begin with a short valid
// line (a newline first, 1 in 256), which is then refused as a header without the columns.
TEST_F(HostileInput, DevUrandom) {
  const auto r = expect_refused("/dev/urandom", 0);
  EXPECT_NE(r.err.find("/dev/urandom:"), std::string::npos) << r.err;
}

// A 20 MB header of commas is refused at its 257th column (it used to take 1 GB and 6 s, then
// say "empty file").
TEST_F(HostileInput, HeaderOfCommas) {
  const auto file = dir.write("commas.csv", std::string(20 * 1024 * 1024, ',') + "\n");
  const auto r = expect_refused(file, 1);
  EXPECT_NE(r.err.find("commas.csv:1: the header has more than 256 columns (the limit)"),
            std::string::npos)
      << r.err;
}

// A row with thousands of fields is an error at that row; the good rows around it are not sent.
TEST_F(HostileInput, TooManyColumns) {
  const auto r = expect_refused(
      dir.write("wide.csv", with_bad_row(good_rows_[0] + std::string(5000, ','))), 4);
  EXPECT_NE(r.err.find("wide.csv:4: column 257: more than 256 fields (the limit)"),
            std::string::npos)
      << r.err;
}

// A million bad rows: reading stops after 100 errors, and the message says so.
TEST_F(HostileInput, ManyBadRows) {
  std::string text = "organizationId,licenseId,deviceSerial\n";
  for (int i = 0; i < 1000000; ++i) text += org_ + ",L" + std::to_string(i) + ",bad\n";
  const auto file = dir.write("bad-rows.csv", text);
  std::string().swap(text);
  const auto r = expect_refused(file, 2);
  EXPECT_NE(r.err.find("bad-rows.csv:101: stopped reading after 100 errors; the rest of the file "
                       "was not checked"),
            std::string::npos)
      << r.err.substr(0, 4000);
  EXPECT_NE(r.err.find("... and 80 more errors"), std::string::npos) << r.err.substr(0, 4000);
}

// A named pipe (what `relicense apply <(cmd)` passes) is read like a file and applied.
TEST_F(HostileInput, NamedPipeStillWorks) {
  const auto fifo = dir.path() / "rows.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string text = "organizationId,licenseId,deviceSerial\n";
  for (const auto& row : good_rows_) text += row + "\n";
  std::thread writer([&] {
    std::ofstream out(fifo, std::ios::binary);
    out << text;
  });
  const auto r = run({"plan", fifo.string()}, "", dir.path(), std::chrono::seconds(60));
  writer.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("unique licenses                4"), std::string::npos) << r.out;
  EXPECT_EQ(twin().stats().requests, 0u);
}

// 100 MB of valid rows: `relicense plan` accepts the file (exit 0), its peak memory bounded.
TEST_F(HostileInput, HundredMegabytesOfValidRows) {
  const auto file = dir.path() / "big.csv";
  std::size_t rows = 0;
  {
    std::ofstream out(file, std::ios::binary);
    out << "licenseId,deviceSerial,note\n";
    char line[160];
    std::size_t bytes = 0;
    // About 100 bytes a row (a free-text column padded as exports often are): ~1 M rows.
    while (bytes < 100u * 1024u * 1024u) {
      const int n = std::snprintf(
          line, sizeof line, "L%011zu,Q2AA-%04zu-%04zu,%s\n", rows, (rows / 10000) % 10000,
          rows % 10000, "migrated from the old dashboard network during the spring refresh wave");
      out.write(line, n);
      bytes += static_cast<std::size_t>(n);
      ++rows;
    }
  }
  const long before_kb = test_rss_kb();
  const auto r =
      run({"plan", file.string(), "--org", org_}, "", dir.path(), std::chrono::seconds(300));
  EXPECT_EQ(r.exit_code, 0) << r.err.substr(0, 2000);
  EXPECT_NE(r.out.find(std::to_string(rows)), std::string::npos) << "row count not in: " << r.out;
  const auto size = std::filesystem::file_size(file);
  EXPECT_LT(r.max_rss_kb, valid_rss_kb(size) + before_kb)
      << "the test held " << before_kb << " KiB";
  std::printf(
      "%zu rows, %ju bytes: exit %d, peak RSS %ld KiB (bound %ld KiB; the test held %ld KiB)\n",
      rows, static_cast<std::uintmax_t>(size), r.exit_code, r.max_rss_kb, valid_rss_kb(size),
      before_kb);
  EXPECT_EQ(twin().stats().requests, 0u);
}

}  // namespace
}  // namespace relicense::fault_test
