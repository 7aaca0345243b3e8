#include "relicense/io/http_client.hpp"

#include "relicense/io/json.hpp"
#include "relicense/test/temp_dir.hpp"
#include "test_server.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <memory>

namespace relicense::io {
namespace {

namespace net = boost::asio;
using test::received_request;
using test::script_server;
using test::server_session;
using namespace std::chrono_literals;

constexpr std::string_view auth = "Bearer MARKERKEY0123456789";
constexpr std::string_view license_json =
    R"({"id":"L1","deviceSerial":"Q2AA-BBBB-CCCC","state":"active"})";

client_config config_with(std::chrono::milliseconds timeout) {
  client_config c;
  c.timeout = timeout;
  return c;
}

// Runs one send to completion on a private io_context.
response send(connection& c, net::io_context& ioc, std::string_view method = "GET",
              std::string_view body = {},
              std::string_view target = "/api/v1/organizations/1/licenses/L1") {
  request req{method, target, body, auth};
  auto fut = net::co_spawn(ioc, c.send(req), net::use_future);
  ioc.restart();
  ioc.run();
  return fut.get();
}

struct plain_fixture : ::testing::Test {
  net::io_context ioc;
  std::unique_ptr<script_server> server;
  std::optional<connection> conn;

  void start(script_server::script s, std::chrono::milliseconds timeout = 5000ms,
             client_config config = {}) {
    server = std::make_unique<script_server>(std::move(s));
    config.timeout = timeout;
    conn.emplace(ioc.get_executor(), nullptr, origin{false, "127.0.0.1", server->port()}, config);
  }
  void TearDown() override {
    conn.reset();  // the client goes first, so the server's blocked reads see EOF
    server.reset();
  }
};

// Answers every request of a connection with a fixed response, keep-alive.
void answer_200(server_session& s) {
  while (s.read_request()) {
    if (!s.respond(200, license_json)) {
      return;
    }
  }
}

/// A server whose first request (over all connections) gets no answer for 600 ms, and every
/// later one a 200.
script_server::script first_request_unanswered() {
  auto seen = std::make_shared<std::atomic<int>>(0);
  return [seen](server_session& s) {
    while (s.read_request()) {
      if (++*seen == 1) {
        s.sleep_for(600ms);  // the first request gets no answer before close()
        return;
      }
      s.respond(200, license_json);
    }
  };
}

/// Sends a GET and closes the connection 100 ms later, while the send waits for its answer.
response send_closed_midway(connection& c, net::io_context& ioc) {
  request req{"GET", "/api/v1/organizations/1/licenses/L1", {}, auth};
  auto fut = net::co_spawn(ioc, c.send(req), net::use_future);
  net::steady_timer t(ioc, 100ms);
  t.async_wait([&](const boost::system::error_code&) { c.close(); });
  ioc.restart();
  ioc.run();
  return fut.get();
}

using HttpClient = plain_fixture;

// A 200 arrives whole; the request carries Host, Authorization, User-Agent, Accept, Content-Type.
TEST_F(HttpClient, SendsHeadersAndReadsResponse) {
  received_request seen;
  start([&](server_session& s) {
    if (auto r = s.read_request()) {
      seen = *r;
      s.respond(200, license_json, "application/json; charset=utf-8");
    }
  });
  response r = send(*conn, ioc, "PUT", R"({"deviceSerial":"Q2AA-BBBB-CCCC"})");
  ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, license_json);
  EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
  EXPECT_EQ(seen.method, "PUT");
  EXPECT_EQ(seen.target, "/api/v1/organizations/1/licenses/L1");
  EXPECT_EQ(seen.headers["host"], "127.0.0.1:" + std::to_string(server->port()));
  EXPECT_EQ(seen.headers["authorization"], auth);
  EXPECT_EQ(seen.headers["user-agent"], relicense::io::user_agent());
  EXPECT_EQ(seen.headers["accept"], "application/json");
  EXPECT_EQ(seen.headers["content-type"], "application/json");
  EXPECT_EQ(seen.body, R"({"deviceSerial":"Q2AA-BBBB-CCCC"})");
}

// A GET carries no Content-Type; an empty-body PUT says Content-Length: 0.
TEST_F(HttpClient, NoContentTypeWithoutBody) {
  std::vector<received_request> seen;
  start([&](server_session& s) {
    while (auto r = s.read_request()) {
      seen.push_back(*r);
      s.respond(200, "{}");
    }
  });
  ASSERT_EQ(send(*conn, ioc, "GET").error, transport_error::none);
  ASSERT_EQ(send(*conn, ioc, "PUT").error, transport_error::none);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].headers.count("content-type"), 0u);
  EXPECT_EQ(seen[1].headers["content-length"], "0");
}

