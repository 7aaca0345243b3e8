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

/// get() for a string field copied out of the document.
bool get_string(od::value v, std::string& out, simdjson::error_code& err) {
  std::string_view s;
  if (!get(v.get_string(), s, err)) return false;
  out.assign(s);
  return true;
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
simdjson::error_code loose_string(od::value v, std::string_view& out) {
  od::json_type t;
  if (auto e = v.type().get(t)) {
    return e;
  }
  if (t == od::json_type::null) {
    bool is_null = false;
    if (auto e = v.is_null().get(is_null)) {
      return e;
    }
    out = {};
    return simdjson::SUCCESS;
  }
  return v.get_string().get(out);
}

simdjson::error_code loose_string(od::value v, std::string& out) {
  std::string_view s;
  if (auto e = loose_string(v, s)) {
    return e;
  }
  out.assign(s);
  return simdjson::SUCCESS;
}

/// Where read_license puts the fields a license_ref does not hold: a license's own members, or
/// nowhere for a PUT answer's judge, which needs them checked (a string or null) but not kept.
struct license_details {
  std::string* license_type = nullptr;
  std::string* network_id = nullptr;
  std::string* head_license_id = nullptr;
};

simdjson::error_code loose_field(od::value v, std::string* out) {
  if (out) {
    return loose_string(v, *out);
  }
  std::string_view ignored;
  return loose_string(v, ignored);
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
simdjson::error_code read_license(od::object obj, L& out,
                                  const license_details* details = nullptr) {
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
    } else if (details) {
      if (key == "licenseType") {
        e = loose_field(v, details->license_type);
      } else if (key == "networkId") {
        e = loose_field(v, details->network_id);
      } else if (key == "headLicenseId") {
        e = loose_field(v, details->head_license_id);
      }
    }
    if (e) {
      return e;
    }
  }
  return have_id ? simdjson::SUCCESS : simdjson::NO_SUCH_FIELD;
}

void to_upper(std::string& s) noexcept {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
}

// The readers of the full records below return the name of a required field the object lacks
// (empty when it has them all) and leave JSON errors in `err`.

std::string read_license_record(od::object obj, plan::license_record& out,
                                simdjson::error_code& err) {
  bool have_id = false;
  bool have_serial = false;
  for (auto field : obj) {
    std::string_view key;
    od::value v;
    if (!get(field.unescaped_key(), key, err) || !get(field.value(), v, err)) return {};
    if (key == "id") {
      if (!get_string(v, out.id, err)) return {};
      have_id = true;
    } else if (key == "deviceSerial") {
      std::optional<std::string> serial;
      if ((err = nullable_string(v, serial))) return {};
      out.device_serial = serial.value_or(std::string());
      to_upper(out.device_serial);
      have_serial = true;
    } else if (key == "state") {
      err = loose_string(v, out.state);
    } else if (key == "licenseType") {
      err = loose_string(v, out.license_type);
    } else if (key == "activationDate") {
      err = loose_string(v, out.activation_date);
    } else if (key == "expirationDate") {
      err = loose_string(v, out.expiration_date);
    } else if (key == "headLicenseId") {
      err = loose_string(v, out.head_license_id);
    }
    if (err) return {};
  }
  // A license that does not say where it is cannot be compared with a plan or a map.
  return !have_id ? "id" : !have_serial ? "deviceSerial" : "";
}

std::string read_device_record(od::object obj, plan::device_record& out,
                               simdjson::error_code& err) {
  bool have_serial = false;
  for (auto field : obj) {
    std::string_view key;
    od::value v;
    if (!get(field.unescaped_key(), key, err) || !get(field.value(), v, err)) return {};
    if (key == "serial") {
      if (!get_string(v, out.serial, err)) return {};
      to_upper(out.serial);
      have_serial = true;
    } else if (key == "model") {
      err = loose_string(v, out.model);
    } else if (key == "name") {
      err = loose_string(v, out.name);
    }
    if (err) return {};
  }
  return have_serial ? "" : "serial";
}

std::string read_org_record(od::object obj, plan::organization_record& out,
                            simdjson::error_code& err) {
  bool have_id = false;
  for (auto field : obj) {
    std::string_view key;
    od::value v;
    if (!get(field.unescaped_key(), key, err) || !get(field.value(), v, err)) return {};
    if (key == "id") {
      if (!get_string(v, out.id, err)) return {};
      have_id = true;
    } else if (key == "name") {
      err = loose_string(v, out.name);
    } else if (key == "licensing") {
      od::json_type t;
      if (!get(v.type(), t, err)) return {};
      if (t == od::json_type::null) continue;
      od::object licensing;
      if (!get(v.get_object(), licensing, err)) return {};
      for (auto lf : licensing) {
        std::string_view lkey;
        od::value lv;
        if (!get(lf.unescaped_key(), lkey, err) || !get(lf.value(), lv, err)) return {};
        if (lkey == "model" && (err = loose_string(lv, out.licensing_model))) return {};
      }
    }
    if (err) return {};
  }
  return have_id ? "" : "id";
}

