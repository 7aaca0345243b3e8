#include "relicense/io/redact.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

namespace relicense::io {
namespace {

char lower(char c) noexcept {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

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

// memmem (glibc's two-way search) rather than a loop: this runs on every response body.
std::size_t find_bytes(std::string_view hay, std::string_view needle, std::size_t from) noexcept {
  if (from > hay.size()) {
    return std::string_view::npos;
  }
  const void* at = ::memmem(hay.data() + from, hay.size() - from, needle.data(), needle.size());
  return at == nullptr ? std::string_view::npos
                       : static_cast<std::size_t>(static_cast<const char*>(at) - hay.data());
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

}  // namespace

std::string redact(std::string_view text, std::string_view secret) {
  std::string s(text);
  // The secret itself first: it may appear anywhere (a header echoed by a proxy, a URL).
  redact_in_place(s, secret);
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

bool redact_in_place(std::string& text, std::string_view secret) {
  if (secret.empty()) {
    return false;
  }
  std::size_t pos = find_bytes(text, secret, 0);
  if (pos == std::string_view::npos) {
    return false;
  }
  do {
    text.replace(pos, secret.size(), redacted_marker);
    pos = find_bytes(text, secret, pos + redacted_marker.size());
  } while (pos != std::string_view::npos);
  return true;
}

void secret_list::add(std::string_view secret) {
  if (secret.empty()) {
    return;
  }
  // A secret that contains a listed one cannot survive that one's replacement ("Bearer <key>"
  // after the key): it is not scanned for, which keeps the scan of every response to one pass
  // per distinct secret.
  for (const std::string& s : items_) {
    if (secret.find(s) != std::string_view::npos) {
      return;
    }
  }
  std::erase_if(items_, [&](const std::string& s) { return s.find(secret) != std::string::npos; });
  items_.emplace_back(secret);
}

bool secret_list::contains(std::string_view secret) const noexcept {
  return std::find(items_.begin(), items_.end(), secret) != items_.end();
}

bool secret_list::scrub(std::string& text) const {
  bool any = false;
  for (const std::string& secret : items_) {
    any = redact_in_place(text, secret) || any;
  }
  return any;
}

std::string secret_list::scrubbed(std::string_view text) const {
  std::string s(text);
  scrub(s);
  return s;
}

}  // namespace relicense::io
