#include "relicense/sim/server.hpp"

#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using relicense::sim::server;
using relicense::sim::sim_config;

struct result {
  bool ok = false;          ///< a complete response was read
  beast::error_code error;  ///< why not
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string{} : it->second;
  }
  bool has(const std::string& name) const { return headers.count(name) != 0; }
};

/// A synchronous keep-alive test client (plain or TLS) for one origin.
class client {
public:
  client(std::uint16_t port, std::string key, net::ssl::context* tls = nullptr,
         std::string verify_host = "127.0.0.1")
      : key_(std::move(key)) {
    tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
    if (tls) {
      tls_.emplace(ioc_, *tls);
      tls_->set_verify_mode(net::ssl::verify_peer);
      tls_->set_verify_callback(net::ssl::host_name_verification(verify_host));
      beast::get_lowest_layer(*tls_).connect(ep);
      tls_->handshake(net::ssl::stream_base::client, handshake_error_);
    } else {
      plain_.emplace(ioc_);
      plain_->connect(ep);
    }
  }
  beast::error_code handshake_error() const { return handshake_error_; }

  result send(const std::string& method, const std::string& target, const std::string& body = {},
              std::optional<std::string> key = std::nullopt,
              std::chrono::milliseconds timeout = std::chrono::seconds(20),
              bool meraki_header = false, std::optional<std::string> content_type = std::nullopt) {
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    const std::string k = key.value_or(key_);
    if (!k.empty()) {
      if (meraki_header) req.set("X-Cisco-Meraki-API-Key", k);
      else req.set(http::field::authorization, "Bearer " + k);
    }
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    if (content_type) {
      if (content_type->empty()) req.erase(http::field::content_type);
      else req.set(http::field::content_type, *content_type);
    }
    req.prepare_payload();
    req.keep_alive(true);
    return tls_ ? exchange(*tls_, req, timeout) : exchange(*plain_, req, timeout);
  }

private:
  template <class Stream>
  result exchange(Stream& stream, http::request<http::string_body>& req,
                  std::chrono::milliseconds timeout) {
    result r;
    beast::get_lowest_layer(stream).expires_after(timeout);
    http::write(stream, req, r.error);
    if (r.error) return r;
    http::response<http::string_body> res;
    // Bounded wait: a sync read would ignore tcp_stream's timeout, so read asynchronously.
    http::async_read(stream, buffer_, res,
                     [&](beast::error_code ec, std::size_t) { r.error = ec; });
    ioc_.restart();
    ioc_.run();
    if (r.error) return r;
    r.ok = true;
    r.status = res.result_int();
    r.body = res.body();
    for (const auto& f : res) r.headers[std::string(f.name_string())] = std::string(f.value());
    return r;
  }

  net::io_context ioc_;
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  beast::error_code handshake_error_;
  std::string key_;
};

sim_config small(unsigned licenses = 50) {
  sim_config c;
  c.orgs = 3;
  c.licenses_per_org = licenses;
  c.rate = 0;  // most tests are about other rules than the budget
  return c;
}

std::string path_of(const std::string& url) {  // http://127.0.0.1:P/api/v1/x -> /api/v1/x
  auto p = url.find('/', url.find("//") + 2);
  return url.substr(p);
}

std::string license_path(const relicense::sim::org_info& o, const std::string& id) {
  return "/api/v1/organizations/" + o.id + "/licenses/" + id;
}

/// The example of updateOrganizationLicense's 200 response
/// (shared/openapi-updateOrganizationLicense.json).
constexpr const char* schema_example = R"({
  "id": "1234", "licenseType": "MX64-ENT", "licenseKey": "Z21234567890", "orderNumber": "4C1234567",
  "deviceSerial": "Q234-ABCD-5678", "networkId": "N_24329156", "state": "active", "seatCount": 25,
  "totalDurationInDays": 425, "durationInDays": 365,
  "permanentlyQueuedLicenses": [ { "id": "1234", "licenseType": "MX64-ENT",
      "licenseKey": "Z21234567890", "orderNumber": "4C1234567", "durationInDays": 60 } ],
  "claimDate": "2019-08-29T12:40:10Z", "activationDate": "2019-09-01T15:01:46Z",
  "expirationDate": "2020-10-30T15:01:46Z", "headLicenseId": "1234" })";

/// Every field of `example` is in `actual` with the same JSON type (null allowed where `nullable`).
void expect_same_shape(simdjson::dom::object example, simdjson::dom::object actual,
                       const std::set<std::string>& nullable) {
  std::size_t n = 0;
  for (auto [key, value] : example) {
    ++n;
    simdjson::dom::element got;
    ASSERT_EQ(actual[key].get(got), simdjson::SUCCESS) << "missing field " << key;
    if (got.is_null() && nullable.count(std::string(key))) continue;
    EXPECT_EQ(got.type(), value.type()) << "field " << key;
    if (value.is_array() && got.is_array()) {
      simdjson::dom::array items = got.get_array().value();
      for (auto item : items) {
        expect_same_shape(value.at(0).get_object().value(), item.get_object().value(), {});
      }
    }
  }
  EXPECT_EQ(actual.size(), n) << "extra fields";
}

}  // namespace

// A PUT answers 200 with every field of the schema example, of the right type and realistic.
TEST(SimConformance, PutReturnsTheSchemaObject) {
  server s(small());
  s.start();
  auto o = s.orgs()[0];
  client c(s.port(), s.api_key());
  // Find a license that has a queued license, so the nested array is checked too.
  std::string id = o.licenses[0].id;
  for (const auto& l : o.licenses) {
    auto g = c.send("GET", license_path(o, l.id));
    ASSERT_EQ(g.status, 200u);
    if (g.body.find(R"("permanentlyQueuedLicenses":[{)") != std::string::npos) {
      id = l.id;
      break;
    }
  }
  const std::string serial = o.devices.back();
  auto r = c.send("PUT", license_path(o, id), R"({"deviceSerial":")" + serial + R"("})");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.header("Content-Type").substr(0, 16), "application/json");

  simdjson::dom::parser p1, p2;
  simdjson::dom::object example = p1.parse(std::string(schema_example)).get_object().value();
  simdjson::dom::object got = p2.parse(r.body).get_object().value();
  expect_same_shape(example, got, {"headLicenseId"});
  EXPECT_EQ(std::string_view(got["id"].get_string().value()), id);
  EXPECT_EQ(std::string_view(got["deviceSerial"].get_string().value()), serial);
  EXPECT_EQ(std::string_view(got["state"].get_string().value()), "active");
  EXPECT_TRUE(std::regex_match(serial, std::regex("Q2[A-Z0-9]{2}-[A-Z0-9]{4}-[A-Z0-9]{4}")));
  EXPECT_TRUE(
      std::regex_match(std::string(got["networkId"].get_string().value()), std::regex("N_[0-9]+")));
  const std::regex date("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z");
  for (const char* f : {"claimDate", "activationDate", "expirationDate"})
    EXPECT_TRUE(std::regex_match(std::string(got[f].get_string().value()), date)) << f;
  EXPECT_GE(got["totalDurationInDays"].get_int64().value(),
            got["durationInDays"].get_int64().value());
  EXPECT_EQ(s.state()[o.id][id], serial);

  // GET returns the same object; null unassigns.
  EXPECT_EQ(c.send("GET", license_path(o, id)).body, r.body);
  auto u = c.send("PUT", license_path(o, id), R"({"deviceSerial":null})");
  ASSERT_EQ(u.status, 200u);
  EXPECT_NE(u.body.find(R"("deviceSerial":null)"), std::string::npos);
  EXPECT_EQ(s.state()[o.id][id], std::nullopt);
  EXPECT_EQ(s.stats().puts_applied, 2u);
}

