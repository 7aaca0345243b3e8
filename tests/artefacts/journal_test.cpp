// Journal: framing, what counts as done, torn tails, fingerprints, crash safety.
#include "relicense/io/journal.hpp"

#include "relicense/test/temp_dir.hpp"

#include <boost/crc.hpp>
#include <gtest/gtest.h>

#include <random>

#include <csignal>
#include <filesystem>
#include <sys/wait.h>
#include <unistd.h>

namespace io = relicense::io;
using relicense::test::temp_dir;

namespace {

io::row_result make_row(std::uint32_t line, io::outcome o, unsigned status = 200) {
  io::row_result r;
  r.line = line;
  r.org_id = "O1";
  r.license_id = "L" + std::to_string(line);
  r.serial = "Q2AB-CDEF-" + std::to_string(1000 + line);
  r.previous_serial = std::string();
  r.result = o;
  r.http_status = status;
  r.attempts = 1;
  return r;
}

} // namespace

// Applied, unchanged and permanently failed rows are done; retryable failures, skips are not.
TEST(artefacts_journal, done_set_and_batches_round_trip) {
  temp_dir dir;
  auto p = dir.path() / "j.journal";
  {
    auto w = io::journal_writer::create(p, "fp-1");
    w.append_row(make_row(2, io::outcome::applied));
    w.append_row(make_row(3, io::outcome::unchanged));
    w.append_row(make_row(4, io::outcome::failed, 404));
    w.append_row(make_row(5, io::outcome::failed, 503));
    w.append_row(make_row(6, io::outcome::failed, 429));
    w.append_row(make_row(7, io::outcome::skipped, 0));
    w.append_row(make_row(8, io::outcome::not_attempted, 0));
    w.append_row(make_row(9, io::outcome::failed, 503), true);  // caller's verdict wins
    w.append_batch({"B1", "O1", {10, 11, 12}});
    w.append_row(make_row(2, io::outcome::skipped, 0));  // a resumed run passing over line 2
    w.close();
  }
  auto c = io::read_journal(p);
  EXPECT_EQ(c.fingerprint, "fp-1");
  EXPECT_EQ(c.records, 11u);
  EXPECT_EQ(c.ignored_bytes, 0u);
  std::vector<std::uint32_t> done;
  for (const auto& [line, r] : c.done) done.push_back(line);
  EXPECT_EQ(done, (std::vector<std::uint32_t>{2, 3, 4, 9}));
  EXPECT_EQ(c.done.at(2).result, io::outcome::applied);
  EXPECT_EQ(c.done.at(2).previous_serial, std::string()) << "previous serial kept for the resumed report";
  ASSERT_EQ(c.batches.size(), 1u);
  EXPECT_EQ(c.batches[0].id, "B1");
  EXPECT_EQ(c.batches[0].lines, (std::vector<std::uint32_t>{10, 11, 12}));
}

// A journal cut at every byte offset of its last record loses exactly that record, and a resume
// cuts the torn bytes off so that new records are read after the valid prefix.
TEST(artefacts_journal, torn_last_record_at_every_offset) {
  temp_dir dir;
  auto p = dir.path() / "full.journal";
  {
    auto w = io::journal_writer::create(p, "fp");
    for (std::uint32_t l = 2; l <= 4; ++l) w.append_row(make_row(l, io::outcome::applied));
  }
  const std::string full = temp_dir::read(p);
  const std::size_t last_start = full.rfind('\n', full.size() - 2) + 1;
  for (std::size_t cut = last_start; cut < full.size(); ++cut) {
    auto q = dir.write("cut.journal", full.substr(0, cut));
    auto c = io::read_journal(q);
    EXPECT_EQ(c.done.size(), 2u) << "cut at " << cut;
    EXPECT_EQ(c.valid_bytes, last_start);
    EXPECT_EQ(c.ignored_bytes, cut - last_start);
    io::journal_contents resumed;
    {
      auto w = io::journal_writer::resume(q, "fp", resumed);
      w.append_row(make_row(7, io::outcome::applied));
    }
    EXPECT_EQ(resumed.done.size(), 2u);
    auto after = io::read_journal(q);
    EXPECT_EQ(after.ignored_bytes, 0u) << "cut at " << cut;
    EXPECT_EQ(after.done.size(), 3u) << "cut at " << cut;
    EXPECT_TRUE(after.done.count(7));
    std::filesystem::remove(q);
  }
}

