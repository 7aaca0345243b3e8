// Proxies end to end: the relicense binary applies a plan to the TLS twin through a real HTTP
// proxy (Debian's tinyproxy, started here on loopback with a generated configuration), chosen by
// --proxy or by HTTPS_PROXY, across a shard redirect, with proxy credentials; and a scripted
// proxy for the failures (407, a refused CONNECT, an unreachable proxy), which abort with exit 3
// and a clear message. The proxy password never appears in anything the run writes.
#include "relicense/sim/server.hpp"

#include "../io/test_server.hpp"
#include "fault_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace relicense::fault_test {
namespace {

namespace fs = std::filesystem;
using relicense::test::process_result;
using relicense::test::run_relicense;

constexpr const char* tinyproxy_bin = "/usr/bin/tinyproxy";
constexpr const char* proxy_password = "Pr0xy-Pa55w0rd-7c1e";  // distinctive, to search outputs for
constexpr const char* proxy_token =
    "YWxpY2U6UHIweHktUGE1NXcwcmQtN2MxZQ==";  // base64("alice:" + password)

/// A port nobody listens on right now (bound to :0, then released). Another process may take it
/// before it is used; callers retry on collision.
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool accepts_connections(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  if (fd >= 0) ::close(fd);
  return ok;
}

std::uint16_t port_of(const std::string& url) {
  const auto slash = url.find('/', url.find("://") + 3);
  const auto colon = url.rfind(':', slash);
  return static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1, slash - colon - 1)));
}

