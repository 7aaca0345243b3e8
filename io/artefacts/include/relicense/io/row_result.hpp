// What happened to one plan row: the unit of the report, the journal and the summary.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relicense::io {

/// Final state of a row, as the report's `outcome` column spells it.
enum class outcome : std::uint8_t {
  applied,       ///< the API confirmed the requested serial
  unchanged,     ///< the license was already on the requested serial (nothing sent)
  failed,        ///< the API refused, retries ran out, or the row cannot be sent (co-term org,
                 ///< license not in the inventory); `error` says why
  skipped,       ///< a dry run: not sent. (A resumed run reports the journal's outcome instead,
                 ///< and rows filtered out by --org/--shard are not in the plan at all.)
  not_attempted  ///< the run stopped (interrupt, abort) before this row was sent
};

/// The outcome's one spelling: "applied", "unchanged", "failed", "skipped", "not_attempted"
/// (report, journal, summary and metrics all use it).
const char* to_string(outcome o) noexcept;

/// Inverse of to_string; false when `s` is not an outcome.
bool parse_outcome(std::string_view s, outcome& o) noexcept;

/// One report row. Its columns, their order and their encodings are the table in
/// relicense/io/report.hpp (docs/report.md).
struct row_result {
  std::uint32_t line = 0;
  std::string org_id;
  std::string license_id;
  std::string serial;                          ///< requested; empty = unassign
  std::optional<std::string> previous_serial;  ///< nullopt: unknown; "": was unassigned
  outcome result = outcome::not_attempted;
  unsigned http_status = 0;  ///< last HTTP status seen (0: none)
  unsigned attempts = 0;     ///< requests sent for this row
  double latency_ms = 0;     ///< latency of the last request
  std::string state;         ///< license state returned by the API
  std::string error;         ///< why it failed; never contains the API key
  std::string batch_id;      ///< action batch that carried it (batch mode)
  std::string request_id;    ///< failed rows: X-Request-Id of the last answer
  std::string host;          ///< failed rows: host that gave the last answer

  friend bool operator==(const row_result&, const row_result&) = default;
};

}  // namespace relicense::io
