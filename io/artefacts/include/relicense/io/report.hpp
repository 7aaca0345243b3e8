// The run report: one row per plan row (not per request), written as rows finish so that a crash
// leaves a readable prefix, and read back by `relicense rollback` and the tests.
//
// Formats (chosen by the file name): CSV with the docs/report.md header, RFC 4180 quoting; or JSON
// Lines when the name ends in `.jsonl`.
//
// Encoding of the two optional serials, which must stay distinguishable for rollback:
//   deviceSerial          CSV: empty = unassign.             JSONL: null = unassign.
//   previousDeviceSerial  CSV: empty = unknown,              JSONL: key absent = unknown,
//                              `null` = was unassigned.             null = was unassigned.
// (`null` cannot be a Meraki serial, which is always XXXX-XXXX-XXXX.) Rollback maps an applied
// row back to its previous serial only when it is known; "was unassigned" rolls back to an
// unassign, "unknown" is listed and never guessed.
#pragma once

#include "relicense/io/row_result.hpp"
#include "relicense/io/text.hpp"
#include "relicense/plan/diff.hpp"
#include "relicense/plan/plan.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace relicense::io {

/// The report's file format.
enum class report_format : std::uint8_t {
  csv,   ///< comma-separated, docs/report.md header, RFC 4180 quoting
  jsonl  ///< one JSON object per line (name ends in .jsonl)
};

/// `.jsonl` (any case) → jsonl; anything else → csv.
report_format report_format_for(const std::filesystem::path& path);

/// How a report column encodes its field, in CSV and in JSON Lines.
enum class column_codec : std::uint8_t {
  number,        ///< unsigned integer (CSV: empty reads as 0 in an optional column)
  decimal,       ///< milliseconds: at most 3 decimals, trailing zeros removed
  text,          ///< string; CSV quoted when needed, JSON string
  text_if_set,   ///< string; JSON key absent when empty
  serial,        ///< requested serial, empty = unassign: CSV empty, JSON null
  known_serial,  ///< optional serial: unknown = CSV empty / JSON key absent; "" = `null`
  outcome        ///< the outcome's spelling (io::to_string)
};

/// Whether a reader refuses a report without the column.
enum class column_need : std::uint8_t {
  optional,  ///< neither format needs it
  csv,       ///< CSV reports need it (rollback reads it); JSON Lines may leave it out
  both       ///< every report needs it
};

/// One report column: its name (CSV header and JSON key), its codec and the row_result field it
/// holds (the member of the codec's type; the others are null). The one definition of the
/// report's columns: the CSV and JSON Lines writers and readers, and through them the journal's
/// row records, all walk report_columns.
struct report_column {
  std::string_view name;
  column_codec codec;
  column_need need = column_need::optional;
  unsigned row_result::*number = nullptr;
  double row_result::*decimal = nullptr;
  std::string row_result::*text = nullptr;
  std::optional<std::string> row_result::*known = nullptr;
  outcome row_result::*result = nullptr;
};

namespace detail {
constexpr report_column column(std::string_view name, unsigned row_result::*m,
                               column_need need = column_need::optional) {
  report_column c{name, column_codec::number, need};
  c.number = m;
  return c;
}
constexpr report_column column(std::string_view name, double row_result::*m) {
  report_column c{name, column_codec::decimal};
  c.decimal = m;
  return c;
}
constexpr report_column column(std::string_view name, std::string row_result::*m,
                               column_codec codec, column_need need = column_need::optional) {
  report_column c{name, codec, need};
  c.text = m;
  return c;
}
constexpr report_column column(std::string_view name, std::optional<std::string> row_result::*m,
                               column_need need) {
  report_column c{name, column_codec::known_serial, need};
  c.known = m;
  return c;
}
constexpr report_column column(std::string_view name, outcome row_result::*m, column_need need) {
  report_column c{name, column_codec::outcome, need};
  c.result = m;
  return c;
}
}  // namespace detail

static_assert(std::is_same_v<std::uint32_t, unsigned>, "line is read and written as unsigned");

/// The report's columns, in CSV order (docs/report.md). New columns go at the end, so that
/// positional readers of older reports keep working; readers here find columns by name.
inline constexpr report_column report_columns[] = {
    detail::column("line", &row_result::line, column_need::both),
    detail::column("organizationId", &row_result::org_id, column_codec::text, column_need::csv),
    detail::column("licenseId", &row_result::license_id, column_codec::text, column_need::both),
    detail::column("deviceSerial", &row_result::serial, column_codec::serial, column_need::csv),
    detail::column("previousDeviceSerial", &row_result::previous_serial, column_need::csv),
    detail::column("outcome", &row_result::result, column_need::both),
    detail::column("httpStatus", &row_result::http_status),
    detail::column("attempts", &row_result::attempts),
    detail::column("latencyMs", &row_result::latency_ms),
    detail::column("state", &row_result::state, column_codec::text),
    detail::column("error", &row_result::error, column_codec::text),
    detail::column("batchId", &row_result::batch_id, column_codec::text_if_set),
    detail::column("requestId", &row_result::request_id, column_codec::text_if_set),
    detail::column("host", &row_result::host, column_codec::text_if_set),
};

/// The CSV header line (without line break): the names of report_columns, comma-separated.
inline constexpr std::string_view report_csv_header =
    "line,organizationId,licenseId,deviceSerial,previousDeviceSerial,outcome,httpStatus,attempts,"
    "latencyMs,state,error,batchId,requestId,host";

