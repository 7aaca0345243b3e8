// An in-process twin of the Meraki Dashboard license API: a Beast HTTP/1.1 server on
// 127.0.0.1 used by `relicense sim`, the demo, the end-to-end tests and the benchmarks. This
// header exposes no Beast or Asio: embedding code only configures, starts, inspects and stops it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace relicense::sim {

/// How the added latency of API answers is spread.
enum class latency_dist : std::uint8_t {
  fixed,     ///< every answer waits exactly `latency`
  lognormal  ///< log-normal with median `latency` (sigma 0.5, capped at 6x): 500 ms gives
             ///< p1 156 ms, p99 1.6 s, p99.9 2.3 s, like the real API's writes
};

/// Everything the twin can be told at start. Defaults model the real API's budget.
struct sim_config {
  std::uint16_t port = 0;            ///< main listener port; 0 picks a free port
  unsigned orgs = 3;                 ///< organizations generated from the seed
  unsigned licenses_per_org = 1000;  ///< licenses per organization
  double rate = 10;                  ///< per-org requests/s; 0 turns the whole budget off
  double burst = 10;                 ///< per-org bucket capacity (tokens available at once)
  double ip_rate = 100;              ///< per-client-IP requests/s (capacity: one second's worth)
  double fault_5xx = 0;              ///< probability of a 5xx (half of them after applying)
  double fault_drop = 0;             ///< probability of closing the connection without answering
  double fault_slow = 0;             ///< probability of answering only after `slow_delay`
  double fault_429 = 0;              ///< probability of a 429 without Retry-After
  std::chrono::milliseconds latency{0};  ///< added to every API response (median)
  latency_dist latency_distribution = latency_dist::lognormal;  ///< how `latency` varies
  std::chrono::milliseconds slow_delay{35000};  ///< beyond the default client timeout (30 s)
  bool redirect = false;                  ///< main listener redirects API calls to a shard listener
  bool tls = false;                       ///< HTTPS with a generated certificate
  std::string cert_host;                  ///< non-empty: certificate names this host instead of
                                          ///< localhost/127.0.0.1 (for wrong-host tests)
  std::string cert_dir;                   ///< where ca.pem is written; empty: a fresh temp dir
  unsigned coterm_orgs = 0;               ///< the last N organizations are co-term
  double batch_actions_per_second = 200;  ///< execution speed of action batches
  double batch_action_ms = -1;  ///< execution time per batch action; when >= 0 it replaces
                                ///< batch_actions_per_second (n actions take n x this)
  double background_rate = 0;   ///< another application's requests/s on each org's budget,
                                ///< at Poisson times (0: none)
  unsigned threads = 1;         ///< I/O threads
  std::uint64_t seed = 1;       ///< orgs, licenses, devices, assignments and faults
  std::string api_key;          ///< accepted key; empty: derived from the seed
};

/// One license as generated/currently held (for building CSVs in tests and the demo).
struct license_info {
  std::string id;
  std::optional<std::string> device_serial;  ///< current assignment
  std::string license_type;
  std::string state;
};

/// One organization of the twin.
struct org_info {
  std::string id;
  std::string name;
  bool coterm = false;                 ///< license calls answer 400 (no per-device licensing)
  std::string licensing_model;         ///< "per-device" or "co-term", as GET /organizations/{id}
  std::vector<license_info> licenses;  ///< in listing order
  std::vector<std::string> devices;    ///< serials of the org's devices (valid PUT targets)
  /// The refresh's new hardware: old serial (holding a license) -> its unlicensed successor.
  std::map<std::string, std::string> successors;
};

/// org id -> license id -> current serial (nullopt: unassigned).
using state_map = std::map<std::string, std::map<std::string, std::optional<std::string>>>;

/// Counters since start or the last reset().
struct stats_snapshot {
  std::uint64_t requests = 0;                   ///< every request read, control ones excluded
  std::map<unsigned, std::uint64_t> by_status;  ///< answered requests by HTTP status
  std::uint64_t puts_applied = 0;               ///< PUTs that changed or re-set a license
  std::uint64_t duplicate_applies = 0;          ///< same license+serial applied again
  std::uint64_t batch_actions_applied = 0;      ///< license updates applied by action batches
  std::uint64_t rate_limited = 0;               ///< 429 answers from the budget (Retry-After)
  std::uint64_t redirects = 0;                  ///< 3xx answers of the main listener
  std::uint64_t fault_5xx = 0;                  ///< injected 5xx, not applied
  std::uint64_t fault_5xx_applied = 0;          ///< injected 5xx after applying the change
  std::uint64_t fault_drop = 0;                 ///< connections closed without a response
  std::uint64_t fault_slow = 0;                 ///< responses delayed by slow_delay
  std::uint64_t fault_429 = 0;                  ///< injected 429 without Retry-After
  std::uint64_t max_org_requests_1s = 0;        ///< most requests one org got in any 1 s window
                                                ///< (this client's; the background app's apart)
  std::uint64_t background_calls = 0;           ///< calls of the background application
  std::uint64_t background_rate_limited = 0;    ///< of those, answered 429 by the org's budget
};

namespace detail {
struct server_impl;
}

/// The twin. start() binds 127.0.0.1 and serves on its own thread(s) until stop() or
/// destruction. state(), stats(), orgs(), reset() and the setters may be called from any thread
/// while it runs.
class server {
public:
  explicit server(sim_config config);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds the listeners (and, with TLS, writes the CA file) and starts serving.
  /// Throws std::runtime_error when a port cannot be bound or the certificate cannot be made.
  void start();
  /// Stops serving; pending slow responses are abandoned. Idempotent.
  void stop();

  /// e.g. http://127.0.0.1:PORT/api/v1 (https with TLS).
  std::string base_url() const;
  /// Base URL of the shard listener that redirects point at (empty without --redirect).
  std::string shard_url() const;
  std::uint16_t port() const;
  /// The twin's own API key (not a secret: it only opens this local server).
  std::string api_key() const;
  /// PEM file to pass to --ca-file (empty without TLS).
  std::string ca_file() const;

  std::vector<org_info> orgs() const;
  state_map state() const;
  stats_snapshot stats() const;
  /// Back to the generated state; counters, buckets and batches cleared.
  void reset();

  /// Changes the fault probabilities at runtime.
  void set_faults(double fault_5xx, double fault_drop, double fault_slow, double fault_429);
  /// Changes the budget at runtime (rate 0: off); buckets restart full.
  void set_budget(double rate, double burst, double ip_rate);
  /// Changes the background application's requests/s per org at runtime (0: stops it).
  void set_background_rate(double rate);
  /// Changes the accepted key at runtime (a key revoked or rotated in the middle of a run).
  void set_api_key(std::string key);

private:
  std::unique_ptr<detail::server_impl> impl_;
};

}  // namespace relicense::sim