// Keys: Bearer and X-Cisco-Meraki-API-Key both work; missing or wrong keys get the exact 401.
TEST(SimConformance, Authentication) {
  server s(small());
  s.start();
  auto o = s.orgs()[0];
  client c(s.port(), s.api_key());
  const auto path = license_path(o, o.licenses[0].id);
  EXPECT_EQ(c.send("GET", path).status, 200u);
  EXPECT_EQ(c.send("GET", path, {}, std::nullopt, std::chrono::seconds(20), true).status, 200u);
  for (const char* key : {"", "wrong"}) {
    auto r = c.send("GET", path, {}, key);
    EXPECT_EQ(r.status, 401u);
    EXPECT_EQ(r.body, R"({"errors":["Invalid API key"]})");
  }
}

// 404 for unknown orgs and licenses; 400 for malformed JSON, wrong types and foreign serials.
TEST(SimConformance, ErrorsLeaveStateUnchanged) {
  server s(small());
  s.start();
  auto orgs = s.orgs();
  auto o = orgs[0];
  client c(s.port(), s.api_key());
  const auto before = s.state();
  const auto path = license_path(o, o.licenses[0].id);
  EXPECT_EQ(
      c.send("PUT", "/api/v1/organizations/999/licenses/1", R"({"deviceSerial":null})").status,
      404u);
  EXPECT_EQ(c.send("PUT", license_path(o, "42"), R"({"deviceSerial":null})").status, 404u);
  for (const std::string& body : {std::string("{\"deviceSerial\":"), std::string("[1,2]"),
                                  std::string(R"({"deviceSerial":12})"),
                                  R"({"deviceSerial":")" + orgs[1].devices[0] + R"("})",
                                  std::string(R"({"deviceSerial":"Q2ZZ-ZZZZ-ZZZZ"})")}) {
    auto r = c.send("PUT", path, body);
    EXPECT_EQ(r.status, 400u) << body;
    EXPECT_EQ(r.body.rfind(R"({"errors":[")", 0), 0u) << r.body;
  }
  EXPECT_EQ(s.state(), before);
  EXPECT_EQ(s.stats().puts_applied, 0u);
  EXPECT_EQ(s.stats().by_status.at(400), 5u);
}

// Following rel=next from the first page visits every license once, in order; prev and last
// work; filters narrow the list; perPage is bounded to 3..1000.
TEST(SimConformance, PaginationWalk) {
  server s(small(250));
  s.start();
  auto o = s.orgs()[1];
  client c(s.port(), s.api_key());
  std::vector<std::string> seen;
  std::string next = "/api/v1/organizations/" + o.id + "/licenses?perPage=7";
  std::string last_link;
  const std::regex next_re("<([^>]*)>; rel=next"), prev_re("<([^>]*)>; rel=prev"),
      last_re("<([^>]*)>; rel=last"), first_re("<([^>]*)>; rel=first");
  int pages = 0;
  std::string prev_of_last;
  while (!next.empty() && pages < 100) {
    auto r = c.send("GET", next);
    ASSERT_EQ(r.status, 200u) << r.body;
    ++pages;
    simdjson::dom::parser p;
    simdjson::dom::array items = p.parse(r.body).get_array().value();
    for (auto item : items) seen.emplace_back(item["id"].get_string().value());
    const std::string link = r.header("Link");
    std::smatch m;
    EXPECT_TRUE(std::regex_search(link, m, first_re)) << link;
    EXPECT_TRUE(std::regex_search(link, m, last_re)) << link;
    last_link = path_of(m[1]);
    if (pages > 1) {
      EXPECT_TRUE(std::regex_search(link, m, prev_re)) << link;
    }
    if (std::regex_search(link, m, next_re)) {
      EXPECT_EQ(m[1].str().rfind(s.base_url(), 0), 0u);  // absolute URL on this listener
      next = path_of(m[1]);
    } else {
      next.clear();
      if (std::regex_search(link, m, prev_re)) prev_of_last = path_of(m[1]);
    }
  }
  EXPECT_EQ(pages, 36);  // ceil(250 / 7)
  ASSERT_EQ(seen.size(), o.licenses.size());
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], o.licenses[i].id);

  // rel=last holds the final 7; rel=prev of the last page holds the 7 before its first item.
  simdjson::dom::parser p;
  auto last = c.send("GET", last_link);
  ASSERT_EQ(last.status, 200u);
  auto arr = p.parse(last.body).get_array().value();
  EXPECT_EQ(arr.size(), 7u);
  EXPECT_EQ(std::string_view(arr.at(6)["id"].get_string().value()), o.licenses.back().id);
  auto prev = c.send("GET", prev_of_last);
  ASSERT_EQ(prev.status, 200u);
  auto parr = p.parse(prev.body).get_array().value();
  ASSERT_EQ(parr.size(), 7u);
  EXPECT_EQ(std::string_view(parr.at(0)["id"].get_string().value()), o.licenses[238].id);

  // Filters.
  std::string serial;
  std::size_t unused = 0;
  for (const auto& l : o.licenses) {
    if (l.device_serial && serial.empty()) serial = *l.device_serial;
    if (l.state == "unused") ++unused;
  }
  auto by_serial =
      c.send("GET", "/api/v1/organizations/" + o.id + "/licenses?deviceSerial=" + serial);
  auto sarr = p.parse(by_serial.body).get_array().value();
  ASSERT_EQ(sarr.size(), 1u);
  EXPECT_EQ(std::string_view(sarr.at(0)["deviceSerial"].get_string().value()), serial);
  auto by_state =
      c.send("GET", "/api/v1/organizations/" + o.id + "/licenses?state=unused&perPage=1000");
  EXPECT_EQ(p.parse(by_state.body).get_array().value().size(), unused);
  EXPECT_GT(unused, 0u);

  for (const char* bad : {"2", "1001", "x"})
    EXPECT_EQ(c.send("GET", "/api/v1/organizations/" + o.id + "/licenses?perPage=" + bad).status,
              400u);
  EXPECT_EQ(c.send("GET", "/api/v1/organizations/" + o.id + "/licenses?perPage=3").status, 200u);
}