std::string read_action_batch(od::object obj, action_batch& out, simdjson::error_code& err) {
  bool have_id = false;
  for (auto field : obj) {
    std::string_view key;
    od::value v;
    if (!get(field.unescaped_key(), key, err) || !get(field.value(), v, err)) return {};
    if (key == "id") {
      if (!get_string(v, out.id, err)) return {};
      have_id = true;
    } else if (key == "confirmed") {
      if (!get(v.get_bool(), out.confirmed, err)) return {};
    } else if (key == "status") {
      od::object status;
      if (!get(v.get_object(), status, err)) return {};
      for (auto sf : status) {
        std::string_view skey;
        od::value sv;
        if (!get(sf.unescaped_key(), skey, err) || !get(sf.value(), sv, err)) return {};
        if (skey == "completed") {
          get(sv.get_bool(), out.completed, err);
        } else if (skey == "failed") {
          get(sv.get_bool(), out.failed, err);
        } else if (skey == "errors") {
          err = join_strings(sv, out.errors);
        }
        if (err) return {};
      }
    }
  }
  return have_id ? "" : "id";
}

std::string_view ident(const plan::license_record& r) { return r.id; }
std::string_view ident(const action_batch& b) { return b.id; }
std::string_view ident(const plan::device_record& r) { return r.serial; }
std::string_view ident(const plan::organization_record& r) { return r.id; }

void keep_raw_text(plan::license_record& r, std::string_view raw) { r.raw_json.assign(raw); }
void keep_raw_text(plan::organization_record& r, std::string_view raw) { r.raw_json.assign(raw); }
void keep_raw_text(plan::device_record&, std::string_view) {}
void keep_raw_text(action_batch&, std::string_view) {}

std::string_view trim_json_space(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t'))
    s.remove_prefix(1);
  return s;
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

}  // namespace

struct response_parser::impl {
  od::parser parser;
  std::vector<char> buffer;  // body + SIMDJSON_PADDING, reused across calls
  // A second parser for one object of a page at a time: keeping an object's raw text means
  // consuming it whole (object::raw_json), then reading its fields from that text.
  od::parser object_parser;
  std::vector<char> object_buffer;

  // Copies `body` into the padded `buf` and starts a document of `p` over it.
  static simdjson::error_code iterate(od::parser& p, std::vector<char>& buf, std::string_view body,
                                      od::document& doc) {
    const std::size_t need = body.size() + simdjson::SIMDJSON_PADDING;
    if (buf.size() < need) {
      buf.resize(need);
    }
    if (!body.empty()) {
      std::memcpy(buf.data(), body.data(), body.size());
    }
    std::memset(buf.data() + body.size(), 0, simdjson::SIMDJSON_PADDING);
    return p.iterate(buf.data(), body.size(), buf.size()).get(doc);
  }

  simdjson::error_code iterate(std::string_view body, od::document& doc) {
    return iterate(parser, buffer, body, doc);
  }

  // Reads one object into `rec` with `read`; with `keep_raw`, through its raw text.
  template <class Rec, class Read>
  std::string read_object(od::object obj, Rec& rec, bool keep_raw, Read read,
                          simdjson::error_code& err) {
    if (!keep_raw) {
      return read(obj, rec, err);
    }
    std::string_view raw;
    if (!get(obj.raw_json(), raw, err)) {
      return {};
    }
    raw = trim_json_space(raw);
    keep_raw_text(rec, raw);
    od::document doc;
    od::object again;
    if ((err = iterate(object_parser, object_buffer, raw, doc)) ||
        !get(doc.get_object(), again, err)) {
      return {};
    }
    std::string missing = read(again, rec, err);
    if (!err && !at_end(doc)) {
      err = simdjson::TRAILING_CONTENT;
    }
    return missing;
  }

