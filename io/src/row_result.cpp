#include "relicense/io/row_result.hpp"

namespace relicense::io {

const char* to_string(outcome o) noexcept {
  switch (o) {
    case outcome::applied:
      return "applied";
    case outcome::unchanged:
      return "unchanged";
    case outcome::failed:
      return "failed";
    case outcome::skipped:
      return "skipped";
    case outcome::not_attempted:
      return "not_attempted";
  }
  return "unknown";
}

} // namespace relicense::io