/// tinyproxy in the foreground (-d) on 127.0.0.1 with a generated configuration: CONNECT allowed
/// to the given ports only, optional Basic credentials, its log in the test's directory.
class tinyproxy {
public:
  tinyproxy(const fs::path& dir, const std::vector<std::uint16_t>& connect_ports,
            std::optional<std::pair<std::string, std::string>> basic_auth = std::nullopt)
      : log_(dir / "tinyproxy.log") {
    // tinyproxy has no "Port 0": take a free port, and another if someone took it meanwhile.
    for (int attempt = 0; attempt < 8 && pid_ < 0; ++attempt) {
      port_ = free_port();
      const fs::path conf = dir / "tinyproxy.conf";
      {
        std::ofstream c(conf);
        c << "Port " << port_ << "\nListen 127.0.0.1\nTimeout 60\nMaxClients 64\nAllow 127.0.0.1\n"
          << "LogFile \"" << log_.string() << "\"\nLogLevel Info\n";
        for (auto p : connect_ports) c << "ConnectPort " << p << "\n";
        if (basic_auth) c << "BasicAuth " << basic_auth->first << " " << basic_auth->second << "\n";
      }
      const std::string out = (dir / "tinyproxy.out").string();
      const pid_t pid = ::fork();
      if (pid == 0) {
        const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::execl(tinyproxy_bin, tinyproxy_bin, "-d", "-c", conf.c_str(),
                static_cast<char*>(nullptr));
        ::_exit(127);
      }
      // Until it listens, or exits (the port was taken): a bounded process-synchronisation wait.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      bool up = false, exited = false;
      while (!up && !exited && std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
          exited = true;
        } else if (accepts_connections(port_)) {
          up = true;
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
      if (up) {
        pid_ = pid;
      } else if (!exited) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
    if (pid_ < 0)
      throw std::runtime_error("tinyproxy did not start (see " + (dir / "tinyproxy.out").string() +
                               ")");
  }
  ~tinyproxy() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  tinyproxy(const tinyproxy&) = delete;
  tinyproxy& operator=(const tinyproxy&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return temp_dir::read(log_); }

private:
  fs::path log_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

class ProxyE2E : public fault_test {};

#define SKIP_WITHOUT_TINYPROXY()  \
  if (!fs::exists(tinyproxy_bin)) \
  GTEST_SKIP() << tinyproxy_bin << " is not installed (Debian: tinyproxy-bin)"

sim::sim_config twin_config(bool tls, bool redirect = false) {
  sim::sim_config cfg;
  cfg.orgs = 2;
  cfg.licenses_per_org = 15;
  cfg.rate = 0;
  cfg.seed = 41;
  cfg.tls = tls;
  cfg.redirect = redirect;
  return cfg;
}

std::vector<std::string> proxy_args(const sim::server& twin, const fs::path& csv,
                                    const temp_dir& dir) {
  std::vector<std::string> a{"apply",      csv.string(),
                             "--base-url", twin.base_url(),
                             "--rate",     "0",
                             "--ip-rate",  "0",
                             "--report",   (dir.path() / "report.csv").string(),
                             "--journal",  (dir.path() / "run.journal").string(),
                             "--progress", "off",
                             "--summary",  (dir.path() / "summary.json").string()};
  if (!twin.ca_file().empty()) a.insert(a.end(), {"--ca-file", twin.ca_file()});
  return a;
}

/// The environment of a run: the twin's key, and every proxy variable cleared (an empty value
/// counts as unset) so that the machine's own settings do not leak into the test.
std::map<std::string, std::string> run_env(const sim::server& twin) {
  std::map<std::string, std::string> env{{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}};
  for (const char* v : {"https_proxy", "HTTPS_PROXY", "http_proxy", "all_proxy", "ALL_PROXY",
                        "no_proxy", "NO_PROXY"}) {
    env[v] = "";
  }
  return env;
}

/// Neither the proxy password nor its Basic token is in the run's output or files.
void expect_no_proxy_secret(const process_result& r, const temp_dir& dir) {
  for (const char* secret : {proxy_password, proxy_token}) {
    EXPECT_EQ(r.out.find(secret), std::string::npos) << "stdout holds a proxy secret:\n" << r.out;
    EXPECT_EQ(r.err.find(secret), std::string::npos) << "stderr holds a proxy secret:\n" << r.err;
    for (const auto& entry : fs::directory_iterator(dir.path())) {
      if (entry.path().filename().string().rfind("tinyproxy", 0) == 0)
        continue;  // the proxy's own files
      EXPECT_EQ(temp_dir::read(entry.path()).find(secret), std::string::npos)
          << entry.path() << " holds a proxy secret";
    }
  }
}

// apply --proxy through tinyproxy to the TLS twin: the proxy saw a CONNECT to the twin, TLS ran
// end to end (the twin's CA, its host name), every row applied exactly once; verify agrees.
TEST_F(ProxyE2E, ApplyAndVerifyThroughTinyproxyWithProxyOption) {
  SKIP_WITHOUT_TINYPROXY();
  const auto csv = start_moving(twin_config(true), 15);
  tinyproxy proxy(dir.path(), {twin().port()});
  auto args = proxy_args(twin(), csv, dir);
  args.insert(args.end(), {"--proxy", proxy.url()});
  const auto r = run_relicense(args, run_env(twin()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
  EXPECT_EQ(twin().stats().duplicate_applies, 0u);
  EXPECT_NE(proxy.log().find("CONNECT 127.0.0.1:" + std::to_string(twin().port())),
            std::string::npos)
      << "tinyproxy saw no CONNECT to the twin:\n"
      << proxy.log();

  const auto v =
      run_relicense({"verify", csv.string(), "--base-url", twin().base_url(), "--rate", "0",
                     "--ip-rate", "0", "--ca-file", twin().ca_file(), "--proxy", proxy.url()},
                    run_env(twin()));
  EXPECT_EQ(v.exit_code, 0) << v.err;
}

// HTTPS_PROXY alone routes the run through tinyproxy (loopback is proxied like any host).
TEST_F(ProxyE2E, ApplyThroughTinyproxyFromHttpsProxyVariable) {
  SKIP_WITHOUT_TINYPROXY();
  const auto csv = start_moving(twin_config(true), 15);
  tinyproxy proxy(dir.path(), {twin().port()});
  auto env = run_env(twin());
  env["HTTPS_PROXY"] = proxy.url();
  const auto r = run_relicense(proxy_args(twin(), csv, dir), env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
  EXPECT_NE(proxy.log().find("CONNECT 127.0.0.1:" + std::to_string(twin().port())),
            std::string::npos)
      << proxy.log();
}

// NO_PROXY naming the twin's host wins over HTTPS_PROXY: the run goes direct (the proxy
// variable points at a port where nothing listens).
TEST_F(ProxyE2E, NoProxyNamingTheHostGoesDirect) {
  const auto csv = start_moving(twin_config(true), 5);
  auto env = run_env(twin());
  env["HTTPS_PROXY"] = "http://127.0.0.1:" + std::to_string(free_port());
  env["NO_PROXY"] = "example.org,127.0.0.1";
  const auto r = run_relicense(proxy_args(twin(), csv, dir), env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
}

// A twin that redirects to its shard listener: the shard's calls go through the proxy too.
TEST_F(ProxyE2E, RedirectsToTheShardGoThroughTheProxy) {
  SKIP_WITHOUT_TINYPROXY();
  const auto csv = start_moving(twin_config(true, true), 15);
  const auto shard_port = port_of(twin().shard_url());
  tinyproxy proxy(dir.path(), {twin().port(), shard_port});
  auto args = proxy_args(twin(), csv, dir);
  args.insert(args.end(), {"--proxy", proxy.url()});
  const auto r = run_relicense(args, run_env(twin()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
  EXPECT_GT(twin().stats().redirects, 0u);
  const auto log = proxy.log();
  EXPECT_NE(log.find("CONNECT 127.0.0.1:" + std::to_string(twin().port())), std::string::npos)
      << log;
  EXPECT_NE(log.find("CONNECT 127.0.0.1:" + std::to_string(shard_port)), std::string::npos)
      << "the shard was reached around the proxy:\n"
      << log;
}

// Through the tunnel TLS is verified exactly as without a proxy: the twin's self-signed
// certificate without --ca-file is refused (exit 3), and nothing reaches the twin().
TEST_F(ProxyE2E, TlsVerificationIsUnchangedThroughTheTunnel) {
  SKIP_WITHOUT_TINYPROXY();
  const auto csv = start_moving(twin_config(true), 5);
  tinyproxy proxy(dir.path(), {twin().port()});
  auto args = proxy_args(twin(), csv, dir);
  args.erase(std::find(args.begin(), args.end(), "--ca-file"), args.end());
  args.insert(args.end(), {"--proxy", proxy.url()});
  const auto r = run_relicense(args, run_env(twin()));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("certificate verify failed"), std::string::npos) << r.err;
  EXPECT_EQ(twin().stats().requests, 0u);
  EXPECT_NE(proxy.log().find("CONNECT 127.0.0.1:" + std::to_string(twin().port())),
            std::string::npos)
      << proxy.log();
}

// Proxy credentials: with the right password tinyproxy lets the run through; with a wrong one it
// answers 407 and the run aborts with exit 3 saying so. The password is never printed or written.
TEST_F(ProxyE2E, ProxyCredentialsWorkAndStaySecret) {
  SKIP_WITHOUT_TINYPROXY();
  const auto csv = start_moving(twin_config(true), 15);
  tinyproxy proxy(dir.path(), {twin().port()},
                  std::make_pair(std::string("alice"), std::string(proxy_password)));
  const std::string authority = "127.0.0.1:" + std::to_string(proxy.port());

  auto env = run_env(twin());
  env["HTTPS_PROXY"] = "http://alice:" + std::string(proxy_password) + "@" + authority;
  const auto ok = run_relicense(proxy_args(twin(), csv, dir), env);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
  expect_no_proxy_secret(ok, dir);

  temp_dir dir2;
  auto args = proxy_args(twin(), csv, dir2);
  args.insert(args.end(),
              {"--proxy", "http://alice:wrong-" + std::string(proxy_password) + "@" + authority});
  const auto bad = run_relicense(args, run_env(twin()));
  EXPECT_EQ(bad.exit_code, 3) << bad.err;
  // tinyproxy answers a CONNECT with bad credentials 401, where most proxies say 407.
  EXPECT_NE(
      bad.err.find("requires authentication (401): check the user and password in the proxy URL"),
      std::string::npos)
      << bad.err;
  expect_no_proxy_secret(bad, dir2);
}

// Plain http (a loopback twin) through tinyproxy: requests go in absolute form, as curl sends
// them, and http_proxy (lower case) selects the proxy.
TEST_F(ProxyE2E, PlainHttpTwinThroughHttpProxyVariable) {
  SKIP_WITHOUT_TINYPROXY();
  const auto csv = start_moving(twin_config(false), 10);
  tinyproxy proxy(dir.path(), {});
  auto env = run_env(twin());
  env["http_proxy"] = proxy.url();
  const auto r = run_relicense(proxy_args(twin(), csv, dir), env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
  EXPECT_NE(proxy.log().find("PUT http://127.0.0.1:" + std::to_string(twin().port()) + "/"),
            std::string::npos)
      << proxy.log();
}

// ----- failures, against a scripted proxy -----------------------------------------------------

/// Requests a scripted proxy read, shared with its server thread.
struct seen_requests {
  std::mutex mutex;
  std::vector<io::test::received_request> list;
};

/// A scripted proxy answering every CONNECT with `answer` (a whole HTTP response head).
struct scripted_proxy {
  explicit scripted_proxy(std::string answer)
      : seen(std::make_shared<seen_requests>()),
        server([answer, seen = seen](io::test::server_session& s) {
          while (auto req = s.read_request()) {
            {
              std::lock_guard lock(seen->mutex);
              seen->list.push_back(*req);
            }
            if (req->method != "CONNECT" || !s.write(answer)) return;
          }
        }) {}
  std::string url(bool with_credentials = true) const {
    return std::string("http://") +
           (with_credentials ? "alice:" + std::string(proxy_password) + "@" : "") +
           "127.0.0.1:" + std::to_string(server.port());
  }
  io::test::received_request first() const {
    std::lock_guard lock(seen->mutex);
    return seen->list.empty() ? io::test::received_request{} : seen->list.front();
  }
  std::shared_ptr<seen_requests> seen;
  io::test::script_server server;
};

std::vector<std::string> apply_to(const std::string& base_url, const fs::path& csv,
                                  const temp_dir& dir, const std::string& proxy_url) {
  return {"apply",      csv.string(),
          "--base-url", base_url,
          "--rate",     "0",
          "--ip-rate",  "0",
          "--report",   (dir.path() / "report.csv").string(),
          "--journal",  (dir.path() / "run.journal").string(),
          "--progress", "off",
          "--proxy",    proxy_url};
}

fs::path small_csv(const temp_dir& dir) {
  std::string csv = "organizationId,licenseId,deviceSerial\n";
  for (int i = 0; i < 20; ++i)
    csv += "1,L" + std::to_string(i) + ",Q2AA-BBBB-CC" + std::to_string(10 + i) + "\n";
  return dir.write("in.csv", csv);
}

std::map<std::string, std::string> key_env() {
  std::map<std::string, std::string> env{{"MERAKI_DASHBOARD_API_KEY", "k-not-a-real-key"}};
  for (const char* v : {"https_proxy", "HTTPS_PROXY", "http_proxy", "all_proxy", "ALL_PROXY",
                        "no_proxy", "NO_PROXY"}) {
    env[v] = "";
  }
  return env;
}

// A 407 from the proxy: exit 3, a message about the proxy's credentials, the password unsaid.
TEST(ProxyFailures, AuthenticationRequiredAborts) {
  scripted_proxy proxy(
      "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\n"
      "Content-Length: 0\r\n\r\n");
  temp_dir dir;
  const auto r = run_relicense(
      apply_to("https://api.meraki.com/api/v1", small_csv(dir), dir, proxy.url()), key_env());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(
      r.err.find("proxy 127.0.0.1:" + std::to_string(proxy.server.port()) +
                 " requires authentication (407): check the user and password in the proxy URL"),
      std::string::npos)
      << r.err;
  // At most a connection opened ahead and one request per row; retries would make it 6 per row.
  EXPECT_LE(proxy.server.requests(), 40) << "a 407 is retried row by row";
  expect_no_proxy_secret(r, dir);
  // The CONNECT names the API's host and port, and carries the proxy's Basic credentials.
  const auto req = proxy.first();
  EXPECT_EQ(req.method, "CONNECT");
  EXPECT_EQ(req.target, "api.meraki.com:443");
  EXPECT_EQ(req.headers.count("host") ? req.headers.at("host") : "", "api.meraki.com:443");
  EXPECT_EQ(req.headers.count("proxy-authorization") ? req.headers.at("proxy-authorization") : "",
            "Basic " + std::string(proxy_token));
  EXPECT_EQ(req.headers.count("authorization"), 0u) << "the API key went to the proxy";
}

// A refused CONNECT (403): exit 3, naming the proxy, the target and the proxy's answer, even when
// the proxy echoes the credentials back in its reason phrase.
TEST(ProxyFailures, RefusedTunnelAborts) {
  scripted_proxy proxy("HTTP/1.1 403 Forbidden " + std::string(proxy_password) + " " + proxy_token +
                       "\r\nContent-Length: 0\r\n\r\n");
  temp_dir dir;
  const auto r = run_relicense(
      apply_to("https://api.meraki.com/api/v1", small_csv(dir), dir, proxy.url()), key_env());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("proxy 127.0.0.1:" + std::to_string(proxy.server.port()) +
                       " refused the tunnel to api.meraki.com:443: 403 Forbidden"),
            std::string::npos)
      << r.err;
  expect_no_proxy_secret(r, dir);
}

// A 502 from the proxy (it cannot reach the API) is a refused tunnel too.
TEST(ProxyFailures, BadGatewayAborts) {
  scripted_proxy proxy("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
  temp_dir dir;
  const auto r = run_relicense(
      apply_to("https://api.meraki.com/api/v1", small_csv(dir), dir, proxy.url(false)), key_env());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("refused the tunnel to api.meraki.com:443: 502 Bad Gateway"),
            std::string::npos)
      << r.err;
}

// Nothing listens where the proxy should be: exit 3, "cannot connect to proxy ...".
TEST(ProxyFailures, UnreachableProxyAborts) {
  temp_dir dir;
  const std::string authority = "127.0.0.1:" + std::to_string(free_port());
  const auto r =
      run_relicense(apply_to("https://api.meraki.com/api/v1", small_csv(dir), dir,
                             "http://alice:" + std::string(proxy_password) + "@" + authority),
                    key_env());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("cannot connect to proxy " + authority + ": Connection refused"),
            std::string::npos)
      << r.err;
  expect_no_proxy_secret(r, dir);
}

// Plain http through a proxy: the request (the inventory read that comes first) goes in absolute
// form with Proxy-Authorization, and the proxy's 407 aborts the run like a refused tunnel would.
TEST(ProxyFailures, PlainHttpThroughProxySendsAbsoluteFormAndStopsOn407) {
  auto seen = std::make_shared<std::pair<std::mutex, std::vector<io::test::received_request>>>();
  io::test::script_server server([seen](io::test::server_session& s) {
    while (auto req = s.read_request()) {
      {
        std::lock_guard lock(seen->first);
        seen->second.push_back(*req);
      }
      if (!s.write("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"))
        return;
    }
  });
  temp_dir dir;
  const std::string proxy_url =
      "http://alice:" + std::string(proxy_password) + "@127.0.0.1:" + std::to_string(server.port());
  const auto r = run_relicense(
      apply_to("http://127.0.0.1:9/api/v1", small_csv(dir), dir, proxy_url), key_env());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("requires authentication (407)"), std::string::npos) << r.err;
  expect_no_proxy_secret(r, dir);
  std::lock_guard lock(seen->first);
  ASSERT_FALSE(seen->second.empty());
  const auto& req = seen->second.front();
  // The first request is the organization's pre-flight GET.
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target, "http://127.0.0.1:9/api/v1/organizations/1") << req.target;
  EXPECT_EQ(req.headers.at("host"), "127.0.0.1:9");
  EXPECT_EQ(req.headers.at("proxy-authorization"), "Basic " + std::string(proxy_token));
}

// Unsupported proxy schemes and --proxy with --no-proxy are usage errors: exit 2, nothing sent.
TEST(ProxyFailures, BadProxySettingsAreUsageErrors) {
  temp_dir dir;
  const auto csv = small_csv(dir);
  auto socks = run_relicense(
      apply_to("https://api.meraki.com/api/v1", csv, dir, "socks5://127.0.0.1:1080"), key_env());
  EXPECT_EQ(socks.exit_code, 2) << socks.err;
  EXPECT_NE(socks.err.find("--proxy: proxy scheme socks5:// is not supported"), std::string::npos)
      << socks.err;

  auto env = key_env();
  env["HTTPS_PROXY"] = "socks5://alice:" + std::string(proxy_password) + "@127.0.0.1:1080";
  auto from_env =
      run_relicense({"verify", csv.string(), "--base-url", "https://api.meraki.com/api/v1"}, env);
  EXPECT_EQ(from_env.exit_code, 2) << from_env.err;
  EXPECT_NE(from_env.err.find("HTTPS_PROXY: proxy scheme socks5:// is not supported"),
            std::string::npos)
      << from_env.err;
  EXPECT_EQ(from_env.err.find(proxy_password), std::string::npos) << from_env.err;

  auto both = apply_to("https://api.meraki.com/api/v1", csv, dir, "http://127.0.0.1:3128");
  both.push_back("--no-proxy");
  EXPECT_EQ(run_relicense(both, key_env()).exit_code, 2);
}

}  // namespace
}  // namespace relicense::fault_test
