// Output-file locks: POSIX record locks, see file_lock.hpp for why not flock or OFD locks.
#include "relicense/io/file_lock.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>

namespace relicense::io {

void lock_output_file(int fd, const std::filesystem::path& path, std::string_view what) {
  struct stat st {};
  if (::fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) return;
  // The holder may end between a refused F_SETLK and the F_GETLK that asks who it is; then the
  // lock is free and a new attempt takes it.
  for (int attempt = 0; attempt < 3; ++attempt) {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;  // l_start = l_len = 0: the whole file, however long it grows
    if (::fcntl(fd, F_SETLK, &fl) == 0) return;
    if (errno == EINTR) continue;
    if (errno != EACCES && errno != EAGAIN) {
      throw std::runtime_error("cannot lock " + std::string(what) + " " + path.string() + ": " +
                               std::strerror(errno));
    }
    struct flock who {};
    who.l_type = F_WRLCK;
    who.l_whence = SEEK_SET;
    if (::fcntl(fd, F_GETLK, &who) == 0 && who.l_type == F_UNLCK) continue;
    const pid_t holder = who.l_type != F_UNLCK ? who.l_pid : 0;
    std::string msg =
        std::string(what) + " " + path.string() + " is in use by another relicense run";
    if (holder > 0) msg += " (pid " + std::to_string(holder) + ")";
    throw file_in_use_error(msg, holder);
  }
  throw file_in_use_error(
      std::string(what) + " " + path.string() + " is in use by another relicense run", 0);
}

}  // namespace relicense::io
