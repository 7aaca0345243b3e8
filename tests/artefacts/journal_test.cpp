// Journal: framing, what counts as done, torn tails, fingerprints, crash safety.
#include "relicense/io/journal.hpp"

#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>
#include <boost/crc.hpp>

#include <algorithm>
#include <random>

#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <filesystem>

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

}  // namespace

// Applied, unchanged and permanently failed rows are done; retryable failures, skips are not.
TEST(ArtefactsJournal, DoneSetAndBatchesRoundTrip) {
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
  EXPECT_EQ(c.done.at(2).previous_serial, std::string())
      << "previous serial kept for the resumed report";
  ASSERT_EQ(c.batches.size(), 1u);
  EXPECT_EQ(c.batches[0].id, "B1");
  EXPECT_EQ(c.batches[0].lines, (std::vector<std::uint32_t>{10, 11, 12}));
}

// A journal cut at every byte offset of its last record loses exactly that record, and a resume
// cuts the torn bytes off so that new records are read after the valid prefix.
TEST(ArtefactsJournal, TornLastRecordAtEveryOffset) {
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

// A flipped byte fails the record's CRC: that record is skipped, the ones after it are kept.
TEST(ArtefactsJournal, CorruptRecordFailsCrc) {
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
  EXPECT_EQ(c.done.size(), 2u);
  EXPECT_TRUE(c.done.count(2));
  EXPECT_FALSE(c.done.count(3));
  EXPECT_TRUE(c.done.count(4));
  EXPECT_EQ(c.damaged_records, 1u);
  EXPECT_EQ(c.ignored_bytes, 0u);
}

namespace {

/// A journal of rows 2..(1+rows), all applied; `starts` receives where each record begins
/// (index 0: the header), plus the file's length at the end.
std::string applied_journal(const std::filesystem::path& p, std::uint32_t rows,
                            std::vector<std::size_t>& starts) {
  {
    auto w = io::journal_writer::create(p, "fp");
    for (std::uint32_t l = 2; l < 2 + rows; ++l) w.append_row(make_row(l, io::outcome::applied));
  }
  std::string text = temp_dir::read(p);
  starts = {0};
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') starts.push_back(i + 1);
  }
  return text;
}

std::vector<std::uint32_t> done_lines(const io::journal_contents& c) {
  std::vector<std::uint32_t> out;
  for (const auto& [line, r] : c.done) out.push_back(line);
  return out;
}

std::vector<std::uint32_t> lines_except(std::uint32_t rows, std::vector<std::uint32_t> lost) {
  std::vector<std::uint32_t> out;
  for (std::uint32_t l = 2; l < 2 + rows; ++l) {
    if (std::find(lost.begin(), lost.end(), l) == lost.end()) out.push_back(l);
  }
  return out;
}

}  // namespace

// Every byte of a middle record changed in turn (one bit, the case bit, all bits, or a line
// break put in): exactly that record is lost and reported, every other record is read, nothing
// counts as a torn tail; a resume reports it, appends after it, and the next resume is quiet.
TEST(ArtefactsJournal, EveryByteOfAMiddleRecordDamagedInTurn) {
  temp_dir dir;
  std::vector<std::size_t> starts;
  const std::uint32_t rows = 9;
  const std::string good = applied_journal(dir.path() / "good.journal", rows, starts);
  const std::size_t record = 5;  // the record of line 6
  const std::uint32_t lost_line = 6;
  const auto expected = lines_except(rows, {lost_line});
  std::size_t cases = 0;
  for (std::size_t at = starts[record]; at < starts[record + 1]; ++at) {
    for (const int change : {0x01, 0x20, 0x80, 0xff, -1}) {
      std::string bad = good;
      const char before = bad[at];
      bad[at] = change < 0 ? '\n' : static_cast<char>(static_cast<unsigned char>(before) ^ change);
      if (bad[at] == before) continue;
      ++cases;
      const auto q = dir.write("bad.journal", bad);
      const auto c = io::read_journal(q);
      const std::string where =
          "byte " + std::to_string(at - starts[record]) + " change " + std::to_string(change);
      EXPECT_EQ(done_lines(c), expected) << where;
      EXPECT_EQ(c.damaged_records, 1u) << where;
      ASSERT_EQ(c.damaged.size(), 1u) << where;
      EXPECT_EQ(c.damaged[0].offset, starts[record]) << where;
      EXPECT_EQ(c.ignored_bytes, 0u) << where;
      EXPECT_EQ(c.valid_bytes, bad.size()) << where;
    }
  }
  EXPECT_GT(cases, 4 * (starts[record + 1] - starts[record]));

  // Resumes: the first reports the damage and journals the row again, the second is quiet.
  std::string bad = good;
  bad[starts[record] + 20] ^= 0x01;
  const auto q = dir.write("resumed.journal", bad);
  io::journal_contents first;
  {
    auto w = io::journal_writer::resume(q, "fp", first);
    EXPECT_EQ(first.damaged_records, 1u);
    w.append_row(make_row(lost_line, io::outcome::applied));
  }
  io::journal_contents second;
  io::journal_writer::resume(q, "fp", second).close();
  EXPECT_EQ(second.damaged_records, 0u) << "the damage was reported by the first resume";
  ASSERT_EQ(second.damaged.size(), 1u);
  EXPECT_TRUE(second.damaged[0].acknowledged);
  EXPECT_EQ(done_lines(second), lines_except(rows, {}));
}

