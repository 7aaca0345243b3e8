// A scripted HTTP/1.1 server for protocol tests of relicense::io::connection: it listens on
// 127.0.0.1:0 in its own thread, optionally over TLS, and hands each accepted connection to the
// test's script, which reads requests and writes whatever bytes it likes (valid or hostile).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace relicense::io::test {

/// A request as the server read it.
struct received_request {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::string body;
};

/// A self-signed certificate and its key, generated with OpenSSL for the test.
struct test_certificate {
  std::string cert_pem;
  std::string key_pem;
};

/// `san` like "DNS:localhost,IP:127.0.0.1".
test_certificate make_self_signed(const std::string& san);

class script_server;

/// One accepted connection, driven by the script on the server thread.
class server_session {
public:
  /// Reads one request; nullopt when the client closed or sent garbage.
  std::optional<received_request> read_request();
  /// Writes raw bytes; false once the client is gone.
  bool write(std::string_view bytes);
  /// Writes a complete response with Content-Length.
  bool respond(unsigned status, std::string_view body,
               std::string_view content_type = "application/json",
               std::string_view extra_headers = "");
  /// Closes the connection abruptly (TCP close, no TLS close_notify).
  void close();
  /// Sleeps, waking early when the server stops; false when it stopped.
  bool sleep_for(std::chrono::milliseconds d);
  /// 1 for the first accepted connection, 2 for the next...
  int index() const noexcept { return index_; }

  struct impl;
  server_session(impl& i, int index) : impl_(i), index_(index) {}

private:
  impl& impl_;
  int index_;
};

class script_server {
public:
  using script = std::function<void(server_session&)>;

  /// Plain HTTP unless a certificate is given.
  explicit script_server(script s, std::optional<test_certificate> tls = std::nullopt);
  ~script_server();
  script_server(const script_server&) = delete;
  script_server& operator=(const script_server&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  /// Connections accepted so far.
  int accepts() const noexcept { return accepts_.load(); }
  /// Requests read so far, over all connections.
  int requests() const noexcept { return requests_.load(); }
  /// Bytes the script managed to write, over all connections.
  std::uint64_t bytes_written() const noexcept { return bytes_written_.load(); }

  struct state;

private:
  std::unique_ptr<state> state_;
  std::uint16_t port_ = 0;
  std::atomic<int> accepts_{0};
  std::atomic<int> requests_{0};
  std::atomic<std::uint64_t> bytes_written_{0};
  std::thread thread_;
  friend struct server_session::impl;
  friend class server_session;
  void run(script s);
};

}  // namespace relicense::io::test
