// Where a run's calls go and with what: the API's origin and path prefix, the key's header, the
// client settings (with the key among the secrets the transport redacts), TLS, and the shards
// redirects sent organizations to. Set up once per run; no Asio here.
#pragma once

#include "relicense/engine/backoff.hpp"
#include "relicense/engine/redirect.hpp"
#include "relicense/engine/runner.hpp"
#include "relicense/io/http_client.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace relicense::engine::detail {

/// Where redirects sent an organization's calls.
struct shard_memory {
  std::optional<io::origin> where;
  std::string prefix;  ///< path prefix on the shard ("/api/v1")

  /// Remembers the shard a redirect pointed at, when the target keeps the API's path shape
  /// (prefix + `suffix`, queries aside): later calls of that org go there directly.
  void remember(const url_target& target, std::string_view suffix);
};

struct api_endpoint {
  /// Throws std::runtime_error for an invalid base URL, a proxy that cannot be used, or an
  /// unreadable CA file.
  explicit api_endpoint(const run_config& c);

  /// Where a call with API path `path` of an org with `shard` goes first.
  url_target target_for(const shard_memory& shard, std::string_view path) const;

  io::origin base;
  std::string prefix;  ///< the base URL's path ("/api/v1")
  std::string auth;    ///< "Bearer <key>": secret
  /// The run's client settings: every connection of the run is made with these, so every answer
  /// comes out of the transport with the key redacted.
  io::client_config client;
  std::shared_ptr<io::tls_context> tls;
  std::optional<jitter_source> jitter;
};

}  // namespace relicense::engine::detail
