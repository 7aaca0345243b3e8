// What happened to one plan row: the unit of the report, the journal and the summary.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace relicense::io {

/// Final state of a row, as the report's `outcome` column spells it.
enum class outcome : std::uint8_t {
  applied,       ///< the API confirmed the requested serial
  unchanged,     ///< the license was already on the requested serial (nothing sent)
  failed,        ///< the API refused, or retries ran out; `error` says why
  skipped,       ///< deliberately not sent (dry run, resume found it done, co-term org, shard)
  not_attempted  ///< the run stopped (interrupt, abort) before this row was sent
};

/// "applied", "unchanged", ...
const char* to_string(outcome o) noexcept;

/// One report row (docs/report.md: line,organizationId,licenseId,deviceSerial,previousDeviceSerial,
/// outcome,httpStatus,attempts,latencyMs,state,error).
struct row_result {
  std::uint32_t line = 0;
  std::string org_id;
  std::string license_id;
  std::string serial;                          ///< requested; empty = unassign
  std::optional<std::string> previous_serial;  ///< nullopt: unknown; "": was unassigned
  outcome result = outcome::not_attempted;
  unsigned http_status = 0;                    ///< last HTTP status seen (0: none)
  unsigned attempts = 0;                       ///< requests sent for this row
  double latency_ms = 0;                       ///< latency of the last request
  std::string state;                           ///< license state returned by the API
  std::string error;                           ///< why it failed; never contains the API key
  std::string batch_id;                        ///< action batch that carried it (batch mode)
};

} // namespace relicense::io
