// An exclusive lock on a run's output file (journal, report), so that two runs on the same files
// cannot both go ahead: the second stops before it sends anything and names the first's pid.
//
// The lock is a POSIX record lock (fcntl F_SETLK) over the whole file: the kernel drops it when
// the holder's process ends, however it ends (SIGKILL included), so no stale lock outlives a
// run, and F_GETLK tells a refused run which process holds it. POSIX locks belong to the
// process, not the descriptor: closing ANY descriptor of the locked file in the holder process
// releases the lock, so a holder must read and write the file only through the locked
// descriptor.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string_view>

#include <sys/types.h>

namespace relicense::io {

/// A file locked by another process (another relicense run on the same files).
class file_in_use_error : public std::runtime_error {
public:
  file_in_use_error(const std::string& message, pid_t holder)
      : std::runtime_error(message), holder_(holder) {}
  /// The holder's pid, 0 when it let go before it could be asked.
  pid_t holder() const noexcept { return holder_; }

private:
  pid_t holder_;
};

/// Takes an exclusive lock on the open file `fd` without waiting. Throws file_in_use_error
/// ("<what> <path> is in use by another relicense run (pid N)") when another process holds it,
/// std::runtime_error when the file system refuses locks. Files other than regular files (a
/// terminal, a pipe, /dev/null) are not locked: no run can be harmed by sharing them.
void lock_output_file(int fd, const std::filesystem::path& path, std::string_view what);

}  // namespace relicense::io
