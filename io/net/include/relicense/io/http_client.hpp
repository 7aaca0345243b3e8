// HTTP/1.1 keep-alive client connection to one origin (scheme, host, port), over TLS or, for
// loopback hosts only, plain TCP. Beast lives in the .cpp; this header exposes only Asio's
// awaitable. Expected failures (timeouts, resets, TLS errors) are values, not exceptions.
#pragma once

#include "relicense/io/proxy.hpp"
#include "relicense/io/redact.hpp"
#include "relicense/io/user_agent.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace relicense::io {

/// Where a connection goes.
struct origin {
  bool tls = true;   ///< https
  std::string host;  ///< host name or IP literal (SNI and verification use it)
  std::uint16_t port = 443;
  friend bool operator==(const origin&, const origin&) = default;
};

/// Transport-level failure classes (no HTTP response was read in full).
enum class transport_error : std::uint8_t {
  none,            ///< a complete response was read
  resolve_failed,  ///< DNS resolution failed
  connect_failed,  ///< TCP connect refused/unreachable
  tls_failed,      ///< TLS handshake or certificate verification failed (never retried)
  timeout,         ///< connect, handshake, write or read exceeded the timeout
  reset,           ///< connection closed or reset before a response
  truncated,       ///< response cut off mid-way
  too_large,       ///< response header or body over the limits
  protocol,        ///< malformed HTTP
  proxy_failed     ///< the proxy is unreachable, wants credentials or refused the tunnel (never
                   ///< retried: every request would fail the same way)
};

const char* to_string(transport_error e) noexcept;

/// Trust and limits shared by every connection of a run.
struct client_config {
  std::string ca_file;                        ///< extra PEM CA file; system store always on
  std::chrono::milliseconds timeout{30000};   ///< per request: connect+handshake+write+read
  std::size_t max_body = 4 * 1024 * 1024;     ///< response body limit
  std::size_t max_header = 64 * 1024;         ///< response header limit
  std::string user_agent = io::user_agent();  ///< relicense/<version> <vendor> [Caller/(...)]
  proxy_config proxy;                         ///< --proxy, --no-proxy and the environment
  /// Texts no response may carry out of the transport: the run's key, "Bearer <key>", proxy
  /// credentials. connection::send replaces them (and the request's own credential) in every
  /// field of the response it returns, so whatever a server or proxy echoes is redacted once,
  /// here, before any message, report, journal or file can quote it.
  secret_list secrets;
  /// The timer that bounds each request stays armed between requests (it wakes once per timeout
  /// at most, and waits again for the request then in progress) instead of being armed and
  /// cancelled for every request. io_context::run then does not return while a connection that
  /// has sent is open: for a caller that closes (close()) or destroys its connections when done.
  bool keep_timer_armed = false;
};

/// One request. `authorization` is the full header value ("Bearer ..."); it is sent, never logged.
struct request {
  std::string_view method;         ///< "GET", "PUT", "POST"
  std::string_view target;         ///< path and query, e.g. /api/v1/organizations/1/licenses/2
  std::string_view body;           ///< JSON body, empty for GET
  std::string_view authorization;  ///< header value
};

/// A complete response (when error == none) or why there is none. Every text field comes out of
/// connection::send already scrubbed of the secrets (client_config::secrets).
struct response {
  transport_error error = transport_error::none;
  std::string error_detail;  ///< human-readable cause of a transport error
  unsigned status = 0;
  std::string body;
  std::string content_type;
  std::string location;                    ///< Location header (redirects)
  std::optional<std::string> retry_after;  ///< Retry-After header, verbatim
  std::string link;                        ///< Link header (pagination)
  std::string request_id;                  ///< X-Request-Id header: the server's id of this call
};

class tls_context;

/// Builds the TLS context of a run: system CA store, plus `ca_file` when given; verification on.
/// Throws std::runtime_error (naming the file) when the CA file cannot be loaded.
std::shared_ptr<tls_context> make_tls_context(const client_config& config);

/// A keep-alive connection, used by one coroutine at a time. It connects lazily and reconnects
/// once when a reused keep-alive connection turns out to be closed by the server.
class connection {
public:
  connection(boost::asio::any_io_executor ex, std::shared_ptr<tls_context> tls, origin where,
             const client_config& config);
  ~connection();
  connection(connection&&) noexcept;
  connection& operator=(connection&&) noexcept;

  const origin& where() const noexcept;

  /// Sends one request and reads its response, within config.timeout. The strings `req` views
  /// must outlive the returned awaitable. The response's texts come scrubbed of the secrets.
  /// Idempotent requests (GET, PUT, ...) are sent once more on a fresh connection when a reused
  /// one turns out closed before any response byte.
  boost::asio::awaitable<response> send(const request& req);

  /// Opens the connection now unless it is open (resolve, connect, TLS handshake), within
  /// config.timeout: error == none when it is open, else why not (the key is never involved).
  /// The runner opens its connections before taking a budget token, so connection set-up does
  /// not delay requests the server's bucket already counts on.
  boost::asio::awaitable<response> open();

  /// Whether the connection is open (it may still turn out closed by the server on next use).
  bool is_open() const noexcept;

  /// Closes the socket; pending operations (a send, an open) complete with an error. Safe while
  /// a coroutine is suspended in send() or open() on this connection.
  void close();

  /// Ends the connection politely (TLS close_notify, bounded by min(timeout, 2 s)), then closes.
  boost::asio::awaitable<void> shutdown();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace relicense::io
