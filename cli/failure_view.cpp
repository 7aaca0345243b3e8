// Failed rows grouped by reason: see failure_view.hpp for the normalisation rule.
#include "failure_view.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

namespace relicense::cli {

namespace {

bool word_char(unsigned char c) { return std::isalnum(c) != 0 || c == '-' || c == '_'; }

bool equal_nocase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

/// What a word of the error text becomes.
std::string_view placeholder(std::string_view word, const io::row_result& r) {
  const auto digit = [](unsigned char c) { return std::isdigit(c) != 0; };
  // First, so that a license id of "500" cannot turn "HTTP 500" into a per-row text.
  if (word.size() <= 3 && std::all_of(word.begin(), word.end(), digit)) return word;
  const std::pair<std::string_view, std::string_view> own[] = {
      {r.license_id, "<license>"},
      {r.serial, "<serial>"},
      {r.previous_serial ? std::string_view(*r.previous_serial) : std::string_view(), "<serial>"},
      {r.org_id, "<org>"},
      {r.batch_id, "<batch>"},
      {r.request_id, "<request>"},
      {r.host, "<host>"},
  };
  for (const auto& [value, name] : own)
    if (!value.empty() && equal_nocase(word, value)) return name;
  return std::any_of(word.begin(), word.end(), digit) ? std::string_view("<id>") : word;
}

}  // namespace

std::string failure_reason(const io::row_result& r) {
  if (r.error.empty()) return "(no error text)";
  const std::string_view text = r.error;
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (!word_char(static_cast<unsigned char>(text[i]))) {
      out += text[i++];
      continue;
    }
    // A word: letters, digits, '-', '_', and '.' between two of those (hosts, decimals), so a
    // sentence's final full stop stays outside.
    std::size_t end = i;
    while (end < text.size()) {
      const auto c = static_cast<unsigned char>(text[end]);
      if (word_char(c)) {
        ++end;
      } else if (c == '.' && end + 1 < text.size() &&
                 word_char(static_cast<unsigned char>(text[end + 1]))) {
        ++end;
      } else {
        break;
      }
    }
    out += placeholder(text.substr(i, end - i), r);
    i = end;
  }
  return out;
}

void failure_groups::add(const io::row_result& r) {
  if (r.result != io::outcome::failed) return;
  ++failed_;
  auto reason = failure_reason(r);
  if (groups_.size() >= max_reasons_ && !groups_.contains(reason)) {
    ++unkept_rows_;
    return;
  }
  auto [it, fresh] = groups_.try_emplace(std::move(reason));
  entry& e = it->second;
  if (fresh) {
    e.group.reason = it->first;
    e.first_line = r.line;
  }
  ++e.group.rows;
  e.first_line = std::min(e.first_line, r.line);
  // Rows finish out of input order: keep the lowest lines seen, sorted.
  auto& ex = e.group.examples;
  const auto at =
      std::upper_bound(ex.begin(), ex.end(), r.line,
                       [](std::uint32_t line, const failure_example& x) { return line < x.line; });
  if (static_cast<std::size_t>(at - ex.begin()) >= examples_) return;
  ex.insert(at, failure_example{r.line, r.license_id, r.serial});
  if (ex.size() > examples_) ex.pop_back();
}

std::vector<failure_group> failure_groups::sorted() const {
  std::vector<const entry*> order;
  order.reserve(groups_.size());
  for (const auto& [reason, e] : groups_) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const entry* a, const entry* b) {
    if (a->group.rows != b->group.rows) return a->group.rows > b->group.rows;
    return a->first_line < b->first_line;
  });
  std::vector<failure_group> out;
  out.reserve(order.size());
  for (const auto* e : order) out.push_back(e->group);
  return out;
}

std::string format_failures(const failure_groups& g, std::string_view source, std::size_t top) {
  if (g.failed_rows() == 0) return {};
  const auto rows = [](std::uint64_t n) { return std::to_string(n) + (n == 1 ? " row" : " rows"); };
  std::string s = "relicense: " + rows(g.failed_rows()) + " failed, by reason:\n";
  const auto groups = g.sorted();
  std::uint64_t rest_rows = 0;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const auto& grp = groups[i];
    if (i >= top) {
      rest_rows += grp.rows;
      continue;
    }
    s += "  " + grp.reason + " (" + rows(grp.rows) + ")\n";
    for (const auto& x : grp.examples) {
      s += "    ";
      s += source.empty() ? "line " + std::to_string(x.line)
                          : std::string(source) + ":" + std::to_string(x.line);
      s += " " + x.license_id + " -> " + (x.serial.empty() ? std::string("(unassign)") : x.serial) +
           "\n";
    }
    if (grp.rows > grp.examples.size()) {
      const auto more = grp.rows - grp.examples.size();
      s += "    ... and " + std::to_string(more) + (more == 1 ? " more row\n" : " more rows\n");
    }
  }
  if (g.rows_of_unkept_reasons() > 0) {
    s += "  and more than " + std::to_string(groups.size() - std::min(groups.size(), top)) +
         " more reasons (" + rows(rest_rows + g.rows_of_unkept_reasons()) + ")\n";
  } else if (groups.size() > top) {
    const auto more = groups.size() - top;
    s += "  and " + std::to_string(more) + (more == 1 ? " more reason (" : " more reasons (") +
         rows(rest_rows) + ")\n";
  }
  return s;
}

}  // namespace relicense::cli
