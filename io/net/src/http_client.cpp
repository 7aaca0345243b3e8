#include "relicense/io/http_client.hpp"

#include "relicense/io/redact.hpp"
#include "relicense/io/url.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <array>
#include <charconv>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace relicense::io {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;

// Every co_await yields [ec, ...]: expected failures are values, not exceptions.
using token = net::as_tuple_t<net::use_awaitable_t<>>;
inline constexpr token use_token{};

/// The request's write and the answer's read: nothing cancels them through a cancellation slot
/// (close() closes the socket, the timeout its watch), and a connected slot costs each operation
/// an allocation for its cancellation handler and a clear when it completes.
using token_with_no_slot = net::cancellation_slot_binder<token, net::cancellation_slot>;
token_with_no_slot exchange_token() {
  return net::bind_cancellation_slot(net::cancellation_slot(), use_token);
}

const char* to_string(transport_error e) noexcept {
  switch (e) {
    case transport_error::none: return "none";
    case transport_error::resolve_failed: return "resolve_failed";
    case transport_error::connect_failed: return "connect_failed";
    case transport_error::tls_failed: return "tls_failed";
    case transport_error::timeout: return "timeout";
    case transport_error::reset: return "reset";
    case transport_error::truncated: return "truncated";
    case transport_error::too_large: return "too_large";
    case transport_error::protocol: return "protocol";
    case transport_error::proxy_failed: return "proxy_failed";
  }
  return "unknown";
}

class tls_context {
public:
  ssl::context ctx{ssl::context::tls_client};
};

std::shared_ptr<tls_context> make_tls_context(const client_config& config) {
  auto tls = std::make_shared<tls_context>();
  // TLS 1.2 is the oldest version the Dashboard API accepts; nothing older is worth offering.
  tls->ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  error_code ec;
  tls->ctx.set_default_verify_paths(ec);  // a missing system store is not fatal with --ca-file
  if (!config.ca_file.empty()) {
    tls->ctx.load_verify_file(config.ca_file, ec);
    if (ec) {
      throw std::runtime_error("cannot load CA file '" + config.ca_file + "': " + ec.message());
    }
  }
  // Verification is always on: there is deliberately no way to turn it off.
  tls->ctx.set_verify_mode(ssl::verify_peer);
  return tls;
}

