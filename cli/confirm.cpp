// The confirmation question: pure stream in, stream out, so the tests drive it with strings.
#include "confirm.hpp"

#include <algorithm>
#include <cctype>
#include <istream>
#include <ostream>
#include <string>

namespace relicense::cli {

bool confirm(const change_totals& totals, std::istream& in, std::ostream& out) {
  out << "Apply " << totals.changes << (totals.changes == 1 ? " change" : " changes") << " in "
      << totals.organizations << (totals.organizations == 1 ? " organization" : " organizations")
      << "? [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(in, answer)) {
    out << '\n';  // end of input: the prompt's line is left open otherwise
    return false;
  }
  const auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
  answer.erase(answer.begin(), std::find_if_not(answer.begin(), answer.end(), blank));
  answer.erase(std::find_if_not(answer.rbegin(), answer.rend(), blank).base(), answer.end());
  std::transform(answer.begin(), answer.end(), answer.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return answer == "y" || answer == "yes";
}

bool should_confirm(bool stdin_tty, bool stderr_tty, bool yes, bool dry_run) noexcept {
  return stdin_tty && stderr_tty && !yes && !dry_run;
}

}  // namespace relicense::cli
