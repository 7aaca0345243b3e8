// The plan: what relicense will ask the API to do, one row per unique license.
// Pure data; produced by csv.hpp's loader, consumed by the engine and the report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace relicense::plan {

/// One license assignment to make.
struct row {
  std::uint32_t line = 0;  ///< 1-based line of the input file where the record starts
  std::uint32_t org = 0;   ///< index into plan::orgs
  std::string license_id;  ///< goes into the URL path; validated free of / ? # space and controls
  std::string serial;      ///< upper-case Meraki serial (XXXX-XXXX-XXXX); empty = unassign (null)
};

/// Counts for the summary of `relicense plan`.
struct plan_counts {
  std::uint64_t input_rows = 0;            ///< data records read (header excluded)
  std::uint64_t duplicates_dropped = 0;    ///< same license, same serial, seen again
  std::uint64_t assigns = 0;               ///< rows with a serial
  std::uint64_t unassigns = 0;             ///< rows with an empty serial
  std::uint64_t serials_with_several = 0;  ///< serials that receive more than one license
  std::uint64_t filtered_out = 0;          ///< rows dropped by --org filter or --shard
};

/// A validated, de-duplicated plan.
struct plan {
  std::vector<std::string> orgs;  ///< distinct organization ids, in order of first appearance
  std::vector<row> rows;          ///< unique licenses, in input order
  plan_counts counts;
  std::string fingerprint;  ///< hex digest of (org, license, serial) of every row, in order
};

/// One line of a serial map: every license on the old device moves to the new one.
struct serial_mapping {
  std::uint32_t line = 0;  ///< 1-based line of the map file where the record starts
  std::uint32_t org = 0;   ///< index into serial_map::orgs
  std::string old_serial;  ///< upper-case serial of the device the licenses leave
  std::string new_serial;  ///< upper-case serial of the device they move to
};

/// A validated serial map (oldSerial,newSerial[,organizationId]): no serial in two mappings, no
/// device on both sides. Which licenses move is only known against the live inventory
/// (serial_map.hpp's resolve_serial_map).
struct serial_map {
  std::string file;                  ///< the file name as given, for diagnostics
  std::vector<std::string> orgs;     ///< distinct organization ids, in order of first appearance
  std::vector<serial_mapping> rows;  ///< in file order
  std::uint32_t old_column = 0;      ///< 1-based field number of the old serial
  std::uint32_t new_column = 0;      ///< 1-based field number of the new serial
  std::string old_column_name;       ///< as the header spells it
  std::string new_column_name;
};

}  // namespace relicense::plan
