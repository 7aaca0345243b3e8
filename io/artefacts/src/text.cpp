// JSON string literals and atomic file replacement (text.hpp).
#include "relicense/io/text.hpp"

#include "relicense/io/report.hpp"

#include <simdjson.h>

#include <fcntl.h>
#include <unistd.h>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace relicense::io {

namespace fs = std::filesystem;

namespace {

/// The bytes append_json_string looks at twice: those a JSON string escapes (control characters,
/// quote, backslash, DEL) and those of multi-byte UTF-8 (>= 0x80). One load per byte tells them
/// from the rest, rather than five comparisons.
constexpr std::array<bool, 256> json_attention = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c < 0x20 || c == '"' || c == '\\' || c == 0x7f || c >= 0x80;
  return t;
}();

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  // Server-provided error text may hold invalid UTF-8; a file that does not parse back would
  // break rollback and resume, so such bytes are replaced rather than copied. Runs of bytes that
  // need no escape are copied whole: this is the report writer's hot loop.
  int valid = -1;  // UTF-8 validity of `s`, computed at its first byte >= 0x80
  out.push_back('"');
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!json_attention[c]) continue;
    if (c >= 0x80) {
      if (valid < 0) valid = simdjson::validate_utf8(s.data(), s.size()) ? 1 : 0;
      if (valid) continue;
    }
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c >= 0x80) {
          out.push_back('?');
        } else {
          static constexpr char hex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xf]);
        }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void write_file_atomically(const fs::path& path, std::string_view content) {
  fs::path dir = path.parent_path();
  fs::path tmp = dir / ("." + path.filename().string() + ".tmp." + std::to_string(::getpid()));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
  try {
    detail::write_all(fd, content, path);
    if (::fsync(fd) != 0)
      throw std::runtime_error("cannot sync " + path.string() + ": " + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(e));
  }
}

}  // namespace relicense::io
