// The User-Agent: its format (relicense/<version> relicense-project [Caller/(...)]), the
// --caller/RELICENSE_CALLER checks, and what a server actually receives from `relicense apply`
// (put and batch mode) and `relicense verify`.
#include "relicense/io/user_agent.hpp"

#include "relicense/test/run_process.hpp"
#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <cstdint>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using relicense::test::run_relicense;
using relicense::test::temp_dir;

namespace {

/// One request as the recorder read it.
struct seen_request {
  std::string method;
  std::string target;
  std::string user_agent;
};

/// A plain HTTP server on 127.0.0.1:0 that records each request's User-Agent and answers one
/// request per connection: the organization (per-device licensing) to GET /organizations/{id},
/// an empty inventory to GET .../licenses, and 404 to everything else (so every row fails fast,
/// without retries).
class ua_recorder {
public:
  ua_recorder() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(fd_, 64) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot listen on 127.0.0.1");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ua_recorder() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/api/v1"; }
  std::vector<seen_request> seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }

private:
  void serve() {
    while (!stopping_) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      handle(c);
      ::close(c);
    }
  }
  void handle(int c) {
    std::string data;
    char buf[4096];
    std::size_t end = std::string::npos;
    while ((end = data.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) return;
      data.append(buf, static_cast<std::size_t>(n));
    }
    seen_request r;
    const std::string head = data.substr(0, end);
    const auto sp1 = head.find(' ');
    const auto sp2 = head.find(' ', sp1 + 1);
    r.method = head.substr(0, sp1);
    r.target = head.substr(sp1 + 1, sp2 - sp1 - 1);
    std::size_t content_length = 0;
    for (std::size_t pos = head.find("\r\n"); pos != std::string::npos;) {
      const auto next = head.find("\r\n", pos + 2);
      const std::string line =
          head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      const auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      const std::string value =
          colon == std::string::npos ? "" : line.substr(line.find_first_not_of(' ', colon + 1));
      if (name == "user-agent") r.user_agent = value;
      if (name == "content-length") content_length = std::stoul(value);
      pos = next;
    }
    while (data.size() < end + 4 + content_length) {
      const ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      data.append(buf, static_cast<std::size_t>(n));
    }
    {
      std::lock_guard lock(mutex_);
      seen_.push_back(r);
    }
    const std::string path = r.target.substr(0, r.target.find('?'));
    const std::string prefix = "/api/v1/organizations/";
    const std::string rest = path.rfind(prefix, 0) == 0 ? path.substr(prefix.size()) : "";
    unsigned status = 404;
    std::string body = R"({"errors":["Not found"]})";
    if (r.method == "GET" && !rest.empty() && rest.find('/') == std::string::npos) {
      status = 200;
      body = R"({"id":")" + rest + R"(","name":"Recorder","licensing":{"model":"per-device"}})";
    } else if (r.method == "GET" && rest.size() > 9 &&
               rest.substr(rest.size() - 9) == "/licenses") {
      status = 200;
      body = "[]";
    }
    const std::string response =
        "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Not Found") +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n" + body;
    (void)!::write(c, response.data(), response.size());
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<seen_request> seen_;
  std::thread thread_;
};

/// The version `relicense --version` prints.
std::string printed_version() {
  const auto r = run_relicense({"--version"});
  std::string v = r.out.substr(r.out.find(' ') + 1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
  return v;
}

const std::string rows =
    "organizationId,licenseId,deviceSerial\n"
    "101,L1,Q2AA-BBBB-CCC1\n101,L2,Q2AA-BBBB-CCC2\n101,L3,\n";

/// Runs relicense against a fresh recorder and returns what it saw; at least one request.
std::vector<seen_request> record(const std::vector<std::string>& args,
                                 std::map<std::string, std::string> env, int* exit_code = nullptr) {
  ua_recorder server;
  temp_dir dir;
  const auto csv = dir.write("in.csv", rows);
  std::vector<std::string> full{args.front(),     csv.string(), "--base-url", server.base_url(),
                                "--rate",         "0",          "--ip-rate",  "0",
                                "--max-attempts", "1"};
  if (args.front() == "apply") {
    for (const char* a : {"--progress", "off", "--report"}) full.emplace_back(a);
    full.push_back((dir.path() / "report.csv").string());
  }
  full.insert(full.end(), args.begin() + 1, args.end());
  env.emplace("MERAKI_DASHBOARD_API_KEY", "ua-test-key");
  const auto r = run_relicense(full, env);
  if (exit_code) *exit_code = r.exit_code;
  EXPECT_NE(r.exit_code, 2) << r.err;
  return server.seen();
}

}  // namespace

// Our own part is relicense/<the version --version prints> and the vendor token.
TEST(UserAgent, OwnPartMatchesVersion) {
  EXPECT_EQ(relicense::io::user_agent(),
            std::string("relicense/") + relicense::io::relicense_version() + " relicense-project");
  EXPECT_EQ(relicense::io::user_agent("AcmeMigrate/2.0 Acme"),
            std::string("relicense/") + relicense::io::relicense_version() +
                " relicense-project Caller/(AcmeMigrate/2.0 Acme)");
}

