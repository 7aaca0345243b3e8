// Operational log of a run (--log-file, -v): timestamped lines of what the run did, for the
// people who run it from cron or a pipeline. Callers hand over texts that are already redacted;
// the log adds only the timestamp.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace relicense::io {

/// "2026-11-29T21:40:00.123Z": UTC, ISO 8601, milliseconds.
std::string iso8601_utc(std::chrono::system_clock::time_point t);

/// Appends lines to a file (opened for append, one write per line) and/or stderr.
class oplog {
public:
  using clock_fn = std::function<std::chrono::system_clock::time_point()>;

  /// `path` empty: no file. Throws std::runtime_error naming the file when it cannot be opened.
  oplog(const std::filesystem::path& path, bool to_stderr,
        clock_fn clock = &std::chrono::system_clock::now);
  ~oplog();
  oplog(const oplog&) = delete;
  oplog& operator=(const oplog&) = delete;

  /// False when the lines go nowhere: callers then skip formatting.
  bool enabled() const noexcept { return fd_ >= 0 || to_stderr_; }
  /// Writes "TIMESTAMP TEXT\n". Throws std::runtime_error ("cannot write PATH: REASON") on a
  /// write error; the file is not written again after one.
  void line(std::string_view text);
  /// The line as written (tests).
  static std::string format(std::chrono::system_clock::time_point t, std::string_view text);

private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool to_stderr_ = false;
  clock_fn clock_;
};

/// Decides when a progress heartbeat is due: every `every` since the run started or since the
/// last one. It is asked after each finished row, so a run stalled in a long pause prints none.
class heartbeat {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit heartbeat(time_point start, std::chrono::nanoseconds every = std::chrono::seconds(60))
      : start_(start), last_(start), every_(every) {}

  /// True (and restarts the interval) when `every` has passed since the last heartbeat.
  bool due(time_point now) noexcept;
  /// "progress: 120/1000 rows, 3 failed, 2.0 rows/s, ETA 7m20s" at `now`. `carried`: rows among
  /// `done` a resumed run took from its journal, left out of the rate.
  std::string line(std::uint64_t done, std::uint64_t total, std::uint64_t failed, time_point now,
                   std::uint64_t carried = 0) const;

private:
  time_point start_;
  time_point last_;
  std::chrono::nanoseconds every_;
};

}  // namespace relicense::io