// Over ~2 s the per-org budget admits burst + rate * elapsed requests (within 5%); each 429
// carries a whole-second Retry-After and the exact body.
TEST(SimConformance, BudgetWithinFivePercent) {
  sim_config cfg = small();
  cfg.rate = 200;
  cfg.burst = 20;
  cfg.ip_rate = 100000;
  server s(cfg);
  s.start();
  auto o = s.orgs()[0];
  client c(s.port(), s.api_key());
  const auto path = license_path(o, o.licenses[0].id);
  int ok = 0;
  int limited = 0;
  const auto start = std::chrono::steady_clock::now();
  auto end = start;
  while (end - start < std::chrono::seconds(2)) {
    auto r = c.send("GET", path);
    ASSERT_TRUE(r.ok);
    end = std::chrono::steady_clock::now();
    if (r.status == 200) {
      ++ok;
    } else {
      ASSERT_EQ(r.status, 429u);
      ++limited;
      EXPECT_EQ(r.body, R"({"errors":["API rate limit exceeded for organization"]})");
      EXPECT_TRUE(std::regex_match(r.header("Retry-After"), std::regex("[1-9][0-9]*")));
    }
  }
  const double elapsed = std::chrono::duration<double>(end - start).count();
  const double expected = cfg.burst + cfg.rate * elapsed;
  EXPECT_NEAR(ok, expected, expected * 0.05) << "elapsed " << elapsed << " 429s " << limited;
  EXPECT_GT(limited, 0);
  EXPECT_EQ(s.stats().rate_limited, static_cast<std::uint64_t>(limited));
  EXPECT_GE(s.stats().max_org_requests_1s, 200u);
}

// The per-IP bucket limits requests across orgs; rate 0 turns every budget off.
TEST(SimConformance, PerIpBudgetAndBudgetOff) {
  sim_config cfg = small();
  cfg.rate = 1000;
  cfg.burst = 1000;
  cfg.ip_rate = 5;
  server s(cfg);
  s.start();
  auto orgs = s.orgs();
  client c(s.port(), s.api_key());
  int ok = 0;
  for (int i = 0; i < 6; ++i)
    ok += c.send("GET", license_path(orgs[i % 3], orgs[i % 3].licenses[0].id)).status == 200;
  EXPECT_EQ(ok, 5);  // the 6th comes well within 200 ms of the 5th
  auto r = c.send("GET", license_path(orgs[0], orgs[0].licenses[0].id));
  EXPECT_EQ(r.status, 429u);
  EXPECT_TRUE(r.has("Retry-After"));
  s.set_budget(0, 0, 0);
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(c.send("GET", license_path(orgs[0], orgs[0].licenses[0].id)).status, 200u);
}

// 5xx faults: every request fails, about half of them after applying the change.
TEST(SimConformance, Fault5xxHalfApplied) {
  sim_config cfg = small();
  cfg.fault_5xx = 1;
  server s(cfg);
  s.start();
  auto o = s.orgs()[0];
  client c(s.port(), s.api_key());
  for (int i = 0; i < 40; ++i) {
    auto r = c.send("PUT", license_path(o, o.licenses[static_cast<std::size_t>(i)].id),
                    R"({"deviceSerial":")" + o.devices[static_cast<std::size_t>(i)] + R"("})");
    ASSERT_TRUE(r.ok);
    EXPECT_GE(r.status, 500u);
    EXPECT_LE(r.status, 504u);
  }
  auto st = s.stats();
  EXPECT_EQ(st.fault_5xx + st.fault_5xx_applied, 40u);
  EXPECT_GT(st.fault_5xx, 0u);
  EXPECT_GT(st.fault_5xx_applied, 0u);
  EXPECT_EQ(st.puts_applied, st.fault_5xx_applied);
}

// Drop faults close the connection without a response.
TEST(SimConformance, FaultDrop) {
  sim_config cfg = small();
  cfg.fault_drop = 1;
  server s(cfg);
  s.start();
  auto o = s.orgs()[0];
  client c(s.port(), s.api_key());
  auto r = c.send("GET", license_path(o, o.licenses[0].id));
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.error == http::error::end_of_stream || r.error == net::error::connection_reset ||
              r.error == net::error::eof)
      << r.error.message();
  EXPECT_EQ(s.stats().fault_drop, 1u);
}

// Slow faults answer after slow_delay: a client with a shorter timeout gives up.
TEST(SimConformance, FaultSlow) {
  sim_config cfg = small();
  cfg.fault_slow = 1;
  cfg.slow_delay = std::chrono::seconds(10);
  server s(cfg);
  s.start();
  auto o = s.orgs()[0];
  client c(s.port(), s.api_key());
  auto r = c.send("GET", license_path(o, o.licenses[0].id), {}, std::nullopt,
                  std::chrono::milliseconds(200));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, beast::error::timeout) << r.error.message();
  EXPECT_EQ(s.stats().fault_slow, 1u);
  s.stop();  // abandons the pending slow response without waiting for it
}

// 429 faults come without Retry-After.
TEST(SimConformance, Fault429WithoutRetryAfter) {
  sim_config cfg = small();
  cfg.fault_429 = 1;
  server s(cfg);
  s.start();
  auto o = s.orgs()[0];
  client c(s.port(), s.api_key());
  auto r = c.send("GET", license_path(o, o.licenses[0].id));
  EXPECT_EQ(r.status, 429u);
  EXPECT_FALSE(r.has("Retry-After"));
  s.set_faults(0, 0, 0, 0);
  EXPECT_EQ(c.send("GET", license_path(o, o.licenses[0].id)).status, 200u);
  EXPECT_EQ(s.stats().fault_429, 1u);
}

// With --redirect the main listener answers 307 for PUT and 302 for GET, pointing at the shard.
TEST(SimConformance, RedirectsToShard) {
  sim_config cfg = small();
  cfg.redirect = true;
  server s(cfg);
  s.start();
  ASSERT_FALSE(s.shard_url().empty());
  auto o = s.orgs()[0];
  client c(s.port(), s.api_key());
  const auto path = license_path(o, o.licenses[0].id);
  const std::string body = R"({"deviceSerial":")" + o.devices[7] + R"("})";
  auto r = c.send("PUT", path, body);
  EXPECT_EQ(r.status, 307u);
  const std::string location = r.header("Location");
  EXPECT_EQ(location, s.shard_url() + path.substr(7));
  auto g = c.send("GET", path);
  EXPECT_EQ(g.status, 302u);
  EXPECT_EQ(s.state()[o.id][o.licenses[0].id], o.licenses[0].device_serial);  // not applied

  const auto shard_port =
      static_cast<std::uint16_t>(std::stoi(location.substr(location.rfind(':') + 1)));
  client shard(shard_port, s.api_key());
  auto f = shard.send("PUT", path_of(location), body);
  EXPECT_EQ(f.status, 200u) << f.body;
  EXPECT_EQ(s.state()[o.id][o.licenses[0].id], o.devices[7]);
  EXPECT_EQ(s.stats().redirects, 2u);
}

