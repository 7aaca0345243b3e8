// Secrets in the discovery commands: `orgs` and `licenses` print what the server sent (their
// --json is the API's objects as sent), so a hostile API that echoes the Authorization header in
// the objects' fields, in an error body or in a Link header must still not get the key into any
// output.
#include "test_server.hpp"

#include "relicense/test/run_process.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace {

using relicense::io::test::received_request;
using relicense::io::test::server_session;

constexpr const char* marker = "SECRET-MARKER-disc42";

struct reply {
  reply(unsigned s, std::string b, std::string h = {})
      : status(s), body(std::move(b)), headers(std::move(h)) {}
  unsigned status;
  std::string body;
  std::string headers;  ///< extra header lines, each ending in \r\n
};

/// A server answering every request with the test's handler, which sees the key.
class echoing_api {
public:
  using handler = std::function<reply(const received_request&)>;
  explicit echoing_api(handler h)
      : handler_(std::move(h)), server_([this](server_session& s) {
          while (auto req = s.read_request()) {
            const reply r = handler_(*req);
            if (!s.respond(r.status, r.body, "application/json", r.headers)) return;
          }
        }) {}
  std::string base_url() const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + "/api/v1";
  }

private:
  handler handler_;
  relicense::io::test::script_server server_;  // last: its thread may call the handler at once
};

std::string auth_of(const received_request& r) {
  auto it = r.headers.find("authorization");
  return it == r.headers.end() ? std::string("(none)") : it->second;
}

/// Runs relicense against `api` with the marker key; checks the exit code and both outputs.
relicense::test::process_result run_clean(const echoing_api& api, std::vector<std::string> args,
                                          int expected) {
  args.insert(args.end(), {"--base-url", api.base_url(), "--max-attempts", "2", "--timeout", "5"});
  auto r = relicense::test::run_relicense(args, {{"MERAKI_DASHBOARD_API_KEY", marker}});
  std::string what;
  for (const auto& a : args) what += a + " ";
  EXPECT_EQ(r.exit_code, expected) << what << r.err;
  for (const std::string& m : {std::string(marker), std::string("SECRET-MARKER")}) {
    EXPECT_EQ(r.out.find(m), std::string::npos) << what << "stdout:\n" << r.out;
    EXPECT_EQ(r.err.find(m), std::string::npos) << what << "stderr:\n" << r.err;
  }
  return r;
}

}  // namespace

// Organization objects quoting the key in their name and model: every form of `orgs` prints them
// with the key redacted.
TEST(DiscoverySecrets, OrgsNeverPrintsAnEchoedKey) {
  echoing_api api([](const received_request& r) {
    const auto k = auth_of(r);
    return reply{200, R"([{"id":"1","name":")" + k + R"(","licensing":{"model":")" + k +
                          R"("},"note":")" + k + R"("}])"};
  });
  auto r = run_clean(api, {"orgs"}, 0);
  EXPECT_NE(r.out.find("[REDACTED]"), std::string::npos) << r.out;
  r = run_clean(api, {"orgs", "--json"}, 0);
  EXPECT_NE(r.out.find("[REDACTED]"), std::string::npos) << r.out;
}

// License objects quoting the key in their fields, in every output form of `licenses`.
TEST(DiscoverySecrets, LicensesNeverPrintsAnEchoedKey) {
  echoing_api api([](const received_request& r) {
    const auto k = auth_of(r);
    return reply{200, R"([{"id":"L1","licenseType":")" + k + R"(","state":")" + k +
                          R"(","deviceSerial":")" + k + R"(","expirationDate":")" + k + R"("}])"};
  });
  const std::vector<std::vector<std::string>> forms = {{}, {"--json"}, {"--csv"}};
  for (const auto& form : forms) {
    std::vector<std::string> args{"licenses", "--org", "7"};
    args.insert(args.end(), form.begin(), form.end());
    run_clean(api, args, 0);
  }
}

// The key in an error body (404, 401, 503), and in a next-page link: refused or redacted, never
// printed.
TEST(DiscoverySecrets, ErrorsAndLinksNeverPrintAnEchoedKey) {
  struct error_case {
    unsigned status;
    int exit_code;
  };
  for (const error_case c :
       {error_case{404, 1}, error_case{401, 3}, error_case{503, 1}, error_case{400, 1}}) {
    echoing_api api([c](const received_request& r) {
      return reply{c.status, R"({"errors":["no: )" + auth_of(r) + R"("]})"};
    });
    auto r = run_clean(api, {"licenses", "--org", "7"}, c.exit_code);
    EXPECT_TRUE(r.out.empty()) << r.out;
    run_clean(api, {"orgs"}, c.exit_code);
  }
  echoing_api linked([](const received_request& r) {
    return reply{200, "[]",
                 "Link: <https://evil.example/" + auth_of(r).substr(7) + ">; rel=next\r\n"};
  });
  run_clean(linked, {"licenses", "--org", "7", "--json"}, 1);
}
