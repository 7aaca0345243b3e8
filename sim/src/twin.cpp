#include "twin.hpp"

#include "relicense/io/text.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

namespace relicense::sim::detail {

using io::append_json_string;

namespace {

constexpr std::string_view api_prefix = "/api/v1/";
constexpr std::string_view rate_limited_body =
    R"({"errors":["API rate limit exceeded for organization"]})";
constexpr std::string_view too_many_batches =
    "Too many concurrently executing batches. Please wait for other batches to complete "
    "before submitting more.";
// The generator's "today": fixed, so states and dates do not depend on the wall clock.
constexpr std::int64_t sim_today = 1767225600;  // 2026-01-01T00:00:00Z
constexpr std::int64_t day = 86400;

reply error_reply(unsigned status, std::string_view message) {
  reply r;
  r.status = status;
  r.body.reserve(message.size() + 16);
  r.body += R"({"errors":[)";
  append_json_string(r.body, message);
  r.body += "]}";
  return r;
}

// Hand-rolled (Howard Hinnant's civil_from_days) instead of gmtime_r + snprintf: three dates
// per license object are on the hot path, and gmtime takes glibc's timezone lock.
void append_date(std::string& out, std::int64_t t) {
  const std::int64_t days = t >= 0 ? t / day : (t - day + 1) / day;
  std::int64_t secs = t - days * day;
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buf[22] = "\"0000-00-00T00:00:00Z";
  auto put = [&](int pos, std::int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i, v /= 10) buf[pos + i] = static_cast<char>('0' + v % 10);
  };
  put(1, y, 4);
  put(6, m, 2);
  put(9, d, 2);
  put(12, secs / 3600, 2);
  secs %= 3600;
  put(15, secs / 60, 2);
  put(18, secs % 60, 2);
  out.append(buf, 21);
  out += '"';
}

void append_int(std::string& out, long long v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, p);
}

std::string digits(std::mt19937_64& rng, int n, bool nonzero_first = true) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    int lo = (i == 0 && nonzero_first) ? 1 : 0;
    s += static_cast<char>('0' + lo + static_cast<int>(rng() % static_cast<unsigned>(10 - lo)));
  }
  return s;
}

std::string alnum(std::mt19937_64& rng, int n) {
  // Serial-like alphabet: no I or O, which Meraki avoids for readability.
  static constexpr std::string_view chars = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
  std::string s;
  for (int i = 0; i < n; ++i) s += chars[rng() % chars.size()];
  return s;
}

/// Splits "a/b/c" one segment at a time.
std::string_view next_segment(std::string_view& rest) {
  auto slash = rest.find('/');
  std::string_view seg = rest.substr(0, slash);
  rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  return seg;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string pct_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

void pct_encode(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
}

struct list_query {
  std::size_t per_page = 1000;
  std::optional<std::string> starting_after, ending_before, device_serial, state;
  std::string error;
};

/// `max_per_page`: the list's bound for perPage, also its default (organizations: 9000; licenses
/// and devices: 1000).
list_query parse_list_query(std::string_view q, std::size_t max_per_page = 1000) {
  list_query out;
  out.per_page = max_per_page;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    auto eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string value =
        eq == std::string_view::npos ? std::string{} : pct_decode(pair.substr(eq + 1));
    if (key == "perPage") {
      long n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc{} || p != value.data() + value.size() || n < 3 ||
          static_cast<std::size_t>(n) > max_per_page) {
        out.error = "'perPage' must be an integer between 3 and " + std::to_string(max_per_page);
        return out;
      }
      out.per_page = static_cast<std::size_t>(n);
    } else if (key == "startingAfter") {
      out.starting_after = std::move(value);
    } else if (key == "endingBefore") {
      out.ending_before = std::move(value);
    } else if (key == "deviceSerial") {
      out.device_serial = std::move(value);
    } else if (key == "state") {
      out.state = std::move(value);
    }
  }
  return out;
}

