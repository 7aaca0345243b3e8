#include "relicense/io/redact.hpp"

#include <array>
#include <cctype>

namespace relicense::io {
namespace {

char lower(char c) noexcept { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// Case-insensitive find of an ASCII needle.
std::size_t ifind(std::string_view hay, std::string_view needle, std::size_t from) noexcept {
  if (needle.empty() || hay.size() < needle.size()) {
    return std::string_view::npos;
  }
  for (std::size_t i = from; i + needle.size() <= hay.size(); ++i) {
    std::size_t j = 0;
    while (j < needle.size() && lower(hay[i + j]) == lower(needle[j])) {
      ++j;
    }
    if (j == needle.size()) {
      return i;
    }
  }
  return std::string_view::npos;
}

void replace_all(std::string& s, std::string_view secret) {
  if (secret.empty()) {
    return;
  }
  std::size_t pos = 0;
  while ((pos = s.find(secret, pos)) != std::string::npos) {
    s.replace(pos, secret.size(), redacted_marker);
    pos += redacted_marker.size();
  }
}

bool word_char(char c) noexcept {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
}

// After `name` (matched case-insensitively, not inside a longer word), replaces the run of
// characters up to one of `stops` with the marker. `name` includes its separator (": " or "=").
void redact_after(std::string& s, std::string_view name, std::string_view stops) {
  std::size_t pos = 0;
  while ((pos = ifind(s, name, pos)) != std::string::npos) {
    if (pos > 0 && word_char(s[pos - 1]) && word_char(name.front())) {
      pos += name.size();
      continue;
    }
    std::size_t start = pos + name.size();
    while (start < s.size() && (s[start] == ' ' || s[start] == '\t')) {
      ++start;
    }
    std::size_t end = start;
    while (end < s.size() && stops.find(s[end]) == std::string_view::npos) {
      ++end;
    }
    if (end > start && std::string_view(s).substr(start, end - start) != redacted_marker) {
      s.replace(start, end - start, redacted_marker);
    }
    pos = start + redacted_marker.size();
  }
}

void redact_userinfo(std::string& s) {
  std::size_t pos = 0;
  while ((pos = s.find("://", pos)) != std::string::npos) {
    const std::size_t start = pos + 3;
    std::size_t end = start;
    while (end < s.size() && s[end] != '/' && s[end] != '?' && s[end] != '#' && s[end] != '@' &&
           !std::isspace(static_cast<unsigned char>(s[end])) && s[end] != '"' && s[end] != '\'' &&
           s[end] != '>') {
      ++end;
    }
    if (end < s.size() && s[end] == '@' && end > start) {
      s.replace(start, end - start, redacted_marker);
      end = start + redacted_marker.size();
    }
    pos = end;
  }
}

} // namespace

std::string redact(std::string_view text, std::string_view secret) {
  std::string s(text);
  // The secret itself first: it may appear anywhere (a header echoed by a proxy, a URL).
  replace_all(s, secret);
  static constexpr std::string_view line_end = "\r\n";
  redact_after(s, "authorization:", line_end);
  redact_after(s, "proxy-authorization:", line_end);
  redact_after(s, "x-cisco-meraki-api-key:", line_end);
  redact_after(s, "bearer ", " \t\r\n\"',;");
  redact_userinfo(s);
  static constexpr std::array<std::string_view, 6> params = {
      "api_key=", "apikey=", "access_token=", "token=", "password=", "key="};
  for (std::string_view p : params) {
    redact_after(s, p, "& \t\r\n#\"'>");
  }
  return s;
}

} // namespace relicense::io
