// Runs a plan against the Dashboard API: N worker coroutines on one io_context thread (no mutex),
// per-organization and per-IP token buckets, retries, redirects to shard hosts, cancellation.
// One run loop (src/run_loop.cpp, the only engine file with Asio) drives every mode (put_mode,
// batch_mode, inventory_mode); this header exposes plain types. Every plan row ends in exactly
// one result handed to a result_sink, so report/journal/summary writers plug in without the
// runner knowing about files.
#pragma once

#include "relicense/engine/clock.hpp"
#include "relicense/engine/retry_policy.hpp"
#include "relicense/io/http_client.hpp"
#include "relicense/io/row_result.hpp"
#include "relicense/plan/diff.hpp"
#include "relicense/plan/plan.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relicense::engine {

/// What a run did, for the summary and metrics.
struct run_counters {
  std::uint64_t requests = 0;                   ///< every request sent (PUT, GET, redirect hops)
  std::uint64_t puts = 0;                       ///< license PUTs sent
  std::uint64_t gets = 0;                       ///< inventory GETs sent (--skip-unchanged)
  std::uint64_t throttled = 0;                  ///< 429 answers (with or without Retry-After)
  std::uint64_t redirects = 0;                  ///< 3xx answers followed
  std::uint64_t transport_errors = 0;           ///< requests without a complete response
  std::map<unsigned, std::uint64_t> by_status;  ///< complete responses by HTTP status
  std::array<std::uint64_t, static_cast<std::size_t>(retry_cause::count)> retries{};  ///< by cause
  std::uint64_t applied = 0;  ///< rows by outcome ...
  std::uint64_t unchanged = 0;
  std::uint64_t failed = 0;
  std::uint64_t skipped = 0;
  std::uint64_t not_attempted = 0;
  std::uint64_t retries_total() const noexcept;
  std::uint64_t rows_done() const noexcept {
    return applied + unchanged + failed + skipped + not_attempted;
  }
  /// Counts one finished row.
  void count(io::outcome o) noexcept;
};

/// Something a run did that is not a row's result, for operational logs.
struct run_event {
  enum class kind : std::uint8_t {
    org_paused,  ///< a 429 paused an organization's requests for `delay`
    retry,       ///< a request will be sent again after `delay`
    aborted      ///< the run stops; `text` says why
  };
  kind what = kind::org_paused;
  std::string_view org_id;  ///< empty when the event is not an organization's
  std::chrono::nanoseconds delay{0};
  retry_cause cause = retry_cause::throttled;
  std::string_view text;  ///< already redacted; valid during the call only
};

/// Receives every row's final result, on the runner's thread, as rows finish.
///
/// A sink that cannot record results (a full disk, an I/O error) throws from on_result, flush or
/// on_progress: the run then stops as an abort would (no request leaves after it, the rows in
/// flight settle and still reach the sink, which may have another file that works), and run()
/// rethrows the first such exception once every row has its result.
class result_sink {
public:
  virtual ~result_sink() = default;
  virtual void on_result(const io::row_result& r) = 0;
  /// Called after each on_result with the run's counters so far (progress display).
  virtual void on_progress(const run_counters&) {}
  /// Checked after each result: false stops the run as SIGINT would (tests, embedding code).
  virtual bool keep_going() { return true; }
  /// The run loop calls this once per turn of its event loop in which rows finished, before
  /// any worker that finished one of those rows sends another request, and once at the end: a
  /// sink may buffer between calls (one write for many rows) and lose, in a kill, only rows
  /// that were in flight anyway. An exception stops the run (see above).
  virtual void flush() {}
  /// A pause, retry or abort as it happens. The default does nothing, so a run nobody logs
  /// formats nothing; an implementation must not throw (keep an error for on_result).
  virtual void on_event(const run_event&) {}
};

struct inventory_result;

