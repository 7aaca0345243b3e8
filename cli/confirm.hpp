// The question `apply` asks on a terminal before it changes anything.
#pragma once

#include <cstdint>
#include <iosfwd>

namespace relicense::cli {

/// What the run is about to change (the question's numbers).
struct change_totals {
  std::uint64_t changes = 0;        ///< requests that change a license
  std::uint64_t organizations = 0;  ///< organizations they touch
};

/// Prints "Apply N changes in M organizations? [y/N] " on `out` and reads one line from `in`:
/// "y" or "yes" in any case (surrounding blanks ignored) accepts; anything else, an empty line or
/// end of input refuses.
bool confirm(const change_totals& totals, std::istream& in, std::ostream& out);

/// Whether `apply` asks: only on an interactive terminal (standard input and standard error both
/// TTYs), not with --yes, not for a dry run (which changes nothing).
bool should_confirm(bool stdin_tty, bool stderr_tty, bool yes, bool dry_run) noexcept;

}  // namespace relicense::cli