// Damage in several places (the first row, two neighbours, a lone record, the last complete
// record) followed by a torn tail: each damaged record is counted, every good one kept, the torn
// tail is not counted as damage, and a resume appends after the last complete line.
TEST(ArtefactsJournal, DamageInSeveralPlacesAndATornTail) {
  temp_dir dir;
  std::vector<std::size_t> starts;
  const std::uint32_t rows = 12;
  std::string text = applied_journal(dir.path() / "good.journal", rows, starts);
  // record i holds line i + 1
  for (std::size_t record : {1u, 4u, 5u, 8u, 12u}) text[starts[record] + 30] ^= 0x04;
  text[starts[6] + 8] = 'x';  // a broken separator: a sixth damaged record, next to two others
  const std::string torn = "0123abcd {\"t\":\"row\",\"line\":99";  // no line break
  text += torn;
  const auto q = dir.write("bad.journal", text);
  const auto c = io::read_journal(q);
  EXPECT_EQ(done_lines(c), lines_except(rows, {2, 5, 6, 7, 9, 13}));
  EXPECT_EQ(c.damaged_records, 6u);
  EXPECT_EQ(c.damaged.size(), 4u) << "neighbouring damaged records form one stretch";
  EXPECT_EQ(c.ignored_bytes, torn.size());

  io::journal_contents resumed;
  {
    auto w = io::journal_writer::resume(q, "fp", resumed);
    w.append_row(make_row(2, io::outcome::applied));
  }
  EXPECT_EQ(resumed.damaged_records, 6u);
  const auto after = io::read_journal(q);
  EXPECT_EQ(after.ignored_bytes, 0u);
  EXPECT_EQ(after.damaged_records, 0u);
  EXPECT_EQ(done_lines(after), lines_except(rows, {5, 6, 7, 9, 13}));
}

// A damaged header cannot be skipped: without it the plan cannot be checked, so the journal is
// refused and left as it is.
TEST(ArtefactsJournal, DamagedHeaderRefused) {
  temp_dir dir;
  std::vector<std::size_t> starts;
  std::string text = applied_journal(dir.path() / "good.journal", 3, starts);
  text[12] ^= 0x01;
  const auto q = dir.write("bad.journal", text);
  EXPECT_THROW(io::read_journal(q), io::journal_error);
  io::journal_contents c;
  EXPECT_THROW(io::journal_writer::resume(q, "fp", c), io::journal_error);
  EXPECT_EQ(temp_dir::read(q), text);
}