// Keep-alive: many requests over one accepted connection.
TEST_F(HttpClient, KeepAliveReusesConnection) {
  start(answer_200);
  for (int i = 0; i < 5; ++i) {
    response r = send(*conn, ioc);
    ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
  }
  EXPECT_EQ(server->accepts(), 1);
  EXPECT_EQ(server->requests(), 5);
}

// A 429 is a response (not a transport error) with Retry-After verbatim and the errors body.
TEST_F(HttpClient, TooManyRequestsKeepsRetryAfter) {
  start([](server_session& s) {
    while (s.read_request()) {
      s.respond(429, R"({"errors":["API rate limit exceeded for organization"]})",
                "application/json", "Retry-After: 2\r\n");
    }
  });
  response r = send(*conn, ioc, "PUT", "{}");
  ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
  EXPECT_EQ(r.status, 429u);
  EXPECT_EQ(r.retry_after, "2");
  response_parser p;
  EXPECT_EQ(p.describe_error(r.status, r.body), "API rate limit exceeded for organization");
}

// Redirect and pagination headers are passed up.
TEST_F(HttpClient, LocationAndLinkHeaders) {
  start([](server_session& s) {
    while (s.read_request()) {
      s.respond(307, "", "",
                "Location: https://n149.meraki.com/api/v1/x\r\nLink: <https://a/b>; rel=next\r\n");
    }
  });
  response r = send(*conn, ioc);
  ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
  EXPECT_EQ(r.status, 307u);
  EXPECT_EQ(r.location, "https://n149.meraki.com/api/v1/x");
  EXPECT_EQ(r.link, "<https://a/b>; rel=next");
  EXPECT_FALSE(r.retry_after);
}

// The answer's X-Request-Id is kept (any case of the name), so a failed call can be traced; an
// answer without one leaves it empty, and an interim answer's id is forgotten.
TEST_F(HttpClient, RequestIdKept) {
  start([](server_session& s) {
    for (int n = 0; s.read_request(); ++n) {
      if (n == 0) {
        s.respond(400, R"({"errors":["bad"]})", "application/json",
                  "X-Request-Id: 3f2a9c7e1d5b4a60b2c8\r\n");
      } else if (n == 1) {
        s.respond(200, license_json, "application/json", "x-request-id: abc123\r\n");
      } else if (n == 2) {
        s.write("HTTP/1.1 103 Early Hints\r\nX-Request-Id: interim\r\n\r\n");
        s.respond(200, license_json);
      } else {
        s.respond(200, license_json);
      }
    }
  });
  response r = send(*conn, ioc, "PUT", "{}");
  ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.request_id, "3f2a9c7e1d5b4a60b2c8");
  r = send(*conn, ioc, "PUT", "{}");
  EXPECT_EQ(r.request_id, "abc123");
  r = send(*conn, ioc, "PUT", "{}");
  ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
  EXPECT_EQ(r.request_id, "");
  r = send(*conn, ioc, "PUT", "{}");
  EXPECT_EQ(r.request_id, "");
}

// A server slower than the timeout: the client gives up with `timeout`.
TEST_F(HttpClient, SlowServerTimesOut) {
  start(
      [](server_session& s) {
        if (s.read_request() && s.sleep_for(3000ms)) {
          s.respond(200, license_json);
        }
      },
      300ms);
  response r = send(*conn, ioc);
  EXPECT_EQ(r.error, transport_error::timeout) << r.error_detail;
  EXPECT_FALSE(r.error_detail.empty());
}