namespace detail {
constexpr bool header_matches_columns() {
  std::string_view rest = report_csv_header;
  for (const auto& c : report_columns) {
    if (!rest.starts_with(c.name)) return false;
    rest.remove_prefix(c.name.size());
    if (rest.empty()) return &c == std::end(report_columns) - 1;
    if (rest.front() != ',') return false;
    rest.remove_prefix(1);
  }
  return false;
}
static_assert(header_matches_columns(), "report_csv_header lists report_columns in order");
}  // namespace detail

/// `<dir of csv>/<csv stem>.report-YYYYMMDDTHHMMSSZ.csv` (UTC): next to the input, never
/// overwriting the report of an earlier run.
std::filesystem::path default_report_path(const std::filesystem::path& csv_path,
                                          std::chrono::system_clock::time_point now);

/// One record in the given format, ending in "\n" (the reader also accepts CRLF).
std::string format_report_row(const row_result& r, report_format f);

/// A field quoted per RFC 4180 when it holds a comma, quote, CR or LF (or leading/trailing space).
std::string csv_field(std::string_view s);

/// How often buffered report rows reach the file.
struct flush_policy {
  std::size_t rows = 64;                    ///< flush after this many buffered rows
  std::chrono::milliseconds interval{200};  ///< or when the oldest buffered row is this old
};

/// Writes a report as rows finish. Rows are buffered and written with write(2) whole, so the file
/// is always a sequence of complete records (a kill -9 leaves a readable prefix). Not
/// thread-safe: the runner's single result sink calls it.
class report_writer {
public:
  using clock_fn = std::function<std::chrono::steady_clock::time_point()>;

  /// Creates/truncates `path` and writes the CSV header. Throws std::runtime_error naming the file.
  explicit report_writer(std::filesystem::path path, flush_policy policy = {},
                         clock_fn now = nullptr);
  /// Same, in the given format whatever the name; `path` "-" writes to standard output.
  report_writer(std::filesystem::path path, report_format format, flush_policy policy = {},
                clock_fn now = nullptr);
  ~report_writer();  ///< close(), errors swallowed
  report_writer(const report_writer&) = delete;
  report_writer& operator=(const report_writer&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  report_format format() const noexcept { return format_; }
  std::uint64_t rows_written() const noexcept { return rows_; }

  /// Buffers one row; flushes when the policy says so. Throws std::runtime_error on I/O error.
  void write(const row_result& r);
  /// Writes every buffered row to the file.
  void flush();
  /// Flushes, fsyncs and closes. Idempotent.
  void close();

private:
  std::filesystem::path path_;
  report_format format_;
  flush_policy policy_;
  clock_fn now_;
  int fd_ = -1;
  std::string buffer_;
  std::size_t buffered_rows_ = 0;
  std::chrono::steady_clock::time_point oldest_{};
  std::uint64_t rows_ = 0;
};

/// A malformed report: `what()` is "file:line: reason".
class report_error : public std::runtime_error {
public:
  report_error(const std::filesystem::path& file, std::uint64_t line, const std::string& reason);
  std::uint64_t line() const noexcept { return line_; }

private:
  std::uint64_t line_;
};

/// A report read back.
struct report_data {
  std::vector<row_result> rows;
  bool torn_tail = false;  ///< an incomplete last record (crash mid-write) was left out
};

/// Reads a whole report (format from the name, or from the first byte when the name is neither
/// .csv nor .jsonl; CSV columns matched by header name, so extra columns are ignored; a UTF-8 BOM
/// and CRLF are accepted). A last record without its line break
/// is kept only when it is complete (all columns / valid JSON), otherwise left out as torn.
/// Throws report_error (file:line) on anything malformed, std::runtime_error when the file cannot
/// be read.
report_data read_report(const std::filesystem::path& path);

/// Why a plan row fails verification.
enum class mismatch_kind : std::uint8_t {
  wrong_serial,     ///< the license is on another serial, or unassigned, or assigned when it should
                    ///< not be
  missing_license,  ///< the organization's inventory has no such license
  not_fetched       ///< the organization's inventory could not be read: the row is unverified
};

/// "wrong_serial", "missing_license", "not_fetched".
const char* to_string(mismatch_kind k) noexcept;

/// A plan row whose license is not where the plan wants it (`relicense verify`).
struct verify_mismatch {
  std::uint32_t line = 0;  ///< input line of the plan row
  std::string org_id;
  std::string license_id;
  std::string requested;  ///< "" = unassigned
  std::string actual;     ///< "" = unassigned (wrong_serial only)
  mismatch_kind kind = mismatch_kind::wrong_serial;
};

/// Compares a plan with the current inventories of its organizations (an organization missing
/// from `inv` was not fetched); returns the mismatches in plan order. Pure.
std::vector<verify_mismatch> find_mismatches(const plan::plan& p, const plan::inventories& inv);

/// One human line for a mismatch: "file:LINE: organization O, license L: ...".
std::string describe(const verify_mismatch& m, std::string_view file);

namespace detail {
/// Appends the report record of `r` to `out` (what format_report_row returns, without a copy).
void append_report_row(std::string& out, const row_result& r, report_format f);
/// Parses one JSON Lines report record (also the body of a journal row record). Throws
/// std::invalid_argument saying what is wrong.
row_result parse_report_json(std::string_view json);
/// write(2) until all of `data` is written; throws std::runtime_error naming `what` on failure.
void write_all(int fd, std::string_view data, const std::filesystem::path& what);
}  // namespace detail

}  // namespace relicense::io