namespace {

bool is_ip_literal(const std::string& host) {
  error_code ec;
  (void)net::ip::make_address(host, ec);
  return !ec;
}

bool idempotent(std::string_view method) {
  return method == "GET" || method == "PUT" || method == "HEAD" || method == "DELETE" ||
         method == "OPTIONS";
}

// CR, LF or NUL in a request line or header value would let a caller inject headers.
// One pass, not find_first_of, which runs a memchr over the set for every byte of the value.
bool header_safe(std::string_view s) {
  for (const char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

/// A method is a token: no blank inside (and header_safe).
bool method_safe(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

/// Bytes a request target may not hold: controls, space and DEL.
constexpr std::array<bool, 256> target_refused = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c <= 0x20 || c == 0x7f;
  return t;
}();

bool target_safe(std::string_view s) {
  if (s.empty() || s.front() != '/') {
    return false;
  }
  // One load per byte rather than two comparisons: this runs over every request's path.
  for (unsigned char c : s) {
    if (target_refused[c]) {
      return false;
    }
  }
  return true;
}

bool is_ssl_error(const error_code& ec) {
  return ec.category() == net::error::get_ssl_category() ||
         ec.category() == ssl::error::get_stream_category();
}

// The peer went away. stream_truncated is a TLS peer closing TCP without close_notify, which
// servers commonly do with idle keep-alive connections: before any response byte it is an idle
// close like EOF; after some bytes the response counts as cut, even for a body delimited by the
// close, since without close_notify a truncation cannot be told apart.
bool peer_closed(const error_code& ec) {
  return ec == net::error::eof || ec == net::error::connection_reset ||
         ec == net::error::broken_pipe || ec == net::error::connection_aborted ||
         ec == http::error::end_of_stream || ec == ssl::error::stream_truncated;
}

response failure(transport_error e, std::string detail) {
  response r;
  r.error = e;
  r.error_detail = std::move(detail);
  return r;
}

// Classifies a failed response read. `got_some`: some bytes of the response had arrived.
response read_failure(const error_code& ec, bool got_some) {
  if (ec == beast::error::timeout) {
    return failure(transport_error::timeout, "timed out waiting for the response");
  }
  if (ec == http::error::header_limit || ec == http::error::body_limit ||
      ec == http::error::buffer_overflow) {
    return failure(transport_error::too_large, "response too large: " + ec.message());
  }
  if (ec == http::error::partial_message) {
    return failure(transport_error::truncated, "response cut off before its end");
  }
  if (peer_closed(ec)) {
    if (got_some) {
      return failure(transport_error::truncated, "response cut off: " + ec.message());
    }
    return failure(transport_error::reset, "connection closed before a response: " + ec.message());
  }
  if (ec == net::error::operation_aborted) {
    return failure(transport_error::reset, "connection closed locally");
  }
  if (ec.category() == make_error_code(http::error::end_of_stream).category()) {
    return failure(transport_error::protocol, "malformed HTTP response: " + ec.message());
  }
  if (is_ssl_error(ec)) {
    return failure(got_some ? transport_error::truncated : transport_error::reset,
                   "TLS error while reading: " + ec.message());
  }
  return failure(got_some ? transport_error::truncated : transport_error::reset,
                 "read failed: " + ec.message());
}

std::string verify_detail(SSL* ssl_handle, const std::string& host) {
  const long result = SSL_get_verify_result(ssl_handle);
  if (result == X509_V_OK) {
    return {};
  }
  return std::string(X509_verify_cert_error_string(result)) + " (for host " + host + ")";
}

/// Parses one response straight into a `response`: the status, the headers the engine
/// reads, and the body. Beast's own response_parser keeps every field in an allocated node of a
/// tree; this one allocates nothing per field (measured: bench/engine).
class lean_response_parser final : public http::basic_parser<false> {
public:
  explicit lean_response_parser(response& out) : out_(out) {}

private:
  void on_request_impl(http::verb, beast::string_view, beast::string_view, int,
                       error_code& ec) override {
    ec = http::error::bad_method;  // never called for a response parser
  }
  void on_response_impl(int code, beast::string_view, int, error_code&) override {
    out_.status = static_cast<unsigned>(code);
    // A 1xx interim answer is followed by the real one: forget anything the interim one set.
    out_.content_type.clear();
    out_.location.clear();
    out_.retry_after.reset();
    out_.link.clear();
    out_.request_id.clear();
    out_.body.clear();
  }
  void on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                     error_code&) override {
    switch (name) {
      case http::field::unknown:
        // Not a field Beast knows; only compared, so absent it costs no allocation.
        if (beast::iequals(name_string, "X-Request-Id"))
          out_.request_id.assign(value.data(), value.size());
        break;
      case http::field::content_type: out_.content_type.assign(value.data(), value.size()); break;
      case http::field::location: out_.location.assign(value.data(), value.size()); break;
      case http::field::retry_after: out_.retry_after.emplace(value.data(), value.size()); break;
      case http::field::link:
        // Several Link fields are one list (RFC 8288 §3): join them as a combined field would be.
        if (!out_.link.empty()) out_.link += ", ";
        out_.link.append(value.data(), value.size());
        break;
      default: break;
    }
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
    if (length) out_.body.reserve(static_cast<std::size_t>(*length));  // within body_limit
  }
  std::size_t on_body_impl(beast::string_view body, error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  response& out_;
};

/// The credential of an Authorization value: the token after the scheme ("Bearer <token>"), or
/// the whole value when it has no scheme word.
std::string_view credential_of(std::string_view authorization) noexcept {
  const std::size_t space = authorization.find(' ');
  if (space == std::string_view::npos) return authorization;
  std::string_view token = authorization.substr(space + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  return token;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Writes JSON escapes of printable ASCII (\u0041, \/) as the characters themselves, which
/// leaves every JSON string's value unchanged: otherwise a server could hide the key from the
/// scrub as \u-escapes that the JSON parser then decodes into a serial or an error text.
/// Escaped quotes, backslashes, control and non-ASCII characters stay escaped.
void unescape_printable(std::string& body) {
  if (body.find('\\') == std::string::npos) return;
  std::size_t out = 0;
  for (std::size_t i = 0; i < body.size();) {
    if (body[i] != '\\' || i + 1 >= body.size()) {
      body[out++] = body[i++];
      continue;
    }
    const char next = body[i + 1];
    if (next == '/') {
      body[out++] = '/';
      i += 2;
      continue;
    }
    if (next == 'u' && i + 6 <= body.size()) {
      int v = 0;
      for (std::size_t k = 2; k < 6 && v >= 0; ++k) {
        const int h = hex_value(body[i + k]);
        v = h < 0 ? -1 : v * 16 + h;
      }
      if (v >= 0x20 && v < 0x7f && v != '"' && v != '\\') {
        body[out++] = static_cast<char>(v);
        i += 6;
        continue;
      }
    }
    body[out++] = body[i++];  // any other escape (\\, \", \n, \u00e9...) as it was
    body[out++] = body[i++];
  }
  body.resize(out);
}

void scrub_field(std::string& text, const secret_list& secrets, std::string_view credential) {
  if (text.empty()) return;
  secrets.scrub(text);
  redact_in_place(text, credential);
}

/// Removes the run's secrets and the request's credential from every text of `r`: the one place
/// where text from the network is redacted (nothing reads a response before this).
void scrub_response(response& r, const secret_list& secrets, std::string_view authorization) {
  std::string_view credential = credential_of(authorization);
  if (secrets.contains(credential)) credential = {};  // the engine lists its key: one scan, not two
  if (!secrets.empty() || !credential.empty()) unescape_printable(r.body);
  scrub_field(r.body, secrets, credential);
  scrub_field(r.content_type, secrets, credential);
  scrub_field(r.location, secrets, credential);
  scrub_field(r.link, secrets, credential);
  scrub_field(r.request_id, secrets, credential);
  if (!r.error_detail.empty()) {
    // Failures only (never on the hot path): the pattern rules too (header lines, user-info).
    secrets.scrub(r.error_detail);
    r.error_detail = redact(r.error_detail, credential);
  }
  if (r.retry_after) scrub_field(*r.retry_after, secrets, credential);
}

/// Methods whose requests carry no body, and so no Content-Length when the body is empty (the
/// rule Beast's prepare_payload follows).
bool bodiless(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "CONNECT" || method == "DELETE";
}

}  // namespace

/// The connections' watch timers wait in a timer queue of their own (Asio keeps one per clock and
/// traits type): a wait kept pending between requests must not change the order in which the
/// caller's own timers that expire at the same instant complete (the engine's idle workers wake
/// in that order, and the first takes the next task).
struct watch_wait_traits : net::wait_traits<std::chrono::steady_clock> {};
using watch_timer = net::basic_waitable_timer<std::chrono::steady_clock, watch_wait_traits>;

/// Read buffer capacity set aside per connection (a PUT's answer with its header is ~1 KB).
constexpr std::size_t initial_read_room = 4096;

struct connection::impl {
  net::any_io_executor ex;
  std::shared_ptr<tls_context> tls;
  origin where;
  client_config config;
  std::optional<beast::tcp_stream> plain;
  std::optional<ssl::stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  std::string host_field;  ///< the Host header's value
  proxy_route route;       ///< direct, or the proxy this origin goes through
  /// Plain http through a proxy: requests go to the proxy in absolute form ("http://host:port"
  /// before the path), as curl sends them; https goes through a CONNECT tunnel instead.
  std::string absolute_prefix;
  std::string wire;  ///< the request being sent
  /// The header lines every request sends (Host, Proxy-Authorization, Authorization, User-Agent,
  /// Accept), built for the Authorization value `head_auth` and reused while requests carry the
  /// same one: a run sends one key, so the lines are appended as one block.
  std::string head_block;
  std::string head_auth;
  bool head_built = false;
  /// Why credentials may not be sent to this origin (plain http to a non-loopback host, directly
  /// or through the proxy), or empty: fixed per connection, so worked out once.
  std::string cleartext_refused;
  bool connected = false;
  bool served = false;  ///< a response came over this connection
  std::chrono::steady_clock::time_point opened_at{};

  /// Bounds an exchange (the request's write and the answer's read) by its deadline with one
  /// timer per connection. The stream's own timeout would arm a timer and cancel it for every
  /// write and every read: two waits, two cancels and two aborted completions per request. Held
  /// by its pending wait too, so the wait may complete after the connection is gone.
  struct watch {
    explicit watch(const net::any_io_executor& ex) : timer(ex) {}
    watch_timer timer;
    /// The exchange in progress must end by then; max when none is in progress.
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    bool waiting = false;   ///< a wait is pending, for this deadline or an earlier one
    bool fired = false;     ///< the exchange in progress passed its deadline: its socket is closed
    impl* owner = nullptr;  ///< null once the connection is gone
  };
  std::shared_ptr<watch> watch_;
  /// The answer's parser, made anew for each answer: here rather than in send()'s frame.
  std::optional<lean_response_parser> parser_;

  impl(net::any_io_executor e, std::shared_ptr<tls_context> t, origin w, const client_config& c)
      : ex(std::move(e)), tls(std::move(t)), where(std::move(w)), config(c),
        // The header must fit in the buffer whole; the body goes to the message, not here.
        buffer(c.max_header + 16 * 1024), watch_(std::make_shared<watch>(ex)) {
    watch_->owner = this;
    // Beast reads max(512, free capacity) bytes at a time, and a buffer grown only as needed
    // stays near 512: every answer of ~1 KB (a license) then took two reads. With this much
    // room, one read takes a whole answer.
    buffer.reserve(std::min<std::size_t>(initial_read_room, buffer.max_size()));
    const bool default_port = where.port == (where.tls ? 443 : 80);
    host_field = where.host.find(':') != std::string::npos ? "[" + where.host + "]" : where.host;
    if (!default_port) {
      host_field += ":" + std::to_string(where.port);
    }
    // Chosen per origin: a redirect to a shard host makes a connection of its own, which
    // selects its own route (NO_PROXY may name one host and not the other).
    route = select_proxy(config.proxy, where.tls, where.host, where.port);
    if (route.proxy) {
      // The proxy's credentials join the key in the one redaction step (scrub_response).
      for (const auto& secret : route.proxy->secrets()) config.secrets.add(secret);
      if (!where.tls) absolute_prefix = "http://" + host_field;
    }
    cleartext_refused = cleartext_refusal(where);
    if (cleartext_refused.empty()) cleartext_refused = proxy_cleartext_refusal(route, where.tls);
  }

  /// `text` without the proxy's credentials (a hostile proxy may echo them back).
  std::string scrub(std::string text) const {
    config.secrets.scrub(text);
    return text;
  }

  std::string proxy_name() const { return "proxy " + route.proxy->display(); }

  std::string auth_advice() const {
    return route.proxy->authorization.empty()
               ? "give a user and password in the proxy URL (http://user:password@host:port)"
               : "check the user and password in the proxy URL";
  }

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  struct watch_wake {
    std::shared_ptr<watch> w;
    void operator()(const error_code&) const { wake(w); }
  };

  /// Waits for the watch's deadline (never later than the exchange's: deadlines only grow, as
  /// each is the request's start plus the one timeout).
  static void arm(const std::shared_ptr<watch>& w) {
    w->waiting = true;
    w->timer.expires_at(w->deadline);
    w->timer.async_wait(watch_wake{w});
  }

  /// Decides by the state, not by how the wait ended: a cancelled wait with an exchange in
  /// progress waits again for that exchange's deadline.
  static void wake(const std::shared_ptr<watch>& w) {
    w->waiting = false;
    if (w->owner == nullptr || w->deadline == std::chrono::steady_clock::time_point::max()) return;
    if (std::chrono::steady_clock::now() < w->deadline) {
      arm(w);  // a later exchange moved the deadline on
      return;
    }
    w->fired = true;
    // Like the stream's own timeout: the pending operations complete with an error.
    error_code ignored;
    if (w->owner->secure) beast::get_lowest_layer(*w->owner->secure).socket().close(ignored);
    if (w->owner->plain) w->owner->plain->socket().close(ignored);
  }

  void watch_begin(std::chrono::steady_clock::time_point deadline) {
    watch_->fired = false;
    watch_->deadline = deadline;
    if (!watch_->waiting) arm(watch_);
  }

  /// `keep_timer_armed`: the wait stays pending past this exchange and serves the next ones.
  void watch_end() {
    watch_->deadline = std::chrono::steady_clock::time_point::max();
    if (!config.keep_timer_armed && watch_->waiting) watch_->timer.cancel();
  }

  void watch_stop() {
    watch_->deadline = std::chrono::steady_clock::time_point::max();
    watch_->timer.cancel();
  }

  ~impl() {
    watch_->owner = nullptr;
    watch_->timer.cancel();
  }
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  void drop() {
    if (secure) {
      error_code ignored;
      beast::get_lowest_layer(*secure).socket().close(ignored);
      secure.reset();
    }
    if (plain) {
      error_code ignored;
      plain->socket().close(ignored);
      plain.reset();
    }
    buffer.consume(buffer.size());
    connected = false;
    served = false;
  }

  net::awaitable<response> connect(std::chrono::steady_clock::time_point deadline) {
    drop();
    if (!route.error.empty()) {
      co_return failure(transport_error::proxy_failed, route.error);
    }
    const bool via_proxy = route.proxy.has_value();
    const std::string& dial_host = via_proxy ? route.proxy->host : where.host;
    const std::uint16_t dial_port = via_proxy ? route.proxy->port : where.port;
    const std::string dial_name = via_proxy ? proxy_name() : to_string_host();
    // The resolver has no timeout of its own: a timer cancels it at the deadline. The resolver is
    // shared with the timer's handler, which may run after this coroutine has moved on.
    auto resolver = std::make_shared<tcp::resolver>(ex);
    net::steady_timer guard(ex);
    guard.expires_at(deadline);
    guard.async_wait([weak = std::weak_ptr<tcp::resolver>(resolver)](const error_code& ec) {
      if (!ec) {
        if (auto r = weak.lock()) {
          r->cancel();
        }
      }
    });
    auto [rec, endpoints] =
        co_await resolver->async_resolve(dial_host, std::to_string(dial_port), use_token);
    guard.cancel();
    if (rec == net::error::operation_aborted) {
      co_return failure(transport_error::timeout, std::string("timed out resolving ") +
                                                      (via_proxy ? "proxy host " : "") + dial_host);
    }
    if (rec && via_proxy) {
      co_return failure(transport_error::proxy_failed,
                        "cannot resolve proxy host " + dial_host + ": " + rec.message());
    }
    if (rec) {
      co_return failure(transport_error::resolve_failed,
                        "cannot resolve " + where.host + ": " + rec.message());
    }

    if (where.tls) {
      secure.emplace(ex, tls->ctx);
    } else {
      plain.emplace(ex);
    }
    beast::tcp_stream& stream = lowest();
    stream.expires_at(deadline);
    auto [cec, ep] = co_await stream.async_connect(endpoints, use_token);
    (void)ep;
    if (cec == beast::error::timeout) {
      drop();
      co_return failure(transport_error::timeout, "timed out connecting to " + dial_name);
    }
    if (cec) {
      drop();
      co_return failure(via_proxy ? transport_error::proxy_failed : transport_error::connect_failed,
                        "cannot connect to " + dial_name + ": " + cec.message());
    }
    error_code nodelay_ec;
    stream.socket().set_option(tcp::no_delay(true), nodelay_ec);

    if (via_proxy && where.tls) {
      response t = co_await tunnel(deadline);
      if (t.error != transport_error::none) {
        drop();
        co_return t;
      }
    }

    if (secure) {
      SSL* handle = secure->native_handle();
      // SNI carries host names only (RFC 6066 §3); IP literals are verified but not sent.
      if (!is_ip_literal(where.host) && !SSL_set_tlsext_host_name(handle, where.host.c_str())) {
        drop();
        co_return failure(transport_error::tls_failed, "cannot set TLS server name");
      }
      secure->set_verify_mode(ssl::verify_peer);
      secure->set_verify_callback(ssl::host_name_verification(where.host));
      stream.expires_at(deadline);
      auto [hec] = co_await secure->async_handshake(ssl::stream_base::client, use_token);
      if (hec == beast::error::timeout) {
        drop();
        co_return failure(transport_error::timeout,
                          "timed out in the TLS handshake with " + to_string_host());
      }
      if (hec) {
        std::string detail = verify_detail(handle, where.host);
        drop();
        co_return failure(
            transport_error::tls_failed,
            "TLS handshake with " + to_string_host() + " failed: " +
                (detail.empty() ? hec.message() : "certificate verify failed: " + detail));
      }
    }
    // The exchanges are bounded by the watch; the stream's own timer would be armed per operation.
    stream.expires_never();
    connected = true;
    opened_at = std::chrono::steady_clock::now();
    co_return response{};
  }

  std::string to_string_host() const { return where.host + ":" + std::to_string(where.port); }

  /// Asks the proxy for a tunnel to the origin (CONNECT host:port), on the freshly connected
  /// socket; the TLS handshake then runs through it with the origin, verified as without a proxy.
  net::awaitable<response> tunnel(std::chrono::steady_clock::time_point deadline) {
    const std::string authority =
        (where.host.find(':') != std::string::npos ? "[" + where.host + "]" : where.host) + ":" +
        std::to_string(where.port);
    std::string head = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
    if (!route.proxy->authorization.empty()) {
      head += "Proxy-Authorization: " + route.proxy->authorization + "\r\n";
    }
    head += "User-Agent: " + config.user_agent + "\r\n\r\n";
    beast::tcp_stream& stream = lowest();
    stream.expires_at(deadline);
    auto [wec, written] = co_await net::async_write(stream, net::buffer(head), use_token);
    (void)written;
    if (wec == beast::error::timeout) {
      co_return failure(transport_error::timeout, "timed out sending CONNECT to " + proxy_name());
    }
    if (wec) {
      co_return failure(transport_error::reset,
                        proxy_name() + " closed the connection: " + wec.message());
    }
    http::response_parser<http::empty_body> parser;
    parser.header_limit(16 * 1024);
    parser.skip(true);  // an answer to CONNECT has no body; a refusal's body is not read
    stream.expires_at(deadline);
    auto [rec, n] = co_await http::async_read(stream, buffer, parser, use_token);
    (void)n;
    if (rec == beast::error::timeout) {
      co_return failure(transport_error::timeout,
                        "timed out waiting for " + proxy_name() + " to open the tunnel");
    }
    if (rec && peer_closed(rec)) {
      co_return failure(
          transport_error::reset,
          proxy_name() + " closed the connection instead of answering CONNECT: " + rec.message());
    }
    if (rec) {
      co_return failure(transport_error::proxy_failed,
                        proxy_name() + " sent a malformed answer to CONNECT: " + rec.message());
    }
    const unsigned status = parser.get().result_int();
    // A CONNECT is the proxy's alone to answer: some proxies (tinyproxy) say 401 instead of 407.
    if (status == 407 || status == 401) {
      co_return failure(transport_error::proxy_failed, proxy_name() + " requires authentication (" +
                                                           std::to_string(status) +
                                                           "): " + auth_advice());
    }
    if (status < 200 || status >= 300) {
      // The reason phrase is the proxy's own text: printable ASCII only, bounded, no credentials.
      std::string reason;
      for (char c : std::string_view(parser.get().reason().data(), parser.get().reason().size())) {
        if (reason.size() >= 80) break;
        reason += (c >= 0x20 && c < 0x7f) ? c : '?';
      }
      co_return failure(transport_error::proxy_failed,
                        scrub(proxy_name() + " refused the tunnel to " + authority + ": " +
                              std::to_string(status) + (reason.empty() ? "" : " " + reason)));
    }
    // The TLS handshake starts only now: bytes beyond the answer are nobody's.
    if (buffer.size() != 0) {
      co_return failure(transport_error::proxy_failed,
                        proxy_name() + " sent unexpected bytes after opening the tunnel");
    }
    co_return response{};
  }

  /// The request's bytes, head and body, in `wire` (reused: no allocation once it has grown).
  /// Written by hand rather than through http::request: Beast's fields container allocates a
  /// node per field and its serializer walks them, several microseconds per request on the
  /// engine's one thread. The inputs were checked by send() (no CR/LF/NUL, target shape).
  void serialize(const request& req) {
    if (!same_head(req.authorization)) {
      head_block.clear();
      head_block.append("Host: ").append(host_field).append("\r\n");
      if (!absolute_prefix.empty() && !route.proxy->authorization.empty()) {
        head_block.append("Proxy-Authorization: ")
            .append(route.proxy->authorization)
            .append("\r\n");
      }
      if (!req.authorization.empty())
        head_block.append("Authorization: ").append(req.authorization).append("\r\n");
      head_block.append("User-Agent: ")
          .append(config.user_agent)
          .append("\r\nAccept: application/json\r\n");
      head_auth.assign(req.authorization);
      head_built = true;
    }
    using namespace std::string_view_literals;
    wire.clear();
    wire.append(req.method)
        .append(" "sv)
        .append(absolute_prefix)
        .append(req.target)
        .append(" HTTP/1.1\r\n"sv)
        .append(head_block);
    if (!req.body.empty()) {
      wire.append("Content-Type: application/json\r\n"sv);
    }
    if (!req.body.empty() || !bodiless(req.method)) {
      char digits[24];
      auto [end, ec] = std::to_chars(digits, digits + sizeof digits, req.body.size());
      (void)ec;
      wire.append("Content-Length: "sv).append(digits, end).append("\r\n"sv);
    }
    wire.append("\r\n"sv).append(req.body);
  }

  /// `authorization` is the value head_block was built for (and so already checked).
  bool same_head(std::string_view authorization) const {
    return head_built && authorization == head_auth;
  }

  template <class Stream>
  Stream& stream_of() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      return *plain;
    } else {
      return *secure;
    }
  }

  /// connect()'s outcome into `out`: send() awaits this rather than connect() itself, whose
  /// response would take room of its own in send()'s frame.
  net::awaitable<void> connect_into(std::chrono::steady_clock::time_point deadline, response& out) {
    out = co_await connect(deadline);
  }

  /// Opens the connection now if it is not open (resolve, connect, TLS handshake), within the
  /// timeout; error == none when it is open.
  net::awaitable<response> open() {
    if (connected) co_return response{};
    response r = co_await connect(std::chrono::steady_clock::now() + config.timeout);
    scrub_response(r, config.secrets, {});
    co_return r;
  }

  /// `r`, scrubbed: every response send() returns goes through here (not a wrapping coroutine,
  /// which would cost a frame allocation per request).
  response scrubbed(response r, std::string_view authorization) const {
    scrub_response(r, config.secrets, authorization);
    return r;
  }

  // By value: the caller's request struct may be a temporary that dies before the first resume.
  // A template over the connection's stream type, plain or TLS, chosen by connection::send.
  template <class Stream>
  net::awaitable<response> send(request req) {
    const auto deadline = std::chrono::steady_clock::now() + config.timeout;
    // Defence in depth behind the CLI's check (cleartext_refusal, exit 2): credentials never
    // leave this process in clear for a non-loopback host.
    if (!req.authorization.empty() && !cleartext_refused.empty()) {
      co_return scrubbed(failure(transport_error::protocol, cleartext_refused), req.authorization);
    }
    if (!method_safe(req.method) || !target_safe(req.target) ||
        (!same_head(req.authorization) && !header_safe(req.authorization))) {
      co_return scrubbed(
          failure(transport_error::protocol, "invalid request: bad method, target or header"),
          req.authorization);
    }
    serialize(req);
    const bool head = req.method == "HEAD";

    for (int attempt = 0;; ++attempt) {
      // Reused: a keep-alive connection that answered before, or one opened ahead (open()) and
      // idle for a while; either may have been closed by the server's idle timeout. A connection
      // opened moments ago that fails on its first request failed for real.
      const bool reused = connected && (served || std::chrono::steady_clock::now() - opened_at >=
                                                      std::chrono::seconds(1));
      // One response in the frame for the connection's set-up and the answer: a frame over about
      // 1 KB is not recycled by Asio and costs a malloc and a free per request.
      response r;
      if (!connected) {
        co_await connect_into(deadline, r);
        if (r.error != transport_error::none) {
          co_return scrubbed(std::move(r), req.authorization);
        }
      }
      bool got_some = false;
      // The request's write and the answer's read, here rather than in a coroutine of their own,
      // which would cost a frame and a move of the answer per request.
      watch_begin(deadline);
      Stream& stream = stream_of<Stream>();
      auto [wec, written] = co_await net::async_write(stream, net::buffer(wire), exchange_token());
      (void)written;
      if (wec) {
        r = (watch_->fired || wec == beast::error::timeout)
                ? failure(transport_error::timeout, "timed out sending the request")
                : failure(transport_error::reset, "cannot send the request: " + wec.message());
      } else {
        // Interim 1xx answers (a server may send 100 Continue unasked) are skipped, a few at most.
        for (int interim = 0;; ++interim) {
          if (interim == 5) {
            r = failure(transport_error::protocol,
                        "malformed HTTP response: too many interim (1xx) responses");
            break;
          }
          lean_response_parser& parser = parser_.emplace(r);
          parser.header_limit(static_cast<std::uint32_t>(
              std::min<std::size_t>(config.max_header, std::numeric_limits<std::uint32_t>::max())));
          parser.body_limit(config.max_body);
          if (head) {
            parser.skip(true);
          }
          auto [rec, n] = co_await http::async_read(stream, buffer, parser, exchange_token());
          (void)n;
          got_some = got_some || parser.got_some();
          if (rec) {
            r = read_failure(watch_->fired ? error_code(beast::error::timeout) : rec, got_some);
            break;
          }
          const unsigned status = r.status;
          if (status >= 100 && status < 200 && status != 101) {
            continue;
          }
          // Never reuse a connection the server will close, that switched protocols, or that
          // holds bytes nobody asked for (they would be read as the next request's response).
          if (!parser.keep_alive() || status == 101 || buffer.size() != 0) {
            drop();
          }
          break;
        }
      }
      watch_end();
      // The deadline passed as the answer came in: the watch has closed the socket under it.
      if (watch_->fired && r.error == transport_error::none) drop();
      if (r.error == transport_error::none && !absolute_prefix.empty()) {
        // Through a proxy in absolute form, a 407 is the proxy's and says the same for every
        // request; the answers pass the proxy, which may echo its credentials.
        if (r.status == 407) {
          drop();
          co_return failure(transport_error::proxy_failed,
                            proxy_name() + " requires authentication (407): " + auth_advice());
        }
      }
      if (r.error == transport_error::none) {
        served = connected;                                    // still open (kept alive)
        scrub_response(r, config.secrets, req.authorization);  // in place: no copies of `r`
        co_return std::move(r);
      }
      drop();
      // A keep-alive connection the server closed while idle fails on first use, before any
      // response byte: that says nothing about the request, so it is sent once more on a fresh
      // connection. Only idempotent methods: a POST may have been received.
      if (reused && attempt == 0 && !got_some && r.error == transport_error::reset &&
          idempotent(req.method) && std::chrono::steady_clock::now() < deadline) {
        continue;
      }
      co_return scrubbed(std::move(r), req.authorization);
    }
  }

  net::awaitable<void> shutdown() {
    if (secure && connected) {
      auto& stream = beast::get_lowest_layer(*secure);
      stream.expires_after(std::min(config.timeout, std::chrono::milliseconds(2000)));
      auto [ec] = co_await secure->async_shutdown(use_token);
      // Many servers close TCP without answering close_notify; the response bodies were complete
      // (length-delimited), so a truncated shutdown loses nothing and is not an error.
      if (ec == ssl::error::stream_truncated) {
        ec = {};
      }
      (void)ec;
    } else if (plain && connected) {
      error_code ignored;
      plain->socket().shutdown(tcp::socket::shutdown_both, ignored);
    }
    drop();
  }
};

connection::connection(net::any_io_executor ex, std::shared_ptr<tls_context> tls, origin where,
                       const client_config& config)
    : impl_(std::make_unique<impl>(std::move(ex), std::move(tls), std::move(where), config)) {
  if (impl_->where.tls && !impl_->tls) {
    throw std::invalid_argument("https connection needs a TLS context");
  }
}

connection::~connection() {
  if (impl_) {
    impl_->drop();
  }
}

connection::connection(connection&&) noexcept = default;
connection& connection::operator=(connection&&) noexcept = default;

const origin& connection::where() const noexcept { return impl_->where; }

net::awaitable<response> connection::send(const request& req) {
  if (impl_->where.tls) return impl_->send<ssl::stream<beast::tcp_stream>>(req);
  return impl_->send<beast::tcp_stream>(req);
}

net::awaitable<response> connection::open() { return impl_->open(); }

bool connection::is_open() const noexcept { return impl_->connected; }

net::awaitable<void> connection::shutdown() { return impl_->shutdown(); }

void connection::close() {
  // Only the socket: a coroutine may be suspended in an operation on the streams (a TLS stream's
  // pending operation refers to its engine), so they are destroyed by the next connect() or the
  // destructor, never under that operation. Pending operations complete with operation_aborted.
  error_code ignored;
  if (impl_->secure) beast::get_lowest_layer(*impl_->secure).socket().close(ignored);
  if (impl_->plain) impl_->plain->socket().close(ignored);
  impl_->connected = false;
  impl_->watch_stop();
}

}  // namespace relicense::io
