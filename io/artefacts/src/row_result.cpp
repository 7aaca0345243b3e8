#include "relicense/io/row_result.hpp"

namespace relicense::io {

const char* to_string(outcome o) noexcept {
  switch (o) {
    case outcome::applied: return "applied";
    case outcome::unchanged: return "unchanged";
    case outcome::failed: return "failed";
    case outcome::skipped: return "skipped";
    case outcome::not_attempted: return "not_attempted";
  }
  return "unknown";  // not a value of the enum: a reader refuses it rather than mistake it
}

bool parse_outcome(std::string_view s, outcome& o) noexcept {
  for (outcome c : {outcome::applied, outcome::unchanged, outcome::failed, outcome::skipped,
                    outcome::not_attempted}) {
    if (s == to_string(c)) {
      o = c;
      return true;
    }
  }
  return false;
}

}  // namespace relicense::io
