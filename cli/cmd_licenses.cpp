// `relicense licenses --org ID [--serial S]`: an organization's licenses as a table, as the API's
// JSON objects, or as a license CSV to edit and apply, so a plan can be written without another
// tool.
#include "commands.hpp"
#include "discovery.hpp"

#include "relicense/engine/retry_policy.hpp"
#include "relicense/plan/csv.hpp"
#include "relicense/plan/discovery.hpp"

#include <cstdio>
#include <string>

namespace relicense::cli {
namespace {

int usage_error(const std::string& message) {
  std::fprintf(stderr, "relicense licenses: %s\n", message.c_str());
  return exit_usage;
}

std::string trimmed(std::string s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

}  // namespace

int run_licenses(const discovery_options& o) {
  const std::string org = o.connection.org;
  if (auto why = plan::rules::id_problem(org); !why.empty()) return usage_error("--org " + why);
  std::string serial = trimmed(o.serial);
  if (!o.serial.empty()) {
    if (auto why = plan::rules::id_problem(serial); !why.empty())
      return usage_error("--serial " + why);
    plan::rules::to_upper(serial);  // serials are upper case in the API
  }
  engine::run_config c;
  if (auto why = discovery_config(o, c); !why.empty()) return usage_error(why);

  auto got = engine::list_licenses(org, serial, c, o.json);
  std::string error;
  if (!got.error.empty()) {
    error = "organization " + org + ": " + got.error;
    if (got.error.find(engine::coterm_marker) != std::string::npos)
      error += " (a co-term organization: its licenses are not assigned to devices)";
  }
  if (int code = listing_exit("licenses", got.status, got.abort_reason, error); code >= 0)
    return code;
  if (o.json) return print_listing("licenses", plan::render_licenses_json(got.items));
  if (o.csv) return print_listing("licenses", plan::render_licenses_csv(got.items, org));
  return print_listing("licenses", plan::render_licenses_table(got.items));
}

}  // namespace relicense::cli
