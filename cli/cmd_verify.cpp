// `relicense verify CSV`: reads the current licenses of the plan's organizations (paginated GETs
// inside the same budget as apply) and reports every row whose license is not on the requested
// serial. Exit 0 when all rows are in place, 1 when any is not (or could not be checked).
#include "commands.hpp"
#include "output_paths.hpp"

#include "relicense/engine/runner.hpp"
#include "relicense/io/oplog.hpp"
#include "relicense/io/report.hpp"
#include "relicense/io/url.hpp"
#include "relicense/io/user_agent.hpp"
#include "relicense/plan/csv.hpp"
#include "relicense/plan/shard.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

namespace relicense::cli {
namespace {

int usage_error(const std::string& message) {
  std::fprintf(stderr, "relicense verify: %s\n", message.c_str());
  return exit_usage;
}

}  // namespace

int run_verify(const apply_options& o) {
  // ----- inputs: every problem is exit 2, before anything is sent ------------------------------
  plan::load_options lo;
  if (auto why = check_run_options(o, lo); !why.empty()) return usage_error(why);
  const char* key = std::getenv("MERAKI_DASHBOARD_API_KEY");
  if (key == nullptr || *key == '\0')
    return usage_error(
        "set MERAKI_DASHBOARD_API_KEY to the Dashboard API key (it is never printed)");

  if (auto why = check_ca_file(o.ca_file); !why.empty()) return usage_error(why);
  if (!o.log_file.empty()) {
    if (auto why = check_output_path(o.log_file, "--log-file"); !why.empty())
      return usage_error(why);
  }

  auto loaded = plan::load_plan(o.csv, lo);
  for (const auto& d : loaded.errors) std::fprintf(stderr, "%s\n", plan::to_string(d).c_str());
  if (loaded.errors_not_shown)
    std::fprintf(stderr, "... and %zu more errors\n", loaded.errors_not_shown);
  if (!loaded.ok()) return usage_error("the plan has errors; nothing was sent");
  const plan::plan& p = loaded.plan;

  // ----- fetch -------------------------------------------------------------------------------
  engine::run_config c = read_config(o, key);
  // The operational log: a write error stops here (before sending) or is reported at the end.
  std::optional<io::oplog> oplog;
  const auto log = [&oplog](const std::string& text) {
    if (!oplog) return true;
    try {
      oplog->line(text);
      return true;
    } catch (const std::runtime_error& e) {
      std::fprintf(stderr, "relicense: %s\n", e.what());
      oplog.reset();
      return false;
    }
  };
  try {
    if (!o.log_file.empty() || o.verbose) oplog.emplace(o.log_file, o.verbose);
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "relicense: %s\n", e.what());
    return exit_aborted;
  }
  const auto base = io::parse_base_url(o.base_url);  // checked above: only its host is logged
  char budget[96];
  std::snprintf(budget, sizeof budget, " rate=%g burst=%g ip-rate=%g", o.rate, o.burst, o.ip_rate);
  if (!log(std::string("start relicense ") + io::relicense_version() +
           " verify plan=" + p.fingerprint +
           " host=" + (base.value ? base.value->where.host : std::string()) + budget +
           " rows=" + std::to_string(p.rows.size()) + " orgs=" + std::to_string(p.orgs.size())))
    return exit_aborted;
  const auto fetched = engine::fetch_inventories(p, c);
  const auto log_end = [&](int exit_code) {
    std::string retries = "retries";
    for (std::size_t i = 0; i < fetched.counters.retries.size(); ++i) {
      retries += std::string(" ") + io::to_string(static_cast<io::retry_cause>(i)) + "=" +
                 std::to_string(fetched.counters.retries[i]);
    }
    bool ok = log(retries);
    if (fetched.status == engine::run_status::aborted)
      ok = ok && log("aborted: " + fetched.abort_reason);
    ok = ok && log(std::string("end status=") + engine::to_string(fetched.status) +
                   " requests=" + std::to_string(fetched.counters.requests) +
                   " 429s=" + std::to_string(fetched.counters.throttled) +
                   " exit=" + std::to_string(exit_code));
    return ok ? exit_code : exit_aborted;
  };
  if (fetched.status == engine::run_status::aborted) {
    std::fprintf(stderr, "relicense verify: aborted: %s\n", fetched.abort_reason.c_str());
    return log_end(exit_aborted);
  }
  for (const auto& [org, why] : fetched.errors)
    std::fprintf(stderr, "relicense verify: organization %s: %s\n", org.c_str(), why.c_str());
  if (fetched.status == engine::run_status::interrupted) {
    std::fprintf(stderr, "relicense verify: interrupted\n");
    return log_end(exit_interrupted);
  }

  // ----- compare -----------------------------------------------------------------------------
  const auto mismatches = io::find_mismatches(p, fetched.inventories);
  for (const auto& m : mismatches) std::printf("%s\n", io::describe(m, input_name(o.csv)).c_str());
  std::size_t unverified = 0;
  for (const auto& m : mismatches) unverified += m.kind == io::mismatch_kind::not_fetched;
  const std::string not_verified =
      unverified ? ", " + std::to_string(unverified) + " not verified" : "";
  std::fprintf(stderr,
               "relicense verify: %zu rows, %zu in place, %zu not in place%s (%llu requests)\n",
               p.rows.size(), p.rows.size() - mismatches.size(), mismatches.size() - unverified,
               not_verified.c_str(), static_cast<unsigned long long>(fetched.counters.requests));
  return log_end(mismatches.empty() ? exit_ok : exit_rows_failed);
}

}  // namespace relicense::cli