// --tls serves HTTPS with a certificate for 127.0.0.1/localhost that verifies against ca_file();
// a certificate for another name fails verification.
TEST(SimConformance, Tls) {
  sim_config cfg = small();
  cfg.tls = true;
  server s(cfg);
  s.start();
  EXPECT_EQ(s.base_url().rfind("https://127.0.0.1:", 0), 0u);
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.load_verify_file(s.ca_file());
  auto o = s.orgs()[0];
  for (const char* host : {"127.0.0.1", "localhost"}) {
    client c(s.port(), s.api_key(), &ctx, host);
    ASSERT_FALSE(c.handshake_error()) << c.handshake_error().message();
    EXPECT_EQ(c.send("GET", license_path(o, o.licenses[0].id)).status, 200u);
  }

  sim_config wrong = small();
  wrong.tls = true;
  wrong.cert_host = "wrong.example";
  server w(wrong);
  w.start();
  net::ssl::context wctx(net::ssl::context::tls_client);
  wctx.load_verify_file(w.ca_file());
  client bad(w.port(), w.api_key(), &wctx, "127.0.0.1");
  EXPECT_TRUE(bad.handshake_error());
}

// Co-term orgs answer 400 with the exact message on their license calls.
TEST(SimConformance, CotermOrg) {
  sim_config cfg = small();
  cfg.coterm_orgs = 1;
  server s(cfg);
  s.start();
  auto orgs = s.orgs();
  EXPECT_FALSE(orgs[0].coterm);
  ASSERT_TRUE(orgs[2].coterm);
  client c(s.port(), s.api_key());
  auto r = c.send("PUT", license_path(orgs[2], orgs[2].licenses[0].id), R"({"deviceSerial":null})");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.body, R"({"errors":["Organization with ID )" + orgs[2].id +
                        R"( does not support per-device licensing"]})");
  EXPECT_EQ(c.send("GET", "/api/v1/organizations/" + orgs[2].id + "/licenses").status, 400u);
  EXPECT_EQ(c.send("GET", license_path(orgs[0], orgs[0].licenses[0].id)).status, 200u);
}

namespace {

std::string batch_body(const relicense::sim::org_info& o, std::size_t first, std::size_t n,
                       bool synchronous, const std::string& bad_license = {}) {
  std::string b = std::string(R"({"confirmed":true,"synchronous":)") +
                  (synchronous ? "true" : "false") + R"(,"actions":[)";
  for (std::size_t i = 0; i < n; ++i) {
    if (i) b += ',';
    const std::string id =
        (i == n - 1 && !bad_license.empty()) ? bad_license : o.licenses[first + i].id;
    b += R"({"resource":"/organizations/)" + o.id + "/licenses/" + id +
         R"(","operation":"update","body":{"deviceSerial":")" + o.devices[first + i] + R"("}})";
  }
  return b + "]}";
}

}  // namespace

// Action batches: sync ones complete in the response, size limits, atomic failure, at most 5
// running per org, status object shape.
TEST(SimConformance, ActionBatches) {
  sim_config cfg = small(200);
  cfg.batch_actions_per_second = 100000;
  server s(cfg);
  s.start();
  auto o = s.orgs()[0];
  client c(s.port(), s.api_key());
  const std::string path = "/api/v1/organizations/" + o.id + "/actionBatches";

  auto sync = c.send("POST", path, batch_body(o, 0, 20, true));
  ASSERT_EQ(sync.status, 201u) << sync.body;
  simdjson::dom::parser p;
  auto obj = p.parse(sync.body).get_object().value();
  EXPECT_TRUE(obj["status"]["completed"].get_bool().value());
  EXPECT_FALSE(obj["status"]["failed"].get_bool().value());
  EXPECT_EQ(obj["status"]["errors"].get_array().value().size(), 0u);
  EXPECT_EQ(obj["status"]["createdResources"].get_array().value().size(), 0u);
  EXPECT_EQ(obj["actions"].get_array().value().size(), 20u);
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ(s.state()[o.id][o.licenses[i].id], o.devices[i]);
  EXPECT_EQ(s.stats().batch_actions_applied, 20u);

  EXPECT_EQ(c.send("POST", path, batch_body(o, 0, 21, true)).status, 400u);
  EXPECT_EQ(c.send("POST", path, batch_body(o, 0, 101, false)).status, 400u);

  // Atomic: one unknown license fails the whole batch, nothing applied.
  auto before = s.state();
  auto bad = c.send("POST", path, batch_body(o, 30, 10, true, "77"));
  ASSERT_EQ(bad.status, 201u);
  auto bobj = p.parse(bad.body).get_object().value();
  EXPECT_TRUE(bobj["status"]["failed"].get_bool().value());
  EXPECT_EQ(bobj["status"]["errors"].get_array().value().size(), 1u);
  EXPECT_EQ(s.state(), before);

  // Async: completes (fast speed) and the status says so.
  auto async = c.send("POST", path, batch_body(o, 100, 100, false));
  ASSERT_EQ(async.status, 201u) << async.body;
  const std::string id(p.parse(async.body)["id"].get_string().value());
  bool done = false;
  for (int i = 0; i < 50 && !done; ++i) {
    auto g = c.send("GET", path + "/" + id);
    ASSERT_EQ(g.status, 200u);
    done = p.parse(g.body)["status"]["completed"].get_bool().value();
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(s.state()[o.id][o.licenses[199].id], o.devices[199]);
}

// At most five batches run per org; the sixth gets the exact 400.
TEST(SimConformance, AtMostFiveRunningBatches) {
  sim_config cfg = small(200);
  cfg.batch_actions_per_second = 0.001;  // nothing finishes during the test
  server s(cfg);
  s.start();
  auto orgs = s.orgs();
  client c(s.port(), s.api_key());
  const std::string path = "/api/v1/organizations/" + orgs[0].id + "/actionBatches";
  for (int i = 0; i < 5; ++i) {
    auto r = c.send("POST", path, batch_body(orgs[0], static_cast<std::size_t>(i) * 10, 10, false));
    ASSERT_EQ(r.status, 201u) << r.body;
    EXPECT_NE(r.body.find(R"("completed":false,"failed":false)"), std::string::npos);
  }
  auto sixth = c.send("POST", path, batch_body(orgs[0], 60, 10, false));
  EXPECT_EQ(sixth.status, 400u);
  EXPECT_NE(sixth.body.find("Too many concurrently executing batches"), std::string::npos);
  // Another org has its own limit.
  EXPECT_EQ(c.send("POST", "/api/v1/organizations/" + orgs[1].id + "/actionBatches",
                   batch_body(orgs[1], 0, 10, false))
                .status,
            201u);
}

// GET .../actionBatches lists the org's batches of the shape a single GET returns, filtered by
// status (pending, completed, failed); another status is a 400 naming the allowed values.
TEST(SimConformance, ActionBatchList) {
  sim_config cfg = small(300);
  // Synchronous batches of one or two actions answer within 0.4 s; asynchronous ones of 100
  // stay pending for 20 s, beyond the test.
  cfg.batch_action_ms = 200;
  server s(cfg);
  s.start();
  auto o = s.orgs()[0];
  client c(s.port(), s.api_key());
  const std::string path = "/api/v1/organizations/" + o.id + "/actionBatches";
  simdjson::dom::parser p;
  auto id_of = [&](const result& r) {
    return std::string(p.parse(r.body)["id"].get_string().value());
  };
  auto ids_of = [&](const result& r) {
    std::vector<std::string> ids;
    const simdjson::dom::array list = p.parse(r.body).get_array().value();
    for (auto b : list) {
      ids.emplace_back(b["id"].get_string().value());
      EXPECT_EQ(std::string(b["organizationId"].get_string().value()), o.id);
      EXPECT_TRUE(b["status"]["errors"].is_array());
      EXPECT_TRUE(b["actions"].is_array());
    }
    return ids;
  };

  auto empty = c.send("GET", path);
  ASSERT_EQ(empty.status, 200u) << empty.body;
  EXPECT_EQ(empty.body, "[]");
  auto sync = c.send("POST", path, batch_body(o, 0, 1, true));
  ASSERT_EQ(sync.status, 201u) << sync.body;
  auto bad = c.send("POST", path, batch_body(o, 20, 2, true, "77"));
  ASSERT_EQ(bad.status, 201u) << bad.body;
  auto slow1 = c.send("POST", path, batch_body(o, 40, 100, false));
  auto slow2 = c.send("POST", path, batch_body(o, 140, 100, false));
  ASSERT_EQ(slow1.status, 201u) << slow1.body;
  ASSERT_EQ(slow2.status, 201u) << slow2.body;

  auto all = c.send("GET", path);
  ASSERT_EQ(all.status, 200u) << all.body;
  EXPECT_EQ(ids_of(all),
            (std::vector<std::string>{id_of(sync), id_of(bad), id_of(slow1), id_of(slow2)}));
  auto pending = c.send("GET", path + "?status=pending");
  ASSERT_EQ(pending.status, 200u) << pending.body;
  EXPECT_EQ(ids_of(pending), (std::vector<std::string>{id_of(slow1), id_of(slow2)}));
  const simdjson::dom::array first_actions =
      p.parse(pending.body).at(0)["actions"].get_array().value();
  EXPECT_EQ(first_actions.size(), 100u);
  auto completed = c.send("GET", path + "?status=completed");
  ASSERT_EQ(completed.status, 200u);
  EXPECT_EQ(ids_of(completed), std::vector<std::string>{id_of(sync)});
  auto failed = c.send("GET", path + "?status=failed");
  ASSERT_EQ(failed.status, 200u);
  EXPECT_EQ(ids_of(failed), std::vector<std::string>{id_of(bad)});
  // A single batch's GET and its entry in the list are the same object.
  auto single = c.send("GET", path + "/" + id_of(slow2));
  ASSERT_EQ(single.status, 200u);
  EXPECT_NE(pending.body.find(single.body), std::string::npos);

  auto unknown = c.send("GET", path + "?status=running");
  EXPECT_EQ(unknown.status, 400u);
  EXPECT_NE(unknown.body.find(R"({"errors":[)"), std::string::npos) << unknown.body;
  EXPECT_NE(unknown.body.find("pending"), std::string::npos) << unknown.body;
  EXPECT_EQ(c.send("PUT", path, "{}").status, 405u);
  // Another org's list holds none of these.
  auto other = c.send("GET", "/api/v1/organizations/" + s.orgs()[1].id + "/actionBatches");
  ASSERT_EQ(other.status, 200u);
  EXPECT_EQ(other.body, "[]");
}

// Listing the batches costs a call of the org's budget like any other.
TEST(SimConformance, ActionBatchListCountsAgainstTheBudget) {
  sim_config cfg = small(20);
  cfg.rate = 0.001;  // no refill during the test
  cfg.burst = 3;
  server s(cfg);
  s.start();
  auto o = s.orgs()[0];
  client c(s.port(), s.api_key());
  const std::string path = "/api/v1/organizations/" + o.id + "/actionBatches?status=pending";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.send("GET", path).status, 200u);
  EXPECT_EQ(c.send("GET", path).status, 429u);
}