// A response trickling one byte a second never completes inside the timeout.
TEST_F(HttpClient, TrickleTimesOut) {
  start(
      [](server_session& s) {
        if (!s.read_request()) {
          return;
        }
        const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        for (char c : reply) {
          if (!s.write(std::string_view(&c, 1)) || !s.sleep_for(1000ms)) {
            return;
          }
        }
      },
      300ms);
  response r = send(*conn, ioc);
  EXPECT_EQ(r.error, transport_error::timeout) << r.error_detail;
}

/// Two GETs on `c`, the second `gap` after the first's answer; the second's response.
net::awaitable<response> two_sends(connection& c, std::chrono::milliseconds gap) {
  const request req{"GET", "/api/v1/organizations/1/licenses/L1", {}, auth};
  response first = co_await c.send(req);
  if (first.error != transport_error::none) co_return first;
  net::steady_timer t(co_await net::this_coro::executor, gap);
  co_await t.async_wait(net::use_awaitable);
  response second = co_await c.send(req);
  c.close();  // a timer kept armed between requests waits no longer
  co_return second;
}

// With the timer kept armed between requests, a request answered after the previous request's
// deadline but within its own succeeds (the timer waits again for the later deadline).
TEST_F(HttpClient, KeptTimerWaitsForTheLaterDeadline) {
  client_config config;
  config.keep_timer_armed = true;
  start(
      [](server_session& s) {
        if (s.read_request()) s.respond(200, license_json);
        if (s.read_request() && s.sleep_for(1200ms)) s.respond(200, license_json);
      },
      2000ms, config);
  auto fut = net::co_spawn(ioc, two_sends(*conn, 1200ms), net::use_future);
  ioc.run();
  const response r = fut.get();
  EXPECT_EQ(r.error, transport_error::none) << r.error_detail;
  EXPECT_EQ(r.status, 200u);
}

// With the timer kept armed between requests, a later request still times out at its deadline.
TEST_F(HttpClient, KeptTimerTimesOutALaterRequest) {
  client_config config;
  config.keep_timer_armed = true;
  start(
      [](server_session& s) {
        if (s.read_request()) s.respond(200, license_json);
        if (s.read_request() && s.sleep_for(3000ms)) s.respond(200, license_json);
      },
      300ms, config);
  auto fut = net::co_spawn(ioc, two_sends(*conn, 100ms), net::use_future);
  ioc.run();
  const response r = fut.get();
  EXPECT_EQ(r.error, transport_error::timeout) << r.error_detail;
}

// A server that closes without answering: `reset`, and a fresh connection is not retried.
TEST_F(HttpClient, CloseWithoutResponseIsReset) {
  start([](server_session& s) {
    if (s.read_request()) {
      s.close();
    }
  });
  response r = send(*conn, ioc, "PUT", "{}");
  EXPECT_EQ(r.error, transport_error::reset) << r.error_detail;
  EXPECT_EQ(server->accepts(), 1);
}

// A keep-alive connection the server closed while idle is replaced transparently, once.
TEST_F(HttpClient, StaleKeepAliveReconnectsOnce) {
  start([](server_session& s) {
    if (s.read_request()) {
      s.respond(200, license_json);  // then close, without Connection: close
    }
  });
  ASSERT_EQ(send(*conn, ioc).error, transport_error::none);
  response r = send(*conn, ioc, "PUT", "{}");
  ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(server->accepts(), 2);
}

// The reconnect happens once only: a second close is reported.
TEST_F(HttpClient, StaleReconnectNotRepeated) {
  start([](server_session& s) {
    if (s.read_request() && s.index() == 1) {
      s.respond(200, license_json);
    }
  });
  ASSERT_EQ(send(*conn, ioc).error, transport_error::none);
  response r = send(*conn, ioc);
  EXPECT_EQ(r.error, transport_error::reset) << r.error_detail;
  EXPECT_EQ(server->accepts(), 2);
}

