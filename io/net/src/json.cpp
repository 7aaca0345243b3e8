#include "relicense/io/json.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace relicense::io {
namespace {

namespace od = simdjson::ondemand;

// Unwraps a simdjson result into `out`, remembering the first error: the On-Demand API reports
// errors per access, and each of them must become an error value, never an exception. The
// argument is evaluated before the call: callers must not pass an access on a failed document.
template <class T, class R>
bool get(R&& result, T& out, simdjson::error_code& err) {
  if (err) {
    return false;
  }
  err = std::forward<R>(result).get(out);
  return !err;
}

std::string message(simdjson::error_code e) {
  return std::string("malformed JSON: ") + simdjson::error_message(e);
}

// A string or null field: nullopt for null, an error for any other type.
simdjson::error_code nullable_string(od::value v, std::optional<std::string>& out) {
  od::json_type t;
  if (auto e = v.type().get(t)) {
    return e;
  }
  if (t == od::json_type::null) {
    bool is_null = false;
    if (auto e = v.is_null().get(is_null)) {
      return e;
    }
    out.reset();
    return simdjson::SUCCESS;
  }
  std::string_view s;
  if (auto e = v.get_string().get(s)) {
    return e;
  }
  out.emplace(s);
  return simdjson::SUCCESS;
}

// A string field that the API may also send as null (headLicenseId "returns nil"): null → "".
simdjson::error_code loose_string(od::value v, std::string& out) {
  std::optional<std::string> s;
  if (auto e = nullable_string(v, s)) {
    return e;
  }
  out = s.value_or(std::string());
  return simdjson::SUCCESS;
}

// Joins an array of strings (non-strings are rendered as raw JSON) with "; ".
simdjson::error_code join_strings(od::value v, std::string& out) {
  od::array arr;
  if (auto e = v.get_array().get(arr)) {
    return e;
  }
  for (auto element : arr) {
    od::value item;
    if (auto e = element.get(item)) {
      return e;
    }
    od::json_type t;
    if (auto e = item.type().get(t)) {
      return e;
    }
    std::string_view text;
    if (t == od::json_type::string) {
      if (auto e = item.get_string().get(text)) {
        return e;
      }
    } else if (auto e = simdjson::to_json_string(item).get(text)) {
      return e;
    }
    if (!out.empty()) {
      out += "; ";
    }
    out.append(text);
  }
  return simdjson::SUCCESS;
}

template <class L>
simdjson::error_code read_license(od::object obj, L& out) {
  bool have_id = false;
  for (auto field : obj) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) {
      return e;
    }
    od::value v;
    if (auto e = field.value().get(v)) {
      return e;
    }
    simdjson::error_code e = simdjson::SUCCESS;
    if (key == "id") {
      std::string_view id;
      e = v.get_string().get(id);
      out.id.assign(id);
      have_id = !e;
    } else if (key == "deviceSerial") {
      e = nullable_string(v, out.device_serial);
      out.has_device_serial = !e;
    } else if (key == "state") {
      e = loose_string(v, out.state);
    } else if constexpr (std::is_same_v<L, license>) {
      if (key == "licenseType") {
        e = loose_string(v, out.license_type);
      } else if (key == "networkId") {
        e = loose_string(v, out.network_id);
      } else if (key == "headLicenseId") {
        e = loose_string(v, out.head_license_id);
      }
    }
    if (e) {
      return e;
    }
  }
  return have_id ? simdjson::SUCCESS : simdjson::NO_SUCH_FIELD;
}

// Whether the whole input was consumed: On-Demand reads lazily, so trailing bytes after the root
// value ("{}x") would otherwise go unnoticed.
bool at_end(od::document& doc) noexcept {
  const char* where = nullptr;
  return doc.current_location().get(where) == simdjson::OUT_OF_BOUNDS;
}

std::string printable_prefix(std::string_view body, std::size_t max) {
  std::string out;
  for (std::size_t i = 0; i < body.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(body[i]);
    if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (body.size() > max) {
    out += "...";
  }
  return out;
}

} // namespace

struct response_parser::impl {
  od::parser parser;
  std::vector<char> buffer;  // body + SIMDJSON_PADDING, reused across calls

  // Copies the body into the padded buffer and starts a document over it.
  simdjson::error_code iterate(std::string_view body, od::document& doc) {
    const std::size_t need = body.size() + simdjson::SIMDJSON_PADDING;
    if (buffer.size() < need) {
      buffer.resize(need);
    }
    if (!body.empty()) {
      std::memcpy(buffer.data(), body.data(), body.size());
    }
    std::memset(buffer.data() + body.size(), 0, simdjson::SIMDJSON_PADDING);
    return parser.iterate(buffer.data(), body.size(), buffer.size()).get(doc);
  }
};