/// The API's checks before it reads a body: JSON declared, something sent. A body that is not a
/// JSON object is caught by the parser.
std::optional<reply> check_json_request(const request_view& req) {
  constexpr std::string_view json = "application/json";
  auto is_json = [&] {
    if (req.content_type == json) return true;  // what every client sends
    std::string_view mime = req.content_type.substr(0, req.content_type.find(';'));
    while (!mime.empty() && (mime.back() == ' ' || mime.back() == '\t')) mime.remove_suffix(1);
    while (!mime.empty() && (mime.front() == ' ' || mime.front() == '\t')) mime.remove_prefix(1);
    return mime.size() == json.size() &&
           std::equal(mime.begin(), mime.end(), json.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  };
  if (!is_json()) return error_reply(400, "Content-Type must be application/json");
  if (req.body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return error_reply(400, "The request body must not be empty");
  return std::nullopt;
}

std::string_view header_key(const request_view& req) {
  constexpr std::string_view bearer = "Bearer ";
  if (!req.meraki_key.empty()) return req.meraki_key;
  if (req.authorization.size() > bearer.size() &&
      req.authorization.substr(0, bearer.size()) == bearer)
    return req.authorization.substr(bearer.size());
  return {};
}

}  // namespace

const char* to_string(license_state s) noexcept {
  switch (s) {
    case license_state::active: return "active";
    case license_state::expired: return "expired";
    case license_state::expiring: return "expiring";
    case license_state::recently_queued: return "recentlyQueued";
    case license_state::unused: return "unused";
    case license_state::unused_active: return "unusedActive";
  }
  return "unused";
}

// ---- token bucket -------------------------------------------------------------------------

void token_bucket::refill(clock::time_point now) {
  if (now > last_) {
    tokens_ =
        std::min(capacity_, tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
    last_ = now;
  }
}

bool token_bucket::try_take(clock::time_point now) {
  refill(now);
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  return false;
}

double token_bucket::wait_seconds(clock::time_point now) {
  refill(now);
  if (tokens_ >= 1.0 || rate_ <= 0) return 0;
  return (1.0 - tokens_) / rate_;
}

// ---- generation ---------------------------------------------------------------------------

twin::twin(const sim_config& config)
    : config_(config), fault_rng_(config.seed ^ 0x5eed'fa17ULL),
      latency_rng_(config.seed ^ 0x1a7e'4c70ULL) {
  std::mt19937_64 key_rng(config.seed * 0x9E3779B97F4A7C15ULL + 7);
  if (config_.api_key.empty()) {
    static constexpr char hex[] = "0123456789abcdef";
    for (int i = 0; i < 40; ++i) api_key_ += hex[key_rng() % 16];
  } else {
    api_key_ = config_.api_key;
  }
  cursor_mask_ = static_cast<std::uint32_t>(key_rng());
  request_prefix_ = key_rng() & 0xffff'ffffULL;
  generate();
  reset_runtime(clock::now());
}

void twin::generate() {
  struct model {
    const char* license_type;
    bool sm;
  };
  static constexpr model models[] = {
      {"MX64-ENT", false},  {"MX68-SEC", false}, {"ENT", false}, {"MS220-8P", false},
      {"MS120-24P", false}, {"MV", false},       {"SM", true},   {"MR-ENT", false},
      {"MX250-ENT", false}, {"MG21-ENT", false}};
  static constexpr int durations[] = {365, 1095, 1825, 3650};

  std::mt19937_64 rng(config_.seed);
  std::set<std::string> used_orgs, used_ids, used_serials;
  orgs_.clear();
  orgs_.resize(config_.orgs);
  for (unsigned oi = 0; oi < config_.orgs; ++oi) {
    org& o = orgs_[oi];
    do o.id = digits(rng, 6);
    while (!used_orgs.insert(o.id).second);
    o.name = "Twin organization " + std::to_string(oi + 1);
    o.coterm = oi + config_.coterm_orgs >= config_.orgs;
    const unsigned n = config_.licenses_per_org;
    const unsigned nnet = n / 50 + 1;
    std::vector<std::string> networks;
    for (unsigned k = 0; k < nnet; ++k) networks.push_back("N_" + digits(rng, 16));
    // A quarter more devices than licenses, so migrations have unlicensed targets.
    const unsigned ndev = n + n / 4 + 1;
    for (unsigned d = 0; d < ndev; ++d) {
      device dev;
      do dev.serial = "Q2" + alnum(rng, 2) + "-" + alnum(rng, 4) + "-" + alnum(rng, 4);
      while (!used_serials.insert(dev.serial).second);
      dev.network_id = networks[rng() % networks.size()];
      o.device_index.emplace(dev.serial, static_cast<int>(d));
      o.devices.push_back(std::move(dev));
    }
    std::vector<int> order(ndev);
    for (unsigned d = 0; d < ndev; ++d) order[d] = static_cast<int>(d);
    std::shuffle(order.begin(), order.end(), rng);
    for (unsigned li = 0; li < n; ++li) {
      license l;
      do l.id = digits(rng, 18);
      while (!used_ids.insert(l.id).second);
      const model& m = models[rng() % std::size(models)];
      l.license_type = m.license_type;
      l.license_key = "Z2" + alnum(rng, 10);
      l.order_number = "4C" + digits(rng, 7);
      l.seat_count = m.sm ? static_cast<int>(25 * (1 + rng() % 8)) : 1;
      l.duration_in_days = durations[rng() % std::size(durations)];
      if (rng() % 10 == 0) {
        queued_license q;
        q.id = digits(rng, 18);
        q.license_type = l.license_type;
        q.license_key = "Z2" + alnum(rng, 10);
        q.order_number = "4C" + digits(rng, 7);
        q.duration_in_days = durations[rng() % 2];
        l.queued.push_back(std::move(q));
      }
      l.claim = sim_today - static_cast<std::int64_t>(30 + rng() % 1400) * day -
                static_cast<std::int64_t>(rng() % day);
      const unsigned kind = static_cast<unsigned>(rng() % 10);
      if (kind < 6) {  // assigned
        l.device = order[li];
        l.activation = l.claim + static_cast<std::int64_t>(rng() % 10) * day + 3600;
      } else if (kind < 8) {  // used once, now free
        l.activation = l.claim + static_cast<std::int64_t>(rng() % 10) * day + 3600;
      }
      int total = l.duration_in_days;
      for (const auto& q : l.queued) total += q.duration_in_days;
      const std::int64_t expiry = l.activation + static_cast<std::int64_t>(total) * day;
      if (l.activation != 0 && expiry < sim_today) l.state = license_state::expired;
      else if (l.device >= 0)
        l.state = expiry < sim_today + 30 * day ? license_state::expiring : license_state::active;
      else l.state = l.activation != 0 ? license_state::unused_active : license_state::unused;
      o.license_index.emplace(l.id, static_cast<int>(li));
      o.licenses.push_back(std::move(l));
    }
    generate_hardware(o, config_.seed * 0x2545F4914F6CDD1DULL + oi + 1, used_serials);
    org_index_.emplace(o.id, oi);
  }
  initial_licenses_.clear();
  for (const auto& o : orgs_) initial_licenses_.push_back(o.licenses);
}

// Models, names and new hardware come from their own random stream, after the licenses, so that
// this detail never shifts a seed's licenses, serials and assignments.
void twin::generate_hardware(org& o, std::uint64_t org_seed, std::set<std::string>& used_serials) {
  struct hardware {
    std::string_view license_type, model, product_type, successor;
  };
  static constexpr hardware kinds[] = {{"MX64-ENT", "MX64", "appliance", "MX67"},
                                       {"MX68-SEC", "MX68", "appliance", "MX75"},
                                       {"ENT", "MR46", "wireless", "MR57"},
                                       {"MS220-8P", "MS220-8P", "switch", "MS130-8P"},
                                       {"MS120-24P", "MS120-24P", "switch", "MS130-24P"},
                                       {"MV", "MV12W", "camera", "MV13"},
                                       {"SM", "MR36", "wireless", "MR44"},
                                       {"MR-ENT", "MR36", "wireless", "MR44"},
                                       {"MX250-ENT", "MX250", "appliance", "MX450"},
                                       {"MG21-ENT", "MG21", "cellularGateway", "MG51"}};
  std::mt19937_64 rng(org_seed);
  auto mac = [&] {
    static constexpr char hex[] = "0123456789abcdef";
    std::string m = "e0:55:3d";
    for (int i = 0; i < 3; ++i) {
      const auto b = static_cast<unsigned>(rng() & 0xff);
      m += ':';
      m += hex[b >> 4];
      m += hex[b & 15];
    }
    return m;
  };
  auto describe = [&](device& d, const hardware& h) {
    d.model = h.model;
    d.product_type = h.product_type;
    d.name = d.model + " " + d.serial.substr(d.serial.size() - 4);
    d.mac = mac();
    d.order_number = "4C" + digits(rng, 7);
    d.claim = sim_today - static_cast<std::int64_t>(30 + rng() % 1400) * day -
              static_cast<std::int64_t>(rng() % day);
  };
  std::vector<int> holder(o.devices.size(), -1);
  for (std::size_t li = 0; li < o.licenses.size(); ++li)
    if (o.licenses[li].device >= 0)
      holder[static_cast<std::size_t>(o.licenses[li].device)] = static_cast<int>(li);
  const std::size_t old_count = o.devices.size();
  std::vector<std::size_t> licensed;
  for (std::size_t d = 0; d < old_count; ++d) {
    const hardware* h = &kinds[rng() % std::size(kinds)];
    if (holder[d] >= 0) {
      licensed.push_back(d);
      for (const auto& k : kinds)
        if (k.license_type == o.licenses[static_cast<std::size_t>(holder[d])].license_type) h = &k;
    }
    describe(o.devices[d], *h);
  }
  // The new hardware of a refresh: an unlicensed successor for about one licensed device in five
  // (at least one), in the same network.
  std::vector<std::size_t> replaced;
  for (std::size_t d : licensed)
    if (rng() % 5 == 0) replaced.push_back(d);
  if (replaced.empty() && !licensed.empty()) replaced.push_back(licensed[rng() % licensed.size()]);
  for (std::size_t d : replaced) {
    device dev;
    do dev.serial = "Q2" + alnum(rng, 2) + "-" + alnum(rng, 4) + "-" + alnum(rng, 4);
    while (!used_serials.insert(dev.serial).second);
    dev.network_id = o.devices[d].network_id;
    const hardware* h = &kinds[0];
    for (const auto& k : kinds)
      if (k.model == o.devices[d].model) h = &k;
    hardware successor = *h;
    successor.model = h->successor;
    describe(dev, successor);
    dev.claim = sim_today - static_cast<std::int64_t>(1 + rng() % 20) * day;
    o.device_index.emplace(dev.serial, static_cast<int>(o.devices.size()));
    o.successors.emplace(o.devices[d].serial, dev.serial);
    o.devices.push_back(std::move(dev));
  }
}

void twin::reset_runtime(clock::time_point now) {
  const double capacity = std::max(1.0, config_.burst);
  for (std::size_t i = 0; i < orgs_.size(); ++i) {
    org& o = orgs_[i];
    o.licenses = initial_licenses_[i];
    o.bucket = token_bucket(config_.rate, capacity, now);
    o.window.clear();
    o.batches.clear();
    for (auto& d : o.devices) {
      d.head = -1;
      d.queue.clear();
    }
    for (std::size_t li = 0; li < o.licenses.size(); ++li) {
      const license& l = o.licenses[li];
      if (l.device < 0) continue;
      device& d = o.devices[static_cast<std::size_t>(l.device)];
      if (l.state == license_state::active || l.state == license_state::expiring)
        d.head = static_cast<int>(li);
      else if (l.state == license_state::recently_queued) d.queue.push_back(static_cast<int>(li));
    }
    o.background_rng.seed(config_.seed * 0xD1B54A32D192ED03ULL + i);
    o.next_background = now;
    if (config_.background_rate > 0)
      o.next_background +=
          std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(
              std::exponential_distribution<double>(config_.background_rate)(o.background_rng)));
  }
  ip_buckets_.clear();
  stats_ = stats_snapshot{};
  next_batch_id_ = 0;
}

void twin::set_origins(std::string main_origin, std::string shard_origin) {
  std::lock_guard lock(mutex_);
  main_origin_ = std::move(main_origin);
  shard_origin_ = std::move(shard_origin);
}

// ---- dispatch -----------------------------------------------------------------------------

reply twin::handle(const request_view& req, clock::time_point now) {
  auto q = req.target.find('?');
  std::string_view path = req.target.substr(0, q);
  std::string_view query =
      q == std::string_view::npos ? std::string_view{} : req.target.substr(q + 1);
  std::lock_guard lock(mutex_);
  const std::uint64_t id = request_prefix_ << 32 | (next_request_++ & 0xffff'ffffULL);
  if (path.substr(0, 7) == "/__sim/") {
    reply r = handle_control(path.substr(7), now);
    r.request_id = id;
    return r;
  }
  ++stats_.requests;
  reply r = handle_api(req, path, query, now);
  r.request_id = id;
  if (!r.drop) ++stats_.by_status[r.status];
  if (config_.latency.count() > 0) r.delay += draw_latency();
  return r;
}

std::chrono::milliseconds twin::draw_latency() {
  if (config_.latency_distribution == latency_dist::fixed) return config_.latency;
  // sigma 0.5 puts p99.9 at 4.6x the median (2.3 s for 500 ms, the slowest writes measured on the
  // real API); the cap keeps one unlucky draw from looking like a hung server.
  const double median = static_cast<double>(config_.latency.count());
  const double z = std::normal_distribution<double>(0, 1)(latency_rng_);
  const double ms = std::min(median * std::exp(0.5 * z), 6 * median);
  return std::chrono::milliseconds(std::llround(ms));
}

reply twin::handle_api(const request_view& req, std::string_view path, std::string_view query,
                       clock::time_point now) {
  if (req.listener == listener_kind::main && config_.redirect && !shard_origin_.empty()) {
    // The real API redirects to a shard host: 302 for GET, 307 (method and body kept) otherwise.
    reply r;
    r.status = req.method == "GET" ? 302 : 307;
    r.location = shard_origin_;
    r.location += req.target;
    ++stats_.redirects;
    return r;
  }
  if (path.substr(0, api_prefix.size()) != api_prefix) return error_reply(404, "Not found");
  std::string_view rest = path.substr(api_prefix.size());
  std::string_view collection = next_segment(rest);
  std::string_view org_id = next_segment(rest);
  org* o = nullptr;
  if (collection == "organizations") {
    if (auto it = org_index_.find(org_id); it != org_index_.end()) o = &orgs_[it->second];
  }

  // The background application's calls up to now take their tokens first.
  if (o && config_.background_rate > 0) run_background(*o, now);

  // Budget first: every request counts, errors included.
  if (config_.rate > 0) {
    auto ip = ip_buckets_.find(req.client_ip);
    if (ip == ip_buckets_.end())
      ip = ip_buckets_
               .emplace(std::string(req.client_ip),
                        token_bucket(config_.ip_rate, std::max(1.0, config_.ip_rate), now))
               .first;
    token_bucket* limited = nullptr;
    if (!ip->second.try_take(now)) limited = &ip->second;
    else if (o && !o->bucket.try_take(now)) limited = &o->bucket;
    if (limited) {
      if (o) {
        o->window.push_back(now);
      }
      reply r;
      r.status = 429;
      r.body = rate_limited_body;
      // Whole seconds, at least 1; capped so a near-zero rate cannot overflow the int.
      const double wait = std::min(limited->wait_seconds(now), 86400.0);
      r.retry_after = std::max(1, static_cast<int>(std::ceil(wait)));
      ++stats_.rate_limited;
      if (o) {
        while (o->window.front() <= now - std::chrono::seconds(1)) o->window.pop_front();
        stats_.max_org_requests_1s =
            std::max<std::uint64_t>(stats_.max_org_requests_1s, o->window.size());
      }
      return r;
    }
  }
  if (o) {
    o->window.push_back(now);
    while (o->window.front() <= now - std::chrono::seconds(1)) o->window.pop_front();
    stats_.max_org_requests_1s =
        std::max<std::uint64_t>(stats_.max_org_requests_1s, o->window.size());
  }

  // Faults: one draw picks the kind, a second decides whether the change is applied first.
  const double f5 = config_.fault_5xx, fd = config_.fault_drop, fs = config_.fault_slow,
               f4 = config_.fault_429;
  enum class fault : std::uint8_t { none, f5xx, drop, slow, f429 } kind = fault::none;
  if (f5 + fd + fs + f4 > 0) {
    const double u = std::uniform_real_distribution<double>(0, 1)(fault_rng_);
    if (u < f5) kind = fault::f5xx;
    else if (u < f5 + fd) kind = fault::drop;
    else if (u < f5 + fd + fs) kind = fault::slow;
    else if (u < f5 + fd + fs + f4) kind = fault::f429;
  }
  if (kind == fault::f429) {
    // Throttling in front of the API: no Retry-After, the client must back off on its own.
    ++stats_.fault_429;
    reply r;
    r.status = 429;
    r.body = rate_limited_body;
    return r;
  }

  if (header_key(req) != api_key_) return error_reply(401, "Invalid API key");

  const bool apply_first = kind != fault::none && kind != fault::slow && (fault_rng_() & 1) != 0;
  if (kind == fault::f5xx && !apply_first) {
    ++stats_.fault_5xx;
    static constexpr unsigned gateway[] = {502, 504};
    return error_reply(gateway[fault_rng_() & 1], "Bad gateway: the dashboard did not answer");
  }
  if (kind == fault::drop && !apply_first) {
    ++stats_.fault_drop;
    reply r;
    r.drop = true;
    return r;
  }

  reply r;
  if (collection != "organizations") r = error_reply(404, "Not found");
  else if (org_id.empty() && rest.empty()) r = list_orgs(req, query);
  else if (!o) r = error_reply(404, "Organization not found");
  else r = route(req, *o, rest, query, now);

  switch (kind) {
    case fault::f5xx: {
      ++stats_.fault_5xx_applied;
      static constexpr unsigned internal[] = {500, 503};
      return error_reply(internal[fault_rng_() & 1], "Something went wrong");
    }
    case fault::drop: {
      ++stats_.fault_drop;
      reply d;
      d.drop = true;
      return d;
    }
    case fault::slow:
      ++stats_.fault_slow;
      r.delay += config_.slow_delay;
      break;
    default: break;
  }
  return r;
}

reply twin::route(const request_view& req, org& o, std::string_view rest, std::string_view query,
                  clock::time_point now) {
  std::string_view what = next_segment(rest);
  std::string_view id = next_segment(rest);
  if (what.empty() && id.empty()) {
    if (req.method != "GET") return error_reply(405, "Method not allowed");
    reply r;
    append_org(r.body, o);
    return r;
  }
  if (what == "inventory" && id == "devices") {
    if (req.method != "GET") return error_reply(405, "Method not allowed");
    if (rest.empty()) return list_devices(req, o, query);
    const std::string serial = pct_decode(next_segment(rest));
    if (!rest.empty()) return error_reply(404, "Not found");
    auto d = o.device_index.find(serial);
    if (d == o.device_index.end()) return error_reply(404, "Device not found");
    reply r;
    append_device(r.body, o, o.devices[static_cast<std::size_t>(d->second)]);
    return r;
  }
  if (!rest.empty()) return error_reply(404, "Not found");
  if (what == "licenses") {
    if (o.coterm)
      return error_reply(400,
                         "Organization with ID " + o.id + " does not support per-device licensing");
    if (id.empty()) {
      if (req.method != "GET") return error_reply(405, "Method not allowed");
      return list_licenses(req, o, query);
    }
    auto it = o.license_index.find(id);
    if (it == o.license_index.end()) return error_reply(404, "License not found");
    license& l = o.licenses[static_cast<std::size_t>(it->second)];
    if (req.method == "GET") {
      reply r;
      append_license(r.body, o, l);
      return r;
    }
    if (req.method == "PUT") return put_license(req, o, l);
    return error_reply(405, "Method not allowed");
  }
  if (what == "actionBatches") {
    if (id.empty()) {
      if (req.method == "GET") return list_batches(o, query, now);
      if (req.method != "POST") return error_reply(405, "Method not allowed");
      return post_batch(req, o, now);
    }
    if (req.method != "GET") return error_reply(405, "Method not allowed");
    return get_batch(o, id, now);
  }
  return error_reply(404, "Not found");
}

// ---- licenses -----------------------------------------------------------------------------

void twin::append_license(std::string& out, const org& o, const license& l) const {
  out += R"({"id":")";
  out += l.id;
  out += R"(","licenseType":")";
  out += l.license_type;
  out += R"(","licenseKey":")";
  out += l.license_key;
  out += R"(","orderNumber":")";
  out += l.order_number;
  out += R"(","deviceSerial":)";
  const device* d = l.device >= 0 ? &o.devices[static_cast<std::size_t>(l.device)] : nullptr;
  if (d) {
    out += '"';
    out += d->serial;
    out += R"(","networkId":")";
    out += d->network_id;
    out += '"';
  } else {
    out += R"(null,"networkId":null)";
  }
  out += R"(,"state":")";
  out += to_string(l.state);
  out += R"(","seatCount":)";
  append_int(out, l.seat_count);
  int total = l.duration_in_days;
  for (const auto& q : l.queued) total += q.duration_in_days;
  out += R"(,"totalDurationInDays":)";
  append_int(out, total);
  out += R"(,"durationInDays":)";
  append_int(out, l.duration_in_days);
  out += R"(,"permanentlyQueuedLicenses":[)";
  for (std::size_t i = 0; i < l.queued.size(); ++i) {
    const auto& q = l.queued[i];
    if (i) out += ',';
    out += R"({"id":")";
    out += q.id;
    out += R"(","licenseType":")";
    out += q.license_type;
    out += R"(","licenseKey":")";
    out += q.license_key;
    out += R"(","orderNumber":")";
    out += q.order_number;
    out += R"(","durationInDays":)";
    append_int(out, q.duration_in_days);
    out += '}';
  }
  out += R"(],"claimDate":)";
  append_date(out, l.claim);
  out += R"(,"activationDate":)";
  if (l.activation) append_date(out, l.activation);
  else out += "null";
  out += R"(,"expirationDate":)";
  if (l.activation) append_date(out, l.activation + static_cast<std::int64_t>(total) * day);
  else out += "null";
  out += R"(,"headLicenseId":)";
  if (l.head >= 0) {
    out += '"';
    out += o.licenses[static_cast<std::size_t>(l.head)].id;
    out += "\"}";
  } else {
    out += "null}";
  }
}