// A POST is never sent twice: the stale connection's failure is reported.
TEST_F(HttpClient, PostNotResentOnStaleConnection) {
  start([](server_session& s) {
    if (s.read_request()) {
      s.respond(200, "{}");
    }
  });
  ASSERT_EQ(send(*conn, ioc).error, transport_error::none);
  response r = send(*conn, ioc, "POST", "{}");
  EXPECT_EQ(r.error, transport_error::reset) << r.error_detail;
  EXPECT_EQ(server->accepts(), 1);
}

// Connection: close is honoured: the next request opens a new connection without error.
TEST_F(HttpClient, ConnectionCloseHonoured) {
  start([](server_session& s) {
    if (s.read_request()) {
      s.respond(200, "{}", "application/json", "Connection: close\r\n");
    }
  });
  ASSERT_EQ(send(*conn, ioc).error, transport_error::none);
  response r = send(*conn, ioc, "POST", "{}");
  ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
  EXPECT_EQ(server->accepts(), 2);
}

// A body shorter than its Content-Length: `truncated`.
TEST_F(HttpClient, TruncatedBody) {
  start([](server_session& s) {
    if (s.read_request()) {
      s.write(
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
          "100\r\n\r\n{\"id\":");
      s.close();
    }
  });
  response r = send(*conn, ioc);
  EXPECT_EQ(r.error, transport_error::truncated) << r.error_detail;
}

// Malformed JSON arrives as a response; the parser turns it into an error, not a crash.
TEST_F(HttpClient, MalformedJsonIsAnErrorValue) {
  start([](server_session& s) {
    while (s.read_request()) {
      s.respond(200, "{\"id\": \"L1\", \"deviceSerial\": [nope");
    }
  });
  response r = send(*conn, ioc, "PUT", "{}");
  ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
  response_parser p;
  auto lic = p.parse_license(r.body);
  EXPECT_FALSE(lic.value);
  EXPECT_NE(lic.error.find("malformed JSON"), std::string::npos);
}

// A 200 with an HTML Content-Type reaches the caller as it came (the engine's decide() refuses
// it: tests/fault/secrets_test.cpp, HtmlOk*).
TEST_F(HttpClient, WrongContentTypeVisible) {
  start([](server_session& s) {
    while (s.read_request()) {
      s.respond(200, "<html>maintenance</html>", "text/html");
    }
  });
  response r = send(*conn, ioc);
  ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
  EXPECT_EQ(r.content_type, "text/html");
  EXPECT_FALSE(is_json_content_type(r.content_type));
}

// A declared 100 MB body is refused as soon as its header is read; memory stays bounded.
TEST_F(HttpClient, HundredMegabyteBodyRefused) {
  start([](server_session& s) {
    if (!s.read_request()) {
      return;
    }
    s.write(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n");
    const std::string chunk(64 * 1024, 'x');
    for (int i = 0; i < 1600 && s.write(chunk); ++i) {}
  });
  response r = send(*conn, ioc);
  EXPECT_EQ(r.error, transport_error::too_large) << r.error_detail;
  EXPECT_TRUE(r.body.empty());
}

// A chunked body growing past the limit is cut off at the limit.
TEST_F(HttpClient, ChunkedBodyOverLimitRefused) {
  client_config small;
  small.max_body = 256 * 1024;
  start(
      [](server_session& s) {
        if (!s.read_request()) {
          return;
        }
        s.write(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: "
            "chunked\r\n\r\n");
        const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
        for (int i = 0; i < 1600 && s.write(chunk); ++i) {}
      },
      5000ms, small);
  response r = send(*conn, ioc);
  EXPECT_EQ(r.error, transport_error::too_large) << r.error_detail;
  EXPECT_LT(server->bytes_written(), 100u * 1024 * 1024);
}

// 10,000 headers exceed the header limit: `too_large`, not a crash or unbounded growth.
TEST_F(HttpClient, TenThousandHeadersRefused) {
  start([](server_session& s) {
    if (!s.read_request()) {
      return;
    }
    std::string head = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 10000; ++i) {
      head += "X-Filler-" + std::to_string(i) + ": " + std::string(20, 'v') + "\r\n";
    }
    head += "Content-Length: 2\r\n\r\n{}";
    s.write(head);
  });
  response r = send(*conn, ioc);
  EXPECT_EQ(r.error, transport_error::too_large) << r.error_detail;
}

