// The twin's sans-I/O core: generated organizations, licenses and devices (inventory), the
// budget and the background application sharing it, per-device licensing rules, faults,
// pagination and action batches. It turns one parsed request into one reply at a given time;
// server.cpp only moves bytes and honours the reply's delay/drop. Kept free of Asio and Beast so
// the rules are testable with a fake clock and fast to compile.
#pragma once

#include "relicense/sim/server.hpp"

#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace relicense::sim::detail {

using clock = std::chrono::steady_clock;

/// Which listener received a request.
enum class listener_kind : std::uint8_t {
  main,  ///< the base URL handed to users; redirects to the shard when `redirect` is on
  shard  ///< the redirect target, always serves
};

/// A request as the HTTP layer parsed it; views stay valid during handle().
struct request_view {
  std::string_view method;
  std::string_view target;         ///< path and query
  std::string_view authorization;  ///< Authorization header
  std::string_view meraki_key;     ///< X-Cisco-Meraki-API-Key header
  std::string_view content_type;
  std::string_view body;
  std::string_view client_ip;
  listener_kind listener = listener_kind::main;
};

/// What to answer (or not).
struct reply {
  unsigned status = 200;
  std::string body;
  std::string location;                ///< Location header when non-empty
  std::string link;                    ///< Link header when non-empty
  int retry_after = -1;                ///< Retry-After seconds when >= 0
  std::chrono::milliseconds delay{0};  ///< wait before answering (latency, slow fault, sync batch)
  bool drop = false;                   ///< close the connection without answering
  std::uint64_t request_id = 0;        ///< X-Request-Id, as 16 hex digits
};

/// A token bucket on an explicit clock: `capacity` tokens at most, refilled at `rate`/s.
class token_bucket {
public:
  token_bucket() = default;
  token_bucket(double rate, double capacity, clock::time_point now)
      : rate_(rate), capacity_(capacity), tokens_(capacity), last_(now) {}
  /// Takes one token if there is one.
  bool try_take(clock::time_point now);
  /// Seconds until one token is available (0 when one is).
  double wait_seconds(clock::time_point now);

private:
  void refill(clock::time_point now);
  double rate_ = 0;
  double capacity_ = 0;
  double tokens_ = 0;
  clock::time_point last_{};
};

/// Transparent string hashing so string_view lookups do not allocate. Deliberately not noexcept:
/// libstdc++ then stores each node's hash, and a lookup walking a bucket compares stored hashes
/// instead of re-hashing every key it passes (a fifth of a PUT's time in the twin).
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class V>
using string_map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

/// License states of the OpenAPI enum.
enum class license_state : std::uint8_t {
  active,           ///< assigned and burning
  expired,          ///< past its expiration date
  expiring,         ///< assigned, expires within 30 days
  recently_queued,  ///< queued behind another license (not produced by the generator)
  unused,           ///< never activated, unassigned
  unused_active     ///< activated once, now unassigned
};
const char* to_string(license_state s) noexcept;

struct queued_license {
  std::string id, license_type, license_key, order_number;
  int duration_in_days = 0;
};

struct device {
  std::string serial;
  std::string network_id;
  std::string name;
  std::string model;
  std::string_view product_type;  ///< static strings
  std::string mac;
  std::string order_number;
  std::int64_t claim = 0;  ///< unix seconds
  // Runtime state, rebuilt from the licenses by reset().
  int head = -1;           ///< license active on this device (index), -1 none
  std::vector<int> queue;  ///< licenses queued behind `head`, in queue order
};

struct license {
  std::string id;
  std::string license_type;
  std::string license_key;
  std::string order_number;
  int device = -1;  ///< index into org::devices, -1 unassigned
  license_state state = license_state::unused;
  int seat_count = 0;
  int duration_in_days = 365;
  std::vector<queued_license> queued;
  std::int64_t claim = 0;       ///< unix seconds
  std::int64_t activation = 0;  ///< unix seconds, 0 = never activated
  int last_applied = -2;        ///< device of the last applied PUT (-1 null, -2 none yet)
  int head = -1;                ///< while recentlyQueued: the license it waits behind
};

struct batch_action {
  std::string license_id;
  std::optional<std::string> serial;
};

struct action_batch {
  std::string id;
  bool confirmed = false;
  bool synchronous = false;
  bool completed = false;
  bool failed = false;
  std::vector<std::string> errors;
  std::vector<batch_action> actions;
  clock::time_point due{};  ///< when an asynchronous confirmed batch executes
};