void twin::append_org(std::string& out, const org& o) const {
  out += R"({"id":")";
  out += o.id;
  out += R"(","name":)";
  append_json_string(out, o.name);
  out += R"(,"url":"https://dashboard.meraki.com/o/)";
  out += o.id;
  out += R"(/manage/organization/overview","api":{"enabled":true},"licensing":{"model":")";
  out += o.coterm ? "co-term" : "per-device";
  out += R"("},"cloud":{"region":{"name":"North America","host":{"name":"United States"}}},)";
  out += R"("management":{"details":[]}})";
}

void twin::append_device(std::string& out, const org& o, const device& d) const {
  out += R"({"mac":")";
  out += d.mac;
  out += R"(","serial":")";
  out += d.serial;
  out += R"(","name":)";
  append_json_string(out, d.name);
  out += R"(,"model":")";
  out += d.model;
  out += R"(","networkId":")";
  out += d.network_id;
  out += R"(","orderNumber":")";
  out += d.order_number;
  out += R"(","claimedAt":)";
  append_date(out, d.claim);
  out += R"(,"licenseExpirationDate":)";
  const license* head = d.head >= 0 ? &o.licenses[static_cast<std::size_t>(d.head)] : nullptr;
  if (head && head->activation) {
    int total = head->duration_in_days;
    for (const auto& q : head->queued) total += q.duration_in_days;
    append_date(out, head->activation + static_cast<std::int64_t>(total) * day);
  } else {
    out += "null";
  }
  out += R"(,"tags":[],"productType":")";
  out += d.product_type;
  out += R"(","countryCode":"US","details":[]})";
}