// Bytes that are not HTTP: `protocol`.
TEST_F(HttpClient, GarbageIsProtocolError) {
  start([](server_session& s) {
    if (s.read_request()) {
      s.write(std::string("\x16\x03\x01\x02\x00garbage\r\n\r\n", 16));
    }
  });
  response r = send(*conn, ioc);
  EXPECT_EQ(r.error, transport_error::protocol) << r.error_detail;
}

// The protocol error says "malformed HTTP response" once, with the parser's reason.
TEST_F(HttpClient, MalformedStatusLineSaysSoOnce) {
  start([](server_session& s) {
    if (s.read_request()) {
      s.write("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n");
    }
  });
  response r = send(*conn, ioc);
  ASSERT_EQ(r.error, transport_error::protocol) << r.error_detail;
  EXPECT_TRUE(r.error_detail.starts_with("malformed HTTP response: ")) << r.error_detail;
  EXPECT_EQ(r.error_detail.find("malformed", 1), std::string::npos) << r.error_detail;
}

/// The key of `auth`, which a hostile server echoes back.
constexpr std::string_view echoed_key = "MARKERKEY0123456789";

// Whatever a server echoes of the key (body, Location, Link, Retry-After, Content-Type,
// X-Request-Id), the
// response comes out of send() with it redacted, even without a secret list (the request's own
// credential), and with a list that also holds other secrets (a proxy's password).
TEST_F(HttpClient, EchoedKeyIsScrubbedFromEveryField) {
  client_config config;
  config.secrets.add("proxy-pass-xyz");
  start(
      [](server_session& s) {
        while (auto req = s.read_request()) {
          const std::string a = req->headers["authorization"];
          const std::string k = a.substr(7);
          s.respond(302, R"({"errors":["saw )" + a + " and proxy-pass-xyz\"]}",
                    "application/json; x=" + k,
                    "Location: https://h.example/" + k + "\r\nLink: <https://h.example/?k=" + k +
                        ">; rel=next\r\nRetry-After: " + k + "\r\nX-Request-Id: id-" + k + "\r\n");
        }
      },
      5000ms, config);
  response r = send(*conn, ioc);
  ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
  for (const std::string* field :
       {&r.body, &r.location, &r.link, &r.content_type, &*r.retry_after, &r.request_id}) {
    EXPECT_EQ(field->find(echoed_key), std::string::npos) << *field;
    EXPECT_NE(field->find("[REDACTED]"), std::string::npos) << *field;
  }
  EXPECT_EQ(r.body, R"({"errors":["saw Bearer [REDACTED] and [REDACTED]"]})");
  EXPECT_EQ(r.location, "https://h.example/[REDACTED]");
}

// A key hidden as JSON \u-escapes (which the JSON parser would decode) is scrubbed too; other
// escapes keep their meaning.
TEST_F(HttpClient, EscapedKeyIsScrubbed) {
  start([](server_session& s) {
    while (s.read_request()) {
      // "MARKERKEY0123456789" with its M and 9 escaped, then an escaped quote, backslash and \/.
      s.respond(
          200,
          R"({"id":"L1","deviceSerial":"\u004dARKERKEY012345678\u0039","state":"a\"b\\u0041\/c"})");
    }
  });
  response r = send(*conn, ioc);
  ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
  response_parser p;
  auto lic = p.parse_license(r.body);
  ASSERT_TRUE(lic.value) << lic.error << " in " << r.body;
  EXPECT_EQ(lic.value->device_serial, "[REDACTED]");
  EXPECT_EQ(lic.value->state, "a\"b\\u0041/c");
}