// Callers of the form Name/Version Vendor pass; anything else (or a header-splitting byte) does
// not.
TEST(UserAgent, CallerGrammar) {
  using relicense::io::caller_problem;
  for (const char* ok :
       {"AcmeMigrate/2.0 Acme", "Tool/1 V", "netops/3.14.1-beta Acme-Corp", "x/v2 y"})
    EXPECT_EQ(caller_problem(ok), "") << ok;
  for (const char* bad : {"", "AcmeMigrate", "AcmeMigrate/2.0", "AcmeMigrate 2.0 Acme", "/2.0 Acme",
                          "Acme Migrate/2.0 Acme", "AcmeMigrate/ Acme", "AcmeMigrate/2..0 Acme",
                          "AcmeMigrate/2.0 Acme Inc", "AcmeMigrate/2.0 Acme\r\nX-Evil: 1",
                          "Acme_Migrate/2.0 Acme", "AcmeMigrate/2.0-Beta Acme"})
    EXPECT_NE(caller_problem(bad), "") << bad;
  EXPECT_NE(caller_problem(std::string(120, 'a') + "/1 " + std::string(20, 'b')), "");
  EXPECT_THROW(relicense::io::user_agent("no caller"), std::invalid_argument);
}

// `--version` prints the same version the User-Agent carries.
TEST(UserAgent, VersionFlagAgrees) {
  EXPECT_EQ(printed_version(), relicense::io::relicense_version());
}

// Put mode sends relicense/<version> relicense-project Caller/(<--caller>) on every request.
TEST(UserAgent, PutModeSendsCallerFromFlag) {
  const auto seen = record({"apply", "--caller", "AcmeMigrate/2.0 Acme", "--no-inventory"},
                           {{"RELICENSE_CALLER", ""}});
  ASSERT_FALSE(seen.empty());
  const std::string want =
      "relicense/" + printed_version() + " relicense-project Caller/(AcmeMigrate/2.0 Acme)";
  bool put = false;
  for (const auto& r : seen) {
    EXPECT_EQ(r.user_agent, want) << r.method << " " << r.target;
    put = put || r.method == "PUT";
  }
  EXPECT_TRUE(put) << "no PUT reached the recorder";
}

// Batch mode takes the caller from RELICENSE_CALLER when there is no flag.
TEST(UserAgent, BatchModeSendsCallerFromEnv) {
  const auto seen = record({"apply", "--mode", "batch", "--no-inventory"},
                           {{"RELICENSE_CALLER", "NightlyJob/7 Netops"}});
  ASSERT_FALSE(seen.empty());
  bool post = false;
  for (const auto& r : seen) {
    EXPECT_EQ(r.user_agent,
              "relicense/" + printed_version() + " relicense-project Caller/(NightlyJob/7 Netops)")
        << r.method << " " << r.target;
    post = post || r.method == "POST";
  }
  EXPECT_TRUE(post) << "no action batch reached the recorder";
}

// The flag wins over the environment; without either, only relicense's own part is sent.
TEST(UserAgent, FlagWinsAndDefault) {
  for (const auto& r : record({"apply", "--caller", "Flag/1 F"}, {{"RELICENSE_CALLER", "Env/1 E"}}))
    EXPECT_EQ(r.user_agent,
              "relicense/" + printed_version() + " relicense-project Caller/(Flag/1 F)");
  for (const auto& r : record({"apply"}, {{"RELICENSE_CALLER", ""}}))
    EXPECT_EQ(r.user_agent, "relicense/" + printed_version() + " relicense-project");
}

// verify sends the same User-Agent.
TEST(UserAgent, VerifySendsCaller) {
  const auto seen =
      record({"verify", "--caller", "AcmeMigrate/2.0 Acme"}, {{"RELICENSE_CALLER", ""}});
  ASSERT_FALSE(seen.empty());
  for (const auto& r : seen)
    EXPECT_EQ(r.user_agent, "relicense/" + printed_version() +
                                " relicense-project Caller/(AcmeMigrate/2.0 Acme)");
}

// A malformed caller, from the flag or the environment, is exit 2 naming its source; nothing is
// sent.
TEST(UserAgent, BadCallerIsExit2BeforeSending) {
  ua_recorder server;
  temp_dir dir;
  const auto csv = dir.write("in.csv", rows);
  for (const char* cmd : {"apply", "verify"}) {
    auto r = run_relicense(
        {cmd, csv.string(), "--base-url", server.base_url(), "--caller", "AcmeMigrate 2.0"},
        {{"MERAKI_DASHBOARD_API_KEY", "k"}, {"RELICENSE_CALLER", ""}});
    EXPECT_EQ(r.exit_code, 2) << cmd;
    EXPECT_NE(r.err.find("--caller"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("Name/Version Vendor"), std::string::npos) << r.err;
    r = run_relicense({cmd, csv.string(), "--base-url", server.base_url()},
                      {{"MERAKI_DASHBOARD_API_KEY", "k"}, {"RELICENSE_CALLER", "Acme"}});
    EXPECT_EQ(r.exit_code, 2) << cmd;
    EXPECT_NE(r.err.find("RELICENSE_CALLER"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(server.seen().empty());
}