namespace {

/// State of a license that is (or becomes) the one burning on its device.
license_state burning_state(const license& l) {
  int total = l.duration_in_days;
  for (const auto& q : l.queued) total += q.duration_in_days;
  const std::int64_t expiry = l.activation + static_cast<std::int64_t>(total) * day;
  if (expiry < sim_today) return license_state::expired;
  return expiry < sim_today + 30 * day ? license_state::expiring : license_state::active;
}

}  // namespace

// Per-device licensing: one license burns on a device, others queue behind it; a license that
// leaves hands the device to the first queued one.
void twin::detach(org& o, int li) {
  license& l = o.licenses[static_cast<std::size_t>(li)];
  if (l.device >= 0) {
    device& d = o.devices[static_cast<std::size_t>(l.device)];
    if (d.head == li) {
      d.head = -1;
      if (!d.queue.empty()) {
        const int next = d.queue.front();
        d.queue.erase(d.queue.begin());
        license& promoted = o.licenses[static_cast<std::size_t>(next)];
        if (promoted.activation == 0) promoted.activation = sim_today;
        promoted.head = -1;
        promoted.state = burning_state(promoted);
        d.head = next;
        for (int q : d.queue) o.licenses[static_cast<std::size_t>(q)].head = next;
      }
    } else if (auto it = std::find(d.queue.begin(), d.queue.end(), li); it != d.queue.end()) {
      d.queue.erase(it);
    }
  }
  l.device = -1;
  l.head = -1;
}