// /__sim/ endpoints need no key: state mirrors state(), stats counts, reset restores.
TEST(SimConformance, ControlEndpoints) {
  server s(small(20));
  s.start();
  auto o = s.orgs()[0];
  client c(s.port(), s.api_key());
  const auto initial = s.state();
  ASSERT_EQ(c.send("PUT", license_path(o, o.licenses[0].id),
                   R"({"deviceSerial":")" + o.devices[5] + R"("})")
                .status,
            200u);
  ASSERT_EQ(c.send("PUT", license_path(o, o.licenses[0].id),
                   R"({"deviceSerial":")" + o.devices[5] + R"("})")
                .status,
            200u);
  EXPECT_EQ(s.stats().duplicate_applies, 1u);

  auto st = c.send("GET", "/__sim/state", {}, std::string());
  ASSERT_EQ(st.status, 200u);
  simdjson::dom::parser p;
  auto doc = p.parse(st.body).get_object().value();
  std::size_t n = 0;
  for (auto [org_id, licenses] : doc) {
    simdjson::dom::object lic = licenses.get_object().value();
    for (auto [lid, serial] : lic) {
      ++n;
      auto expected = s.state()[std::string(org_id)][std::string(lid)];
      if (serial.is_null()) EXPECT_FALSE(expected);
      else EXPECT_EQ(expected, std::string(serial.get_string().value()));
    }
  }
  EXPECT_EQ(n, 60u);

  auto stats = c.send("GET", "/__sim/stats", {}, std::string());
  ASSERT_EQ(stats.status, 200u);
  auto sobj = p.parse(stats.body).get_object().value();
  EXPECT_EQ(sobj["putsApplied"].get_int64().value(), 2);
  EXPECT_EQ(sobj["duplicateApplies"].get_int64().value(), 1);
  EXPECT_EQ(sobj["byStatus"]["200"].get_int64().value(), 2);
  EXPECT_EQ(sobj["maxOrgRequestsPerSecond"].get_int64().value(), 2);

  EXPECT_EQ(c.send("POST", "/__sim/reset", {}, std::string()).status, 200u);
  EXPECT_EQ(s.state(), initial);
  EXPECT_EQ(s.stats().requests, 0u);
}

// The same seed gives the same organizations, keys and assignments; another seed differs.
TEST(SimConformance, DeterministicFromSeed) {
  server a(small(30)), b(small(30));
  sim_config other = small(30);
  other.seed = 2;
  server c(other);
  EXPECT_EQ(a.state(), b.state());
  EXPECT_EQ(a.api_key(), b.api_key());
  EXPECT_NE(a.state(), c.state());
  EXPECT_NE(a.api_key(), c.api_key());
  auto orgs = a.orgs();
  std::set<std::string> serials;
  for (const auto& o : orgs)
    for (const auto& d : o.devices) EXPECT_TRUE(serials.insert(d).second) << d;
}

