#include "api_calls.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

namespace relicense::engine::detail {

double burst_with_headroom(double rate, double burst) {
  if (burst < 2 || rate <= 0) return burst;
  const double headroom = std::max(1.0, std::ceil(rate * 0.05));
  return std::max(1.0, burst - headroom);
}

pre_send triage(const run_config& config, const plan::plan_diff& diff, const plan::row& row, std::size_t i) {
  pre_send p;
  if (config.already_done) {
    p.done = config.already_done(row);
    if (p.done) {
      p.send = false;
      return p;
    }
  }
  if (!diff.rows.empty()) {
    const auto kind = diff.rows[i].kind;
    if (kind == plan::change_kind::unchanged) {
      p.send = false;
    } else if (kind == plan::change_kind::unknown_license) {
      p.send = false;
      p.outcome = io::outcome::failed;
      p.error = "license not found in the organization's inventory (not sent)";
    }
  }
  return p;
}

std::string trace_of(const sent& s) {
  if (s.host.empty()) return {};
  if (s.resp.request_id.empty()) return " (host " + s.host + ")";
  return " (request id " + s.resp.request_id + ", host " + s.host + ")";
}

std::string answer_mismatch(const plan::row& row, const io::license& got) {
  const std::string wanted = row.serial.empty() ? std::string("null") : row.serial;
  if (got.id != row.license_id) {
    return "the API answered about license " + got.id + " instead of " + row.license_id +
           " (asked for deviceSerial " + wanted + ")";
  }
  if (!got.has_device_serial) {
    return "the API's answer for license " + got.id + " has no deviceSerial (asked for " + wanted + ")";
  }
  const bool match = row.serial.empty() ? !got.device_serial.has_value()
                                        : (got.device_serial && *got.device_serial == row.serial);
  if (!match) {
    return "the API returned deviceSerial " + got.device_serial.value_or("null") + " instead of " + wanted +
           " for license " + got.id;
  }
  return {};
}

std::string abort_reason(std::string message, const io::response& resp, std::string_view org_id) {
  if (resp.error != io::transport_error::none || (resp.status != 401 && resp.status != 403)) return message;
  message += " for organization ";
  message += org_id;
  message += "; check the API key in MERAKI_DASHBOARD_API_KEY and its access to organization ";
  message += org_id;
  return message;
}

std::string sink_failure_text(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
  }
  return "cannot write the run's results";
}

void shard_memory::remember(const url_target& target, std::string_view suffix) {
  std::string_view path = target.path;
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (!path.ends_with(suffix)) return;
  where = target.where;
  prefix = std::string(path.substr(0, path.size() - suffix.size()));
}

api_endpoint::api_endpoint(const run_config& c) {
  auto base = parse_absolute_url(c.base_url);
  if (!base) throw std::runtime_error("invalid base URL (expected http(s)://host[:port]/path)");
  base_ = base->where;
  base_prefix_ = base->path;
  while (!base_prefix_.empty() && base_prefix_.back() == '/') base_prefix_.pop_back();
  if (base_prefix_.find('?') != std::string::npos) throw std::runtime_error("base URL must not have a query");
  auth_ = "Bearer " + c.api_key;
  // The CLI refuses these with exit 2; an embedding program gets the same check.
  const auto route = io::select_proxy(c.client.proxy, base_.tls, base_.host, base_.port);
  if (!route.error.empty()) throw std::runtime_error(route.error);
  if (auto why = io::proxy_cleartext_refusal(route, base_.tls); !why.empty()) throw std::runtime_error(why);
  client_ = c.client;
  if (!c.api_key.empty()) {
    client_.secrets.add(auth_);
    client_.secrets.add(c.api_key);
  }
  tls_ = io::make_tls_context(c.client);
  std::uint64_t seed = c.seed;
  if (seed == 0) seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  jitter_.emplace(seed);
  ip_.emplace(c.ip_rate, burst_with_headroom(c.ip_rate, c.ip_rate), clock::now());
}

boost::asio::awaitable<sent> api_endpoint::send(io::connection& conn, std::string_view method,
                                                std::string_view target, std::string_view body,
                                                run_counters& counters) {
  io::request req{method, target, body, auth_};
  const auto t0 = clock::now();
  // Not `sent s{co_await ...}`: g++ 12 destroys a co_await temporary inside a braced
  // initializer twice.
  sent s;
  s.resp = co_await conn.send(req);
  s.latency_ms = ms_between(t0, clock::now());
  s.host = conn.where().host;
  ++counters.requests;
  counters.latency.record(s.latency_ms);
  if (s.resp.error == io::transport_error::none) {
    ++counters.by_status[s.resp.status];
    if (s.resp.status == 429) ++counters.throttled;
  } else {
    ++counters.transport_errors;
  }
  co_return s;
}

std::string api_endpoint::api_error_of(io::response_parser& parser, const io::response& r) {
  if (r.error != io::transport_error::none || (r.status >= 200 && r.status < 400)) return {};
  std::string e = parser.describe_error(r.status, r.body);
  // describe_error falls back to "HTTP n", which decide() already says.
  if (e.starts_with("HTTP ")) e.clear();
  return e;
}

attempt_result api_endpoint::to_attempt(const io::response& r, std::string_view api_error) {
  attempt_result ar;
  ar.error = r.error;
  ar.error_detail = r.error_detail;
  ar.status = r.status;
  if (r.retry_after) ar.retry_after = *r.retry_after;
  ar.api_error = api_error;
  ar.location = r.location;
  ar.content_type = r.content_type;
  return ar;
}

void api_endpoint::throttled(token_bucket& org, clock::time_point now, std::chrono::nanoseconds delay) {
  org.pause_until(now, now + delay);
  org.on_throttled(now);
}

} // namespace relicense::engine::detail