/// Everything a run needs besides the plan.
struct run_config {
  std::string base_url = "https://api.meraki.com/api/v1";
  std::string api_key;       ///< secret: sent as "Bearer ...", never logged
  double rate = 10;          ///< per-org requests/s (0: unlimited)
  double burst = 10;         ///< per-org bucket capacity
  double ip_rate = 100;      ///< per-source-IP requests/s (0: unlimited)
  unsigned concurrency = 0;  ///< workers; 0: default_concurrency()
  retry_policy retry;
  io::client_config client;     ///< timeout, CA file, limits
  bool dry_run = false;         ///< send no PUT (inventory GETs still go with skip_unchanged)
  bool skip_unchanged = false;  ///< fetch inventories first; send only rows that change
  /// Inventories read before the run (fetch_inventories), used instead of reading them again
  /// when skip_unchanged is set; nullptr: the run reads them itself. Must outlive the run.
  const inventory_result* inventories = nullptr;
  /// Send at most this many rows that change (a canary run); the rows beyond end not_attempted
  /// with "left by --limit N", so --resume sends them. Rows already in place do not count. 0: all.
  std::uint64_t limit = 0;
  bool handle_signals = true;  ///< SIGINT/SIGTERM stop the run gracefully
  /// After a stop, in-flight requests get this long to finish before their sockets are closed.
  std::chrono::milliseconds drain_timeout{10000};
  std::uint64_t seed = 0;  ///< jitter seed; 0: from std::random_device
  /// The run's time; nullptr: real_clock(). See clock.hpp for what an injected clock must keep.
  const clock_source* clock = nullptr;
  /// Read each organization with rows to send first (GET /organizations/{id}, inside the budget):
  /// one the key cannot see stops the run before any row is sent (run_result::invisible_orgs),
  /// one without per-device licensing fails its rows unsent. See preflight.hpp.
  bool preflight = false;
  /// Organizations whose rows fail unsent, with why (the pre-flight found no per-device
  /// licensing): org id -> explanation.
  std::map<std::string, std::string> refused_orgs;
  /// Rows already done by an earlier run (--resume): return the recorded result to report it
  /// again without sending, or nullptr to run the row.
  std::function<const io::row_result*(const plan::row&)> already_done;
};

/// How a run ended.
enum class run_status : std::uint8_t {
  completed,  ///< every row was attempted (each applied, unchanged, failed or skipped)
  /// 401/403, TLS failure, unreachable host, or a sink that cannot write. The failure is the
  /// run's, not a row's: the row whose answer ended the run and the rows not sent are
  /// not_attempted, never failed for good, so --resume sends them again.
  aborted,
  interrupted  ///< SIGINT/SIGTERM or the sink asked to stop: the rest not_attempted
};

const char* to_string(run_status s) noexcept;

/// The end of a run.
struct run_result {
  run_status status = run_status::completed;
  std::string abort_reason;  ///< when aborted (never contains the key)
  run_counters counters;
  unsigned concurrency = 0;  ///< workers used
  double elapsed_s = 0;      ///< wall time of the run
  /// The pre-flight found organizations the key cannot see (404/403): the run stopped before
  /// sending any row (status aborted, every row not_attempted). Org id and the HTTP status.
  std::vector<std::pair<std::string, unsigned>> invisible_orgs;
  /// The pre-flight found organizations without per-device licensing: org id and why their
  /// rows failed unsent.
  std::vector<std::pair<std::string, std::string>> refused_orgs;
};

/// Default worker count: enough requests in flight to fill the budget at an assumed 2 s
/// worst-case latency of the real API (budget × 2 s), at least 8 so latency spikes do not idle a
/// bucket, at most 64 connections (polite to the service, ample for 100 req/s at 640 ms), never
/// more than the rows. An unlimited budget (rate 0) gets 64.
unsigned default_concurrency(std::size_t orgs, std::size_t rows, double rate, double ip_rate);

/// Runs the plan on the calling thread until every row has a result. Throws std::runtime_error
/// on setup failures (bad base URL, unreadable CA file); network trouble is reported per row or
/// as an aborted run.
run_result run(const plan::plan& p, const run_config& config, result_sink& sink);

/// The current licenses of a plan's organizations (`relicense verify`, apply's inventory read).
struct inventory_result {
  plan::inventories inventories;              ///< organizations read whole
  std::map<std::string, std::string> errors;  ///< org id -> why it could not be read
  std::vector<std::string> refused;           ///< per plan org: why it takes no calls ("": it does)
  run_status status = run_status::completed;  ///< aborted: bad key, TLS, unreachable
  std::string abort_reason;
  run_counters counters;
};

/// Fetches every organization of the plan with GET .../licenses?perPage=1000, following
/// Link rel=next and redirects, inside the same budgets as run() (config's rates), on the calling
/// thread. Rows are not touched; `config.concurrency`, dry_run and skip_unchanged are ignored.
inventory_result fetch_inventories(const plan::plan& p, const run_config& config);

}  // namespace relicense::engine