// A flipped byte fails the record's CRC: reading stops there instead of trusting it.
TEST(artefacts_journal, corrupt_record_fails_crc) {
  temp_dir dir;
  auto p = dir.path() / "j.journal";
  {
    auto w = io::journal_writer::create(p, "fp");
    for (std::uint32_t l = 2; l <= 4; ++l) w.append_row(make_row(l, io::outcome::applied));
  }
  std::string text = temp_dir::read(p);
  auto pos = text.find("\"L3\"");
  ASSERT_NE(pos, std::string::npos);
  text[pos + 2] = '8';  // L3 → L8, still valid JSON
  auto q = dir.write("bad.journal", text);
  auto c = io::read_journal(q);
  EXPECT_EQ(c.done.size(), 1u);
  EXPECT_TRUE(c.done.count(2));
  EXPECT_GT(c.ignored_bytes, 0u);
}

// Resuming with the journal of another plan is refused with a message naming both fingerprints.
TEST(artefacts_journal, fingerprint_mismatch_refused) {
  temp_dir dir;
  auto p = dir.path() / "j.journal";
  io::journal_writer::create(p, "aaaa1111").close();
  io::journal_contents c;
  try {
    io::journal_writer::resume(p, "bbbb2222", c);
    FAIL() << "resumed another plan's journal";
  } catch (const io::journal_error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("different plan"), std::string::npos) << msg;
    EXPECT_NE(msg.find("aaaa1111"), std::string::npos) << msg;
    EXPECT_NE(msg.find("bbbb2222"), std::string::npos) << msg;
  }
  EXPECT_EQ(io::read_journal(p).fingerprint, "aaaa1111") << "the journal is left as it was";
}

// A new journal never overwrites an existing one; resume of a missing file starts one.
TEST(artefacts_journal, create_refuses_existing_and_resume_starts_missing) {
  temp_dir dir;
  auto p = dir.path() / "j.journal";
  io::journal_writer::create(p, "fp").close();
  EXPECT_THROW(io::journal_writer::create(p, "fp"), io::journal_error);
  auto q = dir.path() / "new.journal";
  io::journal_contents c;
  io::journal_writer::resume(q, "fp2", c).close();
  EXPECT_TRUE(c.done.empty());
  EXPECT_EQ(io::read_journal(q).fingerprint, "fp2");
}

// A file torn inside its header is restarted on resume; a file that is not a journal is refused.
TEST(artefacts_journal, torn_header_restarts_foreign_file_refused) {
  temp_dir dir;
  auto p = dir.path() / "j.journal";
  io::journal_writer::create(p, "fp").close();
  const std::string full = temp_dir::read(p);
  for (std::size_t cut = 1; cut < full.size(); ++cut) {
    auto q = dir.write("torn.journal", full.substr(0, cut));
    EXPECT_THROW(io::read_journal(q), io::journal_error);
    io::journal_contents c;
    io::journal_writer::resume(q, "fp", c).close();
    EXPECT_EQ(io::read_journal(q).fingerprint, "fp") << "cut at " << cut;
  }
  auto f = dir.write("report.csv", "line,organizationId\n");
  io::journal_contents c;
  EXPECT_THROW(io::journal_writer::resume(f, "fp", c), io::journal_error);
  EXPECT_EQ(temp_dir::read(f), "line,organizationId\n") << "a foreign file is never overwritten";
}

// Each record reaches the file when appended: a SIGKILL right after loses nothing.
TEST(artefacts_journal, sigkill_loses_no_appended_record) {
  temp_dir dir;
  auto p = dir.path() / "j.journal";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto w = io::journal_writer::create(p, "fp", io::journal_sync_policy{1000, std::chrono::hours(1)});
    for (std::uint32_t l = 2; l < 2 + 37; ++l) w.append_row(make_row(l, io::outcome::applied));
    ::raise(SIGKILL);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto c = io::read_journal(p);
  EXPECT_EQ(c.done.size(), 37u);
  EXPECT_EQ(c.ignored_bytes, 0u);
}

