// The CSV loader: a user's file -> a validated, de-duplicated plan, or every reason it is not one.
//
// Contract (docs/csv.md): header row required; columns licenseId (license_id, id),
// deviceSerial (serial, device_serial), optional organizationId (org, organization_id), names
// case-insensitive, extra columns ignored. RFC 4180 quoting ("" escapes, separators and line
// breaks inside quotes), UTF-8 BOM, CRLF or LF, blank lines skipped, whitespace around unquoted
// fields trimmed. Empty serial = unassign. Every problem is a diagnostic naming file:line and the
// column; all are collected (up to a cap) so the user fixes the file in one pass.
//
// Streaming: plan_loader is fed chunks of any size (down to one byte) and keeps only the current
// record and the plan itself, so a 100 MB file never sits in memory.
//
// Any input ends quickly, in bounded memory (load_options has the limits): the text must be UTF-8
// without NUL bytes; a record (a line, or several when a quoted field holds line breaks) is at
// most 64 KiB; a record has at most 256 fields; a file at most 1 GiB and 10 million data rows.
// Breaking one of these stops the load at once with an error naming the line; so do 100 errors
// of any kind. /dev/zero, /dev/urandom or a header of 20 MB of commas are refused within the
// first chunk. Nothing is assumed about the input's size: pipes and standard input work.
#pragma once

#include "relicense/plan/plan.hpp"
#include "relicense/plan/shard.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relicense::plan {

/// One problem in the input, pinned to where it is.
struct diagnostic {
  std::string file;          ///< file name as given by the user
  std::uint32_t line = 0;    ///< 1-based line where the record starts; 0: the file as a whole
  std::uint32_t column = 0;  ///< 1-based field number; 0: the whole record
  std::string column_name;   ///< header name of that field, when known
  std::string message;       ///< what is wrong (values quoted and escaped, never raw bytes)
};

/// "file:line: column X (name): message" (parts that are unknown are left out).
std::string to_string(const diagnostic& d);

/// What the caller asks of the loader (the command line's --org and --shard).
struct load_options {
  std::string org;                      ///< --org: default org for rows without one, and filter
  std::optional<shard_spec> shard;      ///< --shard: keep only the orgs of this shard
  std::size_t max_errors = 20;          ///< errors kept in full; the rest are only counted
  std::size_t max_warnings = 20;        ///< same for warnings
  std::size_t max_field_bytes = 4096;   ///< longer fields are an error, and are not kept in memory
  std::size_t stop_after_errors = 100;  ///< reading stops at this many errors
  std::size_t max_record_bytes =
      64 * 1024;                        ///< longer records (line breaks excluded) stop the load
  std::size_t max_columns = 256;        ///< a wider header stops the load; a wider row is an error
  std::uint64_t max_rows = 10'000'000;  ///< more data rows stop the load
  std::uint64_t max_input_bytes = std::uint64_t{1} << 30;  ///< a larger input stops the load
  /// A header with oldSerial,newSerial columns (aliases old_serial/from, new_serial/to) and no
  /// licenseId column makes the file a serial map: load_result::map instead of rows. Off, such a
  /// header is an error that says the command takes license ids.
  bool accept_serial_map = false;
};

/// The loader's answer. The plan is only meaningful when ok().
struct load_result {
  relicense::plan::plan plan;          ///< the validated plan (partial when !ok())
  std::vector<diagnostic> errors;      ///< first max_errors errors, in file order
  std::size_t errors_not_shown = 0;    ///< errors beyond the cap ("and N more")
  std::vector<diagnostic> warnings;    ///< duplicates dropped, empty plan, ...
  std::size_t warnings_not_shown = 0;  ///< warnings beyond the cap
  /// Set when the file is a serial map (load_options::accept_serial_map): `plan` then has no rows
  /// (its counts.input_rows, duplicates_dropped and filtered_out count the map's records).
  std::optional<serial_map> map;
  /// Reading stopped after stop_after_errors errors: the last entry of `errors` (kept beyond the
  /// cap) says where, and is not itself counted by error_count().
  bool stopped_early = false;

  bool ok() const noexcept { return errors.empty() && errors_not_shown == 0; }
  std::size_t error_count() const noexcept {
    return errors.size() + errors_not_shown - (stopped_early ? 1 : 0);
  }
};

namespace detail {
class loader_state;
}

/// Push parser: feed() the file's bytes in chunks of any size, then finish() once.
class plan_loader {
public:
  plan_loader(std::string file_name, load_options opts);
  ~plan_loader();
  plan_loader(plan_loader&&) noexcept;
  plan_loader& operator=(plan_loader&&) noexcept;

  /// Consumes the next bytes of the file.
  void feed(std::string_view chunk);
  /// True once more input would change nothing (the load stopped on an error): stop reading.
  bool done() const noexcept;
  /// Optional: the file's total size, so the plan is sized once instead of growing.
  void size_hint(std::uint64_t total_bytes);
  /// Ends the input (closing an unterminated last record) and returns the result.
  load_result finish();

private:
  std::unique_ptr<detail::loader_state> state_;
};

/// Reads `file` in fixed-size chunks, sequentially (a pipe or `<(cmd)` works; nothing is sought
/// or sized), and loads it; "-" is standard input, named "<stdin>" in diagnostics. Reading stops
/// as soon as the loader is done(). A file that cannot be read is one error (line 0) naming the
/// file and the system's reason.
load_result load_plan(const std::filesystem::path& file, const load_options& opts);

/// Loads CSV text already in memory (tests, fuzzing); `file_name` is used in diagnostics.
load_result parse_plan(std::string_view text, std::string_view file_name, const load_options& opts);

/// plan::fingerprint of `p`'s rows, computed as the loader does (for plans built otherwise, such
/// as a resolved serial map).
std::string fingerprint_of(const plan& p);

/// Validation rules, exposed for the report/rollback readers and tests.
namespace rules {
/// Why `id` cannot go into a URL path segment, or empty if it can (non-empty, <= 128 bytes,
/// printable ASCII without / ? # % \ or space).
std::string id_problem(std::string_view id);
/// True if `serial` (already upper case) has the Meraki shape XXXX-XXXX-XXXX ([A-Z0-9]).
bool is_serial(std::string_view serial) noexcept;
/// ASCII upper case in place.
void to_upper(std::string& s) noexcept;
}  // namespace rules

}  // namespace relicense::plan
