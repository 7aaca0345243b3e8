// `relicense plan CSV [--org ORG] [--shard K/N]`: validate the CSV and print what a run would do.
// Sends nothing. Errors go to stderr (exit 2); the summary goes to stdout.
#include "commands.hpp"

#include "relicense/plan/csv.hpp"
#include "relicense/plan/estimate.hpp"
#include "relicense/plan/shard.hpp"

#include <cstdio>
#include <string>

namespace relicense::cli {

namespace {

void print_warnings(const plan::load_result& r) {
  for (const auto& d : r.warnings)
    std::fprintf(stderr, "warning: %s\n", plan::to_string(d).c_str());
  if (r.warnings_not_shown > 0)
    std::fprintf(stderr, "warning: ... and %zu more warnings\n", r.warnings_not_shown);
}

}  // namespace

int run_plan(const plan_options& opts) {
  plan::load_options lo;
  lo.org = opts.org;
  if (!opts.shard.empty()) {
    lo.shard = plan::parse_shard(opts.shard);
    if (!lo.shard) {
      std::fprintf(stderr,
                   "relicense: invalid --shard \"%s\": expected K/N with 0 <= K < N (e.g. 0/4)\n",
                   opts.shard.c_str());
      return exit_usage;
    }
  }

  lo.accept_serial_map = true;
  const plan::load_result r = plan::load_plan(opts.csv, lo);
  print_warnings(r);
  if (!r.ok()) {
    for (const auto& d : r.errors) std::fprintf(stderr, "%s\n", plan::to_string(d).c_str());
    if (r.errors_not_shown > 0)
      std::fprintf(stderr, "... and %zu more errors\n", r.errors_not_shown);
    std::fprintf(stderr, "relicense: %zu error%s in %s; nothing was planned or sent\n",
                 r.error_count(), r.error_count() == 1 ? "" : "s", input_name(opts.csv).c_str());
    return exit_usage;
  }

  if (r.map) {
    // Which licenses move is only known against the live inventory.
    std::printf("serial map %s\n", input_name(opts.csv).c_str());
    std::printf("  mappings                       %zu\n", r.map->rows.size());
    std::printf("  organizations                  %zu\n", r.map->orgs.size());
    std::printf(
        "  resolve it against the live inventory: relicense plan %s --live [--emit moves.csv]\n",
        input_name(opts.csv).c_str());
    return exit_ok;
  }

  const plan::plan& p = r.plan;
  const auto per_org = plan::rows_per_org(p);
  const plan::budget b;  // the Dashboard's default budget
  const auto put = plan::estimate_put(per_org, b);
  const auto batch = plan::estimate_batch(per_org, b);
  const auto hybrid = plan::estimate_auto(per_org, b);

  auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  std::printf("plan of %s%s%s\n", input_name(opts.csv).c_str(), lo.shard ? ", shard " : "",
              lo.shard ? plan::to_string(*lo.shard).c_str() : "");
  std::printf("  rows read                      %llu\n", u(p.counts.input_rows));
  std::printf("  unique licenses                %llu\n", u(p.rows.size()));
  std::printf("  organizations                  %llu\n", u(p.orgs.size()));
  std::printf("  assigns                        %llu\n", u(p.counts.assigns));
  std::printf("  unassigns                      %llu\n", u(p.counts.unassigns));
  std::printf("  duplicates dropped             %llu\n", u(p.counts.duplicates_dropped));
  std::printf("  serials receiving several      %llu\n", u(p.counts.serials_with_several));
  if (!opts.org.empty() || lo.shard)
    std::printf("  filtered out (--org/--shard)   %llu\n", u(p.counts.filtered_out));
  std::printf(
      "  estimated duration, put mode   %s (%llu calls; %s; %g/s per org, burst %g, %g/s per IP)\n",
      plan::format_duration(put.seconds).c_str(), u(put.requests),
      put.ip_bound ? "bound by the per-IP rate" : "bound by the per-org rate", b.org_rate,
      b.org_burst, b.ip_rate);
  std::printf("  estimated duration, batch mode %s (%llu calls; 100 actions per batch)\n",
              plan::format_duration(batch.seconds).c_str(), u(batch.requests));
  std::printf("  estimated duration, auto mode  %s (%llu calls; batches and PUTs at once)\n",
              plan::format_duration(hybrid.seconds).c_str(), u(hybrid.requests));
  std::printf("  fingerprint                    %s\n", p.fingerprint.c_str());
  return exit_ok;
}

}  // namespace relicense::cli
