#include "relicense/io/user_agent.hpp"

#include <stdexcept>

#ifndef RELICENSE_VERSION
#error "RELICENSE_VERSION comes from CMake's project(VERSION) (io/CMakeLists.txt)"
#endif

namespace relicense::io {
namespace {

bool alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool lower(char c) noexcept { return c >= 'a' && c <= 'z'; }

/// [A-Za-z0-9]+(\.[A-Za-z0-9]+)*(-[a-z]+)?
bool valid_version(std::string_view v) noexcept {
  const auto dash = v.find('-');
  const std::string_view dotted = v.substr(0, dash);
  if (dash != std::string_view::npos) {
    const std::string_view suffix = v.substr(dash + 1);
    if (suffix.empty()) return false;
    for (char c : suffix)
      if (!lower(c)) return false;
  }
  bool part_empty = true;
  for (char c : dotted) {
    if (c == '.') {
      if (part_empty) return false;
      part_empty = true;
    } else if (alnum(c)) {
      part_empty = false;
    } else {
      return false;
    }
  }
  return !part_empty;
}

}  // namespace

const char* relicense_version() noexcept { return RELICENSE_VERSION; }

std::string caller_problem(std::string_view caller) {
  constexpr const char* form =
      "must be \"Name/Version Vendor\", for example \"AcmeMigrate/2.0 Acme\"";
  if (caller.size() > 128) return std::string(form) + " (at most 128 characters)";
  const auto slash = caller.find('/');
  const auto space = caller.find(' ');
  if (slash == std::string_view::npos || space == std::string_view::npos || slash > space)
    return std::string(form) + " (application name, '/', version, one space, vendor)";
  const std::string_view name = caller.substr(0, slash);
  const std::string_view version = caller.substr(slash + 1, space - slash - 1);
  const std::string_view vendor = caller.substr(space + 1);
  if (name.empty()) return std::string(form) + " (the application name is empty)";
  for (char c : name)
    if (!alnum(c)) return std::string(form) + " (the application name is letters and digits only)";
  if (!valid_version(version))
    return std::string(form) +
           " (the version is dot-separated letters and digits, optionally -suffix)";
  if (vendor.empty()) return std::string(form) + " (the vendor name is empty)";
  for (char c : vendor)
    if (!alnum(c) && c != '-')
      return std::string(form) + " (the vendor is letters, digits and '-' only)";
  return {};
}

std::string user_agent(std::string_view caller) {
  std::string ua = "relicense/";
  ua += RELICENSE_VERSION;
  ua += ' ';
  ua += user_agent_vendor;
  if (!caller.empty()) {
    if (auto why = caller_problem(caller); !why.empty())
      throw std::invalid_argument("caller " + why);
    ua.append(" Caller/(").append(caller).append(")");
  }
  return ua;
}

}  // namespace relicense::io