bool is_json_content_type(std::string_view content_type) noexcept {
  const std::size_t semi = content_type.find(';');
  std::string_view mime = content_type.substr(0, semi);
  while (!mime.empty() && (mime.front() == ' ' || mime.front() == '\t')) {
    mime.remove_prefix(1);
  }
  while (!mime.empty() && (mime.back() == ' ' || mime.back() == '\t')) {
    mime.remove_suffix(1);
  }
  std::string m(mime);
  std::transform(m.begin(), m.end(), m.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (m == "application/json") {
    return true;
  }
  return m.starts_with("application/") && m.ends_with("+json");
}

response_parser::response_parser() : impl_(std::make_unique<impl>()) {}
response_parser::~response_parser() = default;
response_parser::response_parser(response_parser&&) noexcept = default;
response_parser& response_parser::operator=(response_parser&&) noexcept = default;

json_result<license> response_parser::parse_license(std::string_view body) {
  od::document doc;
  simdjson::error_code err = impl_->iterate(body, doc);
  od::object obj;
  license out;
  if (!err && get(doc.get_object(), obj, err)) {
    err = read_license(obj, out);
  }
  if (!err && !at_end(doc)) {
    err = simdjson::TRAILING_CONTENT;
  }
  if (err == simdjson::NO_SUCH_FIELD) {
    return {std::nullopt, "license object has no \"id\""};
  }
  if (err) {
    return {std::nullopt, message(err)};
  }
  return {std::move(out), {}};
}

json_result<std::string> response_parser::parse_errors(std::string_view body) {
  od::document doc;
  simdjson::error_code err = impl_->iterate(body, doc);
  od::object obj;
  std::string joined;
  bool found = false;
  if (!err && get(doc.get_object(), obj, err)) {
    for (auto field : obj) {
      std::string_view key;
      od::value v;
      if (!get(field.unescaped_key(), key, err) || !get(field.value(), v, err)) {
        break;
      }
      if (key == "errors" && !found) {
        found = true;
        err = join_strings(v, joined);
        if (err) {
          break;
        }
      }
    }
  }
  if (!err && !at_end(doc)) {
    err = simdjson::TRAILING_CONTENT;
  }
  if (err) {
    return {std::nullopt, message(err)};
  }
  if (!found) {
    return {std::nullopt, "no \"errors\" array in the body"};
  }
  return {std::move(joined), {}};
}

json_result<std::vector<license_ref>> response_parser::parse_license_page(std::string_view body) {
  od::document doc;
  simdjson::error_code err = impl_->iterate(body, doc);
  od::array arr;
  std::vector<license_ref> page;
  if (!err && get(doc.get_array(), arr, err)) {
    for (auto element : arr) {
      od::object obj;
      if (!get(element.get_object(), obj, err)) {
        break;
      }
      license_ref ref;
      err = read_license(obj, ref);
      if (err) {
        break;
      }
      if (!ref.has_device_serial) {
        return {std::nullopt, "license " + std::to_string(page.size() + 1) + " of the page (" + ref.id +
                                  ") has no \"deviceSerial\""};
      }
      page.push_back(std::move(ref));
    }
  }
  if (!err && !at_end(doc)) {
    err = simdjson::TRAILING_CONTENT;
  }
  if (err == simdjson::NO_SUCH_FIELD) {
    return {std::nullopt, "license " + std::to_string(page.size() + 1) + " of the page has no \"id\""};
  }
  if (err) {
    return {std::nullopt, message(err)};
  }
  return {std::move(page), {}};
}

json_result<action_batch> response_parser::parse_action_batch(std::string_view body) {
  od::document doc;
  simdjson::error_code err = impl_->iterate(body, doc);
  od::object obj;
  action_batch out;
  bool have_id = false;
  if (!err && get(doc.get_object(), obj, err)) {
    for (auto field : obj) {
      std::string_view key;
      od::value v;
      if (!get(field.unescaped_key(), key, err) || !get(field.value(), v, err)) {
        break;
      }
      if (key == "id") {
        std::string_view id;
        if (!get(v.get_string(), id, err)) {
          break;
        }
        out.id.assign(id);
        have_id = true;
      } else if (key == "confirmed") {
        if (!get(v.get_bool(), out.confirmed, err)) {
          break;
        }
      } else if (key == "status") {
        od::object status;
        if (!get(v.get_object(), status, err)) {
          break;
        }
        for (auto sf : status) {
          std::string_view skey;
          od::value sv;
          if (!get(sf.unescaped_key(), skey, err) || !get(sf.value(), sv, err)) {
            break;
          }
          if (skey == "completed") {
            get(sv.get_bool(), out.completed, err);
          } else if (skey == "failed") {
            get(sv.get_bool(), out.failed, err);
          } else if (skey == "errors") {
            err = join_strings(sv, out.errors);
          }
          if (err) {
            break;
          }
        }
        if (err) {
          break;
        }
      }
    }
  }
  if (!err && !at_end(doc)) {
    err = simdjson::TRAILING_CONTENT;
  }
  if (err) {
    return {std::nullopt, message(err)};
  }
  if (!have_id) {
    return {std::nullopt, "action batch has no \"id\""};
  }
  return {std::move(out), {}};
}

std::string response_parser::describe_error(unsigned status, std::string_view body) {
  auto errors = parse_errors(body);
  if (errors.value && !errors.value->empty()) {
    return printable_prefix(*errors.value, 500);
  }
  if (!body.empty()) {
    return "HTTP " + std::to_string(status) + ": " + printable_prefix(body, 200);
  }
  return "HTTP " + std::to_string(status);
}

} // namespace relicense::io
