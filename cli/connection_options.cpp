// The connection options every subcommand that talks to the API declares, in one place so that
// apply, verify, plan --live, orgs and licenses spell and explain them alike.
#include "commands.hpp"

#include <CLI/CLI.hpp>

namespace relicense::cli {

void add_connection_options(CLI::App& cmd, apply_options& o, connection_option_set set) {
  if (set.org_and_shard)
    cmd.add_option("--org", o.org,
                   "Organization id (required when the CSV has no organizationId column)");
  cmd.add_option("--base-url", o.base_url, "Dashboard API base URL")->capture_default_str();
  if (set.budget) {
    cmd.add_option("--rate", o.rate, "Requests per second per organization")->capture_default_str();
    cmd.add_option("--burst", o.burst, "Burst above the per-organization rate")
        ->capture_default_str();
    cmd.add_option("--ip-rate", o.ip_rate, "Requests per second for this source IP")
        ->capture_default_str();
  }
  cmd.add_option("--max-attempts", o.max_attempts,
                 set.attempts_per_page ? "Attempts per page for retryable failures"
                                       : "Attempts per row for retryable failures")
      ->capture_default_str();
  cmd.add_option("--timeout", o.timeout, "Seconds per request")->capture_default_str();
  if (set.org_and_shard)
    cmd.add_option("--shard", o.shard, "Only organizations in shard K of N (K/N)");
  cmd.add_option("--ca-file", o.ca_file,
                 "PEM file of a private CA to trust (verification stays on)");
  auto* proxy =
      cmd.add_option("--proxy", o.proxy,
                     "HTTP proxy URL http://[user:password@]host[:port] (default: HTTPS_PROXY, "
                     "ALL_PROXY; NO_PROXY applies)");
  cmd.add_flag("--no-proxy", o.no_proxy, "Connect directly, ignoring *_proxy variables")
      ->excludes(proxy);
  cmd.add_option(
      "--caller", o.caller,
      "Your application, added to the User-Agent: \"Name/Version Vendor\" (env RELICENSE_CALLER)");
}

}  // namespace relicense::cli