// Interim 100 Continue answers are skipped.
TEST_F(HttpClient, InterimResponseSkipped) {
  start([](server_session& s) {
    if (s.read_request()) {
      s.write("HTTP/1.1 100 Continue\r\n\r\n");
      s.respond(200, license_json);
    }
  });
  response r = send(*conn, ioc, "PUT", "{}");
  ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
  EXPECT_EQ(r.status, 200u);
}

// Headers of an interim answer do not leak into the final response; several Link fields are
// one list, joined as a combined field would be (RFC 8288 §3).
TEST_F(HttpClient, InterimHeadersForgottenAndLinksJoined) {
  start([](server_session& s) {
    if (s.read_request()) {
      s.write(
          "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nRetry-After: 9\r\n\r\n");
      s.respond(200, license_json, "application/json",
                "Link: <https://a/p1>; rel=first\r\nLink: <https://a/p3>; rel=next\r\n");
    }
  });
  response r = send(*conn, ioc, "GET");
  ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.link, "<https://a/p1>; rel=first, <https://a/p3>; rel=next");
  EXPECT_FALSE(r.retry_after);
  EXPECT_EQ(r.body, license_json);
}

// The exact bytes of a request: request line, the fixed header set, a Content-Length only when
// there is a body or the method expects one, then the body.
TEST_F(HttpClient, RequestBytesOnTheWire) {
  std::vector<received_request> seen;
  start([&](server_session& s) {
    while (auto r = s.read_request()) {
      seen.push_back(*r);
      s.respond(200, "{}");
    }
  });
  ASSERT_EQ(send(*conn, ioc, "PUT", R"({"deviceSerial":null})").error, transport_error::none);
  ASSERT_EQ(send(*conn, ioc, "GET").error, transport_error::none);
  ASSERT_EQ(send(*conn, ioc, "POST", "{}").error, transport_error::none);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].headers.size(),
            6u);  // host, authorization, user-agent, accept, content-type, -length
  EXPECT_EQ(seen[0].headers["content-length"], "21");
  EXPECT_EQ(seen[0].body, R"({"deviceSerial":null})");
  EXPECT_EQ(seen[1].headers.size(), 4u);
  EXPECT_EQ(seen[1].headers.count("content-length"), 0u);
  EXPECT_EQ(seen[2].method, "POST");
  EXPECT_EQ(seen[2].headers["content-length"], "2");
  // A method with a space would split the request line.
  EXPECT_EQ(send(*conn, ioc, "GET /x").error, transport_error::protocol);
}

// open() connects ahead of the first request, which then goes over that same connection.
TEST_F(HttpClient, OpenConnectsAheadOfSend) {
  start(answer_200);
  EXPECT_FALSE(conn->is_open());
  auto fut = net::co_spawn(ioc, conn->open(), net::use_future);
  ioc.run();
  response o = fut.get();
  ASSERT_EQ(o.error, transport_error::none) << o.error_detail;
  EXPECT_TRUE(conn->is_open());
  ASSERT_EQ(send(*conn, ioc).error, transport_error::none);
  ASSERT_EQ(send(*conn, ioc).error, transport_error::none);
  EXPECT_EQ(server->accepts(), 1);
  EXPECT_EQ(server->requests(), 2);
  conn->close();
  EXPECT_FALSE(conn->is_open());
  ASSERT_EQ(send(*conn, ioc).error, transport_error::none);  // reconnects
  EXPECT_EQ(server->accepts(), 2);
}

// A connection opened ahead that fails on its first request, moments later, failed for real:
// the request is not silently sent again (the caller's retry policy sees the reset).
TEST_F(HttpClient, FreshlyOpenedConnectionFailureNotResent) {
  start([](server_session& s) {
    if (s.index() == 1) {
      s.read_request();
      s.close();
      return;
    }
    answer_200(s);
  });
  auto fut = net::co_spawn(ioc, conn->open(), net::use_future);
  ioc.run();
  ASSERT_EQ(fut.get().error, transport_error::none);
  response r = send(*conn, ioc, "PUT", "{}");
  EXPECT_EQ(r.error, transport_error::reset) << r.error_detail;
  EXPECT_EQ(server->accepts(), 1);
  EXPECT_EQ(send(*conn, ioc, "PUT", "{}").error, transport_error::none);
}

