#include "relicense/io/link_header.hpp"

#include <boost/url/grammar/ci_string.hpp>

namespace relicense::io {
namespace {

bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

// A small cursor over the header: the grammar (RFC 8288 §3) is simple enough that a hand-written
// scanner is clearer than a general parser, and it must never throw on hostile input.
class scanner {
public:
  explicit scanner(std::string_view s) : s_(s) {}
  bool done() const noexcept { return i_ >= s_.size(); }
  char peek() const noexcept { return done() ? '\0' : s_[i_]; }
  void skip_space() noexcept {
    while (!done() && is_space(s_[i_])) {
      ++i_;
    }
  }
  void advance() noexcept { ++i_; }

  // Skips to just after the next ',' that is outside quotes and angle brackets.
  void skip_link_value() noexcept {
    bool quoted = false;
    bool angled = false;
    while (!done()) {
      const char c = s_[i_++];
      if (quoted) {
        if (c == '\\' && !done()) {
          ++i_;
        } else if (c == '"') {
          quoted = false;
        }
      } else if (angled) {
        angled = c != '>';
      } else if (c == '"') {
        quoted = true;
      } else if (c == '<') {
        angled = true;
      } else if (c == ',') {
        return;
      }
    }
  }

  // <uri>; returns false when there is no closing '>'.
  bool uri(std::string& out) {
    if (peek() != '<') {
      return false;
    }
    const std::size_t start = ++i_;
    const std::size_t end = s_.find('>', start);
    if (end == std::string_view::npos) {
      i_ = s_.size();
      return false;
    }
    out.assign(s_.substr(start, end - start));
    i_ = end + 1;
    return true;
  }

  std::string_view token() noexcept {
    const std::size_t start = i_;
    while (!done()) {
      const char c = s_[i_];
      if (c == '=' || c == ';' || c == ',' || c == '"' || is_space(c)) {
        break;
      }
      ++i_;
    }
    return s_.substr(start, i_ - start);
  }

  // A quoted-string (with backslash escapes) or a token.
  std::string value() {
    if (peek() != '"') {
      return std::string(token());
    }
    ++i_;
    std::string out;
    while (!done()) {
      const char c = s_[i_++];
      if (c == '\\' && !done()) {
        out += s_[i_++];
      } else if (c == '"') {
        return out;
      } else {
        out += c;
      }
    }
    return out;  // unterminated quote: take what there is
  }

private:
  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

std::vector<link_value> parse_link_header(std::string_view header) {
  std::vector<link_value> links;
  scanner sc(header);
  while (!sc.done()) {
    sc.skip_space();
    if (sc.peek() == ',') {
      sc.advance();
      continue;
    }
    link_value link;
    if (!sc.uri(link.uri)) {
      sc.skip_link_value();
      continue;
    }
    bool ok = true;
    bool have_rel = false;
    for (;;) {
      sc.skip_space();
      if (sc.done() || sc.peek() == ',') {
        break;
      }
      if (sc.peek() != ';') {
        ok = false;
        break;
      }
      sc.advance();
      sc.skip_space();
      const std::string name(sc.token());
      sc.skip_space();
      std::string value;
      if (sc.peek() == '=') {
        sc.advance();
        sc.skip_space();
        value = sc.value();
      }
      // RFC 8288 §3.3: only the first rel parameter counts.
      if (!have_rel && boost::urls::grammar::ci_is_equal(name, "rel")) {
        link.rel = std::move(value);
        have_rel = true;
      }
    }
    if (!ok) {
      sc.skip_link_value();
      continue;
    }
    links.push_back(std::move(link));
  }
  return links;
}

std::optional<std::string> next_link(std::string_view header) {
  for (auto& link : parse_link_header(header)) {
    std::string_view rel = link.rel;
    while (!rel.empty()) {
      const std::size_t sp = rel.find_first_of(" \t");
      const std::string_view type = rel.substr(0, sp);
      if (boost::urls::grammar::ci_is_equal(type, "next")) {
        return std::move(link.uri);
      }
      if (sp == std::string_view::npos) {
        break;
      }
      rel.remove_prefix(sp + 1);
    }
  }
  return std::nullopt;
}

}  // namespace relicense::io