struct org {
  std::string id;
  std::string name;
  bool coterm = false;
  std::vector<device> devices;
  string_map<int> device_index;
  std::map<std::string, std::string> successors;  ///< old serial -> new hardware's serial
  std::vector<license> licenses;
  string_map<int> license_index;
  // Runtime state, cleared by reset().
  token_bucket bucket;
  std::deque<clock::time_point> window;  ///< request times of the last second
  std::map<std::string, action_batch> batches;
  std::mt19937_64 background_rng;       ///< the background application's arrival times
  clock::time_point next_background{};  ///< its next call (when background_rate > 0)
};

/// One page of a list: the indices it holds and whether matching items lie before or after it.
struct page_result {
  std::vector<std::size_t> items;
  bool earlier = false, later = false;
};

/// The whole twin behind one mutex: handle() and the inspection calls may come from any thread.
class twin {
public:
  explicit twin(const sim_config& config);

  /// Base URLs ("http://127.0.0.1:P") of the listeners, once bound; links and redirects use them.
  void set_origins(std::string main_origin, std::string shard_origin);
  reply handle(const request_view& req, clock::time_point now);

  std::string api_key() const {
    std::lock_guard lock(mutex_);
    return api_key_;
  }
  void set_api_key(std::string key);
  std::vector<org_info> orgs(clock::time_point now);
  state_map state(clock::time_point now);
  /// Counters as of `now` (the background application's calls up to then included).
  stats_snapshot stats(clock::time_point now);
  void reset(clock::time_point now);
  void set_faults(double f5xx, double drop, double slow, double f429);
  void set_budget(double rate, double burst, double ip_rate, clock::time_point now);
  void set_background_rate(double rate, clock::time_point now);

private:
  void generate();
  void generate_hardware(org& o, std::uint64_t org_seed, std::set<std::string>& used_serials);
  void reset_runtime(clock::time_point now);
  reply handle_api(const request_view& req, std::string_view path, std::string_view query,
                   clock::time_point now);
  reply handle_control(std::string_view path, clock::time_point now);
  reply route(const request_view& req, org& o, std::string_view rest, std::string_view query,
              clock::time_point now);
  reply list_orgs(const request_view& req, std::string_view query);
  reply list_licenses(const request_view& req, const org& o, std::string_view query);
  reply list_devices(const request_view& req, const org& o, std::string_view query);
  reply put_license(const request_view& req, org& o, license& l);
  reply post_batch(const request_view& req, org& o, clock::time_point now);
  reply get_batch(org& o, std::string_view id, clock::time_point now);
  reply list_batches(org& o, std::string_view query, clock::time_point now);
  void run_due_batches(org& o, clock::time_point now);
  void run_background(org& o, clock::time_point now);
  void execute_batch(org& o, action_batch& b);
  void apply(org& o, license& l, int device, bool from_batch);
  void detach(org& o, int license_index);
  void attach(org& o, int license_index, int device);
  std::chrono::milliseconds draw_latency();
  void append_org(std::string& out, const org& o) const;
  void append_license(std::string& out, const org& o, const license& l) const;
  void append_device(std::string& out, const org& o, const device& d) const;
  void append_batch(std::string& out, const org& o, const action_batch& b) const;
  /// A list's URL as its Link header names it: the listener's origin, `path`, `perPage`.
  std::string list_base(const request_view& req, std::string_view path, std::size_t per_page) const;
  void append_links(std::string& out, std::string_view base, const page_result& page,
                    std::size_t n) const;
  std::string state_json();
  std::string stats_json();
  std::string encode_cursor(std::size_t index) const;
  bool decode_cursor(std::string_view token, std::size_t size, const string_map<int>& ids,
                     std::size_t& index) const;

  mutable std::mutex mutex_;
  sim_config config_;
  std::string api_key_;
  std::string main_origin_, shard_origin_;
  std::vector<org> orgs_;
  std::vector<std::vector<license>> initial_licenses_;
  string_map<std::size_t> org_index_;
  string_map<token_bucket> ip_buckets_;
  std::mt19937_64 fault_rng_;
  std::mt19937_64 latency_rng_;
  std::uint64_t request_prefix_ = 0;  ///< high half of every X-Request-Id, from the seed
  std::uint64_t next_request_ = 0;
  std::uint64_t next_batch_id_ = 0;
  std::uint32_t cursor_mask_ = 0;
  stats_snapshot stats_;
  simdjson::ondemand::parser parser_;
  std::string padded_;  ///< reused padded copy of request bodies for simdjson
};

}  // namespace relicense::sim::detail