// close() while a request is waiting for its answer: the request ends with an error, and the
// connection is usable afterwards (the streams are not destroyed under the pending operation).
TEST_F(HttpClient, CloseDuringSendIsSafe) {
  start(first_request_unanswered());
  response r = send_closed_midway(*conn, ioc);
  EXPECT_NE(r.error, transport_error::none);
  EXPECT_EQ(r.status, 0u);
  response again = send(*conn, ioc);
  EXPECT_EQ(again.error, transport_error::none) << again.error_detail;
}

// CR/LF in the target or the Authorization value is refused before anything is sent.
TEST_F(HttpClient, HeaderInjectionRefused) {
  start(answer_200);
  request bad_auth{"GET", "/x", {}, "Bearer a\r\nX-Evil: 1"};
  auto fut = net::co_spawn(ioc, conn->send(bad_auth), net::use_future);
  ioc.run();
  response r = fut.get();
  EXPECT_EQ(r.error, transport_error::protocol);
  EXPECT_EQ(r.error_detail.find("X-Evil"), std::string::npos);
  EXPECT_EQ(send(*conn, ioc, "GET", {}, "/x y").error, transport_error::protocol);
  EXPECT_EQ(send(*conn, ioc, "GET", {}, "/x\r\nHost: evil").error, transport_error::protocol);
  EXPECT_EQ(server->accepts(), 0);
}

// The key is never sent in clear to a non-loopback host, whatever the caller asks.
TEST(HttpClientCleartext, RefusedForRemoteHost) {
  net::io_context ioc;
  connection c(ioc.get_executor(), nullptr, origin{false, "192.0.2.1", 80}, config_with(2000ms));
  response r = send(c, ioc);
  EXPECT_EQ(r.error, transport_error::protocol);
  EXPECT_NE(r.error_detail.find("clear"), std::string::npos) << r.error_detail;
}

// Bytes after a complete response (unsolicited) make the connection unusable: a new one is opened.
TEST_F(HttpClient, ExtraBytesDropConnection) {
  start([](server_session& s) {
    while (s.read_request()) {
      s.write(
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\nContent-Length: "
          "2\r\n\r\n{}");
    }
  });
  ASSERT_EQ(send(*conn, ioc).error, transport_error::none);
  ASSERT_EQ(send(*conn, ioc).error, transport_error::none);
  EXPECT_EQ(server->accepts(), 2);
}

// Nothing listening: `connect_failed`, naming the host and port.
TEST(HttpClientConnect, RefusedConnection) {
  std::uint16_t port = 0;
  {
    script_server probe([](server_session&) {});
    port = probe.port();
  }
  net::io_context ioc;
  connection c(ioc.get_executor(), nullptr, origin{false, "127.0.0.1", port}, config_with(2000ms));
  response r = send(c, ioc);
  EXPECT_EQ(r.error, transport_error::connect_failed) << r.error_detail;
  EXPECT_NE(r.error_detail.find("127.0.0.1"), std::string::npos);
}

// Every transport_error has a name.
TEST(HttpClientNames, TransportErrorNames) {
  EXPECT_STREQ(to_string(transport_error::none), "none");
  EXPECT_STREQ(to_string(transport_error::tls_failed), "tls_failed");
  EXPECT_STREQ(to_string(transport_error::too_large), "too_large");
  EXPECT_STREQ(to_string(transport_error::protocol), "protocol");
}

// An unreadable CA file is a setup error naming the file.
TEST(HttpClientTlsSetup, MissingCaFileThrows) {
  client_config c;
  c.ca_file = "/nonexistent/ca.pem";
  try {
    make_tls_context(c);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/ca.pem"), std::string::npos);
  }
}

struct tls_fixture : ::testing::Test {
  relicense::test::temp_dir dir;
  net::io_context ioc;
  std::unique_ptr<script_server> server;
  std::optional<connection> conn;

