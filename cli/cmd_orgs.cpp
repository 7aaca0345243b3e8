// `relicense orgs`: the organizations the API key can see, with their licensing model (only
// per-device organizations take license moves). Also the options and checks `licenses` shares.
#include "commands.hpp"
#include "discovery.hpp"
#include "output_paths.hpp"

#include "relicense/io/user_agent.hpp"
#include "relicense/plan/csv.hpp"
#include "relicense/plan/discovery.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace relicense::cli {

/// A discovery command reads a few pages at the default budget, retrying each page (a subset of
/// verify's options).
constexpr connection_option_set discovery_connection{
    .org_and_shard = false, .budget = false, .attempts_per_page = true};

CLI::App* add_orgs_command(CLI::App& app, discovery_options& o) {
  auto* cmd = app.add_subcommand(
      "orgs", "List the organizations the API key can see, with their licensing model");
  add_connection_options(*cmd, o.connection, discovery_connection);
  cmd->add_flag("--json", o.json, "Print the API's organization objects as one JSON array");
  return cmd;
}

CLI::App* add_licenses_command(CLI::App& app, discovery_options& o) {
  auto* cmd = app.add_subcommand(
      "licenses", "List an organization's licenses (id, type, state, device, expiration)");
  cmd->add_option("--org", o.connection.org, "Organization id")->required();
  cmd->add_option("--serial", o.serial, "Only the licenses of this device");
  add_connection_options(*cmd, o.connection, discovery_connection);
  auto* json = cmd->add_flag("--json", o.json, "Print the API's license objects as one JSON array");
  cmd->add_flag("--csv", o.csv, "Print a license CSV (edit deviceSerial, then plan and apply it)")
      ->excludes(json);
  return cmd;
}

std::string discovery_config(const discovery_options& o, engine::run_config& c) {
  plan::load_options lo;
  if (auto why = check_run_options(o.connection, lo); !why.empty()) return why;
  if (auto why = check_ca_file(o.connection.ca_file); !why.empty()) return why;
  const char* key = std::getenv("MERAKI_DASHBOARD_API_KEY");
  if (key == nullptr || *key == '\0')
    return "set MERAKI_DASHBOARD_API_KEY to the Dashboard API key (it is never printed)";
  c.base_url = o.connection.base_url;
  c.api_key = key;
  c.retry.max_attempts = o.connection.max_attempts;
  c.client.timeout = std::chrono::milliseconds(static_cast<long long>(o.connection.timeout * 1000));
  c.client.ca_file = o.connection.ca_file;
  c.client.proxy = proxy_settings(o.connection);
  c.client.user_agent = io::user_agent(o.connection.caller);
  return {};
}

int listing_exit(const char* command, engine::run_status status, const std::string& abort_reason,
                 const std::string& error) {
  if (status == engine::run_status::aborted) {
    std::fprintf(stderr, "relicense %s: aborted: %s\n", command, abort_reason.c_str());
    return exit_aborted;
  }
  if (status == engine::run_status::interrupted) {
    std::fprintf(stderr, "relicense %s: interrupted\n", command);
    return exit_interrupted;
  }
  if (!error.empty()) {
    std::fprintf(stderr, "relicense %s: %s\n", command, error.c_str());
    return exit_rows_failed;
  }
  return -1;
}

int print_listing(const char* command, const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    std::fprintf(stderr, "relicense %s: cannot write standard output\n", command);
    return exit_aborted;
  }
  return exit_ok;
}

int run_orgs(const discovery_options& o) {
  engine::run_config c;
  if (auto why = discovery_config(o, c); !why.empty()) {
    std::fprintf(stderr, "relicense orgs: %s\n", why.c_str());
    return exit_usage;
  }
  auto got = engine::list_organizations(c, o.json);
  std::string error =
      got.error.empty() ? got.error : "the organizations could not be listed: " + got.error;
  if (int code = listing_exit("orgs", got.status, got.abort_reason, error); code >= 0) return code;
  return print_listing(
      "orgs", o.json ? plan::render_orgs_json(got.items) : plan::render_orgs_table(got.items));
}

}  // namespace relicense::cli
