// Operational log writer and heartbeat decision.
#include "relicense/io/oplog.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace relicense::io {

std::string iso8601_utc(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms / 1000);
  auto frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(frac));
  return buf;
}

oplog::oplog(const std::filesystem::path& path, bool to_stderr, clock_fn clock)
    : path_(path), to_stderr_(to_stderr), clock_(std::move(clock)) {
  if (path.empty()) return;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0)
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
}

oplog::~oplog() {
  if (fd_ >= 0) ::close(fd_);
}

std::string oplog::format(std::chrono::system_clock::time_point t, std::string_view text) {
  std::string s = iso8601_utc(t);
  s += ' ';
  s += text;
  s += '\n';
  return s;
}

void oplog::line(std::string_view text) {
  if (!enabled()) return;
  const std::string s = format(clock_(), text);
  if (to_stderr_) std::fputs(s.c_str(), stderr);
  if (fd_ < 0) return;
  // O_APPEND and one write per line: runs sharing a log file do not interleave inside a line.
  std::size_t off = 0;
  while (off < s.size()) {
    const auto n = ::write(fd_, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error("cannot write " + path_.string() + ": " + std::strerror(err));
    }
    off += static_cast<std::size_t>(n);
  }
}

bool heartbeat::due(time_point now) noexcept {
  if (now - last_ < every_) return false;
  last_ = now;
  return true;
}

std::string heartbeat::line(std::uint64_t done, std::uint64_t total, std::uint64_t failed,
                            time_point now, std::uint64_t carried) const {
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double sent = static_cast<double>(done > carried ? done - carried : 0);
  const double rate = elapsed > 0 ? sent / elapsed : 0;
  std::string eta = "unknown";
  if (done >= total) {
    eta = "0s";
  } else if (rate > 0) {
    const auto left = static_cast<long long>(std::ceil(static_cast<double>(total - done) / rate));
    char buf[48];
    if (left >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", left / 3600, left % 3600 / 60);
    else if (left >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", left / 60, left % 60);
    else std::snprintf(buf, sizeof buf, "%llds", left);
    eta = buf;
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, "progress: %llu/%llu rows, %llu failed, %.1f rows/s, ETA %s",
                static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(failed), rate, eta.c_str());
  return buf;
}

}  // namespace relicense::io