namespace {

/// The license object of `id` as GET returns it.
simdjson::dom::element get_license(client& c, simdjson::dom::parser& p,
                                   const relicense::sim::org_info& o, const std::string& id) {
  auto r = c.send("GET", license_path(o, id));
  EXPECT_EQ(r.status, 200u) << r.body;
  return p.parse(r.body).value();
}

std::string str(simdjson::dom::element e, const char* field) {
  if (e[field].is_null()) return "null";
  return std::string(e[field].get_string().value());
}

}  // namespace

// GET /organizations lists every org with its licensing model ("per-device", or "co-term" for
// the last --coterm-orgs); GET /organizations/{id} returns the same object; unknown ids get 404.
TEST(SimConformance, Organizations) {
  sim_config cfg = small();
  cfg.coterm_orgs = 1;
  server s(cfg);
  s.start();
  auto orgs = s.orgs();
  client c(s.port(), s.api_key());
  auto list = c.send("GET", "/api/v1/organizations");
  ASSERT_EQ(list.status, 200u) << list.body;
  simdjson::dom::parser p;
  simdjson::dom::array arr = p.parse(list.body).get_array().value();
  ASSERT_EQ(arr.size(), 3u);
  std::size_t i = 0;
  for (auto org : arr) {
    EXPECT_EQ(std::string_view(org["id"].get_string().value()), orgs[i].id);
    EXPECT_EQ(std::string_view(org["licensing"]["model"].get_string().value()),
              i == 2 ? "co-term" : "per-device");
    EXPECT_EQ(orgs[i].licensing_model, i == 2 ? "co-term" : "per-device");
    EXPECT_TRUE(org["api"]["enabled"].get_bool().value());
    EXPECT_FALSE(std::string_view(org["name"].get_string().value()).empty());
    EXPECT_TRUE(org["url"].is_string());
    ++i;
  }
  for (std::size_t k = 0; k < 3; ++k) {
    auto one = c.send("GET", "/api/v1/organizations/" + orgs[k].id);
    ASSERT_EQ(one.status, 200u);
    simdjson::dom::parser q;
    EXPECT_EQ(simdjson::to_string(q.parse(one.body).value()),
              simdjson::to_string(arr.at(k).value()));
  }
  auto unknown = c.send("GET", "/api/v1/organizations/999");
  EXPECT_EQ(unknown.status, 404u);
  EXPECT_EQ(unknown.body.rfind(R"({"errors":[)", 0), 0u);
  EXPECT_EQ(c.send("GET", "/api/v1/organizations/999/inventory/devices").status, 404u);
  EXPECT_EQ(c.send("PUT", "/api/v1/organizations/" + orgs[0].id, "{}").status, 405u);
  // The co-term org's licenses answer 400; its inventory is served.
  EXPECT_EQ(c.send("GET", "/api/v1/organizations/" + orgs[2].id + "/licenses").status, 400u);
  EXPECT_EQ(c.send("GET", "/api/v1/organizations/" + orgs[2].id + "/inventory/devices").status,
            200u);
}

// GET /organizations pages like the other lists: perPage (3..9000, one page of everything by
// default), rel=next with a cursor, an org's id as a cursor too.
TEST(SimConformance, OrganizationsArePaged) {
  sim_config cfg = small();
  cfg.orgs = 7;
  server s(cfg);
  s.start();
  const auto orgs = s.orgs();
  client c(s.port(), s.api_key());
  std::vector<std::string> seen;
  std::string next = "/api/v1/organizations?perPage=3";
  const std::regex next_re("<([^>]*)>; rel=next");
  simdjson::dom::parser p;
  int pages = 0;
  while (!next.empty() && pages < 10) {
    auto r = c.send("GET", next);
    ASSERT_EQ(r.status, 200u) << r.body;
    ++pages;
    simdjson::dom::array items = p.parse(r.body).get_array().value();
    for (auto org : items) seen.emplace_back(org["id"].get_string().value());
    std::smatch m;
    const std::string link = r.header("Link");
    next = std::regex_search(link, m, next_re) ? path_of(m[1]) : std::string{};
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), orgs.size());
  for (std::size_t i = 0; i < orgs.size(); ++i) EXPECT_EQ(seen[i], orgs[i].id);
  auto all = c.send("GET", "/api/v1/organizations");
  EXPECT_EQ(p.parse(all.body).get_array().value().size(), orgs.size());
  EXPECT_EQ(all.header("Link").find("rel=next"), std::string::npos) << all.header("Link");
  auto after = c.send("GET", "/api/v1/organizations?perPage=3&startingAfter=" + orgs[4].id);
  ASSERT_EQ(after.status, 200u);
  EXPECT_EQ(p.parse(after.body).get_array().value().size(), 2u);
  EXPECT_EQ(c.send("GET", "/api/v1/organizations?perPage=2").status, 400u);
  EXPECT_EQ(c.send("GET", "/api/v1/organizations?perPage=9001").status, 400u);
  EXPECT_EQ(c.send("GET", "/api/v1/organizations?startingAfter=nope").status, 400u);
}

// The inventory pages like the licenses (perPage, rel=next); it lists every device once, in
// order, with the API's fields; it holds new hardware that no license is on, the same for a seed.
TEST(SimConformance, Inventory) {
  server s(small(60));
  s.start();
  auto o = s.orgs()[1];
  client c(s.port(), s.api_key());
  std::vector<std::string> seen;
  std::string next = "/api/v1/organizations/" + o.id + "/inventory/devices?perPage=9";
  const std::regex next_re("<([^>]*)>; rel=next");
  simdjson::dom::parser p;
  std::map<std::string, std::string> model_of;
  int pages = 0;
  while (!next.empty() && pages < 100) {
    auto r = c.send("GET", next);
    ASSERT_EQ(r.status, 200u) << r.body;
    ++pages;
    simdjson::dom::array items = p.parse(r.body).get_array().value();
    for (auto d : items) {
      const std::string serial(d["serial"].get_string().value());
      seen.push_back(serial);
      model_of[serial] = std::string(d["model"].get_string().value());
      for (const char* f :
           {"mac", "name", "model", "networkId", "orderNumber", "claimedAt", "productType"})
        EXPECT_TRUE(d[f].is_string()) << f;
      EXPECT_TRUE(d["tags"].is_array());
      EXPECT_TRUE(d["details"].is_array());
      EXPECT_TRUE(d["licenseExpirationDate"].is_string() || d["licenseExpirationDate"].is_null());
      EXPECT_TRUE(std::regex_match(std::string(d["networkId"].get_string().value()),
                                   std::regex("N_[0-9]+")));
    }
    std::smatch m;
    const std::string link = r.header("Link");
    next = std::regex_search(link, m, next_re) ? path_of(m[1]) : std::string{};
  }
  EXPECT_EQ(seen, o.devices);
  EXPECT_EQ(pages, static_cast<int>((o.devices.size() + 8) / 9));

  // New hardware: a successor of another model, in the same network, that holds no license.
  ASSERT_FALSE(o.successors.empty());
  std::set<std::string> licensed;
  for (const auto& l : o.licenses)
    if (l.device_serial) licensed.insert(*l.device_serial);
  for (const auto& [old_serial, new_serial] : o.successors) {
    EXPECT_TRUE(licensed.count(old_serial)) << old_serial;
    EXPECT_FALSE(licensed.count(new_serial)) << new_serial;
    EXPECT_NE(model_of[old_serial], model_of[new_serial]);
    auto d = c.send("GET", "/api/v1/organizations/" + o.id + "/inventory/devices/" + new_serial);
    ASSERT_EQ(d.status, 200u);
    EXPECT_TRUE(p.parse(d.body)["licenseExpirationDate"].is_null());
  }
  EXPECT_EQ(
      c.send("GET", "/api/v1/organizations/" + o.id + "/inventory/devices/Q2ZZ-ZZZZ-ZZZZ").status,
      404u);
  EXPECT_EQ(c.send("GET", "/api/v1/organizations/" + o.id + "/inventory/devices?perPage=2").status,
            400u);
  server again(small(60));
  EXPECT_EQ(again.orgs()[1].successors, o.successors);
  EXPECT_EQ(again.orgs()[1].devices, o.devices);
}

