// Report writing and reading. Rows are formatted into a buffer and reach the file with one
// write(2) per flush, so the file only ever grows by whole records.
#include "relicense/io/report.hpp"

#include "relicense/io/file_lock.hpp"

#include <simdjson.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <unordered_map>
#include <utility>

namespace relicense::io {

namespace fs = std::filesystem;

namespace {

/// Appends `v` with at most 3 decimals, trailing zeros removed (12.500 → 12.5, 3.000 → 3).
void append_double(std::string& out, double v) {
  // The journal and the report format the same row's latency one after the other: the last
  // value's text is kept (per thread, keyed by its bits: -0.0 and 0.0 print differently).
  thread_local std::uint64_t last_bits = 0;
  thread_local char last[64];
  thread_local std::size_t last_size = 0;
  const auto bits = std::bit_cast<std::uint64_t>(v);
  if (last_size == 0 || bits != last_bits) {
    auto [end, ec] = std::to_chars(last, last + sizeof last, v, std::chars_format::fixed, 3);
    if (ec != std::errc{}) {
      last_size = 0;
      out += '0';
      return;
    }
    std::string_view sv(last, static_cast<std::size_t>(end - last));
    while (sv.back() == '0') sv.remove_suffix(1);
    if (sv.back() == '.') sv.remove_suffix(1);
    last_bits = bits;
    last_size = sv.size();
  }
  out.append(last, last_size);
}

void append_unsigned(std::string& out, unsigned v) {
  char buf[16];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;  // 16 bytes hold any unsigned
  out.append(buf, static_cast<std::size_t>(end - buf));
}

bool csv_needs_quotes(std::string_view s) noexcept {
  // One pass, not find_first_of: libstdc++ runs a memchr over the set for every byte, and this
  // runs on every field of every row.
  for (const char c : s) {
    if (c == ',' || c == '"' || c == '\r' || c == '\n') return true;
  }
  return !s.empty() && (s.front() == ' ' || s.back() == ' ');
}

void append_csv_field(std::string& out, std::string_view s) {
  if (!csv_needs_quotes(s)) {
    out += s;
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void append_csv_value(std::string& out, const report_column& c, const row_result& r) {
  switch (c.codec) {
    case column_codec::number: append_unsigned(out, r.*c.number); break;
    case column_codec::decimal: append_double(out, r.*c.decimal); break;
    case column_codec::text:
    case column_codec::text_if_set:
    case column_codec::serial: append_csv_field(out, r.*c.text); break;
    case column_codec::known_serial:
      if (const auto& v = r.*c.known) {
        if (v->empty()) out += "null";
        else append_csv_field(out, *v);
      }
      break;
    case column_codec::outcome: out += to_string(r.*c.result); break;
  }
}

/// JSON Lines leave out an unknown previous serial and empty optional texts.
bool json_key_present(const report_column& c, const row_result& r) noexcept {
  switch (c.codec) {
    case column_codec::text_if_set: return !(r.*c.text).empty();
    case column_codec::known_serial: return (r.*c.known).has_value();
    default: return true;
  }
}

void append_json_value(std::string& out, const report_column& c, const row_result& r) {
  switch (c.codec) {
    case column_codec::number: append_unsigned(out, r.*c.number); break;
    case column_codec::decimal: append_double(out, r.*c.decimal); break;
    case column_codec::text:
    case column_codec::text_if_set: append_json_string(out, r.*c.text); break;
    case column_codec::serial:
      if ((r.*c.text).empty()) out += "null";
      else append_json_string(out, r.*c.text);
      break;
    case column_codec::known_serial:
      if ((r.*c.known)->empty()) out += "null";
      else append_json_string(out, *(r.*c.known));
      break;
    case column_codec::outcome:
      out += '"';
      out += to_string(r.*c.result);
      out += '"';
      break;
  }
}

template <typename T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

/// Reads one CSV field into the row. An empty number in a column that may be absent reads as 0,
/// like an absent column. Throws std::invalid_argument saying what is wrong.
void read_csv_value(const report_column& c, std::string_view v, row_result& r) {
  auto bad = [&] {
    return std::invalid_argument("bad " + std::string(c.name) + " '" + std::string(v) + "'");
  };
  switch (c.codec) {
    case column_codec::number:
      if (v.empty() && c.need == column_need::optional) break;
      if (!parse_number(v, r.*c.number)) throw bad();
      break;
    case column_codec::decimal:
      if (!v.empty() && !parse_number(v, r.*c.decimal)) throw bad();
      break;
    case column_codec::text:
    case column_codec::text_if_set:
    case column_codec::serial:
      (r.*c.text).assign(v);
      if (v.empty() && c.need == column_need::both)
        throw std::invalid_argument("empty " + std::string(c.name));
      break;
    case column_codec::known_serial:
      if (v == "null") (r.*c.known).emplace();
      else if (!v.empty()) (r.*c.known).emplace(v);
      break;
    case column_codec::outcome:
      if (!parse_outcome(v, r.*c.result))
        throw std::invalid_argument("unknown " + std::string(c.name) + " '" + std::string(v) + "'");
      break;
  }
}

/// Reads one JSON value into the row. Throws std::invalid_argument saying what is wrong.
void read_json_column(const report_column& c, simdjson::dom::element v, row_result& r) {
  auto str = [&](std::string& out) {
    std::string_view sv;
    if (v.get_string().get(sv))
      throw std::invalid_argument(std::string(c.name) + " is not a string");
    out.assign(sv);
  };
  switch (c.codec) {
    case column_codec::number: {
      std::uint64_t u;
      if (v.get_uint64().get(u) || u > std::numeric_limits<unsigned>::max())
        throw std::invalid_argument(std::string(c.name) + " is not a small non-negative integer");
      r.*c.number = static_cast<unsigned>(u);
      break;
    }
    case column_codec::decimal:
      if (v.get_double().get(r.*c.decimal))
        throw std::invalid_argument(std::string(c.name) + " is not a number");
      break;
    case column_codec::text:
    case column_codec::text_if_set: str(r.*c.text); break;
    case column_codec::serial:
      if (!v.is_null()) str(r.*c.text);
      break;
    case column_codec::known_serial:
      (r.*c.known).emplace();
      if (!v.is_null()) str(*(r.*c.known));
      break;
    case column_codec::outcome: {
      std::string o;
      str(o);
      if (!parse_outcome(o, r.*c.result))
        throw std::invalid_argument("unknown outcome '" + o + "'");
      break;
    }
  }
}

}  // namespace

namespace detail {

row_result parse_report_json(std::string_view line) {
  // The DOM parser, not On Demand: keys may come in any order and each line is parsed once. One
  // parser per thread keeps its buffers across lines.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(line.data(), line.size()).get(doc))
    throw std::invalid_argument(std::string("not JSON: ") + simdjson::error_message(err));
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) throw std::invalid_argument("not a JSON object");
  row_result r;
  std::uint32_t seen = 0;
  static_assert(std::size(report_columns) <= 32);
  for (auto fieldv : obj) {
    const std::string_view k = fieldv.key;
    // Unknown keys are skipped: newer reports, and the journal's own record fields.
    for (std::size_t i = 0; i < std::size(report_columns); ++i) {
      if (report_columns[i].name != k) continue;
      read_json_column(report_columns[i], fieldv.value, r);
      seen |= 1u << i;
      break;
    }
  }
  for (std::size_t i = 0; i < std::size(report_columns); ++i)
    if (report_columns[i].need == column_need::both && !(seen & (1u << i)))
      throw std::invalid_argument("missing " + std::string(report_columns[i].name));
  return r;
}

void write_all(int fd, std::string_view data, const fs::path& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("cannot write " + what.string() + ": " + std::strerror(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace detail

namespace {

bool ends_with_nocase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  return std::equal(suffix.begin(), suffix.end(),
                    s.end() - static_cast<std::ptrdiff_t>(suffix.size()),
                    [](char a, char b) { return a == (b | 0x20) || a == b; });
}

void append_csv_row(std::string& out, const row_result& r) {
  for (const auto& c : report_columns) {
    if (&c != report_columns) out += ',';
    append_csv_value(out, c, r);
  }
  out += '\n';
}

/// `,"name":` for each column, built once: one append per key on the hot path.
const std::array<std::string, std::size(report_columns)> json_keys = [] {
  std::array<std::string, std::size(report_columns)> keys;
  for (std::size_t i = 0; i < keys.size(); ++i)
    keys[i] = ",\"" + std::string(report_columns[i].name) + "\":";
  return keys;
}();

void append_jsonl_row(std::string& out, const row_result& r) {
  out += '{';
  std::size_t skip = 1;  // the first key has no comma before it
  for (std::size_t i = 0; i < std::size(report_columns); ++i) {
    const report_column& c = report_columns[i];
    if (!json_key_present(c, r)) continue;
    out.append(json_keys[i], skip);
    skip = 0;
    append_json_value(out, c, r);
  }
  out += "}\n";
}

std::string read_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      throw std::runtime_error("cannot read " + path.string() + ": " + std::strerror(e));
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return data;
}

/// One CSV record, with the line where it starts and whether its line break was present.
struct csv_record {
  std::vector<std::string> fields;
  std::uint64_t line = 0;
  bool terminated = false;
};

/// RFC 4180 record splitter over a whole file (quoted fields may span lines).
class csv_scanner {
public:
  csv_scanner(std::string_view data, const fs::path& file) : data_(data), file_(file) {}

  bool next(csv_record& rec) {
    if (pos_ >= data_.size()) return false;
    rec.fields.clear();
    rec.line = line_;
    rec.terminated = false;
    std::string field;
    bool quoted = false, was_quoted = false;
    while (pos_ < data_.size()) {
      char c = data_[pos_++];
      if (quoted) {
        if (c == '"') {
          if (pos_ < data_.size() && data_[pos_] == '"') {
            field.push_back('"');
            ++pos_;
          } else {
            quoted = false;
          }
        } else {
          if (c == '\n') ++line_;
          field.push_back(c);
        }
        continue;
      }
      if (c == '"') {
        if (!field.empty() || was_quoted)
          throw report_error(file_, line_, "quote inside an unquoted field");
        quoted = was_quoted = true;
      } else if (c == ',') {
        rec.fields.push_back(std::move(field));
        field.clear();
        was_quoted = false;
      } else if (c == '\r' && pos_ < data_.size() && data_[pos_] == '\n') {
        // CRLF: the LF ends the record on the next iteration.
      } else if (c == '\n') {
        ++line_;
        rec.terminated = true;
        break;
      } else {
        if (was_quoted) throw report_error(file_, line_, "text after a closing quote");
        field.push_back(c);
      }
    }
    if (quoted && !rec.terminated) {
      // An unterminated quoted field can only be a torn last record.
      rec.fields.push_back(std::move(field));
      return true;
    }
    rec.fields.push_back(std::move(field));
    return true;
  }

private:
  std::string_view data_;
  const fs::path& file_;
  std::size_t pos_ = 0;
  std::uint64_t line_ = 1;
};

report_data read_csv_report(const fs::path& path, std::string_view data) {
  report_data result;
  if (data.starts_with("\xEF\xBB\xBF")) data.remove_prefix(3);
  csv_scanner scan(data, path);
  csv_record rec;
  if (!scan.next(rec) || !rec.terminated) throw report_error(path, 1, "no header line");
  constexpr std::size_t n_columns = std::size(report_columns);
  int index[n_columns];
  std::fill(std::begin(index), std::end(index), -1);
  for (std::size_t i = 0; i < rec.fields.size(); ++i)
    for (std::size_t c = 0; c < n_columns; ++c)
      if (rec.fields[i] == report_columns[c].name) index[c] = static_cast<int>(i);
  for (std::size_t c = 0; c < n_columns; ++c)
    if (index[c] < 0 && report_columns[c].need != column_need::optional)
      throw report_error(path, 1,
                         "header has no " + std::string(report_columns[c].name) +
                             " column (is this a relicense report?)");
  const std::size_t columns = rec.fields.size();

  while (scan.next(rec)) {
    if (rec.fields.size() == 1 && rec.fields[0].empty()) {
      if (!rec.terminated) break;  // the file ends with a line break: nothing more
      continue;                    // blank line
    }
    if (rec.fields.size() != columns) {
      if (!rec.terminated) {
        result.torn_tail = true;
        break;
      }
      throw report_error(path, rec.line,
                         "expected " + std::to_string(columns) + " fields, found " +
                             std::to_string(rec.fields.size()));
    }
    try {
      row_result r;
      for (std::size_t c = 0; c < n_columns; ++c)
        if (index[c] >= 0)
          read_csv_value(report_columns[c], rec.fields[static_cast<std::size_t>(index[c])], r);
      result.rows.push_back(std::move(r));
    } catch (const std::invalid_argument& e) {
      if (!rec.terminated) {
        result.torn_tail = true;
        break;
      }
      throw report_error(path, rec.line, e.what());
    }
  }
  return result;
}

report_data read_jsonl_report(const fs::path& path, std::string_view data) {
  report_data result;
  if (data.starts_with("\xEF\xBB\xBF")) data.remove_prefix(3);
  std::uint64_t line_no = 0;
  while (!data.empty()) {
    ++line_no;
    auto nl = data.find('\n');
    const bool terminated = nl != std::string_view::npos;
    std::string_view line = data.substr(0, terminated ? nl : data.size());
    data.remove_prefix(terminated ? nl + 1 : data.size());
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    try {
      row_result r = detail::parse_report_json(line);
      result.rows.push_back(std::move(r));
    } catch (const std::invalid_argument& e) {
      if (!terminated) {
        result.torn_tail = true;
        break;
      }
      throw report_error(path, line_no, e.what());
    }
  }
  return result;
}

}  // namespace

report_format report_format_for(const fs::path& path) {
  return ends_with_nocase(path.filename().string(), ".jsonl") ? report_format::jsonl
                                                              : report_format::csv;
}

fs::path default_report_path(const fs::path& csv_path, std::chrono::system_clock::time_point now) {
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  fs::path stem = csv_path.stem();
  if (stem.empty()) stem = "relicense";
  return csv_path.parent_path() / (stem.string() + ".report-" + stamp + ".csv");
}

std::string csv_field(std::string_view s) {
  std::string out;
  append_csv_field(out, s);
  return out;
}

void detail::append_report_row(std::string& out, const row_result& r, report_format f) {
  if (f == report_format::csv) append_csv_row(out, r);
  else append_jsonl_row(out, r);
}

std::string format_report_row(const row_result& r, report_format f) {
  std::string out;
  if (f == report_format::csv) append_csv_row(out, r);
  else append_jsonl_row(out, r);
  return out;
}

report_writer::report_writer(fs::path path, flush_policy policy, clock_fn now)
    : report_writer(path, report_format_for(path), policy, std::move(now)) {}

report_writer::report_writer(fs::path path, report_format format, flush_policy policy, clock_fn now)
    : path_(std::move(path)), format_(format), policy_(policy), now_(std::move(now)) {
  if (!now_) now_ = [] { return std::chrono::steady_clock::now(); };
  // A copy of stdout rather than /dev/stdout: opening that would truncate a file the shell opened
  // for appending, and closing the copy leaves the process's own stdout alone. A file is
  // truncated only once locked: the report of a run still going must not be cut under it.
  fd_ = path_ == "-" ? ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0)
                     : ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw std::runtime_error("cannot create report " + path_.string() + ": " +
                             std::strerror(errno));
  if (path_ != "-") try {
      lock_output_file(fd_, path_, "report");
      struct stat st {};
      if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) && ::ftruncate(fd_, 0) != 0)
        throw std::runtime_error("cannot truncate report " + path_.string() + ": " +
                                 std::strerror(errno));
    } catch (...) {
      ::close(fd_);
      fd_ = -1;
      throw;
    }
  if (format_ == report_format::csv) {
    std::string header(report_csv_header);
    header.push_back('\n');
    try {
      detail::write_all(fd_, header, path_);
    } catch (...) {
      ::close(std::exchange(fd_, -1));
      throw;
    }
  }
}

report_writer::~report_writer() {
  try {
    close();
  } catch (...) {
    // A destructor cannot report; callers that care call close() themselves.
  }
}

void report_writer::write(const row_result& r) {
  if (fd_ < 0) throw std::runtime_error("report " + path_.string() + " is closed");
  auto now = now_();
  if (buffered_rows_ == 0) oldest_ = now;
  if (format_ == report_format::csv) append_csv_row(buffer_, r);
  else append_jsonl_row(buffer_, r);
  ++buffered_rows_;
  ++rows_;
  if (buffered_rows_ >= policy_.rows || now - oldest_ >= policy_.interval) flush();
}

void report_writer::flush() {
  if (fd_ < 0 || buffer_.empty()) return;
  try {
    detail::write_all(fd_, buffer_, path_);
  } catch (...) {
    // Part of the buffer may be in the file: writing it again would repeat rows, so the writer
    // stops here (the file keeps a readable prefix; the run is ending).
    buffer_.clear();
    buffered_rows_ = 0;
    ::close(std::exchange(fd_, -1));
    throw;
  }
  buffer_.clear();
  buffered_rows_ = 0;
}

void report_writer::close() {
  if (fd_ < 0) return;
  int fd = fd_;
  try {
    flush();
  } catch (...) {
    fd_ = -1;
    ::close(fd);
    throw;
  }
  fd_ = -1;
  // A device or pipe cannot be synced (EINVAL); a disk that cannot keep the report must say so.
  if (::fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP) {
    const int e = errno;
    ::close(fd);
    throw std::runtime_error("cannot sync " + path_.string() + ": " + std::strerror(e));
  }
  if (::close(fd) != 0)
    throw std::runtime_error("cannot write " + path_.string() + ": " + std::strerror(errno));
}

report_error::report_error(const fs::path& file, std::uint64_t line, const std::string& reason)
    : std::runtime_error(file.string() + ":" + std::to_string(line) + ": " + reason), line_(line) {}

report_data read_report(const fs::path& path) {
  std::string data = read_file(path);
  // A report written under another name with --report-format says what it is by its first byte:
  // a CSV report starts with its header, a JSON Lines one with '{'.
  const std::string name = path.filename().string();
  bool jsonl = report_format_for(path) == report_format::jsonl;
  if (!jsonl && !ends_with_nocase(name, ".csv")) {
    std::string_view body(data);
    if (body.starts_with("\xEF\xBB\xBF")) body.remove_prefix(3);
    jsonl = body.starts_with('{');
  }
  return jsonl ? read_jsonl_report(path, data) : read_csv_report(path, data);
}

const char* to_string(mismatch_kind k) noexcept {
  switch (k) {
    case mismatch_kind::wrong_serial: return "wrong_serial";
    case mismatch_kind::missing_license: return "missing_license";
    case mismatch_kind::not_fetched: return "not_fetched";
  }
  return "wrong_serial";
}

std::vector<verify_mismatch> find_mismatches(const plan::plan& p, const plan::inventories& inv) {
  std::vector<verify_mismatch> out;
  for (const auto& row : p.rows) {
    static const std::string no_org;
    const std::string& org = row.org < p.orgs.size() ? p.orgs[row.org] : no_org;
    verify_mismatch m;
    auto it = inv.find(org);
    if (it == inv.end()) {
      m.kind = mismatch_kind::not_fetched;
    } else if (const std::string* serial = it->second.serial_of(row.license_id)) {
      if (*serial == row.serial) continue;
      m.kind = mismatch_kind::wrong_serial;
      m.actual = *serial;
    } else {
      m.kind = mismatch_kind::missing_license;
    }
    m.line = row.line;
    m.org_id = org;
    m.license_id = row.license_id;
    m.requested = row.serial;
    out.push_back(std::move(m));
  }
  return out;
}

std::string describe(const verify_mismatch& m, std::string_view file) {
  auto serial = [](const std::string& s) {
    return s.empty() ? std::string("no device (unassigned)") : s;
  };
  std::string s = std::string(file) + ":" + std::to_string(m.line) + ": organization " + m.org_id +
                  ", license " + m.license_id + ": ";
  switch (m.kind) {
    case mismatch_kind::wrong_serial:
      s += "on " + serial(m.actual) + ", requested " + serial(m.requested);
      break;
    case mismatch_kind::missing_license: s += "not in the organization's licenses"; break;
    case mismatch_kind::not_fetched:
      s += "not verified (the organization's licenses could not be read)";
      break;
  }
  return s;
}

}  // namespace relicense::io
