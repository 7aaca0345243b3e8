// Journal: CRC-framed JSON lines, written with one write(2) per record (or per flush, in
// deferred mode) and fdatasync'd in batches. See journal.hpp for the format and the durability
// argument.
#include "relicense/io/journal.hpp"

#include "relicense/io/report.hpp"

#include <simdjson.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <utility>

namespace relicense::io {

namespace fs = std::filesystem;

namespace {

constexpr int journal_version = 1;

/// CRC-32 (IEEE 802.3, reflected 0xEDB88320), slicing by 8: the engine thread frames every
/// row, and Boost.CRC's byte-at-a-time table cost ~1 µs of it per record. The tables are built
/// at compile time; journal_test checks the result against Boost.CRC on random inputs.
struct crc_tables {
  std::uint32_t t[8][256];
  constexpr crc_tables() : t{} {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
  }
};
constexpr crc_tables crc{};

std::uint32_t crc32_of(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t n = s.size();
  std::uint32_t c = 0xFFFFFFFFu;
  while (n >= 8) {
    const std::uint32_t lo = c ^ (std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 |
                                  std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24);
    const std::uint32_t hi = std::uint32_t(p[4]) | std::uint32_t(p[5]) << 8 |
                             std::uint32_t(p[6]) << 16 | std::uint32_t(p[7]) << 24;
    c = crc.t[7][lo & 0xff] ^ crc.t[6][(lo >> 8) & 0xff] ^ crc.t[5][(lo >> 16) & 0xff] ^
        crc.t[4][lo >> 24] ^ crc.t[3][hi & 0xff] ^ crc.t[2][(hi >> 8) & 0xff] ^
        crc.t[1][(hi >> 16) & 0xff] ^ crc.t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = crc.t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

/// Writes `crc` as 8 lowercase hex digits at `out`.
void put_hex(char* out, std::uint32_t crc) {
  static constexpr char digits[] = "0123456789abcdef";
  for (int i = 7; i >= 0; --i) {
    out[i] = digits[crc & 0xf];
    crc >>= 4;
  }
}

std::string errno_text() { return std::strerror(errno); }

/// Makes a new file's directory entry durable: without it a power loss can lose the whole file.
void sync_parent_dir(const fs::path& path) {
  fs::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::string header_json(std::string_view fingerprint) {
  std::string json =
      "{\"t\":\"header\",\"v\":" + std::to_string(journal_version) + ",\"fingerprint\":";
  append_json_string(json, fingerprint);
  json += '}';
  return json;
}

/// Could `data` be the beginning of a journal whose header write was cut short? (No line break
/// yet, and what is there looks like the start of a framed record.) Such a file holds nothing
/// but a torn header and may be restarted; anything else is not ours to overwrite.
bool is_torn_header(std::string_view data) {
  if (data.find('\n') != std::string_view::npos) return false;
  std::string_view frame = "00000000 {\"t\":\"header\"";
  for (std::size_t i = 0; i < data.size() && i < frame.size(); ++i) {
    const char c = data[i];
    if (i < 8 ? !std::isxdigit(static_cast<unsigned char>(c)) : c != frame[i]) return false;
  }
  return true;
}

/// Reads the whole of the open file `fd` from its start (pread: the descriptor may be O_APPEND).
std::string read_fd(int fd, const fs::path& path) {
  std::string data;
  // Only a regular file can hold an earlier run's records; a device (/dev/full, /dev/zero) would
  // read forever.
  struct stat st {};
  if (::fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) return data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(data.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw journal_error("cannot read journal " + path.string() + ": " + errno_text());
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  return data;
}

std::string read_all(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw journal_error("cannot open journal " + path.string() + ": " + errno_text());
  try {
    std::string data = read_fd(fd, path);
    ::close(fd);
    return data;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // the writer never writes upper case: anything else is damage
}

/// The JSON of a well-formed frame that starts at `pos` and whose line break is at `nl`, when its
/// CRC matches.
std::optional<std::string_view> framed_json(std::string_view data, std::size_t pos,
                                            std::size_t nl) {
  if (nl - pos < 10 || data[pos + 8] != ' ') return std::nullopt;
  std::uint32_t crc = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    const int d = hex_digit(data[pos + i]);
    if (d < 0) return std::nullopt;
    crc = crc << 4 | static_cast<std::uint32_t>(d);
  }
  std::string_view json = data.substr(pos + 9, nl - pos - 9);
  if (crc32_of(json) != crc) return std::nullopt;
  return json;
}

/// Where a valid frame ending at `nl` starts in (`from`, `nl`): a damaged line break joins a
/// damaged record to the good one after it, which starts inside the bad line. npos if none.
std::size_t frame_inside(std::string_view data, std::size_t from, std::size_t nl) {
  // Each candidate costs a CRC over the rest of the line; a bound keeps a line made of nothing
  // but frame openings from costing quadratic time. Real records rarely hold even one.
  int candidates = 256;
  for (std::size_t q = from; q + 10 <= nl; ++q) {
    if (data[q + 9] != '{' || data[q + 8] != ' ' || hex_digit(data[q]) < 0) continue;
    if (framed_json(data, q, nl)) return q;
    if (--candidates == 0) break;
  }
  return std::string_view::npos;
}

/// How many records a damaged stretch held: its lines that still carry a record's opening (a
/// line break flipped inside a record splits it in two, only one part keeps the opening).
std::uint64_t records_in(std::string_view stretch) {
  std::uint64_t n = 0;
  std::size_t pos = 0;
  while (pos < stretch.size()) {
    std::size_t nl = stretch.find('\n', pos);
    if (nl == std::string_view::npos) nl = stretch.size();
    if (stretch.substr(pos, nl - pos).find("{\"t\":\"") != std::string_view::npos) ++n;
    pos = nl + 1;
  }
  return n == 0 ? 1 : n;
}

/// Reads one record's JSON into `out`; false when it is not a well-formed record (treated as
/// damage). The first record must be the header.
bool read_record(simdjson::dom::parser& parser, std::string_view json, journal_contents& out,
                 bool& header_seen,
                 std::set<std::pair<std::uint64_t, std::uint64_t>>& acknowledged) {
  simdjson::dom::element doc;
  std::string_view type;
  if (parser.parse(json.data(), json.size()).get(doc) || doc["t"].get_string().get(type))
    return false;
  if (!header_seen) {
    std::string_view fp;
    if (type != "header" || doc["fingerprint"].get_string().get(fp)) return false;
    out.fingerprint.assign(fp);
    header_seen = true;
  } else if (type == "row") {
    row_result r;
    try {
      r = detail::parse_report_json(json);
    } catch (const std::invalid_argument&) {
      return false;
    }
    bool permanent = false;
    if (doc["permanent"].get_bool().get(permanent)) permanent = false;
    const bool done = r.result == outcome::applied || r.result == outcome::unchanged ||
                      (r.result == outcome::failed && permanent);
    // Only "done" records count; a later skipped/not-attempted record for the same line (a
    // resumed run passing over it) must not undo what an earlier run achieved.
    if (done) out.done[r.line] = std::move(r);
  } else if (type == "batch") {
    journal_batch b;
    std::string_view id, org;
    simdjson::dom::array lines;
    if (doc["id"].get_string().get(id) || doc["organizationId"].get_string().get(org) ||
        doc["lines"].get_array().get(lines))
      return false;
    b.id.assign(id);
    b.org_id.assign(org);
    for (auto v : lines) {
      std::uint64_t l;
      if (v.get_uint64().get(l) || l > 0xffffffffu) return false;
      b.lines.push_back(static_cast<std::uint32_t>(l));
    }
    out.batches.push_back(std::move(b));
  } else if (type == "damaged") {
    std::uint64_t offset = 0, bytes = 0;
    if (doc["offset"].get_uint64().get(offset) || doc["bytes"].get_uint64().get(bytes))
      return false;
    acknowledged.emplace(offset, bytes);
  }
  // Unknown record types from a newer version are skipped, not fatal.
  return true;
}

/// Parses a journal: every valid record, resynchronising after damaged ones, up to the torn tail.
/// `header_seen` false when the first record is not a valid header (nothing else is read then).
journal_contents parse_journal(std::string_view data, bool& header_seen) {
  journal_contents out;
  header_seen = false;
  simdjson::dom::parser parser;
  std::set<std::pair<std::uint64_t, std::uint64_t>> acknowledged;
  constexpr std::size_t none = std::string_view::npos;
  std::size_t pos = 0;
  std::size_t damage_from = none;
  auto end_damage = [&](std::size_t end) {
    if (damage_from == none) return;
    out.damaged.push_back(
        {damage_from, end - damage_from, records_in(data.substr(damage_from, end - damage_from))});
    damage_from = none;
  };
  for (;;) {
    const std::size_t nl = data.find('\n', pos);
    if (nl == none) break;  // torn tail: no line break
    const auto json = framed_json(data, pos, nl);
    if (json && read_record(parser, *json, out, header_seen, acknowledged)) {
      end_damage(pos);
      ++out.records;
      pos = nl + 1;
      continue;
    }
    if (!header_seen) return out;
    if (damage_from == none) damage_from = pos;
    const std::size_t next = frame_inside(data, pos + 1, nl);
    pos = next != none ? next : nl + 1;
  }
  end_damage(pos);
  out.valid_bytes = pos;
  out.ignored_bytes = data.size() - pos;
  for (auto& d : out.damaged) {
    d.acknowledged = acknowledged.contains({d.offset, d.bytes});
    if (!d.acknowledged) out.damaged_records += d.records;
  }
  return out;
}

}  // namespace

std::uint32_t crc32(std::string_view data) { return crc32_of(data); }

std::string frame_journal_record(std::string_view json) {
  char hex[8];
  put_hex(hex, crc32_of(json));
  std::string out;
  out.reserve(json.size() + 10);
  out.append(hex, 8);
  out.push_back(' ');
  out.append(json);
  out.push_back('\n');
  return out;
}

fs::path default_journal_path(const fs::path& report_path) {
  fs::path p = report_path;
  p.replace_extension(".journal");
  return p;
}

bool is_permanent_failure(const row_result& r) noexcept {
  return r.result == outcome::failed && r.http_status >= 400 && r.http_status < 500 &&
         r.http_status != 408 && r.http_status != 429;
}

journal_contents read_journal(const fs::path& path) {
  std::string data = read_all(path);
  bool header_seen = false;
  journal_contents c = parse_journal(data, header_seen);
  if (!header_seen)
    throw journal_error(path.string() + " is not a relicense journal (no valid header record)");
  return c;
}

journal_writer::journal_writer(fs::path path, int fd, journal_sync_policy policy, clock_fn now)
    : path_(std::move(path)), fd_(fd), policy_(policy), now_(std::move(now)) {
  if (!now_) now_ = [] { return std::chrono::steady_clock::now(); };
  last_sync_ = now_();
}

journal_writer::journal_writer(journal_writer&& o) noexcept
    : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)), policy_(o.policy_),
      now_(std::move(o.now_)), unsynced_(o.unsynced_), last_sync_(o.last_sync_),
      pending_(std::move(o.pending_)), pending_records_(std::exchange(o.pending_records_, 0)),
      deferred_(o.deferred_), created_(o.created_) {}

journal_writer& journal_writer::operator=(journal_writer&& o) noexcept {
  if (this != &o) {
    try {
      close();
    } catch (...) {
      // The old journal's close failure cannot be reported from a move.
    }
    path_ = std::move(o.path_);
    fd_ = std::exchange(o.fd_, -1);
    policy_ = o.policy_;
    now_ = std::move(o.now_);
    unsynced_ = o.unsynced_;
    last_sync_ = o.last_sync_;
    pending_ = std::move(o.pending_);
    pending_records_ = std::exchange(o.pending_records_, 0);
    deferred_ = o.deferred_;
    created_ = o.created_;
  }
  return *this;
}

journal_writer::~journal_writer() {
  try {
    close();
  } catch (...) {
    // A destructor cannot report; callers that care call close() themselves.
  }
}

namespace {

/// Opens (creating if need be) and locks the journal at `path`; `created` says whether the file
/// is new. The lock comes before any read, so what is read cannot change under the writer.
int open_locked(const fs::path& path, int flags, bool& created) {
  created = false;
  int fd = ::open(path.c_str(), flags | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0) {
    created = true;
  } else if (errno == EEXIST) {
    fd = ::open(path.c_str(), flags | O_CLOEXEC);
  }
  if (fd < 0) throw journal_error("cannot open journal " + path.string() + ": " + errno_text());
  try {
    lock_output_file(fd, path, "journal");
  } catch (...) {
    ::close(fd);
    if (created) ::unlink(path.c_str());
    throw;
  }
  return fd;
}

}  // namespace

// The header is what makes the file a journal: it is made durable at once, with the directory
// entry (without that, a power loss can lose the whole file).
void journal_writer::start(std::string_view fingerprint) {
  created_ = true;
  try {
    append_record(header_json(fingerprint));
    sync();
  } catch (const journal_error& e) {
    discard();
    // A full or failing disk, not a journal in the way: the caller's hints for journal_error
    // (another journal, --resume) would not fit.
    throw std::runtime_error(e.what());
  } catch (...) {
    discard();
    throw;
  }
  sync_parent_dir(path_);
}

journal_writer journal_writer::create(const fs::path& path, std::string_view fingerprint,
                                      journal_sync_policy policy, clock_fn now) {
  bool created = false;
  int fd = open_locked(path, O_RDWR | O_APPEND, created);
  journal_writer w(path, fd, policy, std::move(now));
  const std::string data = read_fd(fd, path);
  if (!data.empty()) {
    // A journal that recorded nothing (a run stopped before its first row or batch, or killed
    // inside its header) holds nothing to lose: a new run may start it over. Anything else may
    // be the only record of an interrupted run.
    bool header_seen = false;
    const journal_contents old = parse_journal(data, header_seen);
    const bool empty_journal =
        header_seen ? old.records == 1 && old.damaged.empty() && old.ignored_bytes == 0
                    : is_torn_header(data);
    if (!empty_journal) {
      w.fd_ = -1;
      ::close(fd);
      throw journal_error(
          "journal " + path.string() +
          " already exists; pass --resume to continue that run, or choose another --journal");
    }
    if (::ftruncate(fd, 0) != 0)
      throw journal_error("cannot start journal " + path.string() + " over: " + errno_text());
  }
  w.start(fingerprint);
  return w;
}

journal_writer journal_writer::resume(const fs::path& path, std::string_view fingerprint,
                                      journal_contents& contents, journal_sync_policy policy,
                                      clock_fn now) {
  bool created = false;
  int fd = open_locked(path, O_RDWR | O_APPEND, created);
  journal_writer w(path, fd, policy, std::move(now));
  const std::string data = read_fd(fd, path);
  bool header_seen = false;
  contents = parse_journal(data, header_seen);
  if (!header_seen) {
    // Empty, or killed while writing the header: nothing was recorded, so start over.
    if (!data.empty() && !is_torn_header(data)) {
      w.fd_ = -1;
      ::close(fd);
      throw journal_error(path.string() + " is not a relicense journal (no valid header record)");
    }
    if (!data.empty() && ::ftruncate(fd, 0) != 0)
      throw journal_error("cannot truncate the torn header of journal " + path.string() + ": " +
                          errno_text());
    contents = journal_contents{};
    contents.fingerprint.assign(fingerprint);
    w.start(fingerprint);
    return w;
  }
  if (contents.fingerprint != fingerprint) {
    w.fd_ = -1;
    ::close(fd);
    throw journal_error(
        "journal " + path.string() + " belongs to a different plan (fingerprint " +
        contents.fingerprint + ", this CSV gives " + std::string(fingerprint) +
        "); resume with the CSV of that run, or start a new journal without --resume");
  }
  if (contents.ignored_bytes > 0) {
    // New records must follow the last complete line directly, or the reader would take the
    // torn bytes and the first new record for one damaged line.
    if (::ftruncate(fd, static_cast<off_t>(contents.valid_bytes)) != 0 || ::fdatasync(fd) != 0)
      throw journal_error("cannot truncate the torn tail of journal " + path.string() + ": " +
                          errno_text());
  }
  // Reported once: the next resume finds these stretches acknowledged and stays quiet about them.
  bool acknowledged = false;
  for (const auto& d : contents.damaged) {
    if (d.acknowledged) continue;
    w.append_record("{\"t\":\"damaged\",\"offset\":" + std::to_string(d.offset) + ",\"bytes\":" +
                    std::to_string(d.bytes) + ",\"records\":" + std::to_string(d.records) + "}");
    acknowledged = true;
  }
  if (acknowledged) w.sync();
  return w;
}

void journal_writer::append_record(std::string_view json) {
  begin_record();
  pending_ += json;
  end_record();
}

// A record is framed in place in pending_: 9 bytes for "<crc> " first, the JSON, then the CRC
// written over the placeholder and the line break.
void journal_writer::begin_record() {
  if (fd_ < 0) throw journal_error("journal " + path_.string() + " is closed");
  record_start_ = pending_.size();
  pending_.append("00000000 ");
}

void journal_writer::end_record() {
  const std::size_t json_at = record_start_ + 9;
  put_hex(pending_.data() + record_start_,
          crc32_of(std::string_view(pending_).substr(json_at, pending_.size() - json_at)));
  pending_.push_back('\n');
  ++pending_records_;
  if (!deferred_) flush();
}

void journal_writer::write_pending() {
  if (fd_ < 0 || pending_records_ == 0) return;
  try {
    detail::write_all(fd_, pending_, path_);  // one write(2): the file grows by whole records
  } catch (const std::runtime_error& e) {
    // Part of the records may be in the file (a torn tail, which resume cuts off): appending
    // anything after it would hide it from the reader, so the writer stops here.
    pending_.clear();
    pending_records_ = 0;
    ::close(std::exchange(fd_, -1));
    throw journal_error(e.what());
  }
  unsynced_ += pending_records_;
  pending_.clear();
  pending_records_ = 0;
}

void journal_writer::flush() {
  write_pending();
  if (unsynced_ >= policy_.every) sync();
  else sync_if_due();
}

void journal_writer::set_deferred(bool deferred) {
  deferred_ = deferred;
  if (!deferred_) flush();
}

void journal_writer::append_row(const row_result& r) { append_row(r, is_permanent_failure(r)); }

void journal_writer::append_row(const row_result& r, bool permanent) {
  row_.clear();
  detail::append_report_row(row_, r, report_format::jsonl);
  // Reuse the report's JSONL object: drop its "{" and "}\n" and wrap it with the record fields.
  begin_record();
  pending_ +=
      permanent ? "{\"t\":\"row\",\"permanent\":true," : "{\"t\":\"row\",\"permanent\":false,";
  pending_.append(row_, 1, row_.size() - 3);
  pending_ += '}';
  end_record();
}

void journal_writer::append_batch(const journal_batch& b) {
  std::string json = "{\"t\":\"batch\",\"id\":";
  append_json_string(json, b.id);
  json += ",\"organizationId\":";
  append_json_string(json, b.org_id);
  json += ",\"lines\":[";
  for (std::size_t i = 0; i < b.lines.size(); ++i) {
    if (i) json += ',';
    json += std::to_string(b.lines[i]);
  }
  json += "]}";
  append_record(json);
}

void journal_writer::sync_if_due() {
  if (fd_ >= 0 && unsynced_ > 0 && now_() - last_sync_ >= policy_.interval) sync();
}

void journal_writer::sync() {
  if (fd_ < 0) return;
  write_pending();
  if (::fdatasync(fd_) != 0) {
    // After a failed sync the kernel may have dropped the pages: nothing later can be trusted.
    const std::string e = errno_text();
    ::close(std::exchange(fd_, -1));
    throw journal_error("cannot sync " + path_.string() + ": " + e);
  }
  unsynced_ = 0;
  last_sync_ = now_();
}

void journal_writer::discard() {
  if (fd_ < 0) return;
  pending_.clear();
  pending_records_ = 0;
  // Unlinked while still locked, so no other run can take up the file in between.
  ::unlink(path_.c_str());
  ::close(std::exchange(fd_, -1));
}

void journal_writer::close() {
  if (fd_ < 0) return;
  write_pending();
  int fd = std::exchange(fd_, -1);
  const bool synced = ::fdatasync(fd) == 0;
  const std::string e = synced ? std::string() : errno_text();
  ::close(fd);
  if (!synced) throw journal_error("cannot sync journal " + path_.string() + ": " + e);
}

}  // namespace relicense::io