// Per-device licensing: a license sent to a device with an active license queues behind it
// (recentlyQueued, headLicenseId); the active one leaving promotes it; an unassigned activated
// license is unusedActive. PUTs and action batches follow the same rules; /__sim/state keeps
// reporting license -> serial.
TEST(SimConformance, PerDeviceLicensingRules) {
  server s(small(200));
  s.start();
  auto o = s.orgs()[0];
  client c(s.port(), s.api_key());
  simdjson::dom::parser p;
  // Two active licenses on their devices and two never-used ones.
  std::vector<std::size_t> active, unused;
  for (std::size_t i = 0; i < o.licenses.size(); ++i) {
    if (o.licenses[i].state == "active" && active.size() < 2) active.push_back(i);
    if (o.licenses[i].state == "unused" && unused.size() < 2) unused.push_back(i);
  }
  ASSERT_EQ(active.size(), 2u);
  ASSERT_EQ(unused.size(), 2u);

  for (int via_batch = 0; via_batch < 2; ++via_batch) {
    const auto& head = o.licenses[active[static_cast<std::size_t>(via_batch)]];
    const auto& newcomer = o.licenses[unused[static_cast<std::size_t>(via_batch)]];
    const std::string serial = *head.device_serial;
    auto assign = [&](const std::string& id, const std::string& body_serial) {
      if (via_batch) {
        const std::string b =
            R"({"confirmed":true,"synchronous":true,"actions":[{"resource":"/organizations/)" +
            o.id + "/licenses/" + id + R"(","operation":"update","body":{"deviceSerial":)" +
            body_serial + "}}]}";
        auto r = c.send("POST", "/api/v1/organizations/" + o.id + "/actionBatches", b);
        ASSERT_EQ(r.status, 201u) << r.body;
        ASSERT_NE(r.body.find(R"("completed":true)"), std::string::npos) << r.body;
      } else {
        auto r = c.send("PUT", license_path(o, id), R"({"deviceSerial":)" + body_serial + "}");
        ASSERT_EQ(r.status, 200u) << r.body;
      }
    };
    assign(newcomer.id, '"' + serial + '"');
    auto queued = get_license(c, p, o, newcomer.id);
    EXPECT_EQ(str(queued, "state"), "recentlyQueued");
    EXPECT_EQ(str(queued, "headLicenseId"), head.id);
    EXPECT_EQ(str(queued, "deviceSerial"), serial);
    EXPECT_EQ(str(get_license(c, p, o, head.id), "state"), "active");
    auto on_device =
        c.send("GET", "/api/v1/organizations/" + o.id + "/licenses?deviceSerial=" + serial);
    EXPECT_EQ(p.parse(on_device.body).get_array().value().size(), 2u);
    EXPECT_EQ(s.state()[o.id][newcomer.id], serial);

    // The active license leaves: it is unusedActive, the queued one burns.
    assign(head.id, "null");
    auto left = get_license(c, p, o, head.id);
    EXPECT_EQ(str(left, "state"), "unusedActive");
    EXPECT_EQ(str(left, "deviceSerial"), "null");
    EXPECT_TRUE(left["activationDate"].is_string());
    auto promoted = get_license(c, p, o, newcomer.id);
    EXPECT_EQ(str(promoted, "state"), "active");
    EXPECT_EQ(str(promoted, "headLicenseId"), "null");
    EXPECT_TRUE(promoted["activationDate"].is_string());
    EXPECT_EQ(s.state()[o.id][head.id], std::nullopt);

    // Back on the device it queues behind the promoted one; moved to free hardware it burns.
    assign(head.id, '"' + serial + '"');
    EXPECT_EQ(str(get_license(c, p, o, head.id), "headLicenseId"), newcomer.id);
    const std::string free_device = o.successors.begin()->second;
    assign(head.id,
           '"' + (via_batch ? std::next(o.successors.begin())->second : free_device) + '"');
    EXPECT_EQ(str(get_license(c, p, o, head.id), "state"), "active");
    EXPECT_EQ(str(get_license(c, p, o, head.id), "headLicenseId"), "null");
    EXPECT_EQ(str(get_license(c, p, o, newcomer.id), "state"), "active");
  }
}

// Requests are validated as the API does: a missing or non-JSON Content-Type, an empty body, or
// a body that is not a JSON object get 400 with {"errors":[...]}, on PUTs and batch POSTs alike,
// and change nothing.
TEST(SimConformance, RequestValidation) {
  server s(small());
  s.start();
  auto o = s.orgs()[0];
  client c(s.port(), s.api_key());
  const auto before = s.state();
  const std::string put_body = R"({"deviceSerial":")" + o.devices[3] + R"("})";
  const std::string batch_body_ok = batch_body(o, 0, 2, true);
  const std::string batch_path = "/api/v1/organizations/" + o.id + "/actionBatches";
  struct bad_case {
    std::string content_type, put, batch;
  };
  const bad_case cases[] = {
      {"", put_body, batch_body_ok},            // no Content-Type
      {"text/plain", put_body, batch_body_ok},  // not JSON
      {"application/x-www-form-urlencoded", put_body, batch_body_ok},
      {"application/json", " ", " "},          // nothing in the body
      {"application/json", "[1,2]", "[1,2]"},  // not an object
      {"application/json", "\"x\"", "null"},
      {"application/json", "{\"deviceSerial\":", "{\"confirmed\":"},
  };
  simdjson::dom::parser p;
  for (const auto& k : cases) {
    for (int batch = 0; batch < 2; ++batch) {
      auto r = batch ? c.send("POST", batch_path, k.batch, std::nullopt, std::chrono::seconds(20),
                              false, k.content_type)
                     : c.send("PUT", license_path(o, o.licenses[0].id), k.put, std::nullopt,
                              std::chrono::seconds(20), false, k.content_type);
      EXPECT_EQ(r.status, 400u) << k.content_type << " " << (batch ? k.batch : k.put);
      simdjson::dom::array errors;
      ASSERT_EQ(p.parse(r.body)["errors"].get_array().get(errors), simdjson::SUCCESS) << r.body;
      EXPECT_EQ(errors.size(), 1u);
    }
  }
  // No body at all (Content-Length: 0) is refused too.
  EXPECT_EQ(c.send("PUT", license_path(o, o.licenses[0].id), "", std::nullopt,
                   std::chrono::seconds(20), false, "application/json")
                .status,
            400u);
  EXPECT_EQ(c.send("POST", batch_path, "", std::nullopt, std::chrono::seconds(20), false,
                   "application/json")
                .status,
            400u);
  EXPECT_EQ(s.state(), before);
  // Parameters and case do not matter.
  EXPECT_EQ(c.send("PUT", license_path(o, o.licenses[0].id), put_body, std::nullopt,
                   std::chrono::seconds(20), false, "Application/JSON; charset=utf-8")
                .status,
            200u);
  EXPECT_EQ(s.state()[o.id][o.licenses[0].id], o.devices[3]);
}

