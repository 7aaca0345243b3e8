#include "endpoint.hpp"

#include "relicense/io/proxy.hpp"

#include <random>
#include <stdexcept>

namespace relicense::engine::detail {

void shard_memory::remember(const url_target& target, std::string_view suffix) {
  std::string_view path = target.path;
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (auto q = suffix.find('?'); q != std::string_view::npos) suffix = suffix.substr(0, q);
  if (!path.ends_with(suffix)) return;
  where = target.where;
  prefix = std::string(path.substr(0, path.size() - suffix.size()));
}

api_endpoint::api_endpoint(const run_config& c) {
  auto url = parse_absolute_url(c.base_url);
  if (!url) throw std::runtime_error("invalid base URL (expected http(s)://host[:port]/path)");
  base = url->where;
  prefix = url->path;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (prefix.find('?') != std::string::npos)
    throw std::runtime_error("base URL must not have a query");
  auth = "Bearer " + c.api_key;
  // The CLI refuses these with exit 2; an embedding program gets the same check.
  const auto route = io::select_proxy(c.client.proxy, base.tls, base.host, base.port);
  if (!route.error.empty()) throw std::runtime_error(route.error);
  if (auto why = io::proxy_cleartext_refusal(route, base.tls); !why.empty())
    throw std::runtime_error(why);
  client = c.client;
  // The run loop closes every connection when its worker ends: a wait left pending between
  // requests does not hold the end of the run, and saves a timer's arm and cancel per request.
  client.keep_timer_armed = true;
  if (!c.api_key.empty()) {
    client.secrets.add(auth);
    client.secrets.add(c.api_key);
  }
  tls = io::make_tls_context(c.client);
  std::uint64_t seed = c.seed;
  if (seed == 0)
    seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  jitter.emplace(seed);
}

url_target api_endpoint::target_for(const shard_memory& shard, std::string_view path) const {
  url_target t;
  t.where = shard.where ? *shard.where : base;
  const std::string& head = shard.where ? shard.prefix : prefix;
  // One allocation per request, not a temporary of `path` and a second for the sum.
  t.path.reserve(head.size() + path.size());
  t.path.append(head).append(path);
  return t;
}

}  // namespace relicense::engine::detail
