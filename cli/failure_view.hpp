// What a run's user sees of its failures at the end: the failed rows grouped by reason, the most
// frequent reasons first, a few example rows each. Built row by row as results arrive, in bounded
// memory (a count and at most a few examples per reason), so a run of millions of failed rows
// does not keep them. Plain functions and classes: no I/O.
#pragma once

#include "relicense/io/row_result.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace relicense::cli {

/// The reason a failed row shares with others: its `error` text with per-row values taken out.
///  1. A number of at most three digits stays: HTTP statuses, attempt counts and ports tell
///     reasons apart (and a license id "500" must not mask "HTTP 500").
///  2. The row's own license id, serials, organization id, batch id, request id and host, where
///     they stand as whole words, become `<license>`, `<serial>`, `<org>`, `<batch>`,
///     `<request>`, `<host>`.
///  3. Any other word (a run of letters, digits, `-`, `_`, and `.` between them) that holds a
///     digit becomes `<id>`: long numbers and serials name one row, not a reason.
///  4. An empty error reads "(no error text)".
/// So "HTTP 404: License 123 not found" and "HTTP 404: License 456 not found" group together,
/// while "HTTP 400: ..." and "HTTP 404: ..." do not.
std::string failure_reason(const io::row_result& r);

/// One example row of a reason.
struct failure_example {
  std::uint32_t line = 0;
  std::string license_id;
  std::string serial;  ///< empty: unassign
};

/// One reason and how many failed rows gave it.
struct failure_group {
  std::string reason;
  std::uint64_t rows = 0;
  std::vector<failure_example> examples;  ///< the lowest input lines, in input order
};

/// Failed rows grouped by failure_reason(). At most `max_reasons` reasons are kept; rows of
/// further reasons (texts that normalise badly) are only counted, so memory stays bounded.
class failure_groups {
public:
  explicit failure_groups(std::size_t examples_per_reason = 3, std::size_t max_reasons = 1000)
      : examples_(examples_per_reason), max_reasons_(max_reasons) {}

  /// Counts `r` when it failed; other outcomes are ignored.
  void add(const io::row_result& r);

  std::uint64_t failed_rows() const noexcept { return failed_; }
  std::size_t reasons() const noexcept { return groups_.size(); }
  /// Failed rows whose reason came after max_reasons others (not in sorted()).
  std::uint64_t rows_of_unkept_reasons() const noexcept { return unkept_rows_; }
  /// Every group, most rows first; ties in the order of their lowest input line.
  std::vector<failure_group> sorted() const;

private:
  struct entry {
    failure_group group;
    std::uint32_t first_line = 0;
  };
  std::size_t examples_;
  std::size_t max_reasons_;
  std::uint64_t failed_ = 0;
  std::uint64_t unkept_rows_ = 0;
  std::unordered_map<std::string, entry> groups_;
};

/// The text printed at the end of a run with failed rows (empty when none failed):
///   relicense: 12 rows failed, by reason:
///     HTTP 404: License <id> not found (8 rows)
///       in.csv:7 123456 -> Q2AA-BBBB-CCCC
///       ...
///     and 2 more reasons (3 rows)
/// `source` names the input in the example lines ("in.csv:7"); empty: "line 7". At most
/// `top` reasons are listed.
std::string format_failures(const failure_groups& g, std::string_view source, std::size_t top = 5);

}  // namespace relicense::cli
