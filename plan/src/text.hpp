// Text helpers shared by the renderers (private to plan/).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace relicense::plan::detail {

/// Appends `v` as a JSON string literal (quotes included). Bytes >= 0x80 pass through: the
/// values come from UTF-8 files or from the API's (valid) JSON.
inline void append_json_string(std::string& out, std::string_view v) {
  out += '"';
  for (unsigned char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

/// Appends `v` as one CSV field (RFC 4180): quoted when it holds a separator, a quote or a line
/// break, or has a space at either end (which readers would otherwise trim).
inline void append_csv_field(std::string& out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos &&
      (v.empty() || (v.front() != ' ' && v.back() != ' '))) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

/// `v` made safe for a terminal: control characters (escape sequences included) become \xNN, so
/// a name sent by the server cannot move the cursor or recolour the screen.
inline std::string printable(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

/// A value in a message: quoted and printable, long values cut.
inline std::string shown(std::string_view v) {
  std::string out = "\"" + printable(v.substr(0, 80));
  if (v.size() > 80) out += "...";
  return out + "\"";
}

}  // namespace relicense::plan::detail
