// The CSV loader. The parser is a hand-written byte state machine rather than a general CSV
// library because (1) it must be fed arbitrary chunks (streaming, bounded memory), (2) it must
// know the physical line where each record starts (diagnostics, the report's `line`), (3) it keeps
// only the three columns it needs, capped in size, so a 10 MB field or an unterminated quote
// cannot blow up memory, and (4) it must plan 1M rows in well under a second: runs of ordinary
// bytes are copied in one append, and de-duplication uses a flat open-addressing table of row
// indices instead of a node-based map of strings.
#include "relicense/plan/csv.hpp"
#include "relicense/plan/hash.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <unordered_map>

#include <sys/mman.h>

namespace relicense::plan {

std::string to_string(const diagnostic& d) {
  std::string s = d.file;
  if (d.line > 0) s += ":" + std::to_string(d.line);
  s += ": ";
  if (d.column > 0) {
    s += "column " + std::to_string(d.column);
    if (!d.column_name.empty()) s += " (" + d.column_name + ")";
    s += ": ";
  }
  s += d.message;
  return s;
}

namespace rules {

std::string id_problem(std::string_view id) {
  if (id.empty()) return "is empty";
  if (id.size() > 128) return "is " + std::to_string(id.size()) + " bytes long (limit 128)";
  for (unsigned char c : id) {
    // These would change the meaning of the URL path /organizations/{org}/licenses/{id}.
    switch (c) {
      case '/': return "contains '/'";
      case '?': return "contains '?'";
      case '#': return "contains '#'";
      case '%': return "contains '%'";
      case '\\': return "contains '\\'";
      case ' ': return "contains a space";
      default: break;
    }
    if (c < 0x20 || c == 0x7F) {
      char buf[48];
      std::snprintf(buf, sizeof buf, "contains a control character (0x%02X)", c);
      return buf;
    }
    if (c >= 0x80) return "contains a non-ASCII byte";
  }
  return {};
}

bool is_serial(std::string_view s) noexcept {
  if (s.size() != 14 || s[4] != '-' || s[9] != '-') return false;
  for (std::size_t i = 0; i < 14; ++i) {
    if (i == 4 || i == 9) continue;
    const char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

void to_upper(std::string& s) noexcept {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
}

}  // namespace rules

namespace detail {
namespace {

// A value for a message: quoted, non-printable bytes escaped, long values cut.
std::string quote(std::string_view v) {
  std::string out = "\"";
  std::size_t shown = 0;
  for (unsigned char c : v) {
    if (++shown > 40) {
      out += "...";
      break;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string serial_or_unassign(std::string_view s) { return s.empty() ? "(unassign)" : quote(s); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }

// 32-bit key hash of (org index, text): std::hash is fine here, it never leaves the process.
std::uint32_t key_hash(std::uint32_t org, std::string_view text) noexcept {
  std::uint64_t h = std::hash<std::string_view>{}(text) + (org + 1) * 0x9E3779B97F4A7C15ULL;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ULL;
  h ^= h >> 32;
  return static_cast<std::uint32_t>(h);
}

// Zeroed slot memory for index_table. Tables for a 1M-row plan are 16 MB each and probed at
// random, so nearly every probe is a TLB miss; on the (virtualised) target machines those misses
// dominated the whole load. Big tables therefore ask for transparent huge pages (2 MiB), which
// the kernel grants on madvise in its default "madvise" mode; without them it still works.
class slot_array {
public:
  slot_array() = default;
  explicit slot_array(std::size_t n) : size_(n) {
    constexpr std::size_t huge = std::size_t{2} << 20;
    std::size_t bytes = n * sizeof(std::uint64_t);
    if (bytes >= huge) {
      bytes = (bytes + huge - 1) / huge * huge;
      data_.reset(static_cast<std::uint64_t*>(std::aligned_alloc(huge, bytes)));
#ifdef MADV_HUGEPAGE
      if (data_) ::madvise(data_.get(), bytes, MADV_HUGEPAGE);
#endif
    } else {
      data_.reset(static_cast<std::uint64_t*>(std::malloc(bytes)));
    }
    if (!data_) throw std::bad_alloc();
    std::memset(data_.get(), 0, bytes);
  }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::uint64_t& operator[](std::size_t i) noexcept { return data_[i]; }
  const std::uint64_t& operator[](std::size_t i) const noexcept { return data_[i]; }
  std::uint64_t* begin() noexcept { return data_.get(); }
  std::uint64_t* end() noexcept { return data_.get() + size_; }
  void swap(slot_array& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
  }

private:
  struct free_deleter {
    void operator()(std::uint64_t* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<std::uint64_t[], free_deleter> data_;
  std::size_t size_ = 0;
};

// Flat open-addressing set of row indices (linear probing, load <= 0.7). Each slot packs the
// key's 32-bit hash with index+1, so most probes never touch the rows' strings, and the table
// grows without rehashing any string.
class index_table {
public:
  static constexpr std::uint32_t none = 0xFFFFFFFFu;

  // The stored index whose key equals the probe's (per `same`), or `none` after inserting `idx`.
  template <class Same>
  std::uint32_t find_or_insert(std::uint32_t hash, std::uint32_t idx, Same&& same) {
    if ((size_ + 1) * 10 > slots_.size() * 7) grow();
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t pos = hash & mask;; pos = (pos + 1) & mask) {
      const std::uint64_t s = slots_[pos];
      if (s == 0) {
        slots_[pos] = (std::uint64_t{hash} << 32) | (std::uint64_t{idx} + 1);
        ++size_;
        return none;
      }
      if (static_cast<std::uint32_t>(s >> 32) == hash) {
        const auto stored = static_cast<std::uint32_t>(s) - 1;
        if (same(stored)) return stored;
      }
    }
  }

  void prefetch(std::uint32_t hash) const noexcept {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & (slots_.size() - 1)]);
  }

  // Room for `n` entries without growing.
  void reserve(std::size_t n) {
    std::size_t want = 1024;
    while (want * 7 < (n + 1) * 10) want *= 2;
    if (want > slots_.size()) grow(want);
  }

private:
  void grow(std::size_t size = 0) {
    slot_array old(size != 0 ? size : slots_.empty() ? 1024 : slots_.size() * 2);
    old.swap(slots_);
    const std::size_t mask = slots_.size() - 1;
    for (std::uint64_t s : old) {
      if (s == 0) continue;
      std::size_t pos = static_cast<std::uint32_t>(s >> 32) & mask;
      while (slots_[pos] != 0) pos = (pos + 1) & mask;
      slots_[pos] = s;
    }
  }

  slot_array slots_;
  std::size_t size_ = 0;
};

enum class field_state : std::uint8_t {
  start,            ///< before a field's first byte: blanks skipped, a quote opens a quoted field
  unquoted,         ///< inside an unquoted field
  quoted,           ///< inside a quoted field
  quote_in_quoted,  ///< saw '"' inside a quoted field: escape ("") or end of the field
  after_quoted      ///< after the closing quote: only blanks until the separator
};

// Which of the needed columns a field is.
enum slot : int { slot_license = 0, slot_serial = 1, slot_org = 2, slot_none = -1 };

constexpr std::array<const char*, 3> slot_names = {"licenseId", "deviceSerial", "organizationId"};
// In a serial map the same three slots hold the old serial, the new serial and the org.
constexpr std::array<const char*, 3> map_slot_names = {"oldSerial", "newSerial", "organizationId"};

}  // namespace

// Declared here, not in a header: only this file and fingerprint_of use it.
void add_to_fingerprint(fnv1a64& h, std::uint32_t line, std::string_view org, std::string_view a,
                        std::string_view b) {
  char digits[16];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, line);
  h.update(std::string_view(digits, static_cast<std::size_t>(end - digits)));
  h.update_byte(0x1F);
  h.update(org);
  h.update_byte(0x1F);
  h.update(a);
  h.update_byte(0x1F);
  h.update(b);
  h.update_byte(0x1E);
}

class loader_state {
public:
  loader_state(std::string file, load_options opts)
      : file_(std::move(file)), opts_(std::move(opts)) {
    for (unsigned char c : {',', '"', '\r', '\n'}) special_[c] = true;
    for (unsigned char c : {'"', '\r', '\n'}) special_quoted_[c] = true;
    begin_field();
  }

  void feed(std::string_view chunk) {
    if (fatal_ || finished_) return;
    // Past the size limit, only the bytes up to it are read.
    const std::uint64_t room = opts_.max_input_bytes - std::min(bytes_fed_, opts_.max_input_bytes);
    const bool over = chunk.size() > room;
    if (over) chunk = chunk.substr(0, static_cast<std::size_t>(room));
    feed_within_limit(chunk);
    if (over && !fatal_) {
      stop(line_, "the input is larger than " + std::to_string(opts_.max_input_bytes) +
                      " bytes (the limit): split it into several files");
    }
  }

  bool done() const noexcept { return fatal_ || finished_; }

  void size_hint(std::uint64_t total_bytes) { size_hint_ = total_bytes; }

  load_result finish() {
    if (!finished_) {
      if (!bom_checked_ && !fatal_) check_bom();
      if (!fatal_ && utf8_need_ > 0)
        encoding_error(
            "invalid UTF-8: the file ends inside a multi-byte character; save it as UTF-8");
      finished_ = true;
      if (!fatal_) end_of_input();
      flush_queue();
      count_shared_serials();
      if (!fatal_ && !header_done_)
        error(1, 0, "",
              "empty file: expected a header row naming the licenseId and deviceSerial columns");
      if (!fatal_ && header_done_ && result_.plan.counts.input_rows == 0)
        warning(header_line_, 0, "", "no data rows after the header: the plan is empty");
      if (result_.map) result_.map->orgs = result_.plan.orgs;
      fingerprint();
    }
    return std::move(result_);
  }

private:
  // ---- input framing -------------------------------------------------------------------------

  void feed_within_limit(std::string_view chunk) {
    const char* p = chunk.data();
    const char* end = p + chunk.size();
    bytes_fed_ += chunk.size();
    if (!bom_checked_) {
      // The byte-order mark may straddle chunks: hold the first 3 bytes until they are known.
      while (p < end && prefix_.size() < 3) prefix_ += *p++;
      if (prefix_.size() < 3 && !looks_like_utf16()) return;
      check_bom();
      if (fatal_) return;
    }
    scan(p, end);
    if (!reserved_ && header_done_) reserve_from_hint();
  }

  bool looks_like_utf16() const {
    return prefix_.size() >= 2 && ((prefix_[0] == '\xFF' && prefix_[1] == '\xFE') ||
                                   (prefix_[0] == '\xFE' && prefix_[1] == '\xFF'));
  }

  void check_bom() {
    bom_checked_ = true;
    if (looks_like_utf16()) {
      error(1, 0, "",
            "the file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8; the "
            "rest "
            "of the file was not read");
      fatal_ = true;
      return;
    }
    std::string head = std::move(prefix_);
    prefix_.clear();
    std::string_view rest = head;
    if (rest.size() >= 3 && rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);
    scan(rest.data(), rest.data() + rest.size());
  }

  // Checks that [p, end) continues valid UTF-8 without NUL bytes, and hands the bytes to the
  // state machine up to the first one that is not. Binary data, UTF-16 and legacy 8-bit encodings
  // are refused at their first bad byte instead of being read to the end (/dev/urandom, a
  // spreadsheet's binary format). Runs of ASCII are checked 8 bytes at a time.
  void scan(const char* p, const char* end) {
    const char* q = p;
    while (q < end) {
      if (utf8_need_ == 0) {
        constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
        while (end - q >= 8) {
          std::uint64_t w;
          std::memcpy(&w, q, 8);
          if (((w - ones) | w) & highs) break;  // a NUL or a byte >= 0x80 among the 8
          q += 8;
        }
        if (q == end) break;
        const auto c = static_cast<unsigned char>(*q);
        if (c != 0 && c < 0x80) {
          ++q;
          continue;
        }
        // The lead byte fixes the sequence's length and the range of its second byte, which
        // excludes overlong forms, surrogates and code points past U+10FFFF (Unicode table 3-7).
        utf8_lo_ = 0x80;
        utf8_hi_ = 0xBF;
        utf8_seq_.assign(1, static_cast<char>(c));
        if (c >= 0xC2 && c <= 0xDF) {
          utf8_need_ = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
          utf8_need_ = 2;
          if (c == 0xE0) utf8_lo_ = 0xA0;
          if (c == 0xED) utf8_hi_ = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
          utf8_need_ = 3;
          if (c == 0xF0) utf8_lo_ = 0x90;
          if (c == 0xF4) utf8_hi_ = 0x8F;
        } else {
          utf8_seq_.clear();
          consume(p, q);
          bad_byte(c);
          return;
        }
        ++q;
      } else {
        const auto c = static_cast<unsigned char>(*q);
        if (c < utf8_lo_ || c > utf8_hi_) {
          consume(p, q);
          bad_byte(c);
          return;
        }
        utf8_lo_ = 0x80;
        utf8_hi_ = 0xBF;
        --utf8_need_;
        utf8_seq_ += static_cast<char>(c);
        ++q;
      }
    }
    consume(p, end);
  }

  void bad_byte(unsigned char c) {
    if (fatal_) return;  // the bytes before it already stopped the load
    if (c == 0) {
      encoding_error("a NUL byte (is the file UTF-16 or binary? save it as UTF-8 CSV)");
      return;
    }
    // Name the bytes of the broken sequence too: in a Latin-1 file the culprit is its first
    // byte (0xE9 of "Café"), not the byte after it.
    std::string bytes;
    char buf[8];
    for (unsigned char b : utf8_seq_) {
      std::snprintf(buf, sizeof buf, "0x%02X ", b);
      bytes += buf;
    }
    std::snprintf(buf, sizeof buf, "0x%02X", c);
    bytes += buf;
    encoding_error("invalid UTF-8 (" + std::string(utf8_seq_.empty() ? "byte " : "bytes ") + bytes +
                   "): save the file as UTF-8 CSV");
  }

  // An encoding problem at the next byte: named with its line and field, and the load stops.
  void encoding_error(const std::string& what) {
    fatal_ = true;  // first: the error is not also reported as "stopped reading after N errors"
    error(line_, static_cast<std::uint32_t>(std::min<std::size_t>(field_, opts_.max_columns) + 1),
          column_name(field_), what + "; the rest of the file was not read");
  }

  // A problem that makes the rest of the input not worth reading: reported, and the load stops.
  void stop(std::uint32_t line, std::string what) {
    fatal_ = true;
    error(line, 0, "", std::move(what) + "; the rest of the file was not read");
  }

  // ---- the state machine ---------------------------------------------------------------------

  // Feeds [p, end) through the state machine. A record may not grow past max_record_bytes: each
  // step is given at most the bytes left to the limit (plus one, the line break that ends a
  // record of exactly the limit), so a line without end (/dev/zero, a lost quote in a huge file)
  // costs neither unbounded time nor memory.
  void consume(const char* const begin, const char* const end) {
    const std::uint64_t base = consumed_;
    consumed_ += static_cast<std::uint64_t>(end - begin);
    const std::uint64_t max = opts_.max_record_bytes;
    for (const char* p = begin; p < end && !fatal_;) {
      const std::uint64_t used = base + static_cast<std::uint64_t>(p - begin) - record_start_;
      if (used > max) {
        record_too_long();
        return;
      }
      const char* const lim =
          p + std::min<std::uint64_t>(static_cast<std::uint64_t>(end - p), max + 1 - used);
      const char c = *p;
      switch (state_) {
        case field_state::start:
          if (c == '\n' && pending_cr_) {  // second half of a CRLF that ended the last record
            pending_cr_ = false;
            ++p;
            break;
          }
          pending_cr_ = false;
          if (is_blank(c)) {
            ++p;
          } else if (c == '"') {
            state_ = field_state::quoted;
            quoted_ = true;
            nonempty_ = true;
            quote_line_ = line_;
            ++p;
          } else {
            state_ = field_state::unquoted;  // the byte itself is handled there
          }
          break;

        case field_state::unquoted: {
          const char* q = p;
          while (q < lim && !special_[static_cast<unsigned char>(*q)]) ++q;
          if (q != p) {
            append(p, q);
            nonempty_ = true;
            p = q;
            if (p == lim) break;
          }
          const char d = *p++;
          if (d == ',') {
            separator();
          } else if (d == '\n' || d == '\r') {
            end_field();
            newline(d);
            end_record();
            record_start_ = base + static_cast<std::uint64_t>(p - begin);
          } else {  // '"'
            format_error(
                "a quote inside an unquoted field (quote the whole field and double "
                "the quotes inside it)");
            append(p - 1, p);
          }
          break;
        }

        case field_state::quoted: {
          const char* q = p;
          while (q < lim && !special_quoted_[static_cast<unsigned char>(*q)]) ++q;
          if (q != p) {
            append(p, q);
            pending_cr_ = false;
            p = q;
            if (p == lim) break;
          }
          const char d = *p++;
          if (d == '"') {
            state_ = field_state::quote_in_quoted;
            pending_cr_ = false;
          } else {  // a line break inside quotes is data, but it is still a new line
            count_line(d);
            append(p - 1, p);
          }
          break;
        }

        case field_state::quote_in_quoted:
          if (c == '"') {  // "" is one quote
            append(p, p + 1);
            state_ = field_state::quoted;
            ++p;
          } else {
            state_ = field_state::after_quoted;  // the byte is handled there
          }
          break;

        case field_state::after_quoted:
          ++p;
          if (is_blank(c)) break;
          if (c == ',') {
            separator();
          } else if (c == '\n' || c == '\r') {
            end_field();
            newline(c);
            end_record();
            record_start_ = base + static_cast<std::uint64_t>(p - begin);
          } else {
            format_error(
                "unexpected text after a closing quote (a quoted field must end at the "
                "quote; double a quote to include it)");
            append(p - 1, p);
            state_ = field_state::unquoted;
          }
          break;
      }
    }
  }

  void record_too_long() {
    const std::string limit = std::to_string(opts_.max_record_bytes);
    if (state_ == field_state::quoted) {
      stop(record_line_, "a quoted field opened on line " + std::to_string(quote_line_) +
                             " is still open after " + limit +
                             " bytes (the limit for one record): is a closing quote missing?");
    } else {
      stop(record_line_, "the line is longer than " + limit + " bytes (the limit for one record)");
    }
  }

  // A ',' outside quotes: the next field begins, unless that makes too many.
  void separator() {
    end_field();
    if (field_ < opts_.max_columns) return;
    if (!header_done_) {
      stop(record_line_, "the header has more than " + std::to_string(opts_.max_columns) +
                             " columns (the limit)");
    } else {
      format_error(more_fields_);
    }
  }

  void count_line(char c) {
    if (c == '\n') {
      if (!pending_cr_) ++line_;
      pending_cr_ = false;
    } else {
      ++line_;
      pending_cr_ = true;
    }
  }

  // A record separator outside quotes.
  void newline(char c) {
    ++line_;
    pending_cr_ = (c == '\r');
  }

  void end_of_input() {
    if (state_ == field_state::quoted) {
      error(record_line_, field_ + 1, column_name(field_),
            "unterminated quoted field: the quote opened on line " + std::to_string(quote_line_) +
                " never closes");
      return;
    }
    if (state_ != field_state::start || field_ > 0 || nonempty_) {
      end_field();
      end_record();
    }
  }

  // ---- fields --------------------------------------------------------------------------------

  void begin_field() {
    state_ = field_state::start;
    quoted_ = false;
    cur_len_ = 0;
    if (!header_done_) {
      header_.emplace_back();
      cur_ = &header_.back();
    } else {
      const int s = field_ < slot_of_.size() ? slot_of_[field_] : slot_none;
      cur_ = s == slot_none ? nullptr : &vals_[static_cast<std::size_t>(s)];
      if (cur_ != nullptr) cur_->clear();
    }
  }

  void append(const char* b, const char* e) {
    const auto n = static_cast<std::size_t>(e - b);
    cur_len_ += n;
    if (cur_ == nullptr || cur_->size() >= opts_.max_field_bytes) return;
    cur_->append(b, std::min(n, opts_.max_field_bytes - cur_->size()));
  }

  void end_field() {
    if (cur_ != nullptr) {
      if (!quoted_)
        while (!cur_->empty() && is_blank(cur_->back())) cur_->pop_back();
      if (header_done_) {
        const auto s = static_cast<std::size_t>(slot_of_[field_]);
        present_[s] = true;
        too_long_[s] = cur_len_ > opts_.max_field_bytes;
        lengths_[s] = cur_len_;
      }
    }
    ++field_;
    begin_field();
  }

  void format_error(const std::string& what) {
    if (record_error_.empty()) {
      record_error_ = what;
      record_error_field_ = field_;
    }
  }

  std::string column_name(std::size_t field) const {
    return field < header_names_.size() ? header_names_[field] : std::string();
  }

  // ---- records -------------------------------------------------------------------------------

  void end_record() {
    const std::uint32_t line = record_line_;
    if (nonempty_ || !record_error_.empty()) {
      if (!header_done_) on_header(line);
      else on_row(line);
    }
    // Reset for the next record, which starts on the current line.
    record_line_ = line_;
    field_ = 0;
    nonempty_ = false;
    record_error_.clear();
    present_ = {};
    if (!header_done_) header_.clear();
    begin_field();
  }

  void on_header(std::uint32_t line) {
    header_line_ = line;
    if (!record_error_.empty()) {
      error(line, static_cast<std::uint32_t>(record_error_field_ + 1), "",
            "header: " + record_error_);
      fatal_ = true;
      return;
    }
    header_.pop_back();  // the empty field begun after the last one
    std::array<int, 3> col = {-1, -1, -1};
    std::array<int, 2> map_col = {-1, -1};  // oldSerial, newSerial
    bool bad = false;
    std::vector<diagnostic> map_duplicates;  // reported only if the file turns out to be a map
    for (std::size_t i = 0; i < header_.size(); ++i) {
      const std::string name = lower(header_[i]);
      int s = slot_none;
      int m = slot_none;
      if (name == "licenseid" || name == "license_id" || name == "id") s = slot_license;
      else if (name == "deviceserial" || name == "serial" || name == "device_serial")
        s = slot_serial;
      else if (name == "organizationid" || name == "org" || name == "organization_id") s = slot_org;
      else if (name == "oldserial" || name == "old_serial" || name == "from") m = 0;
      else if (name == "newserial" || name == "new_serial" || name == "to") m = 1;
      if (m != slot_none) {
        auto& c = map_col[static_cast<std::size_t>(m)];
        if (c >= 0)
          map_duplicates.push_back(
              diagnostic{file_, line, static_cast<std::uint32_t>(i + 1), header_[i],
                         std::string("a second ") + map_slot_names[static_cast<std::size_t>(m)] +
                             " column (the first is column " + std::to_string(c + 1) + ")"});
        else c = static_cast<int>(i);
        continue;
      }
      if (s == slot_none) continue;
      auto& c = col[static_cast<std::size_t>(s)];
      if (c >= 0) {
        error(line, static_cast<std::uint32_t>(i + 1), header_[i],
              std::string("a second ") + slot_names[static_cast<std::size_t>(s)] +
                  " column (the first is column " + std::to_string(c + 1) + ")");
        bad = true;
      } else {
        c = static_cast<int>(i);
      }
    }
    // A header naming old and new serials but no license is a serial map.
    if (col[slot_license] < 0 && (map_col[0] >= 0 || map_col[1] >= 0)) {
      on_map_header(line, col[slot_org], map_col, map_duplicates, bad);
      return;
    }
    const bool looks_like_data = !header_.empty() && [&] {
      for (auto h : header_) {
        rules::to_upper(h);
        if (rules::is_serial(h)) return true;
      }
      return false;
    }();
    const char* hint = looks_like_data
                           ? "; the first line looks like data, but it must be the header "
                             "(licenseId,deviceSerial[,organizationId])"
                           : "";
    if (col[slot_license] < 0) {
      error(line, 0, "",
            std::string("no licenseId column (accepted names: licenseId, license_id, id)") + hint +
                (opts_.accept_serial_map
                     ? "; a serial map has oldSerial and newSerial columns instead"
                     : ""));
      bad = true;
    }
    if (col[slot_serial] < 0) {
      error(line, 0, "",
            std::string(
                "no deviceSerial column (accepted names: deviceSerial, serial, device_serial)") +
                hint);
      bad = true;
    }
    finish_header(line, col, bad);
  }

  // A serial map's header: `col_org` and the old/new columns found, `bad` if an error was reported.
  void on_map_header(std::uint32_t line, int col_org, const std::array<int, 2>& map_col,
                     std::vector<diagnostic>& duplicates, bool bad) {
    if (!opts_.accept_serial_map) {
      error(line, 0, "",
            "this is a serial map (oldSerial,newSerial columns), but this command takes a license "
            "CSV (licenseId,deviceSerial[,organizationId])");
      fatal_ = true;
      return;
    }
    for (auto& d : duplicates) {
      error(d.line, d.column, std::move(d.column_name), std::move(d.message));
      bad = true;
    }
    if (map_col[0] < 0) {
      error(line, 0, "",
            "serial map: no oldSerial column (accepted names: oldSerial, old_serial, from)");
      bad = true;
    }
    if (map_col[1] < 0) {
      error(line, 0, "",
            "serial map: no newSerial column (accepted names: newSerial, new_serial, to)");
      bad = true;
    }
    map_mode_ = true;
    result_.map.emplace();
    result_.map->file = file_;
    finish_header(line, {map_col[0], map_col[1], col_org}, bad);
    if (fatal_) return;
    serial_map& m = *result_.map;
    m.old_column = static_cast<std::uint32_t>(map_col[0] + 1);
    m.new_column = static_cast<std::uint32_t>(map_col[1] + 1);
    m.old_column_name = column_name(static_cast<std::size_t>(map_col[0]));
    m.new_column_name = column_name(static_cast<std::size_t>(map_col[1]));
  }

  // Checks the org column or --org and sets the column slots up, for either kind of file.
  void finish_header(std::uint32_t line, const std::array<int, 3>& col, bool bad) {
    if (col[slot_org] < 0 && opts_.org.empty()) {
      error(line, 0, "",
            "no organizationId column and no --org: pass --org ORG or add an "
            "organizationId (org, organization_id) column");
      bad = true;
    }
    if (!opts_.org.empty()) {
      if (auto why = rules::id_problem(opts_.org); !why.empty()) {
        error(0, 0, "", "--org " + quote(opts_.org) + " " + why);
        bad = true;
      }
    }
    if (bad) {
      fatal_ = true;  // rows cannot be read without their columns
      return;
    }
    const std::size_t width =
        static_cast<std::size_t>(*std::max_element(col.begin(), col.end())) + 1;
    slot_of_.assign(width, slot_none);
    for (std::size_t s = 0; s < 3; ++s) {
      if (col[s] >= 0) slot_of_[static_cast<std::size_t>(col[s])] = static_cast<int>(s);
      col_[s] = col[s];
    }
    header_names_ = std::move(header_);
    header_.clear();
    header_done_ = true;
  }

  void row_error(std::uint32_t line, int s, std::string msg) {
    const auto f = static_cast<std::size_t>(col_[static_cast<std::size_t>(s)]);
    error(line, static_cast<std::uint32_t>(f + 1), column_name(f), std::move(msg));
  }

  void on_row(std::uint32_t line) {
    plan& p = result_.plan;
    if (p.counts.input_rows == opts_.max_rows) {
      stop(line, "more than " + std::to_string(opts_.max_rows) +
                     " data rows (the limit): split the file");
      return;
    }
    ++p.counts.input_rows;
    if (!record_error_.empty()) {
      error(line, static_cast<std::uint32_t>(record_error_field_ + 1),
            column_name(record_error_field_), record_error_);
      return;
    }
    bool bad = false;
    for (int s : {slot_license, slot_serial, slot_org}) {
      const auto si = static_cast<std::size_t>(s);
      if (col_[si] < 0) continue;
      if (!present_[si]) {
        row_error(line, s,
                  "missing: the record has only " + std::to_string(field_) + " field" +
                      (field_ == 1 ? "" : "s"));
        bad = true;
      } else if (too_long_[si]) {
        row_error(line, s,
                  std::to_string(lengths_[si]) + " bytes long (limit " +
                      std::to_string(opts_.max_field_bytes) + ")");
        bad = true;
      }
    }
    if (bad) return;

    std::string& license = vals_[slot_license];
    std::string& serial = vals_[slot_serial];
    // The org: the cell, else --org.
    const bool org_from_cell = col_[slot_org] >= 0 && !vals_[slot_org].empty();
    const std::string& org = org_from_cell ? vals_[slot_org] : opts_.org;
    if (org.empty()) {
      row_error(line, slot_org, "empty, and there is no --org to default to");
      bad = true;
    } else if (org_from_cell && org != last_valid_org_) {
      if (auto why = rules::id_problem(org); !why.empty()) {
        row_error(line, slot_org, quote(org) + " " + why);
        bad = true;
      } else {
        last_valid_org_ = org;
      }
    }
    if (map_mode_) {
      on_map_row(line, org, bad);
      return;
    }
    if (auto why = rules::id_problem(license); !why.empty()) {
      row_error(line, slot_license,
                (license.empty() ? std::string("license id ") : quote(license) + " ") + why);
      bad = true;
    }
    rules::to_upper(serial);
    if (!serial.empty() && !rules::is_serial(serial)) {
      row_error(line, slot_serial,
                "invalid serial " + quote(serial) +
                    " (expected the Meraki shape XXXX-XXXX-XXXX, letters and "
                    "digits; empty to unassign)");
      bad = true;
    }
    if (bad) return;

    // Filters: --org with an org column, then --shard. Decisions are cached per org.
    const std::int64_t org_index = resolve_org(org);
    if (org_index < 0) {
      ++p.counts.filtered_out;
      return;
    }

    enqueue(line, static_cast<std::uint32_t>(org_index), license, serial);
  }

  // A serial map's record: both serials valid and distinct, and neither in another mapping.
  void on_map_row(std::uint32_t line, const std::string& org, bool bad) {
    std::string& old_serial = vals_[slot_license];
    std::string& new_serial = vals_[slot_serial];
    rules::to_upper(old_serial);
    rules::to_upper(new_serial);
    for (int s : {slot_license, slot_serial}) {
      const std::string& v = vals_[static_cast<std::size_t>(s)];
      if (v.empty()) {
        row_error(line, s,
                  s == slot_license
                      ? "empty: a serial map needs the device the licenses leave"
                      : "empty: a serial map needs the device the licenses move to (to unassign, "
                        "use a license CSV with an empty deviceSerial)");
        bad = true;
      } else if (!rules::is_serial(v)) {
        row_error(line, s,
                  "invalid serial " + quote(v) +
                      " (expected the Meraki shape XXXX-XXXX-XXXX, letters "
                      "and digits)");
        bad = true;
      }
    }
    if (bad) return;
    if (old_serial == new_serial) {
      row_error(line, slot_serial,
                "the same device " + quote(old_serial) + " on both sides of the mapping");
      return;
    }
    const std::int64_t org_index = resolve_org(org);
    if (org_index < 0) {
      ++result_.plan.counts.filtered_out;
      return;
    }
    serial_map& m = *result_.map;
    const auto seen_old = map_seen_.find(old_serial);
    const auto seen_new = map_seen_.find(new_serial);
    // The same mapping again is harmless: dropped, as a repeated license row is.
    if (seen_old != map_seen_.end() && seen_new != map_seen_.end() &&
        seen_old->second == seen_new->second) {
      const serial_mapping& first = m.rows[seen_old->second];
      if (first.old_serial == old_serial && first.org == static_cast<std::uint32_t>(org_index)) {
        ++result_.plan.counts.duplicates_dropped;
        const auto f = static_cast<std::size_t>(col_[slot_license]);
        warning(line, static_cast<std::uint32_t>(f + 1), column_name(f),
                "mapping " + quote(old_serial) + " -> " + quote(new_serial) +
                    " repeated (first on line " + std::to_string(first.line) +
                    "); the repeat is dropped");
        return;
      }
    }
    // A device that is both left and received, or received twice, has no single meaning.
    bool twice = false;
    for (const auto& [s, seen] :
         {std::pair{slot_license, seen_old}, std::pair{slot_serial, seen_new}}) {
      if (seen == map_seen_.end()) continue;
      const serial_mapping& first = m.rows[seen->second];
      const std::string& serial = vals_[static_cast<std::size_t>(s)];
      row_error(
          line, s,
          "serial " + quote(serial) + " is in two mappings: line " + std::to_string(first.line) +
              " (as " + (first.old_serial == serial ? "old" : "new") + " serial) and line " +
              std::to_string(line) + " (as " + (s == slot_license ? "old" : "new") + " serial)");
      twice = true;
    }
    if (twice) return;
    const auto index = m.rows.size();
    map_seen_.emplace(old_serial, index);
    map_seen_.emplace(new_serial, index);
    m.rows.push_back(
        serial_mapping{line, static_cast<std::uint32_t>(org_index), old_serial, new_serial});
    fingerprint_fields(line, result_.plan.orgs[m.rows.back().org], old_serial, new_serial);
  }

  // A valid row waiting for de-duplication. Rows wait in a short queue so the hash-table slots
  // they will probe can be prefetched: with 1M rows the tables are far bigger than the caches, and
  // without this the two probes per row (each a DRAM miss) dominate the whole load.
  struct pending_row {
    std::uint32_t line = 0;
    std::uint32_t org = 0;
    std::uint32_t license_hash = 0;
    std::string license;
    std::string serial;
  };
  static constexpr std::size_t queue_size = 16;

  void enqueue(std::uint32_t line, std::uint32_t org, std::string& license, std::string& serial) {
    if (queued_ == queue_size) settle_oldest();
    pending_row& q = queue_[(queue_head_ + queued_) % queue_size];
    ++queued_;
    q.line = line;
    q.org = org;
    q.license.swap(license);  // swaps keep both buffers' capacity: no allocation per row
    q.serial.swap(serial);
    q.license_hash = key_hash(org, q.license);
    licenses_.prefetch(q.license_hash);
  }

  // Settles every queued row; called before any diagnostic so they stay in file order.
  void flush_queue() {
    while (queued_ > 0) settle_oldest();
  }

  void settle_oldest() {
    settling_ = true;
    pending_row& q = queue_[queue_head_];
    queue_head_ = (queue_head_ + 1) % queue_size;
    --queued_;
    settle(q);
    settling_ = false;
  }

  void settle(const pending_row& q) {
    plan& p = result_.plan;
    const std::string& license = q.license;
    const std::string& serial = q.serial;
    const std::uint32_t oi = q.org;
    const auto new_index = static_cast<std::uint32_t>(p.rows.size());
    const std::uint32_t found = licenses_.find_or_insert(
        q.license_hash, new_index,
        [&](std::uint32_t i) { return p.rows[i].org == oi && p.rows[i].license_id == license; });
    if (found != index_table::none) {
      const row& first = p.rows[found];
      if (first.serial == serial) {
        ++p.counts.duplicates_dropped;
        const auto f = static_cast<std::size_t>(col_[slot_license]);
        warning(q.line, static_cast<std::uint32_t>(f + 1), column_name(f),
                "license " + quote(license) + " repeated with the same serial (first on line " +
                    std::to_string(first.line) + "); the repeat is dropped");
      } else {
        row_error(q.line, slot_license,
                  "license " + quote(license) + " has conflicting serials: " +
                      serial_or_unassign(first.serial) + " on line " + std::to_string(first.line) +
                      " and " + serial_or_unassign(serial) + " on line " + std::to_string(q.line));
      }
      return;
    }
    p.rows.push_back(row{q.line, oi, license, serial});
    fingerprint_row(p.rows.back());
    ++(serial.empty() ? p.counts.unassigns : p.counts.assigns);
  }

  // plan_counts::serials_with_several, counted once at the end by sorting (hash, row) pairs: a
  // sequential sort is cheaper than a second random-access table probed for every row. Exact:
  // rows whose hashes collide are told apart by their strings. Keyed by serial alone: a device is
  // claimed in one org, so the same serial under two orgs is still one device.
  void count_shared_serials() {
    const auto& rows = result_.plan.rows;
    std::vector<std::pair<std::uint64_t, std::uint32_t>> keys;
    keys.reserve(result_.plan.counts.assigns);
    for (std::uint32_t i = 0; i < rows.size(); ++i)
      if (!rows[i].serial.empty())
        keys.emplace_back(std::hash<std::string_view>{}(rows[i].serial), i);
    std::sort(keys.begin(), keys.end());
    std::uint64_t several = 0;
    std::vector<std::pair<std::string_view, std::uint32_t>> distinct;  // serial, licenses
    for (std::size_t a = 0; a < keys.size();) {
      std::size_t b = a + 1;
      while (b < keys.size() && keys[b].first == keys[a].first) ++b;
      if (b - a >= 2) {
        distinct.clear();
        for (std::size_t k = a; k < b; ++k) {
          const std::string_view s = rows[keys[k].second].serial;
          auto it = std::find_if(distinct.begin(), distinct.end(),
                                 [&](const auto& d) { return d.first == s; });
          if (it == distinct.end()) distinct.emplace_back(s, 1);
          else ++it->second;
        }
        for (const auto& d : distinct) several += d.second >= 2 ? 1 : 0;
      }
      a = b;
    }
    result_.plan.counts.serials_with_several = several;
  }

  // Once the first chunk shows the typical row size, reserve the plan for the whole file: no
  // re-allocation copies, and no 1.5x peak while the rows vector doubles.
  void reserve_from_hint() {
    reserved_ = true;
    const std::uint64_t rows_seen = result_.plan.counts.input_rows;
    if (size_hint_ == 0 || rows_seen < 256 || bytes_fed_ == 0) return;
    const double per_row = static_cast<double>(bytes_fed_) / static_cast<double>(rows_seen);
    // Never more than the limits allow: a 10 GB file must not reserve (and zero) a table for rows
    // that will never be read.
    const auto readable = static_cast<double>(std::min(size_hint_, opts_.max_input_bytes));
    const auto expected = std::min<std::uint64_t>(
        static_cast<std::uint64_t>(readable / per_row * 1.05) + 64, opts_.max_rows);
    if (expected > (std::uint64_t{1} << 28)) return;  // implausible: let the vectors grow instead
    result_.plan.rows.reserve(expected);
    licenses_.reserve(expected);
  }

  // Index into plan::orgs of a kept org, or -1 if --org or --shard filters it out.
  std::int64_t resolve_org(const std::string& org) {
    if (org == last_org_ && last_org_index_ != unresolved) return last_org_index_;
    auto it = org_index_.find(org);
    std::int64_t index;
    if (it != org_index_.end()) {
      index = it->second;
    } else {
      const bool keep =
          (opts_.org.empty() || org == opts_.org) && (!opts_.shard || in_shard(org, *opts_.shard));
      if (keep) {
        index = static_cast<std::int64_t>(result_.plan.orgs.size());
        result_.plan.orgs.push_back(org);
      } else {
        index = -1;
      }
      org_index_.emplace(org, index);
    }
    last_org_ = org;
    last_org_index_ = index;
    return index;
  }

  // ---- results -------------------------------------------------------------------------------

  void error(std::uint32_t line, std::uint32_t column, std::string column_name,
             std::string message) {
    if (result_.stopped_early) return;  // rows still queued behind the stop are not reported
    if (!settling_) flush_queue();
    if (result_.errors.size() >= opts_.max_errors) {
      ++result_.errors_not_shown;
    } else {
      result_.errors.push_back(
          diagnostic{file_, line, column, std::move(column_name), std::move(message)});
    }
    // A file that is wrong on every line (the wrong file, a wrong column order) says so within
    // the first errors; reading the rest would only take time.
    if (!finished_ && !fatal_ && result_.error_count() >= opts_.stop_after_errors) {
      result_.errors.push_back(diagnostic{file_, line, 0, "",
                                          "stopped reading after " +
                                              std::to_string(result_.error_count()) +
                                              " errors; the rest of the file was not checked"});
      result_.stopped_early = true;
      fatal_ = true;
    }
  }

  void warning(std::uint32_t line, std::uint32_t column, std::string column_name,
               std::string message) {
    if (!settling_) flush_queue();
    if (result_.warnings.size() >= opts_.max_warnings) {
      ++result_.warnings_not_shown;
      return;
    }
    result_.warnings.push_back(
        diagnostic{file_, line, column, std::move(column_name), std::move(message)});
  }

  // plan.fingerprint: FNV-1a 64 over "line \x1F org \x1F license \x1F serial \x1E" for every row
  // in order, so two runs (or a resume) can tell whether they carry the same plan. The line is in
  // it because --resume matches journal records to rows by line: a CSV edited so that the same
  // rows sit on other lines must not have its rows reported as another row's result (see
  // docs/journal.md). Hashed as each row is added, while its strings are still in cache.
  void fingerprint_row(const row& r) {
    fingerprint_fields(r.line, result_.plan.orgs[r.org], r.license_id, r.serial);
  }

  // A serial map is fingerprinted the same way, with its two serials in the last two places.
  void fingerprint_fields(std::uint32_t line, std::string_view org, std::string_view a,
                          std::string_view b) {
    add_to_fingerprint(fingerprint_, line, org, a, b);
  }

  void fingerprint() { result_.plan.fingerprint = to_hex(fingerprint_.value()); }

  static constexpr std::int64_t unresolved = -2;

  std::string file_;
  load_options opts_;
  load_result result_;

  std::array<bool, 256> special_{};         // bytes that end a run in an unquoted field
  std::array<bool, 256> special_quoted_{};  // bytes that end a run in a quoted field

  // Framing.
  bool bom_checked_ = false;
  std::string prefix_;  // first bytes, until the BOM question is settled
  bool fatal_ = false;
  bool finished_ = false;
  std::uint64_t consumed_ = 0;      // bytes given to the state machine so far
  std::uint64_t record_start_ = 0;  // offset of the current record's first byte
  std::uint32_t utf8_need_ = 0;     // continuation bytes still due in a multi-byte character
  std::string utf8_seq_;            // bytes of that character so far
  unsigned char utf8_lo_ = 0x80, utf8_hi_ = 0xBF;  // range of the next continuation byte
  std::uint32_t line_ = 1;                         // physical line of the next byte
  std::uint32_t record_line_ = 1;                  // line where the current record started
  std::uint32_t quote_line_ = 0;                   // line of the current field's opening quote
  bool pending_cr_ = false;  // last byte was a CR: a following LF is part of the same break

  // Current field and record.
  field_state state_ = field_state::start;
  bool quoted_ = false;
  std::string* cur_ = nullptr;  // where the field's bytes go; nullptr: an ignored column
  std::size_t cur_len_ = 0;     // true length, even past max_field_bytes
  std::size_t field_ = 0;       // 0-based index of the current field
  bool nonempty_ = false;       // the record has a non-blank byte or a quote
  std::string record_error_;    // first format error of the record
  const std::string more_fields_ =
      "more than " + std::to_string(opts_.max_columns) + " fields (the limit)";
  std::size_t record_error_field_ = 0;

  // Header.
  bool header_done_ = false;
  std::uint32_t header_line_ = 1;
  std::vector<std::string> header_;        // header fields while it is read
  std::vector<std::string> header_names_;  // header fields, for messages
  std::array<int, 3> col_ = {-1, -1, -1};  // field index of each slot
  std::vector<int> slot_of_;               // slot of each field index (below the widest needed)

  // Needed values of the current record.
  std::array<std::string, 3> vals_;
  std::array<bool, 3> present_{};
  std::array<bool, 3> too_long_{};
  std::array<std::size_t, 3> lengths_{};

  // Planning.
  index_table licenses_;  // (org, license) -> first row
  std::unordered_map<std::string, std::int64_t> org_index_;
  std::string last_org_;
  std::int64_t last_org_index_ = unresolved;
  std::string last_valid_org_;
  std::array<pending_row, queue_size> queue_;
  std::size_t queue_head_ = 0;
  std::size_t queued_ = 0;
  bool settling_ = false;
  bool map_mode_ = false;
  std::unordered_map<std::string, std::size_t> map_seen_;  // serial -> index of its mapping
  std::uint64_t size_hint_ = 0;  // expected file size, for reserve_from_hint
  std::uint64_t bytes_fed_ = 0;
  bool reserved_ = false;
  fnv1a64 fingerprint_;
};

}  // namespace detail

plan_loader::plan_loader(std::string file_name, load_options opts)
    : state_(std::make_unique<detail::loader_state>(std::move(file_name), std::move(opts))) {}
plan_loader::~plan_loader() = default;
plan_loader::plan_loader(plan_loader&&) noexcept = default;
plan_loader& plan_loader::operator=(plan_loader&&) noexcept = default;

void plan_loader::feed(std::string_view chunk) { state_->feed(chunk); }
bool plan_loader::done() const noexcept { return state_->done(); }
void plan_loader::size_hint(std::uint64_t total_bytes) { state_->size_hint(total_bytes); }
load_result plan_loader::finish() { return state_->finish(); }

std::string fingerprint_of(const plan& p) {
  fnv1a64 h;
  for (const row& r : p.rows)
    detail::add_to_fingerprint(h, r.line, p.orgs[r.org], r.license_id, r.serial);
  return to_hex(h.value());
}

load_result parse_plan(std::string_view text, std::string_view file_name,
                       const load_options& opts) {
  plan_loader loader{std::string(file_name), opts};
  loader.feed(text);
  return loader.finish();
}

load_result load_plan(const std::filesystem::path& file, const load_options& opts) {
  const bool from_stdin = file == "-";
  const std::string name = from_stdin ? "<stdin>" : file.string();
  std::error_code ec;
  if (!from_stdin && std::filesystem::is_directory(file, ec)) {
    load_result r;
    r.errors.push_back(diagnostic{name, 0, 0, "", "cannot read: it is a directory"});
    return r;
  }
  std::FILE* f = from_stdin ? stdin : std::fopen(name.c_str(), "rb");
  if (f == nullptr) {
    load_result r;
    r.errors.push_back(
        diagnostic{name, 0, 0, "", std::string("cannot open: ") + std::strerror(errno)});
    return r;
  }
  plan_loader loader{name, opts};
  // Only a regular file's size is a hint; a pipe or a device has none.
  if (!from_stdin && std::filesystem::is_regular_file(file, ec))
    if (auto size = std::filesystem::file_size(file, ec); !ec) loader.size_hint(size);
  // 1 MiB chunks: large enough that fread's cost is noise, small enough to be irrelevant to RSS.
  std::vector<char> buf(1 << 20);
  while (!loader.done()) {
    const std::size_t n = std::fread(buf.data(), 1, buf.size(), f);
    if (n > 0) loader.feed(std::string_view(buf.data(), n));
    if (n < buf.size()) break;
  }
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  if (!from_stdin) std::fclose(f);
  load_result r = loader.finish();
  if (failed) {
    r.errors.insert(r.errors.begin(),
                    diagnostic{name, 0, 0, "", std::string("read error: ") + std::strerror(err)});
  }
  return r;
}

}  // namespace relicense::plan