  void start(const std::string& san, bool trust, std::string host = "127.0.0.1",
             script_server::script s = answer_200) {
    test::test_certificate cert = test::make_self_signed(san);
    server = std::make_unique<script_server>(std::move(s), cert);
    client_config config = config_with(5000ms);
    if (trust) {
      config.ca_file = dir.write("ca.pem", cert.cert_pem).string();
    }
    conn.emplace(ioc.get_executor(), make_tls_context(config),
                 origin{true, std::move(host), server->port()}, config);
  }
  void TearDown() override {
    conn.reset();
    server.reset();
  }
};

using HttpClientTls = tls_fixture;

// A self-signed server trusted through the CA file: verified, and the connection is reused.
TEST_F(HttpClientTls, VerifiedWithCaFile) {
  start("DNS:localhost,IP:127.0.0.1", true);
  for (int i = 0; i < 3; ++i) {
    response r = send(*conn, ioc, "PUT", "{}");
    ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
    EXPECT_EQ(r.status, 200u);
  }
  EXPECT_EQ(server->accepts(), 1);
  auto fut = net::co_spawn(ioc, conn->shutdown(), net::use_future);
  ioc.restart();
  ioc.run();
  EXPECT_NO_THROW(fut.get());
}

// A host name (SNI + name check) works too.
TEST_F(HttpClientTls, VerifiedByHostName) {
  start("DNS:localhost", true, "localhost");
  response r = send(*conn, ioc);
  ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
}

// Without the CA file the self-signed certificate is refused: `tls_failed`, nothing sent.
TEST_F(HttpClientTls, UnknownCaRefused) {
  start("DNS:localhost,IP:127.0.0.1", false);
  response r = send(*conn, ioc, "PUT", "{}");
  EXPECT_EQ(r.error, transport_error::tls_failed) << r.error_detail;
  EXPECT_NE(r.error_detail.find("certificate"), std::string::npos) << r.error_detail;
  EXPECT_EQ(server->requests(), 0);
}

// A trusted certificate for another host name is refused: `tls_failed`, nothing sent.
TEST_F(HttpClientTls, WrongHostNameRefused) {
  start("DNS:other.example", true);
  response r = send(*conn, ioc, "PUT", "{}");
  EXPECT_EQ(r.error, transport_error::tls_failed) << r.error_detail;
  EXPECT_EQ(server->requests(), 0);
}

// Over TLS, a server dropping an idle keep-alive connection (no close_notify) is reconnected.
// close() under a pending TLS read: the TLS stream's operation refers to its engine, which
// must outlive it (ASan in CI checks this); the connection works again afterwards.
TEST_F(HttpClientTls, CloseDuringSendIsSafe) {
  start("IP:127.0.0.1", true, "127.0.0.1", first_request_unanswered());
  EXPECT_NE(send_closed_midway(*conn, ioc).error, transport_error::none);
  response again = send(*conn, ioc);
  EXPECT_EQ(again.error, transport_error::none) << again.error_detail;
}

TEST_F(HttpClientTls, StaleConnectionReconnects) {
  start("IP:127.0.0.1", true, "127.0.0.1", [](server_session& s) {
    if (s.read_request()) {
      s.respond(200, license_json);
      s.close();
    }
  });
  ASSERT_EQ(send(*conn, ioc).error, transport_error::none);
  response r = send(*conn, ioc, "PUT", "{}");
  ASSERT_EQ(r.error, transport_error::none) << r.error_detail;
  EXPECT_EQ(server->accepts(), 2);
}

// A plain-HTTP server answering a TLS client: `tls_failed`, not a hang.
TEST(HttpClientTlsMismatch, PlainServerRefused) {
  script_server server(
      [](server_session& s) { s.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"); });
  net::io_context ioc;
  client_config config = config_with(2000ms);
  connection c(ioc.get_executor(), make_tls_context(config),
               origin{true, "127.0.0.1", server.port()}, config);
  response r = send(c, ioc);
  EXPECT_EQ(r.error, transport_error::tls_failed) << r.error_detail;
}

}  // namespace
}  // namespace relicense::io
