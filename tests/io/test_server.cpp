#include "test_server.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <sys/socket.h>
#include <stdexcept>

namespace relicense::io::test {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

test_certificate make_self_signed(const std::string& san) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* x = X509_new();
  if (!key || !x) {
    throw std::runtime_error("OpenSSL key/cert allocation failed");
  }
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("relicense test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, san.c_str()},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) {
      throw std::runtime_error("bad certificate extension");
    }
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (!X509_sign(x, key, EVP_sha256())) {
    throw std::runtime_error("X509_sign failed");
  }
  auto to_pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return pem;
  };
  test_certificate out;
  out.cert_pem = to_pem([&](BIO* b) { PEM_write_bio_X509(b, x); });
  out.key_pem = to_pem(
      [&](BIO* b) { PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

struct script_server::state {
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::optional<ssl::context> tls;
  std::atomic<bool> stop{false};
  std::atomic<int> current_fd{-1};
};

struct server_session::impl {
  script_server& server;
  tcp::socket socket;
  std::optional<ssl::stream<tcp::socket&>> secure;
  beast::flat_buffer buffer;

  template <class F>
  auto with_stream(F f) {
    if (secure) {
      return f(*secure);
    }
    return f(socket);
  }
};

std::optional<received_request> server_session::read_request() {
  http::request_parser<http::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  error_code ec;
  impl_.with_stream([&](auto& s) {
    http::read(s, impl_.buffer, parser, ec);
    return 0;
  });
  if (ec) {
    return std::nullopt;
  }
  ++impl_.server.requests_;
  auto& m = parser.get();
  received_request r;
  r.method = std::string(m.method_string());
  r.target = std::string(m.target());
  for (const auto& f : m) {
    std::string name(f.name_string());
    for (auto& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    r.headers[name] = std::string(f.value());
  }
  r.body = std::move(m.body());
  return r;
}

bool server_session::write(std::string_view bytes) {
  error_code ec;
  const std::size_t n = impl_.with_stream(
      [&](auto& s) { return net::write(s, net::buffer(bytes.data(), bytes.size()), ec); });
  impl_.server.bytes_written_ += n;
  return !ec;
}

bool server_session::respond(unsigned status, std::string_view body, std::string_view content_type,
                             std::string_view extra_headers) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
  if (!content_type.empty()) {
    head += "Content-Type: " + std::string(content_type) + "\r\n";
  }
  head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  head += extra_headers;
  head += "\r\n";
  head += body;
  return write(head);
}

void server_session::close() {
  error_code ec;
  impl_.socket.shutdown(tcp::socket::shutdown_both, ec);
  impl_.socket.close(ec);
}

bool server_session::sleep_for(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (impl_.server.state_->stop) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return !impl_.server.state_->stop;
}

script_server::script_server(script s, std::optional<test_certificate> tls)
    : state_(std::make_unique<state>()) {
  if (tls) {
    state_->tls.emplace(ssl::context::tls_server);
    state_->tls->use_certificate_chain(net::buffer(tls->cert_pem));
    state_->tls->use_private_key(net::buffer(tls->key_pem), ssl::context::pem);
  }
  tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
  state_->acceptor.open(ep.protocol());
  state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  state_->acceptor.bind(ep);
  state_->acceptor.listen();
  port_ = state_->acceptor.local_endpoint().port();
  thread_ = std::thread([this, s = std::move(s)] { run(s); });
}

script_server::~script_server() {
  state_->stop = true;
  // Wake a blocked accept with a throw-away connection, and a blocked session read with a
  // shutdown of its socket (a plain syscall, safe from this thread).
  if (const int fd = state_->current_fd.load(); fd >= 0) {
    ::shutdown(fd, SHUT_RDWR);
  }
  {
    net::io_context ioc;
    tcp::socket wake(ioc);
    error_code ec;
    wake.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
  }
  thread_.join();
}

void script_server::run(script s) {
  for (int index = 1; !state_->stop; ++index) {
    tcp::socket socket(state_->ioc);
    error_code ec;
    state_->acceptor.accept(socket, ec);
    if (ec || state_->stop) {
      break;
    }
    ++accepts_;
    server_session::impl si{*this, std::move(socket), std::nullopt, beast::flat_buffer{}};
    state_->current_fd = si.socket.native_handle();
    if (state_->tls) {
      si.secure.emplace(si.socket, *state_->tls);
      si.secure->handshake(ssl::stream_base::server, ec);
    }
    if (!ec) {
      server_session session(si, index);
      s(session);
    }
    state_->current_fd = -1;
    error_code ignored;
    si.socket.close(ignored);
  }
}

}  // namespace relicense::io::test