void twin::attach(org& o, int li, int dev) {
  license& l = o.licenses[static_cast<std::size_t>(li)];
  l.device = dev;
  if (l.state == license_state::expired) return;  // holds the device but burns nothing
  device& d = o.devices[static_cast<std::size_t>(dev)];
  if (d.head >= 0) {
    d.queue.push_back(li);
    l.head = d.head;
    l.state = license_state::recently_queued;
    return;
  }
  d.head = li;
  if (l.activation == 0) l.activation = sim_today;
  l.state = burning_state(l);
}

void twin::apply(org& o, license& l, int device, bool from_batch) {
  if (l.device != device) {
    const int li = static_cast<int>(&l - o.licenses.data());
    detach(o, li);
    if (device >= 0) attach(o, li, device);
    else if (l.state != license_state::expired)
      l.state = l.activation ? license_state::unused_active : license_state::unused;
  }
  if (from_batch) {
    ++stats_.batch_actions_applied;
  } else {
    ++stats_.puts_applied;
  }
  if (l.last_applied == device) ++stats_.duplicate_applies;
  l.last_applied = device;
}

reply twin::put_license(const request_view& req, org& o, license& l) {
  if (auto bad = check_json_request(req)) return std::move(*bad);
  int target = l.device;
  {
    padded_.assign(req.body);
    padded_.resize(req.body.size() + simdjson::SIMDJSON_PADDING);
    simdjson::ondemand::document doc;
    simdjson::ondemand::object obj;
    if (parser_.iterate(padded_.data(), req.body.size(), padded_.size()).get(doc) ||
        doc.get_object().get(obj))
      return error_reply(400, "The request body must be a JSON object");
    bool seen = false;
    for (auto field : obj) {
      std::string_view key;
      if (field.unescaped_key().get(key))
        return error_reply(400, "The request body is not valid JSON");
      if (key != "deviceSerial") continue;  // unknown fields are skipped, as the API does
      seen = true;
      auto value = field.value();
      bool is_null = false;
      if (value.is_null().get(is_null))
        return error_reply(400, "The request body is not valid JSON");
      if (is_null) {
        target = -1;
        continue;
      }
      std::string_view serial;
      if (value.get_string().get(serial))
        return error_reply(400, "'deviceSerial' must be a string or null");
      auto d = o.device_index.find(serial);
      if (d == o.device_index.end())
        return error_reply(
            400, "Device with serial " + std::string(serial) + " is not in organization " + o.id);
      target = d->second;
    }
    if (seen) apply(o, l, target, false);
  }
  reply r;
  r.body.reserve(640);
  append_license(r.body, o, l);
  return r;
}

std::string twin::encode_cursor(std::size_t index) const {
  char buf[16];
  int n = std::snprintf(buf, sizeof buf, "c%08x",
                        static_cast<unsigned>(static_cast<std::uint32_t>(index) ^ cursor_mask_));
  return std::string(buf, static_cast<std::size_t>(n));
}

bool twin::decode_cursor(std::string_view token, std::size_t size, const string_map<int>& ids,
                         std::size_t& index) const {
  if (token.size() == 9 && token[0] == 'c') {
    std::uint32_t v = 0;
    auto [p, ec] = std::from_chars(token.data() + 1, token.data() + 9, v, 16);
    if (ec == std::errc{} && p == token.data() + 9) {
      index = v ^ cursor_mask_;
      return index <= size;
    }
  }
  // Like the real API, an item's own id (license id, serial) also works as a cursor.
  auto it = ids.find(token);
  if (it == ids.end()) return false;
  index = static_cast<std::size_t>(it->second);
  return true;
}

namespace {

/// Items in [after, before) that match, at most `per_page`, taken from the end when only an
/// upper bound was given (endingBefore alone pages backwards).
template <class Match>
page_result select_page(std::size_t n, std::size_t after, std::size_t before, bool backwards,
                        std::size_t per_page, Match matches) {
  page_result p;
  if (backwards) {
    for (std::size_t i = before; i-- > 0 && p.items.size() < per_page;)
      if (matches(i)) p.items.push_back(i);
    std::reverse(p.items.begin(), p.items.end());
  } else {
    for (std::size_t i = after; i < before && p.items.size() < per_page; ++i)
      if (matches(i)) p.items.push_back(i);
  }
  if (!p.items.empty()) {
    for (std::size_t i = 0; i < p.items.front() && !p.earlier; ++i) p.earlier = matches(i);
    for (std::size_t i = p.items.back() + 1; i < n && !p.later; ++i) p.later = matches(i);
  }
  return p;
}

/// The [after, before) bounds of a list query's cursors over `n` items. `find(token, index)`
/// reads a cursor; a cursor it cannot read is the API's 400, returned.
/// A page as the API's JSON array: `append(body, index)` writes each item (about `item_bytes`).
template <class Append>
std::string page_body(const page_result& page, std::size_t item_bytes, Append append) {
  std::string body;
  body.reserve(page.items.size() * item_bytes + 2);
  body += '[';
  for (std::size_t k = 0; k < page.items.size(); ++k) {
    if (k) body += ',';
    append(body, page.items[k]);
  }
  body += ']';
  return body;
}

template <class Find>
std::optional<reply> cursor_bounds(const list_query& q, std::size_t n, Find find,
                                   std::size_t& after, std::size_t& before) {
  after = 0;
  before = n;
  if (q.starting_after) {
    std::size_t i = 0;
    if (!find(*q.starting_after, i)) return error_reply(400, "Invalid startingAfter");
    after = i + 1;
  }
  if (q.ending_before) {
    std::size_t i = 0;
    if (!find(*q.ending_before, i)) return error_reply(400, "Invalid endingBefore");
    before = std::min(i, n);
  }
  return std::nullopt;
}

}  // namespace