// Deferred mode: appends wait for flush(), which writes them all; close() writes what is left.
TEST(artefacts_journal, deferred_mode_writes_on_flush_and_close) {
  temp_dir dir;
  auto p = dir.path() / "j.journal";
  auto w = io::journal_writer::create(p, "fp", io::journal_sync_policy{1000, std::chrono::hours(1)});
  const auto header_size = std::filesystem::file_size(p);
  w.set_deferred(true);
  for (std::uint32_t l = 2; l < 12; ++l) w.append_row(make_row(l, io::outcome::applied));
  EXPECT_EQ(std::filesystem::file_size(p), header_size);
  w.flush();
  EXPECT_EQ(io::read_journal(p).done.size(), 10u);
  w.append_row(make_row(12, io::outcome::applied));
  w.append_batch(io::journal_batch{"B1", "O1", {12}});
  EXPECT_EQ(io::read_journal(p).done.size(), 10u);
  w.close();
  auto c = io::read_journal(p);
  EXPECT_EQ(c.done.size(), 11u);
  ASSERT_EQ(c.batches.size(), 1u);
  EXPECT_EQ(c.ignored_bytes, 0u);
}

// Leaving deferred mode flushes; a SIGKILL after a flush loses nothing flushed.
TEST(artefacts_journal, sigkill_after_flush_loses_nothing_flushed) {
  temp_dir dir;
  auto p = dir.path() / "j.journal";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto w = io::journal_writer::create(p, "fp", io::journal_sync_policy{1000, std::chrono::hours(1)});
    w.set_deferred(true);
    for (std::uint32_t l = 2; l < 22; ++l) w.append_row(make_row(l, io::outcome::applied));
    w.flush();
    for (std::uint32_t l = 22; l < 27; ++l) w.append_row(make_row(l, io::outcome::applied));
    w.set_deferred(false);
    w.append_row(make_row(27, io::outcome::applied));
    w.set_deferred(true);
    w.append_row(make_row(28, io::outcome::applied));  // never flushed: lost, as if in flight
    ::raise(SIGKILL);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto c = io::read_journal(p);
  EXPECT_EQ(c.done.size(), 26u);
  EXPECT_FALSE(c.done.contains(28));
  EXPECT_EQ(c.ignored_bytes, 0u);
}

// Records are framed as "<crc32 hex> <json>\n" with the IEEE CRC-32 of the JSON.
TEST(artefacts_journal, record_framing) {
  // CRC-32("123456789") = cbf43926, the standard check value.
  EXPECT_EQ(io::detail::frame_journal_record("123456789"), "cbf43926 123456789\n");
  EXPECT_EQ(io::default_journal_path("/d/run.report-1.csv"), "/d/run.report-1.journal");
}

// The hand-written CRC-32 (slicing by 8) agrees with Boost.CRC on every length 0-300 and on
// random bytes.
TEST(artefacts_journal, crc32_matches_boost) {
  std::mt19937 rng(42);
  std::string data;
  for (std::size_t n = 0; n <= 300; ++n) {
    boost::crc_32_type ref;
    ref.process_bytes(data.data(), data.size());
    ASSERT_EQ(io::detail::crc32(data), ref.checksum()) << "length " << n;
    data.push_back(static_cast<char>(rng() & 0xff));
  }
}

// Only 4xx answers other than 408 and 429 are permanent failures.
TEST(artefacts_journal, permanent_failure_classification) {
  EXPECT_TRUE(io::is_permanent_failure(make_row(1, io::outcome::failed, 400)));
  EXPECT_TRUE(io::is_permanent_failure(make_row(1, io::outcome::failed, 404)));
  EXPECT_FALSE(io::is_permanent_failure(make_row(1, io::outcome::failed, 408)));
  EXPECT_FALSE(io::is_permanent_failure(make_row(1, io::outcome::failed, 429)));
  EXPECT_FALSE(io::is_permanent_failure(make_row(1, io::outcome::failed, 502)));
  EXPECT_FALSE(io::is_permanent_failure(make_row(1, io::outcome::failed, 0)));
  EXPECT_FALSE(io::is_permanent_failure(make_row(1, io::outcome::applied, 200)));
}
