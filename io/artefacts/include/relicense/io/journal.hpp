// The run journal: append-only, crash-safe record of what a run has done, so that `--resume`
// after a crash (kill -9, power loss, OOM) neither loses a row nor re-sends one that finished.
//
// File format: UTF-8 text, one record per line: `<crc32 as 8 lowercase hex> <JSON object>\n`,
// the CRC-32 (IEEE) covering the JSON bytes. JSON text never holds a raw line break, so every
// line break ends a record. A record counts only when its line break is present and its CRC
// matches. Two kinds of bad bytes are told apart:
//   - a torn tail: bytes after the last line break (the last write cut by a crash; nothing after
//     it was acknowledged to anyone). It is left out silently, and a resumed writer truncates it
//     before appending.
//   - a damaged record: a complete line that fails its CRC (a flipped bit on disk). Reading
//     resynchronises on the next valid frame, which may start inside the bad line when the
//     damage hit a line break, and keeps every record after it; only the damaged records' rows
//     are lost (and sent again by a resumed run). A resumed writer acknowledges each damaged
//     stretch with a "damaged" record, so the loss is reported once, not at every resume.
//     A damaged header record makes the file unusable: without it the plan cannot be checked.
// Records:
//   {"t":"header","v":1,"fingerprint":"..."}                        first record, always
//   {"t":"row","line":N,"organizationId":..,"licenseId":..,"deviceSerial":..|null,
//    "previousDeviceSerial":..|null (absent: unknown),"outcome":..,"permanent":bool,
//    "httpStatus":..,"attempts":..,"latencyMs":..,"state":..,"error":..[,"batchId":..]}
//   {"t":"batch","id":"...","organizationId":"...","lines":[N,...]}  an action batch was accepted
//   {"t":"damaged","offset":N,"bytes":N,"records":N}                 a damaged stretch, reported
// Readers skip record types they do not know, so older versions read newer journals (they stop at
// a damaged record, as they always did).
//
// Locking: a writer holds an exclusive lock on the file (file_lock.hpp) from before it reads it
// until close(), so a second run on the same journal stops at once, naming the holder's pid.
//
// Durability: every record reaches the kernel with its own write(2) as soon as it is appended
// (a killed process loses nothing it appended), or, in deferred mode, with one write(2) per
// flush(): the runner flushes once per turn of its event loop in which rows finished, before any
// of those rows' workers sends another request, so a kill loses only rows that were in flight
// anyway. fdatasync runs every `every` records or `interval`, and at close (a power loss loses
// at most that window, which only means re-sending idempotent PUTs).
#pragma once

#include "relicense/io/file_lock.hpp"
#include "relicense/io/row_result.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace relicense::io {

/// A journal that cannot be used: unreadable, not a journal, or written for another plan.
class journal_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// `<report path without extension>.journal`: the default, next to the report.
std::filesystem::path default_journal_path(const std::filesystem::path& report_path);

/// Whether a failed row should stay failed on resume: the API refused it (4xx other than 408 and
/// 429). Timeouts, 5xx, 429s and transport errors are retried by a resumed run.
bool is_permanent_failure(const row_result& r) noexcept;

/// An action batch the API accepted (batch mode): on resume its status is polled, not re-sent.
struct journal_batch {
  std::string id;
  std::string org_id;
  std::vector<std::uint32_t> lines;
};

/// A stretch of complete lines that holds no valid record (bit rot, a bad sector).
struct journal_damage {
  std::uint64_t offset = 0;   ///< where it starts in the file
  std::uint64_t bytes = 0;    ///< its length
  std::uint64_t records = 0;  ///< records it held, as far as can be told (at least 1)
  bool acknowledged = false;  ///< an earlier resume reported it (a later "damaged" record)
};

/// What a journal says, as read back.
struct journal_contents {
  std::string fingerprint;  ///< plan fingerprint from the header
  /// Last row record per input line: rows that are done (applied, unchanged, or failed
  /// permanently). Rows recorded as retryable failures, skipped or not attempted are not here.
  std::map<std::uint32_t, row_result> done;
  std::vector<journal_batch> batches;   ///< accepted batches, in order
  std::uint64_t records = 0;            ///< valid records read (header included)
  std::uint64_t valid_bytes = 0;        ///< length of the complete lines (appends go here)
  std::uint64_t ignored_bytes = 0;      ///< torn tail left out
  std::vector<journal_damage> damaged;  ///< damaged stretches, in file order
  /// Records lost to damage that no earlier resume has reported: their rows are sent again.
  std::uint64_t damaged_records = 0;
};

