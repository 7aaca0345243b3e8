// Options of each subcommand, filled by main.cpp's parser and handed to one run_* function per
// subcommand (one file each, cmd_*.cpp). Exit codes: docs/exit-codes.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace relicense::plan {
struct load_options;
struct load_result;
}  // namespace relicense::plan

namespace relicense::engine {
struct run_config;
}  // namespace relicense::engine

namespace relicense::io {
struct proxy_config;
enum class report_format : std::uint8_t;
}  // namespace relicense::io

namespace relicense::cli {

/// Process exit codes of the command-line contract.
enum exit_code : int {
  exit_ok = 0,            ///< every row applied or already in place
  exit_rows_failed = 1,   ///< some rows failed; the report says which
  exit_usage = 2,         ///< bad usage or bad input; nothing was sent
  exit_aborted = 3,       ///< run aborted (401/403, TLS failure, host unreachable)
  exit_interrupted = 130  ///< SIGINT/SIGTERM; the journal allows --resume
};

/// `relicense plan`.
struct plan_options {
  std::string csv;    ///< input CSV path; "-": standard input
  std::string org;    ///< --org: default/filter organization id
  std::string shard;  ///< --shard K/N (empty: no sharding)
  bool live = false;  ///< --live: compare with the live state (reads the API)
  bool json = false;  ///< --json: the live plan as one JSON document
  std::string emit;   ///< --emit FILE: a serial map's resolved license rows, as CSV
};

/// `relicense apply` and `relicense verify` (verify uses the connection subset).
struct apply_options {
  std::string csv;
  std::string org;
  std::string base_url = "https://api.meraki.com/api/v1";
  double rate = 10;          ///< per-org requests/s
  double burst = 10;         ///< per-org burst above the rate
  double ip_rate = 100;      ///< per-source-IP requests/s
  unsigned concurrency = 0;  ///< 0: default chosen by the engine
  unsigned max_attempts = 6;
  double timeout = 30;        ///< seconds per request
  std::string report;         ///< "-": standard output
  std::string report_format;  ///< --report-format csv|jsonl; empty: from the report's name
  std::string summary;
  std::string metrics;
  std::string journal;
  bool resume = false;
  bool dry_run = false;
  bool yes = false;  ///< --yes: no confirmation question on a terminal
  bool skip_unchanged =
      false;                  ///< accepted for compatibility: reading the inventory is the default
  bool no_inventory = false;  ///< --no-inventory: send every row unread (no rollback afterwards)
  std::uint64_t limit = 0;    ///< --limit N: only the first N changes (0: all)
  std::string mode = "put";   ///< put | batch
  std::string shard;
  std::string ca_file;
  std::string proxy;              ///< --proxy URL (wins over the *_proxy variables)
  bool no_proxy = false;          ///< --no-proxy: no proxy whatever the environment says
  std::string progress = "auto";  ///< auto | on | off
  bool quiet = false;
  std::string log_file;  ///< --log-file: operational log, appended
  bool verbose = false;  ///< -v: the log's lines on stderr too
  std::string caller;    ///< --caller / RELICENSE_CALLER: "App/1.0 Vendor", checked by main
};

/// Which of the connection options a subcommand takes (connection_options.cpp).
struct connection_option_set {
  bool org_and_shard = true;       ///< --org and --shard (plan declares its own)
  bool budget = true;              ///< --rate, --burst, --ip-rate
  bool attempts_per_page = false;  ///< --max-attempts counts per page, not per row
};

/// Declares the options of a subcommand that talks to the API: --base-url, --max-attempts,
/// --timeout, --ca-file, --proxy/--no-proxy, --caller, and those `set` selects.
void add_connection_options(CLI::App& cmd, apply_options& o, connection_option_set set = {});

/// `relicense orgs` and `relicense licenses`: the connection options of `verify` and what to print.
struct discovery_options {
  apply_options
      connection;      ///< --org (licenses), --base-url, --timeout, --ca-file, proxies, --caller
  std::string serial;  ///< licenses --serial: only that device's licenses
  bool json = false;   ///< the API's objects as one JSON array
  bool csv = false;    ///< licenses: a license CSV that plan and apply read back
};

/// Registers `relicense orgs` / `relicense licenses` and their options (cmd_orgs.cpp).
CLI::App* add_orgs_command(CLI::App& app, discovery_options& opts);
CLI::App* add_licenses_command(CLI::App& app, discovery_options& opts);

/// `relicense rollback`.
struct rollback_options {
  std::string report;
  std::string output;
};

/// `relicense sim`.
struct sim_options {
  std::uint16_t port = 0;
  unsigned orgs = 3;
  unsigned licenses = 1000;  ///< per org
  double rate = 10;
  double burst = 10;
  double ip_rate = 100;
  double fault_5xx = 0;
  double fault_drop = 0;
  double fault_slow = 0;
  double fault_429 = 0;  ///< 429 without Retry-After
  unsigned latency_ms = 0;
  std::string latency_dist = "lognormal";  ///< fixed|lognormal
  bool redirect = false;
  bool tls = false;
  std::uint64_t seed = 1;
  unsigned coterm_orgs = 0;
  double background_rate = 0;  ///< another application's requests/s per org
  double batch_action_ms = 5;  ///< execution time per action-batch action
};

/// Registers `relicense sim` and its options (they live with run_sim, in cmd_sim.cpp).
CLI::App* add_sim_command(CLI::App& app, sim_options& opts);

/// The checks `apply` and `verify` share before anything is read or sent: --org and --shard
/// (into `lo`), rates, attempts, timeout, and a base URL that never carries the key in clear.
/// Empty when all is well, else the message for exit 2.
std::string check_run_options(const apply_options& o, plan::load_options& lo);

/// The proxy settings of a run: --proxy, --no-proxy and this process's *_proxy variables.
io::proxy_config proxy_settings(const apply_options& o);
/// The settings every command that calls the API shares: base URL, `key` (may be null), budget,
/// attempts, timeout, CA file, proxy and User-Agent. apply adds its own on top.
engine::run_config read_config(const apply_options& o, const char* key);
/// The name diagnostics and messages give the input: `csv`, or "<stdin>" for "-".
std::string input_name(const std::string& csv);

/// The report's format: --report-format when given, else the report's name (.csv or .jsonl, any
/// case; "-" and the default report are CSV). Empty when all is well, else the message for exit 2.
std::string choose_report_format(const apply_options& o, io::report_format& format);

int run_plan(const plan_options& opts);
/// `relicense plan FILE --live`: `conn` holds the connection options (and --org, --shard).
int run_plan_live(const plan_options& opts, const apply_options& conn);
/// A plan `apply` runs instead of loading its CSV argument (`retry`: a report's failed rows).
struct given_plan {
  const plan::load_result* loaded = nullptr;  ///< the plan, its errors and warnings
  std::string source;       ///< names the input in the failures' example lines; empty: "line N"
  std::string report_base;  ///< the default report's name derives from this path
  const char* command = "retry";  ///< the subcommand its messages name
  /// Calls the input already cost (a serial map's live read): the summary counts them too.
  std::uint64_t requests_before = 0;
  std::uint64_t throttled_before = 0;
};

int run_apply(const apply_options& opts, const given_plan* given = nullptr);
/// `relicense retry REPORT`: apply's options, with the report's failed rows as the plan.
int run_retry(const apply_options& opts);
int run_verify(const apply_options& opts);
int run_rollback(const rollback_options& opts);
int run_orgs(const discovery_options& opts);
int run_licenses(const discovery_options& opts);
int run_sim(const sim_options& opts);
int run_demo();

}  // namespace relicense::cli
