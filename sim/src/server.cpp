// The twin's HTTP layer: Beast keep-alive sessions (plain or TLS) on 127.0.0.1 that hand each
// parsed request to the sans-I/O twin and write its reply, honouring drop and delay.
#include "relicense/sim/server.hpp"

#include "cert.hpp"
#include "twin.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <thread>

namespace relicense::sim {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using token = net::as_tuple_t<net::use_awaitable_t<>>;

namespace detail {

struct server_impl {
  explicit server_impl(sim_config c)
      : config(std::move(c)), model(config), ioc(static_cast<int>(std::max(1u, config.threads))) {}

  sim_config config;
  twin model;
  // Declared before the io_context so that sessions abandoned at stop() (their frames die with
  // the io_context) never outlive the TLS context they use.
  std::optional<net::ssl::context> ssl;
  net::io_context ioc;
  std::optional<tcp::acceptor> main_acceptor, shard_acceptor;
  std::vector<std::thread> threads;
  std::uint16_t main_port = 0, shard_port = 0;
  std::filesystem::path cert_dir;
  bool owns_cert_dir = false;
  std::string ca_path;
  bool running = false;

  std::string origin(std::uint16_t port) const {
    return std::string(config.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port);
  }
};

namespace {

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

/// X-Request-Id's value: 16 lowercase hex digits written into `out`.
beast::string_view request_id_text(std::uint64_t id, char (&out)[16]) {
  static constexpr char hex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, id >>= 4) out[i] = hex[id & 15];
  return {out, sizeof out};
}

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "relicense sim: session failed: %s\n", ex.what());
  }
}

// Plain sessions run without per-request timers: re-arming one costs a timerfd syscall per
// request (a third of the twin's budget), and its clients are local tests that close their own
// connections. TLS sessions keep a handshake timeout.

template <class Stream>
net::awaitable<void> serve_requests(server_impl* s, Stream& stream, listener_kind kind,
                                    std::string client_ip) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, token{});
    if (ec) co_return;
    const auto& req = parser.get();
    request_view view;
    view.method = sv(req.method_string());
    view.target = sv(req.target());
    view.authorization = sv(req[http::field::authorization]);
    view.meraki_key = sv(req["X-Cisco-Meraki-API-Key"]);
    view.content_type = sv(req[http::field::content_type]);
    view.body = req.body();
    view.client_ip = client_ip;
    view.listener = kind;
    reply r = s->model.handle(view, clock::now());
    if (r.drop) {
      // Close without a response: the client sees a reset/EOF mid-request.
      beast::get_lowest_layer(stream).socket().close();
      co_return;
    }
    if (r.delay.count() > 0) {
      net::steady_timer timer(co_await net::this_coro::executor);
      timer.expires_after(r.delay);
      co_await timer.async_wait(token{});
    }
    http::response<http::string_body> res{static_cast<http::status>(r.status), req.version()};
    if (!r.body.empty()) res.set(http::field::content_type, "application/json; charset=utf-8");
    if (!r.location.empty()) res.set(http::field::location, r.location);
    if (!r.link.empty()) res.set(http::field::link, r.link);
    if (r.retry_after >= 0) res.set(http::field::retry_after, std::to_string(r.retry_after));
    char request_id[16];
    res.set("X-Request-Id", request_id_text(r.request_id, request_id));
    res.keep_alive(req.keep_alive());
    res.body() = std::move(r.body);
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(stream, res, token{});
    if (wec || !res.keep_alive()) co_return;
  }
}

net::awaitable<void> plain_session(server_impl* s, tcp::socket socket, listener_kind kind) {
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  std::string ip = ec ? std::string("unknown") : remote.address().to_string();
  beast::tcp_stream stream(std::move(socket));
  co_await serve_requests(s, stream, kind, std::move(ip));
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

net::awaitable<void> tls_session(server_impl* s, tcp::socket socket, listener_kind kind) {
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  std::string ip = ec ? std::string("unknown") : remote.address().to_string();
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *s->ssl);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
  auto [hec] = co_await stream.async_handshake(net::ssl::stream_base::server, token{});
  if (hec) co_return;  // a client that rejects our certificate ends here
  beast::get_lowest_layer(stream).expires_never();
  co_await serve_requests(s, stream, kind, std::move(ip));
  if (beast::get_lowest_layer(stream).socket().is_open()) {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    co_await stream.async_shutdown(token{});
  }
}

net::awaitable<void> accept_loop(server_impl* s, tcp::acceptor* acceptor, listener_kind kind) {
  for (;;) {
    // One I/O thread needs no strand; several do, one per connection.
    net::any_io_executor ex = s->config.threads > 1 ? net::any_io_executor(net::make_strand(s->ioc))
                                                    : net::any_io_executor(s->ioc.get_executor());
    auto [ec, socket] = co_await acceptor->async_accept(ex, token{});
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor->is_open()) co_return;
      continue;  // e.g. EMFILE: keep serving the connections we have
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (s->ssl) net::co_spawn(ex, tls_session(s, std::move(socket), kind), log_exception);
    else net::co_spawn(ex, plain_session(s, std::move(socket), kind), log_exception);
  }
}