  // An array of objects, each read with `read`; `what` names an object in messages.
  template <class Rec, class Read>
  json_result<std::vector<Rec>> read_array(std::string_view body, bool keep_raw, Read read,
                                           std::string_view what) {
    od::document doc;
    simdjson::error_code err = iterate(body, doc);
    od::array arr;
    std::vector<Rec> out;
    if (!err && get(doc.get_array(), arr, err)) {
      for (auto element : arr) {
        od::object obj;
        if (!get(element.get_object(), obj, err)) {
          break;
        }
        Rec rec;
        const std::string missing = read_object(obj, rec, keep_raw, read, err);
        if (err) {
          break;
        }
        if (!missing.empty()) {
          const std::string_view id = ident(rec);
          return {std::nullopt,
                  std::string(what) + " " + std::to_string(out.size() + 1) + " of the answer" +
                      (id.empty() ? std::string() : " (" + printable_prefix(id, 80) + ")") +
                      " has no \"" + missing + "\""};
        }
        out.push_back(std::move(rec));
      }
    }
    if (!err && !at_end(doc)) {
      err = simdjson::TRAILING_CONTENT;
    }
    if (err) {
      return {std::nullopt, message(err)};
    }
    return {std::move(out), {}};
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
  // Compared in place (ASCII case-insensitively): every answer's Content-Type comes here.
  const auto iequals = [](std::string_view a, std::string_view lower) noexcept {
    if (a.size() != lower.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      const char c = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
      if (c != lower[i]) return false;
    }
    return true;
  };
  if (iequals(mime, "application/json")) {
    return true;
  }
  constexpr std::string_view prefix = "application/", suffix = "+json";
  return mime.size() >= prefix.size() && iequals(mime.substr(0, prefix.size()), prefix) &&
         mime.size() >= suffix.size() && iequals(mime.substr(mime.size() - suffix.size()), suffix);
}

response_parser::response_parser() : impl_(std::make_unique<impl>()) {}
response_parser::~response_parser() = default;
response_parser::response_parser(response_parser&&) noexcept = default;
response_parser& response_parser::operator=(response_parser&&) noexcept = default;

json_result<license> response_parser::parse_license(std::string_view body, bool details) {
  od::document doc;
  simdjson::error_code err = impl_->iterate(body, doc);
  od::object obj;
  license out;
  const license_details kept{&out.license_type, &out.network_id, &out.head_license_id};
  const license_details checked{};
  if (!err && get(doc.get_object(), obj, err)) {
    err = read_license(obj, out, details ? &kept : &checked);
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
        return {std::nullopt, "license " + std::to_string(page.size() + 1) + " of the page (" +
                                  ref.id + ") has no \"deviceSerial\""};
      }
      page.push_back(std::move(ref));
    }
  }
  if (!err && !at_end(doc)) {
    err = simdjson::TRAILING_CONTENT;
  }
  if (err == simdjson::NO_SUCH_FIELD) {
    return {std::nullopt,
            "license " + std::to_string(page.size() + 1) + " of the page has no \"id\""};
  }
  if (err) {
    return {std::nullopt, message(err)};
  }
  return {std::move(page), {}};
}

json_result<std::vector<plan::license_record>> response_parser::parse_license_records(
    std::string_view body, bool keep_raw) {
  return impl_->read_array<plan::license_record>(body, keep_raw, read_license_record, "license");
}

json_result<std::vector<plan::device_record>> response_parser::parse_device_page(
    std::string_view body) {
  return impl_->read_array<plan::device_record>(body, false, read_device_record, "device");
}

json_result<std::vector<plan::organization_record>> response_parser::parse_organizations(
    std::string_view body, bool keep_raw) {
  return impl_->read_array<plan::organization_record>(body, keep_raw, read_org_record,
                                                      "organization");
}

json_result<plan::organization_record> response_parser::parse_organization(std::string_view body,
                                                                           bool keep_raw) {
  od::document doc;
  simdjson::error_code err = impl_->iterate(body, doc);
  od::object obj;
  plan::organization_record out;
  std::string missing;
  if (!err && get(doc.get_object(), obj, err)) {
    missing = read_org_record(obj, out, err);
  }
  if (!err && !at_end(doc)) {
    err = simdjson::TRAILING_CONTENT;
  }
  if (err) {
    return {std::nullopt, message(err)};
  }
  if (!missing.empty()) {
    return {std::nullopt, "organization has no \"" + missing + "\""};
  }
  if (keep_raw) {
    out.raw_json.assign(trim_json_space(body));
  }
  return {std::move(out), {}};
}

json_result<action_batch> response_parser::parse_action_batch(std::string_view body) {
  od::document doc;
  simdjson::error_code err = impl_->iterate(body, doc);
  od::object obj;
  action_batch out;
  std::string missing;
  if (!err && get(doc.get_object(), obj, err)) {
    missing = read_action_batch(obj, out, err);
  }
  if (!err && !at_end(doc)) {
    err = simdjson::TRAILING_CONTENT;
  }
  if (err) {
    return {std::nullopt, message(err)};
  }
  if (!missing.empty()) {
    return {std::nullopt, "action batch has no \"" + missing + "\""};
  }
  return {std::move(out), {}};
}

json_result<std::vector<action_batch>> response_parser::parse_action_batches(
    std::string_view body) {
  return impl_->read_array<action_batch>(body, false, read_action_batch, "action batch");
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

}  // namespace relicense::io