reply twin::list_licenses(const request_view& req, const org& o, std::string_view query) {
  list_query q = parse_list_query(query);
  if (!q.error.empty()) return error_reply(400, q.error);
  const std::size_t n = o.licenses.size();
  std::size_t after = 0;   // items with index >= after
  std::size_t before = n;  // exclusive upper bound
  if (auto bad = cursor_bounds(
          q, n,
          [&](const std::string& t, std::size_t& i) {
            return decode_cursor(t, n, o.license_index, i);
          },
          after, before))
    return *bad;
  auto matches = [&](std::size_t i) {
    const license& l = o.licenses[i];
    if (q.device_serial) {
      if (l.device < 0 || o.devices[static_cast<std::size_t>(l.device)].serial != *q.device_serial)
        return false;
    }
    if (q.state && *q.state != to_string(l.state)) return false;
    return true;
  };
  const page_result page =
      select_page(n, after, before, q.ending_before && !q.starting_after, q.per_page, matches);
  reply r;
  r.body = page_body(
      page, 600, [&](std::string& out, std::size_t i) { append_license(out, o, o.licenses[i]); });
  // RFC 5988 Link header with opaque cursors, filters kept.
  std::string base = list_base(req, "/organizations/" + o.id + "/licenses", q.per_page);
  if (q.device_serial) {
    base += "&deviceSerial=";
    pct_encode(base, *q.device_serial);
  }
  if (q.state) {
    base += "&state=";
    pct_encode(base, *q.state);
  }
  append_links(r.link, base, page, n);
  return r;
}

std::string twin::list_base(const request_view& req, std::string_view path,
                            std::size_t per_page) const {
  std::string base = req.listener == listener_kind::shard ? shard_origin_ : main_origin_;
  base += "/api/v1";
  base += path;
  base += "?perPage=";
  append_int(base, static_cast<long long>(per_page));
  return base;
}

void twin::append_links(std::string& out, std::string_view base, const page_result& page,
                        std::size_t n) const {
  auto link = [&](std::string_view param, std::optional<std::size_t> at, std::string_view rel) {
    if (!out.empty()) out += ", ";
    out += '<';
    out += base;
    if (at) {
      out += param;
      out += encode_cursor(*at);
    }
    out += ">; rel=";
    out += rel;
  };
  link("", std::nullopt, "first");
  if (page.earlier) link("&endingBefore=", page.items.front(), "prev");
  if (page.later) link("&startingAfter=", page.items.back(), "next");
  link("&endingBefore=", n, "last");
}

reply twin::list_devices(const request_view& req, const org& o, std::string_view query) {
  list_query q = parse_list_query(query);
  if (!q.error.empty()) return error_reply(400, q.error);
  const std::size_t n = o.devices.size();
  std::size_t after = 0, before = n;
  if (auto bad = cursor_bounds(
          q, n,
          [&](const std::string& t, std::size_t& i) {
            return decode_cursor(t, n, o.device_index, i);
          },
          after, before))
    return *bad;
  const page_result page = select_page(n, after, before, q.ending_before && !q.starting_after,
                                       q.per_page, [](std::size_t) { return true; });
  reply r;
  r.body = page_body(page, 330,
                     [&](std::string& out, std::size_t i) { append_device(out, o, o.devices[i]); });
  append_links(r.link, list_base(req, "/organizations/" + o.id + "/inventory/devices", q.per_page),
               page, n);
  return r;
}

reply twin::list_orgs(const request_view& req, std::string_view query) {
  if (req.method != "GET") return error_reply(405, "Method not allowed");
  // Paged as the other lists, up to 9000 a page (the API's bound and default).
  list_query q = parse_list_query(query, 9000);
  if (!q.error.empty()) return error_reply(400, q.error);
  const std::size_t n = orgs_.size();
  // A cursor is opaque, or an organization's own id.
  const auto cursor = [&](const std::string& token, std::size_t& i) {
    if (auto it = org_index_.find(token); it != org_index_.end()) {
      i = it->second;
      return true;
    }
    static const string_map<int> no_ids;
    return decode_cursor(token, n, no_ids, i);
  };
  std::size_t after = 0, before = n;
  if (auto bad = cursor_bounds(q, n, cursor, after, before)) return *bad;
  const page_result page = select_page(n, after, before, q.ending_before && !q.starting_after,
                                       q.per_page, [](std::size_t) { return true; });
  reply r;
  r.body =
      page_body(page, 300, [&](std::string& out, std::size_t i) { append_org(out, orgs_[i]); });
  append_links(r.link, list_base(req, "/organizations", q.per_page), page, n);
  return r;
}

// ---- action batches -----------------------------------------------------------------------

