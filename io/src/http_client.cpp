#include "relicense/io/http_client.hpp"

#include "relicense/io/redact.hpp"
#include "relicense/io/url.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <stdexcept>

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

const char* to_string(transport_error e) noexcept {
  switch (e) {
    case transport_error::none:
      return "none";
    case transport_error::resolve_failed:
      return "resolve_failed";
    case transport_error::connect_failed:
      return "connect_failed";
    case transport_error::tls_failed:
      return "tls_failed";
    case transport_error::timeout:
      return "timeout";
    case transport_error::reset:
      return "reset";
    case transport_error::truncated:
      return "truncated";
    case transport_error::too_large:
      return "too_large";
    case transport_error::protocol:
      return "protocol";
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
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                       ssl::context::no_tlsv1_1);
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
bool header_safe(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool target_safe(std::string_view s) {
  if (s.empty() || s.front() != '/') {
    return false;
  }
  for (unsigned char c : s) {
    if (c <= 0x20 || c == 0x7f) {
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

} // namespace

struct connection::impl {
  net::any_io_executor ex;
  std::shared_ptr<tls_context> tls;
  origin where;
  client_config config;
  std::optional<beast::tcp_stream> plain;
  std::optional<ssl::stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  bool connected = false;

  impl(net::any_io_executor e, std::shared_ptr<tls_context> t, origin w, const client_config& c)
      : ex(std::move(e)), tls(std::move(t)), where(std::move(w)), config(c),
        // The header must fit in the buffer whole; the body goes to the message, not here.
        buffer(c.max_header + 16 * 1024) {}

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

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
  }

  net::awaitable<response> connect(std::chrono::steady_clock::time_point deadline) {
    drop();
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
        co_await resolver->async_resolve(where.host, std::to_string(where.port), use_token);
    guard.cancel();
    if (rec == net::error::operation_aborted) {
      co_return failure(transport_error::timeout, "timed out resolving " + where.host);
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
      co_return failure(transport_error::timeout, "timed out connecting to " + to_string_host());
    }
    if (cec) {
      drop();
      co_return failure(transport_error::connect_failed,
                        "cannot connect to " + to_string_host() + ": " + cec.message());
    }
    error_code nodelay_ec;
    stream.socket().set_option(tcp::no_delay(true), nodelay_ec);

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
        co_return failure(transport_error::timeout, "timed out in the TLS handshake with " + to_string_host());
      }
      if (hec) {
        std::string detail = verify_detail(handle, where.host);
        drop();
        co_return failure(transport_error::tls_failed,
                          "TLS handshake with " + to_string_host() + " failed: " +
                              (detail.empty() ? hec.message() : "certificate verify failed: " + detail));
      }
    }
    connected = true;
    co_return response{};
  }

  std::string to_string_host() const { return where.host + ":" + std::to_string(where.port); }

  template <class Stream>
  net::awaitable<response> exchange(Stream& stream, const http::request<http::string_body>& msg,
                                    bool head, std::chrono::steady_clock::time_point deadline,
                                    bool& got_some) {
    got_some = false;
    lowest().expires_at(deadline);
    auto [wec, written] = co_await http::async_write(stream, msg, use_token);
    (void)written;
    if (wec) {
      if (wec == beast::error::timeout) {
        co_return failure(transport_error::timeout, "timed out sending the request");
      }
      co_return failure(transport_error::reset, "cannot send the request: " + wec.message());
    }
    // Interim 1xx answers (a server may send 100 Continue unasked) are skipped, a few at most.
    for (int interim = 0; interim < 5; ++interim) {
      http::response_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(
          std::min<std::size_t>(config.max_header, std::numeric_limits<std::uint32_t>::max())));
      parser.body_limit(config.max_body);
      if (head) {
        parser.skip(true);
      }
      lowest().expires_at(deadline);
      auto [rec, n] = co_await http::async_read(stream, buffer, parser, use_token);
      (void)n;
      got_some = got_some || parser.got_some();
      if (rec) {
        co_return read_failure(rec, got_some);
      }
      auto& msg_in = parser.get();
      const unsigned status = msg_in.result_int();
      if (status >= 100 && status < 200 && status != 101) {
        continue;
      }
      response r;
      r.status = status;
      if (auto it = msg_in.find(http::field::content_type); it != msg_in.end()) {
        r.content_type = std::string(it->value());
      }
      if (auto it = msg_in.find(http::field::location); it != msg_in.end()) {
        r.location = std::string(it->value());
      }
      if (auto it = msg_in.find(http::field::retry_after); it != msg_in.end()) {
        r.retry_after = std::string(it->value());
      }
      if (auto it = msg_in.find(http::field::link); it != msg_in.end()) {
        r.link = std::string(it->value());
      }
      // Never reuse a connection the server will close, that switched protocols, or that holds
      // bytes nobody asked for (they would be read as the next request's response).
      if (!msg_in.keep_alive() || status == 101 || buffer.size() != 0) {
        drop();
      }
      r.body = std::move(msg_in.body());
      co_return r;
    }
    co_return failure(transport_error::protocol, "too many interim (1xx) responses");
  }

  // By value: the caller's request struct may be a temporary that dies before the first resume.
  net::awaitable<response> send(request req) {
    const auto deadline = std::chrono::steady_clock::now() + config.timeout;
    // Defence in depth behind the CLI's check (cleartext_refusal, exit 2): credentials never
    // leave this process in clear for a non-loopback host.
    if (!req.authorization.empty() && !cleartext_refusal(where).empty()) {
      co_return failure(transport_error::protocol, cleartext_refusal(where));
    }
    if (!header_safe(req.method) || req.method.empty() || !target_safe(req.target) ||
        !header_safe(req.authorization)) {
      co_return failure(transport_error::protocol, "invalid request: bad method, target or header");
    }
    http::request<http::string_body> msg;
    const http::verb verb = http::string_to_verb(req.method);
    if (verb == http::verb::unknown) {
      msg.method_string(req.method);
    } else {
      msg.method(verb);
    }
    msg.target(req.target);
    msg.version(11);
    const bool default_port = where.port == (where.tls ? 443 : 80);
    const bool v6 = where.host.find(':') != std::string::npos;
    std::string host_field = v6 ? "[" + where.host + "]" : where.host;
    if (!default_port) {
      host_field += ":" + std::to_string(where.port);
    }
    msg.set(http::field::host, host_field);
    if (!req.authorization.empty()) {
      msg.set(http::field::authorization, req.authorization);
    }
    msg.set(http::field::user_agent, config.user_agent);
    msg.set(http::field::accept, "application/json");
    if (!req.body.empty()) {
      msg.set(http::field::content_type, "application/json");
      msg.body() = std::string(req.body);
    }
    msg.keep_alive(true);
    msg.prepare_payload();
    const bool head = verb == http::verb::head;

    for (int attempt = 0;; ++attempt) {
      const bool reused = connected;
      if (!connected) {
        response r = co_await connect(deadline);
        if (r.error != transport_error::none) {
          r.error_detail = redact(r.error_detail, req.authorization);
          co_return r;
        }
      }
      bool got_some = false;
      // Not a conditional expression: g++ 12 mishandles temporaries of co_await inside ?:.
      response r;
      if (secure) {
        r = co_await exchange(*secure, msg, head, deadline, got_some);
      } else {
        r = co_await exchange(*plain, msg, head, deadline, got_some);
      }
      if (r.error == transport_error::none) {
        co_return r;
      }
      drop();
      // A keep-alive connection the server closed while idle fails on first use, before any
      // response byte: that says nothing about the request, so it is sent once more on a fresh
      // connection. Only idempotent methods: a POST may have been received.
      if (reused && attempt == 0 && !got_some && r.error == transport_error::reset &&
          idempotent(req.method) && std::chrono::steady_clock::now() < deadline) {
        continue;
      }
      r.error_detail = redact(r.error_detail, req.authorization);
      co_return r;
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

net::awaitable<response> connection::send(const request& req) { return impl_->send(req); }

net::awaitable<void> connection::shutdown() { return impl_->shutdown(); }

void connection::close() { impl_->drop(); }

} // namespace relicense::io