namespace {

/// A child process that holds the journal at `p` (a writer open on it) until killed; returns
/// its pid once the journal is locked.
pid_t hold_journal(const std::filesystem::path& p) {
  int ready[2];
  if (::pipe(ready) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    io::journal_contents c;
    auto w = io::journal_writer::resume(p, "fp", c);
    (void)!::write(ready[1], "x", 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char x;
  const bool ok = ::read(ready[0], &x, 1) == 1;
  ::close(ready[0]);
  return ok ? pid : -1;
}

}  // namespace

// While another process holds a journal, create and resume refuse at once, naming its pid, and
// leave the file as it is; once the holder is SIGKILLed, a resume goes ahead.
TEST(ArtefactsJournal, LockedWhileAnotherProcessWrites) {
  temp_dir dir;
  const auto p = dir.path() / "j.journal";
  const pid_t holder = hold_journal(p);
  ASSERT_GT(holder, 0);
  const std::string before = temp_dir::read(p);
  io::journal_contents c;
  try {
    io::journal_writer::resume(p, "fp", c);
    ADD_FAILURE() << "resumed a journal another process holds";
  } catch (const io::file_in_use_error& e) {
    EXPECT_EQ(e.holder(), holder);
    EXPECT_EQ(std::string(e.what()), "journal " + p.string() +
                                         " is in use by another relicense run (pid " +
                                         std::to_string(holder) + ")");
  }
  EXPECT_THROW(io::journal_writer::create(p, "fp"), io::file_in_use_error);
  EXPECT_EQ(temp_dir::read(p), before);

  ::kill(holder, SIGKILL);
  ASSERT_EQ(::waitpid(holder, nullptr, 0), holder);
  auto w = io::journal_writer::resume(p, "fp", c);
  w.append_row(make_row(2, io::outcome::applied));
  w.close();
  EXPECT_EQ(io::read_journal(p).done.size(), 1u);
}

// A journal closed by its writer is free again: the next run in the same process takes it.
TEST(ArtefactsJournal, LockReleasedAtClose) {
  temp_dir dir;
  const auto p = dir.path() / "j.journal";
  io::journal_writer::create(p, "fp").close();
  io::journal_contents c;
  io::journal_writer::resume(p, "fp", c).close();
  const pid_t holder = hold_journal(p);
  ASSERT_GT(holder, 0);
  ::kill(holder, SIGKILL);
  ASSERT_EQ(::waitpid(holder, nullptr, 0), holder);
  EXPECT_NO_THROW(io::journal_writer::resume(p, "fp", c).close());
}

// Resuming with the journal of another plan is refused with a message naming both fingerprints.
TEST(ArtefactsJournal, FingerprintMismatchRefused) {
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

// A new journal never overwrites one that recorded something, but starts over one that holds
// only a header (a run stopped before its first request); resume of a missing file starts one.
TEST(ArtefactsJournal, CreateRefusesExistingAndResumeStartsMissing) {
  temp_dir dir;
  auto p = dir.path() / "j.journal";
  io::journal_writer::create(p, "fp").close();
  io::journal_writer::create(p, "fp-other").close();
  EXPECT_EQ(io::read_journal(p).fingerprint, "fp-other");
  {
    auto w = io::journal_writer::create(p, "fp");
    w.append_row(make_row(2, io::outcome::not_attempted, 0));
  }
  const std::string recorded = temp_dir::read(p);
  EXPECT_THROW(io::journal_writer::create(p, "fp"), io::journal_error);
  EXPECT_EQ(temp_dir::read(p), recorded);
  dir.write("j.journal", recorded + "0000");  // a torn record is a record of something
  EXPECT_THROW(io::journal_writer::create(p, "fp"), io::journal_error);
  auto q = dir.path() / "new.journal";
  io::journal_contents c;
  io::journal_writer::resume(q, "fp2", c).close();
  EXPECT_TRUE(c.done.empty());
  EXPECT_EQ(io::read_journal(q).fingerprint, "fp2");
}

// A file torn inside its header is restarted on resume; a file that is not a journal is refused.
TEST(ArtefactsJournal, TornHeaderRestartsForeignFileRefused) {
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
TEST(ArtefactsJournal, SigkillLosesNoAppendedRecord) {
  temp_dir dir;
  auto p = dir.path() / "j.journal";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto w =
        io::journal_writer::create(p, "fp", io::journal_sync_policy{1000, std::chrono::hours(1)});
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
TEST(ArtefactsJournal, DeferredModeWritesOnFlushAndClose) {
  temp_dir dir;
  auto p = dir.path() / "j.journal";
  auto w =
      io::journal_writer::create(p, "fp", io::journal_sync_policy{1000, std::chrono::hours(1)});
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
TEST(ArtefactsJournal, SigkillAfterFlushLosesNothingFlushed) {
  temp_dir dir;
  auto p = dir.path() / "j.journal";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto w =
        io::journal_writer::create(p, "fp", io::journal_sync_policy{1000, std::chrono::hours(1)});
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
TEST(ArtefactsJournal, RecordFraming) {
  // CRC-32("123456789") = cbf43926, the standard check value.
  EXPECT_EQ(io::frame_journal_record("123456789"), "cbf43926 123456789\n");
  EXPECT_EQ(io::default_journal_path("/d/run.report-1.csv"), "/d/run.report-1.journal");
}

// The hand-written CRC-32 (slicing by 8) agrees with Boost.CRC on every length 0-300 and on
// random bytes.
TEST(ArtefactsJournal, Crc32MatchesBoost) {
  std::mt19937 rng(42);
  std::string data;
  for (std::size_t n = 0; n <= 300; ++n) {
    boost::crc_32_type ref;
    ref.process_bytes(data.data(), data.size());
    ASSERT_EQ(io::crc32(data), ref.checksum()) << "length " << n;
    data.push_back(static_cast<char>(rng() & 0xff));
  }
}

// Only 4xx answers other than 408 and 429 are permanent failures.
TEST(ArtefactsJournal, PermanentFailureClassification) {
  EXPECT_TRUE(io::is_permanent_failure(make_row(1, io::outcome::failed, 400)));
  EXPECT_TRUE(io::is_permanent_failure(make_row(1, io::outcome::failed, 404)));
  EXPECT_FALSE(io::is_permanent_failure(make_row(1, io::outcome::failed, 408)));
  EXPECT_FALSE(io::is_permanent_failure(make_row(1, io::outcome::failed, 429)));
  EXPECT_FALSE(io::is_permanent_failure(make_row(1, io::outcome::failed, 502)));
  EXPECT_FALSE(io::is_permanent_failure(make_row(1, io::outcome::failed, 0)));
  EXPECT_FALSE(io::is_permanent_failure(make_row(1, io::outcome::applied, 200)));
}