std::uint16_t listen_on(server_impl* s, std::optional<tcp::acceptor>& acceptor,
                        std::uint16_t port) {
  tcp::endpoint ep(net::ip::make_address_v4("127.0.0.1"), port);
  acceptor.emplace(s->ioc);
  boost::system::error_code ec;
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("sim: cannot listen on 127.0.0.1:" + std::to_string(port) + ": " +
                             ec.message());
  return acceptor->local_endpoint().port();
}

void setup_tls(server_impl* s) {
  cert_bundle certs = make_certificates(s->config.cert_host);
  if (s->config.cert_dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "relicense-sim-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("sim: cannot create a temp dir");
    s->cert_dir = tmpl;
    s->owns_cert_dir = true;
  } else {
    s->cert_dir = s->config.cert_dir;
    std::filesystem::create_directories(s->cert_dir);
  }
  s->ca_path = (s->cert_dir / "ca.pem").string();
  {
    std::ofstream out(s->ca_path, std::ios::binary | std::ios::trunc);
    out << certs.ca_pem;
    if (!out) throw std::runtime_error("sim: cannot write " + s->ca_path);
  }
  s->ssl.emplace(net::ssl::context::tls_server);
  s->ssl->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                      net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                      net::ssl::context::no_tlsv1_1);
  s->ssl->use_certificate_chain(net::buffer(certs.cert_pem));
  s->ssl->use_private_key(net::buffer(certs.key_pem), net::ssl::context::pem);
}

}  // namespace
}  // namespace detail

server::server(sim_config config)
    : impl_(std::make_unique<detail::server_impl>(std::move(config))) {}

server::~server() {
  stop();
  if (impl_->owns_cert_dir) {
    std::error_code ec;
    std::filesystem::remove_all(impl_->cert_dir, ec);
  }
}

void server::start() {
  auto* s = impl_.get();
  if (s->running) return;
  if (s->config.tls && !s->ssl) detail::setup_tls(s);
  s->main_port = detail::listen_on(s, s->main_acceptor, s->config.port);
  if (s->config.redirect) s->shard_port = detail::listen_on(s, s->shard_acceptor, 0);
  s->model.set_origins(s->origin(s->main_port), s->config.redirect ? s->origin(s->shard_port) : "");
  net::co_spawn(s->ioc, detail::accept_loop(s, &*s->main_acceptor, detail::listener_kind::main),
                detail::log_exception);
  if (s->shard_acceptor)
    net::co_spawn(s->ioc, detail::accept_loop(s, &*s->shard_acceptor, detail::listener_kind::shard),
                  detail::log_exception);
  s->ioc.restart();
  const unsigned n = std::max(1u, s->config.threads);
  for (unsigned i = 0; i < n; ++i)
    s->threads.emplace_back([s] {
      try {
        s->ioc.run();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "relicense sim: %s\n", e.what());
      }
    });
  s->running = true;
}

void server::stop() {
  auto* s = impl_.get();
  if (!s->running) return;
  s->ioc.stop();
  for (auto& t : s->threads) t.join();
  s->threads.clear();
  s->running = false;
}

std::string server::base_url() const { return impl_->origin(impl_->main_port) + "/api/v1"; }
std::string server::shard_url() const {
  return impl_->shard_port ? impl_->origin(impl_->shard_port) + "/api/v1" : std::string{};
}
std::uint16_t server::port() const { return impl_->main_port; }
std::string server::api_key() const { return impl_->model.api_key(); }
std::string server::ca_file() const { return impl_->ca_path; }
std::vector<org_info> server::orgs() const { return impl_->model.orgs(detail::clock::now()); }
state_map server::state() const { return impl_->model.state(detail::clock::now()); }
stats_snapshot server::stats() const { return impl_->model.stats(detail::clock::now()); }
void server::reset() { impl_->model.reset(detail::clock::now()); }
void server::set_faults(double fault_5xx, double fault_drop, double fault_slow, double fault_429) {
  impl_->model.set_faults(fault_5xx, fault_drop, fault_slow, fault_429);
}
void server::set_budget(double rate, double burst, double ip_rate) {
  impl_->model.set_budget(rate, burst, ip_rate, detail::clock::now());
}
void server::set_background_rate(double rate) {
  impl_->model.set_background_rate(rate, detail::clock::now());
}
void server::set_api_key(std::string key) { impl_->model.set_api_key(std::move(key)); }

}  // namespace relicense::sim