/// Reads a journal. Throws journal_error when the file cannot be read or its first record is not
/// a valid header (an empty file, or one torn or damaged inside its header, counts as "no
/// header"). Takes no lock: it may read a journal a run is writing.
journal_contents read_journal(const std::filesystem::path& path);

/// How often the journal is fdatasync'd.
struct journal_sync_policy {
  std::size_t every = 1024;                 ///< records between fdatasyncs
  std::chrono::milliseconds interval{200};  ///< or time since the last fdatasync
};

/// Appends records to a journal. Not thread-safe: the runner's single result sink calls it.
class journal_writer {
public:
  using clock_fn = std::function<std::chrono::steady_clock::time_point()>;

  /// Starts a new journal for the plan with `fingerprint`. Refuses (journal_error) to overwrite
  /// an existing file that recorded anything (a row, a batch, damage, a torn record): it may be
  /// the only record of an interrupted run. A journal with nothing but its header (or part of
  /// it) is started over, so a run stopped before its first request does not block the next. Throws
  /// file_in_use_error when another process holds the journal.
  static journal_writer create(const std::filesystem::path& path, std::string_view fingerprint,
                               journal_sync_policy policy = {}, clock_fn now = nullptr);

  /// Continues the journal at `path` for `--resume`: reads it, checks the fingerprint (a
  /// different plan → journal_error that says so), cuts off a torn tail, and appends from there.
  /// A missing or empty file starts a new journal. `contents` receives what was read; damaged
  /// stretches it reports as not yet acknowledged are acknowledged in the journal before this
  /// returns. Throws file_in_use_error when another process holds the journal.
  static journal_writer resume(const std::filesystem::path& path, std::string_view fingerprint,
                               journal_contents& contents, journal_sync_policy policy = {},
                               clock_fn now = nullptr);

  journal_writer(journal_writer&&) noexcept;
  journal_writer& operator=(journal_writer&&) noexcept;
  ~journal_writer();  ///< close(), errors swallowed

  const std::filesystem::path& path() const noexcept { return path_; }
  /// Whether this writer started the file (no journal was there, or only an empty or torn one).
  bool created() const noexcept { return created_; }

  /// Records a finished row; `permanent` defaults to is_permanent_failure(r).
  void append_row(const row_result& r);
  void append_row(const row_result& r, bool permanent);
  /// Records an action batch the API accepted.
  void append_batch(const journal_batch& b);
  /// Deferred mode: appends are buffered until flush() (a failed write throws from flush()).
  /// Turning it off flushes.
  void set_deferred(bool deferred);
  /// Writes the buffered records with one write(2), then fdatasyncs if the policy says so.
  void flush();
  /// fdatasync now if the policy's interval has passed (call from a timer if rows are sparse).
  void sync_if_due();
  /// fdatasync now.
  void sync();
  /// fdatasync and close. Idempotent.
  void close();
  /// Removes the file and closes without syncing: for a run that stops before it sends anything
  /// and must leave no journal behind. Only for a journal this writer created.
  void discard();

private:
  journal_writer(std::filesystem::path path, int fd, journal_sync_policy policy, clock_fn now);
  void start(std::string_view fingerprint);
  void append_record(std::string_view json);
  void begin_record();
  void end_record();
  void write_pending();

  std::filesystem::path path_;
  int fd_ = -1;
  journal_sync_policy policy_;
  clock_fn now_;
  std::size_t unsynced_ = 0;
  std::chrono::steady_clock::time_point last_sync_{};
  std::string pending_;  ///< framed records not yet written
  std::size_t pending_records_ = 0;
  std::size_t record_start_ = 0;  ///< where the record being framed starts in pending_
  std::string row_;               ///< scratch for a row's report object
  bool deferred_ = false;
  bool created_ = false;
};

/// CRC-32 (IEEE) of `data`, as journal records carry it (docs/journal.md).
std::uint32_t crc32(std::string_view data);
/// The framed line for one JSON record: `<crc32 hex> <json>\n`.
std::string frame_journal_record(std::string_view json);

}  // namespace relicense::io