reply twin::post_batch(const request_view& req, org& o, clock::time_point now) {
  run_due_batches(o, now);
  if (o.coterm)
    return error_reply(400,
                       "Organization with ID " + o.id + " does not support per-device licensing");
  if (auto bad = check_json_request(req)) return std::move(*bad);
  action_batch b;
  padded_.assign(req.body);
  padded_.resize(req.body.size() + simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (parser_.iterate(padded_.data(), req.body.size(), padded_.size()).get(doc) ||
      doc.get_object().get(obj))
    return error_reply(400, "The request body must be a JSON object");
  bool have_actions = false;
  const std::string prefix = "/organizations/" + o.id + "/licenses/";
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key))
      return error_reply(400, "The request body is not valid JSON");
    auto value = field.value();
    if (key == "confirmed" || key == "synchronous") {
      bool v = false;
      if (value.get_bool().get(v))
        return error_reply(400, "'" + std::string(key) + "' must be a boolean");
      (key == "confirmed" ? b.confirmed : b.synchronous) = v;
    } else if (key == "actions") {
      simdjson::ondemand::array arr;
      if (value.get_array().get(arr)) return error_reply(400, "'actions' must be an array");
      have_actions = true;
      for (auto item : arr) {
        simdjson::ondemand::object a;
        if (item.get_object().get(a)) return error_reply(400, "Each action must be an object");
        batch_action act;
        std::string_view resource, operation;
        bool has_serial = false;
        for (auto af : a) {
          std::string_view ak;
          if (af.unescaped_key().get(ak))
            return error_reply(400, "The request body is not valid JSON");
          auto av = af.value();
          if (ak == "resource") {
            if (av.get_string().get(resource))
              return error_reply(400, "'resource' must be a string");
            if (resource.substr(0, prefix.size()) != prefix || resource.size() == prefix.size() ||
                resource.find('/', prefix.size()) != std::string_view::npos)
              return error_reply(400, "Unsupported resource: " + std::string(resource));
            act.license_id = std::string(resource.substr(prefix.size()));
          } else if (ak == "operation") {
            if (av.get_string().get(operation) || operation != "update")
              return error_reply(400, "Unsupported operation for licenses (only 'update')");
          } else if (ak == "body") {
            simdjson::ondemand::object bo;
            if (av.get_object().get(bo)) return error_reply(400, "'body' must be an object");
            for (auto bf : bo) {
              std::string_view bk;
              if (bf.unescaped_key().get(bk))
                return error_reply(400, "The request body is not valid JSON");
              if (bk != "deviceSerial") continue;
              auto bv = bf.value();
              bool is_null = false;
              if (bv.is_null().get(is_null))
                return error_reply(400, "The request body is not valid JSON");
              has_serial = true;
              if (is_null) continue;
              std::string_view s;
              if (bv.get_string().get(s))
                return error_reply(400, "'deviceSerial' must be a string or null");
              act.serial = std::string(s);
            }
          }
        }
        if (act.license_id.empty() || operation.empty() || !has_serial)
          return error_reply(400,
                             "Each action needs 'resource', 'operation' and 'body.deviceSerial'");
        b.actions.push_back(std::move(act));
      }
    }
  }
  if (!have_actions || b.actions.empty()) return error_reply(400, "'actions' must not be empty");
  if (b.actions.size() > 100)
    return error_reply(400, "An action batch may have at most 100 actions");
  if (b.synchronous && b.actions.size() > 20)
    return error_reply(400, "A synchronous action batch may have at most 20 actions");
  if (b.confirmed) {
    std::size_t running = 0;
    for (const auto& [id, other] : o.batches)
      if (other.confirmed && !other.completed && !other.failed) ++running;
    if (running >= 5) return error_reply(400, too_many_batches);
  }
  b.id = std::to_string(config_.seed % 1000 * 1000000 + 1000 + next_batch_id_++);
  const double seconds_per_action = config_.batch_action_ms >= 0
                                        ? config_.batch_action_ms / 1000
                                        : 1 / std::max(1e-3, config_.batch_actions_per_second);
  const auto run_time = std::chrono::duration_cast<clock::duration>(
      std::chrono::duration<double>(static_cast<double>(b.actions.size()) * seconds_per_action));
  reply r;
  r.status = 201;
  if (b.confirmed && b.synchronous) {
    execute_batch(o, b);
    r.delay = std::chrono::duration_cast<std::chrono::milliseconds>(run_time);
  } else if (b.confirmed) {
    b.due = now + run_time;
  }
  auto& stored = o.batches.emplace(b.id, std::move(b)).first->second;
  append_batch(r.body, o, stored);
  return r;
}

void twin::execute_batch(org& o, action_batch& b) {
  // Atomic: check every action first; apply in order only when all are valid.
  std::vector<std::pair<license*, int>> plan;
  for (const auto& a : b.actions) {
    auto it = o.license_index.find(a.license_id);
    if (it == o.license_index.end()) {
      b.errors.push_back("License " + a.license_id + " not found");
      continue;
    }
    int dev = -1;
    if (a.serial) {
      auto d = o.device_index.find(*a.serial);
      if (d == o.device_index.end()) {
        b.errors.push_back("Device with serial " + *a.serial + " is not in organization " + o.id);
        continue;
      }
      dev = d->second;
    }
    plan.emplace_back(&o.licenses[static_cast<std::size_t>(it->second)], dev);
  }
  if (!b.errors.empty()) {
    b.failed = true;
    return;
  }
  for (auto& [l, dev] : plan) apply(o, *l, dev, true);
  b.completed = true;
}

void twin::run_due_batches(org& o, clock::time_point now) {
  std::vector<action_batch*> due;
  for (auto& [id, b] : o.batches)
    if (b.confirmed && !b.completed && !b.failed && b.due <= now) due.push_back(&b);
  std::sort(due.begin(), due.end(), [](const action_batch* a, const action_batch* b) {
    return a->due < b->due || (a->due == b->due && a->id.size() < b->id.size()) ||
           (a->due == b->due && a->id.size() == b->id.size() && a->id < b->id);
  });
  for (auto* b : due) execute_batch(o, *b);
}

reply twin::get_batch(org& o, std::string_view id, clock::time_point now) {
  run_due_batches(o, now);
  auto it = o.batches.find(std::string(id));
  if (it == o.batches.end()) return error_reply(404, "Action batch not found");
  reply r;
  append_batch(r.body, o, it->second);
  return r;
}

// GET /organizations/{org}/actionBatches: every batch of the org, or those of one `status`
// (pending: confirmed or not, still to run; completed; failed), oldest first. No paging.
reply twin::list_batches(org& o, std::string_view query, clock::time_point now) {
  std::string status;
  bool filtered = false;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != "status") continue;
    filtered = true;
    status = eq == std::string_view::npos ? std::string{} : pct_decode(pair.substr(eq + 1));
  }
  if (filtered && status != "pending" && status != "completed" && status != "failed")
    return error_reply(400, "'status' must be one of: 'pending', 'completed' or 'failed'");
  run_due_batches(o, now);
  std::vector<const action_batch*> listed;
  for (const auto& [id, b] : o.batches) {
    const bool pending = !b.completed && !b.failed;
    if (filtered && !(status == "pending"     ? pending
                      : status == "completed" ? b.completed
                                              : b.failed && !b.completed))
      continue;
    listed.push_back(&b);
  }
  // Ids are decimal numbers handed out in order: shorter first is older first.
  std::sort(listed.begin(), listed.end(), [](const action_batch* a, const action_batch* b) {
    return a->id.size() != b->id.size() ? a->id.size() < b->id.size() : a->id < b->id;
  });
  reply r;
  r.body = "[";
  for (std::size_t i = 0; i < listed.size(); ++i) {
    if (i) r.body += ',';
    append_batch(r.body, o, *listed[i]);
  }
  r.body += ']';
  return r;
}

void twin::append_batch(std::string& out, const org& o, const action_batch& b) const {
  out += R"({"id":")";
  out += b.id;
  out += R"(","organizationId":")";
  out += o.id;
  out += R"(","confirmed":)";
  out += b.confirmed ? "true" : "false";
  out += R"(,"synchronous":)";
  out += b.synchronous ? "true" : "false";
  out += R"(,"status":{"completed":)";
  out += b.completed ? "true" : "false";
  out += R"(,"failed":)";
  out += b.failed ? "true" : "false";
  out += R"(,"errors":[)";
  for (std::size_t i = 0; i < b.errors.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, b.errors[i]);
  }
  out += R"(],"createdResources":[]},"actions":[)";
  for (std::size_t i = 0; i < b.actions.size(); ++i) {
    const auto& a = b.actions[i];
    if (i) out += ',';
    out += R"({"resource":"/organizations/)";
    out += o.id;
    out += "/licenses/";
    out += a.license_id;
    out += R"(","operation":"update","body":{"deviceSerial":)";
    if (a.serial) append_json_string(out, *a.serial);
    else out += "null";
    out += "}}";
  }
  out += "]}";
}