// Every answer (success, error, 429, redirect, control) carries a unique 16-hex-digit X-Request-Id.
TEST(SimConformance, RequestIds) {
  sim_config cfg = small();
  cfg.rate = 5;
  cfg.burst = 5;
  server s(cfg);
  s.start();
  auto o = s.orgs()[0];
  client c(s.port(), s.api_key());
  std::set<std::string> ids;
  std::set<unsigned> statuses;
  auto check = [&](const result& r) {
    ASSERT_TRUE(r.ok);
    statuses.insert(r.status);
    const std::string id = r.header("X-Request-Id");
    EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{16}"))) << id;
    EXPECT_TRUE(ids.insert(id).second) << "repeated " << id;
  };
  for (int i = 0; i < 10; ++i) check(c.send("GET", license_path(o, o.licenses[0].id)));
  check(c.send("GET", license_path(o, "42")));
  check(c.send("GET", "/api/v1/organizations", {}, "wrong"));
  check(c.send("GET", "/__sim/stats", {}, std::string()));
  EXPECT_TRUE(statuses.count(200) && statuses.count(429) && statuses.count(401)) << statuses.size();
  EXPECT_EQ(ids.size(), 13u);
}

// /__sim/stats reports the background application's calls and 429s next to the existing counters.
TEST(SimConformance, BackgroundStats) {
  sim_config cfg = small();
  cfg.rate = 10;
  cfg.burst = 10;
  cfg.background_rate = 200;  // far over the budget: most of its calls are refused
  server s(cfg);
  s.start();
  client c(s.port(), s.api_key());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto stats = c.send("GET", "/__sim/stats", {}, std::string());
  ASSERT_EQ(stats.status, 200u);
  simdjson::dom::parser p;
  auto obj = p.parse(stats.body).get_object().value();
  const auto calls = obj["background"]["calls"].get_int64().value();
  const auto limited = obj["background"]["rateLimited"].get_int64().value();
  EXPECT_GT(calls, 3 * 30);  // three orgs, at least ~0.15 s at 200/s each
  EXPECT_GT(limited, 0);
  EXPECT_LT(limited, calls);
  EXPECT_EQ(obj["requests"].get_int64().value(), 0);
  EXPECT_GE(s.stats().background_calls, static_cast<std::uint64_t>(calls));
  s.set_background_rate(0);
  const auto frozen = s.stats().background_calls;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(s.stats().background_calls, frozen);
}

// `relicense sim` wires its flags into the twin (--coterm-orgs, --background-rate,
// --latency-dist fixed with --latency-ms, --batch-action-ms), prints the base URL and the key,
// and exits 0 on SIGTERM.
TEST(SimConformance, CommandLine) {
  const char* bin = std::getenv("RELICENSE_BIN");
  ASSERT_NE(bin, nullptr) << "run through ctest";
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 2);
    ::close(out[0]);
    ::close(out[1]);
    ::execl(bin, bin, "sim", "--orgs", "2", "--licenses", "20", "--coterm-orgs", "1",
            "--background-rate", "50", "--latency-dist", "fixed", "--latency-ms", "30",
            "--batch-action-ms", "200", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  // A failed assertion below returns early: the twin still gets its SIGTERM.
  struct stopper {
    pid_t pid;
    int status = -1;
    int stop() {
      if (pid > 0) {
        ::kill(pid, SIGTERM);
        ::waitpid(pid, &status, 0);
        pid = 0;
      }
      return status;
    }
    ~stopper() { stop(); }
  } child{pid};
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::count(text.begin(), text.end(), '\n') < 2 &&
         std::chrono::steady_clock::now() < deadline) {
    pollfd fd{out[0], POLLIN, 0};
    if (::poll(&fd, 1, 100) <= 0) continue;
    char buf[512];
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  std::smatch m;
  const bool started = std::regex_search(
      text, m, std::regex("http://127\\.0\\.0\\.1:([0-9]+)/api/v1\n([0-9a-f]+)\n"));
  if (started) {
    client c(static_cast<std::uint16_t>(std::stoi(m[1])), m[2]);
    simdjson::dom::parser p;
    auto t0 = std::chrono::steady_clock::now();
    auto orgs = c.send("GET", "/api/v1/organizations");
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(30));
    ASSERT_EQ(orgs.status, 200u) << orgs.body;
    simdjson::dom::array arr = p.parse(orgs.body).get_array().value();
    ASSERT_EQ(arr.size(), 2u);
    EXPECT_EQ(std::string_view(arr.at(0)["licensing"]["model"].get_string().value()), "per-device");
    EXPECT_EQ(std::string_view(arr.at(1)["licensing"]["model"].get_string().value()), "co-term");
    const std::string org(arr.at(0)["id"].get_string().value());
    auto licenses = c.send("GET", "/api/v1/organizations/" + org + "/licenses?perPage=3");
    ASSERT_EQ(licenses.status, 200u);
    std::vector<std::string> ids;
    simdjson::dom::array larr = p.parse(licenses.body).get_array().value();
    for (auto l : larr) ids.emplace_back(l["id"].get_string().value());
    ASSERT_GE(ids.size(), 2u);
    std::string body = R"({"confirmed":true,"synchronous":true,"actions":[)";
    for (std::size_t i = 0; i < 2; ++i)
      body += std::string(i ? "," : "") + R"({"resource":"/organizations/)" + org + "/licenses/" +
              ids[i] + R"(","operation":"update","body":{"deviceSerial":null}})";
    body += "]}";
    t0 = std::chrono::steady_clock::now();
    auto batch = c.send("POST", "/api/v1/organizations/" + org + "/actionBatches", body);
    EXPECT_EQ(batch.status, 201u) << batch.body;
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2 * 200 + 30));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto stats = c.send("GET", "/__sim/stats", {}, std::string());
    ASSERT_EQ(stats.status, 200u);
    EXPECT_GT(p.parse(stats.body)["background"]["calls"].get_int64().value(), 0) << stats.body;
  }
  const int status = child.stop();
  ASSERT_TRUE(started) << "relicense sim printed: " << text;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}