// ---- control ------------------------------------------------------------------------------

reply twin::handle_control(std::string_view what, clock::time_point now) {
  reply r;
  if (what == "stats") {
    for (auto& o : orgs_) run_background(o, now);
    r.body = stats_json();
  } else if (what == "state") {
    for (auto& o : orgs_) run_due_batches(o, now);
    r.body = state_json();
  } else if (what == "reset") {
    reset_runtime(now);
    r.body = R"({"reset":true})";
  } else {
    return error_reply(404, "Not found");
  }
  return r;
}

std::string twin::state_json() {
  std::string out = "{";
  for (std::size_t oi = 0; oi < orgs_.size(); ++oi) {
    const org& o = orgs_[oi];
    if (oi) out += ',';
    append_json_string(out, o.id);
    out += ":{";
    for (std::size_t i = 0; i < o.licenses.size(); ++i) {
      const license& l = o.licenses[i];
      if (i) out += ',';
      append_json_string(out, l.id);
      out += ':';
      if (l.device >= 0)
        append_json_string(out, o.devices[static_cast<std::size_t>(l.device)].serial);
      else out += "null";
    }
    out += '}';
  }
  out += '}';
  return out;
}

std::string twin::stats_json() {
  const stats_snapshot& s = stats_;
  std::string out = R"({"requests":)";
  append_int(out, static_cast<long long>(s.requests));
  out += R"(,"byStatus":{)";
  bool first = true;
  for (const auto& [status, count] : s.by_status) {
    if (!first) out += ',';
    first = false;
    out += '"';
    append_int(out, status);
    out += "\":";
    append_int(out, static_cast<long long>(count));
  }
  auto field = [&](const char* name, std::uint64_t v) {
    out += ",\"";
    out += name;
    out += "\":";
    append_int(out, static_cast<long long>(v));
  };
  out += '}';
  field("putsApplied", s.puts_applied);
  field("duplicateApplies", s.duplicate_applies);
  field("batchActionsApplied", s.batch_actions_applied);
  field("rateLimited", s.rate_limited);
  field("redirects", s.redirects);
  out += R"(,"faults":{"5xx":)";
  append_int(out, static_cast<long long>(s.fault_5xx));
  field("5xxApplied", s.fault_5xx_applied);
  field("drop", s.fault_drop);
  field("slow", s.fault_slow);
  field("429", s.fault_429);
  out += '}';
  field("maxOrgRequestsPerSecond", s.max_org_requests_1s);
  out += R"(,"background":{"calls":)";
  append_int(out, static_cast<long long>(s.background_calls));
  field("rateLimited", s.background_rate_limited);
  out += "}}";
  return out;
}

// ---- inspection ---------------------------------------------------------------------------

std::vector<org_info> twin::orgs(clock::time_point now) {
  std::lock_guard lock(mutex_);
  std::vector<org_info> out;
  for (auto& o : orgs_) {
    run_due_batches(o, now);
    org_info info;
    info.id = o.id;
    info.name = o.name;
    info.coterm = o.coterm;
    info.licensing_model = o.coterm ? "co-term" : "per-device";
    info.successors = o.successors;
    for (const auto& l : o.licenses) {
      license_info li;
      li.id = l.id;
      if (l.device >= 0) li.device_serial = o.devices[static_cast<std::size_t>(l.device)].serial;
      li.license_type = l.license_type;
      li.state = to_string(l.state);
      info.licenses.push_back(std::move(li));
    }
    for (const auto& d : o.devices) info.devices.push_back(d.serial);
    out.push_back(std::move(info));
  }
  return out;
}

state_map twin::state(clock::time_point now) {
  std::lock_guard lock(mutex_);
  state_map out;
  for (auto& o : orgs_) {
    run_due_batches(o, now);
    auto& m = out[o.id];
    for (const auto& l : o.licenses)
      m.emplace(l.id, l.device >= 0 ? std::optional<std::string>(
                                          o.devices[static_cast<std::size_t>(l.device)].serial)
                                    : std::nullopt);
  }
  return out;
}

stats_snapshot twin::stats(clock::time_point now) {
  std::lock_guard lock(mutex_);
  for (auto& o : orgs_) run_background(o, now);
  return stats_;
}

// The background application is simulated lazily: before anything reads or takes from an org's
// bucket, its calls up to that moment are replayed at their own (Poisson) times. No thread, no
// timer, nothing on the serving path when it is off, and deterministic for a given seed and
// sequence of request times.
void twin::run_background(org& o, clock::time_point now) {
  const double r = config_.background_rate;
  if (r <= 0) return;
  // After a long idle stretch the bucket is in a steady state: count all but the last minute in
  // bulk instead of replaying millions of calls.
  constexpr auto horizon = std::chrono::seconds(60);
  if (o.next_background + horizon < now) {
    const double skipped = std::chrono::duration<double>(now - horizon - o.next_background).count();
    stats_.background_calls += static_cast<std::uint64_t>(std::llround(skipped * r));
    if (config_.rate > 0 && r > config_.rate)
      stats_.background_rate_limited +=
          static_cast<std::uint64_t>(std::llround(skipped * (r - config_.rate)));
    o.next_background = now - horizon;
  }
  std::exponential_distribution<double> gap(r);
  while (o.next_background <= now) {
    ++stats_.background_calls;
    if (config_.rate > 0 && !o.bucket.try_take(o.next_background)) ++stats_.background_rate_limited;
    o.next_background += std::chrono::duration_cast<clock::duration>(
        std::chrono::duration<double>(gap(o.background_rng)));
  }
}

void twin::set_background_rate(double rate, clock::time_point now) {
  std::lock_guard lock(mutex_);
  for (auto& o : orgs_) run_background(o, now);
  config_.background_rate = rate;
  // Memoryless arrivals: drawing the next one afresh from now is exact.
  if (rate > 0)
    for (auto& o : orgs_)
      o.next_background =
          now + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(
                    std::exponential_distribution<double>(rate)(o.background_rng)));
}

void twin::reset(clock::time_point now) {
  std::lock_guard lock(mutex_);
  reset_runtime(now);
}

void twin::set_faults(double f5xx, double drop, double slow, double f429) {
  std::lock_guard lock(mutex_);
  config_.fault_5xx = f5xx;
  config_.fault_drop = drop;
  config_.fault_slow = slow;
  config_.fault_429 = f429;
}

void twin::set_api_key(std::string key) {
  std::lock_guard lock(mutex_);
  api_key_ = std::move(key);
}

void twin::set_budget(double rate, double burst, double ip_rate, clock::time_point now) {
  std::lock_guard lock(mutex_);
  for (auto& o : orgs_) run_background(o, now);
  config_.rate = rate;
  config_.burst = burst;
  config_.ip_rate = ip_rate;
  for (auto& o : orgs_) o.bucket = token_bucket(rate, std::max(1.0, burst), now);
  ip_buckets_.clear();
}

}  // namespace relicense::sim::detail
