// Faults around the rows themselves, in put, batch and auto modes: SIGTERM in the middle of a
// run and while inventories are paged (the README's systemd unit relies on exit 130 and a
// journal that resumes), faults while inventories are paged (--skip-unchanged, verify), and
// redirects the client must not follow (more than 5 hops, a foreign host). In each, the state
// ends exact after --resume where the run could not finish, and every row is reported once.
#include "relicense/sim/server.hpp"

#include "fault_support.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <functional>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace relicense::fault_test {
namespace {

/// An HTTP/1.1 server on 127.0.0.1 that answers every request with a 307 to the Location its
/// function gives for the request target (keep-alive, one thread per connection).
class redirect_server {
public:
  using location_fn = std::function<std::string(std::uint16_t port, const std::string& target)>;

  explicit redirect_server(location_fn location) : location_(std::move(location)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 64) != 0)
      throw std::runtime_error("cannot listen");
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~redirect_server() {
    stop_ = true;
    acceptor_.join();
    std::lock_guard lock(mutex_);
    for (auto& t : sessions_) t.join();
    ::close(listen_fd_);
  }
  redirect_server(const redirect_server&) = delete;
  redirect_server& operator=(const redirect_server&) = delete;

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/api/v1"; }
  int requests() const noexcept { return requests_.load(); }

private:
  /// Waits (bounded slices, so stop is seen) until `fd` is readable; false on stop.
  bool readable(int fd) const {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) return true;
    }
    return false;
  }
  void accept_loop() {
    while (readable(listen_fd_)) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mutex_);
      sessions_.emplace_back([this, fd] { serve(fd); });
    }
  }
  void serve(int fd) {
    std::string in;
    char buf[4096];
    for (;;) {
      auto end = in.find("\r\n\r\n");
      while (end == std::string::npos) {
        if (!readable(fd)) return close_fd(fd);
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return close_fd(fd);
        in.append(buf, static_cast<std::size_t>(n));
        end = in.find("\r\n\r\n");
      }
      std::size_t body = 0;
      for (const char* h : {"Content-Length: ", "content-length: "}) {
        if (auto p = in.find(h); p != std::string::npos && p < end)
          body = std::stoul(in.substr(p + 16));
      }
      while (in.size() < end + 4 + body) {
        if (!readable(fd)) return close_fd(fd);
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return close_fd(fd);
        in.append(buf, static_cast<std::size_t>(n));
      }
      const auto sp1 = in.find(' ');
      const auto sp2 = in.find(' ', sp1 + 1);
      const std::string target = in.substr(sp1 + 1, sp2 - sp1 - 1);
      in.erase(0, end + 4 + body);
      ++requests_;
      const std::string reply =
          "HTTP/1.1 307 Temporary Redirect\r\nLocation: " + location_(port_, target) +
          "\r\nContent-Length: 0\r\n\r\n";
      if (::write(fd, reply.data(), reply.size()) != static_cast<ssize_t>(reply.size()))
        return close_fd(fd);
    }
  }
  static void close_fd(int fd) { ::close(fd); }

  location_fn location_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> sessions_;
};

/// Apply arguments for a mode against `base_url`, with report and journal in `dir`.
std::vector<std::string> mode_args(const std::string& mode, const std::filesystem::path& csv,
                                   const std::string& base_url, const std::filesystem::path& dir,
                                   const std::string& rate = "0") {
  return {"apply",          csv.string(),
          "--mode",         mode,
          "--base-url",     base_url,
          "--rate",         rate,
          "--burst",        "10",
          "--ip-rate",      "0",
          "--concurrency",  "8",
          "--timeout",      "0.5",
          "--max-attempts", "30",
          "--report",       (dir / "report.csv").string(),
          "--journal",      (dir / "run.journal").string(),
          "--progress",     "off"};
}

// ---------------------------------------------------------------------------------------------

class RunFaults : public mode_test {};

// SIGTERM in the middle of a run: exit 130 with the --resume hint, every row reported once and
// none failed; the --resume ends exact with every row reported once.
TEST_P(RunFaults, SigtermMidRunExits130AndResumesExact) {
  const std::size_t per_org = batch() ? 1000 : 100;
  auto cfg = relicense::test::twin_config(2, static_cast<unsigned>(per_org), 2121);
  cfg.batch_actions_per_second = 200;  // a batch runs ~0.5 s: some run at the signal
  const auto csv = start_moving(cfg, per_org);
  const std::size_t total = 2 * per_org;
  const auto args = mode_args(GetParam(), csv, twin().base_url(), dir.path(), "50");

  child c(args, twin().api_key(), dir.path(), "first");
  ASSERT_TRUE(wait_for_applied(c, twin(), batch(), batch() ? 200 : 30))
      << "the run ended before the signal";
  ::kill(c.pid(), SIGTERM);
  const auto r = c.wait(std::chrono::seconds(60));
  ASSERT_FALSE(r.timed_out) << "SIGTERM did not end the run";
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  auto first = outcomes_once(report, total);
  EXPECT_EQ(first[io::outcome::failed], 0u);
  EXPECT_GT(first[io::outcome::not_attempted], 0u);

  auto a = args;
  a.push_back("--resume");
  const auto r2 = run(a, twin().api_key(), dir.path());
  EXPECT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
  expect_all_in_place(report, total);
  EXPECT_EQ(io::read_journal(journal).done.size(), total);
}

// SIGTERM while the pre-flight reads the organizations (slow answers): exit 130 as for a signal
// anywhere else, every row not_attempted and in the report, nothing sent; --resume ends exact.
TEST_P(RunFaults, SigtermDuringThePreflightExits130AndResumesExact) {
  auto cfg = relicense::test::twin_config(2, 30, 2323);
  cfg.latency = std::chrono::milliseconds(400);
  cfg.latency_distribution = relicense::sim::latency_dist::fixed;
  cfg.batch_actions_per_second = 5000;
  const auto csv = start_moving(cfg, 20);
  const auto args = mode_args(GetParam(), csv, twin().base_url(), dir.path());

  child c(args, twin().api_key(), dir.path(), "first");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!c.poll() && twin().stats().requests < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  ASSERT_FALSE(c.poll()) << "the run ended before the signal";
  ::kill(c.pid(), SIGTERM);
  const auto r = c.wait(std::chrono::seconds(60));
  ASSERT_FALSE(r.timed_out) << "SIGTERM did not end the run";
  EXPECT_EQ(r.exit_code, 130) << r.err;
  auto first = outcomes_once(report, 40);
  EXPECT_EQ(first[io::outcome::not_attempted], 40u);
  EXPECT_EQ(twin().stats().puts_applied + twin().stats().batch_actions_applied, 0u);

  auto a = args;
  a.push_back("--resume");
  const auto r2 = run(a, twin().api_key(), dir.path());
  EXPECT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
  expect_all_in_place(report, 40);
}

// SIGTERM while the inventories are still being paged (--skip-unchanged, slow answers): exit 130,
// nothing applied, every row reported once; the --resume ends exact.
TEST_P(RunFaults, SigtermWhileInventoriesArePagedExits130AndResumesExact) {
  auto cfg = relicense::test::twin_config(2, 2500, 2222);  // three pages of 1000 per org
  cfg.latency = std::chrono::milliseconds(150);
  cfg.batch_actions_per_second = 5000;
  const auto csv = start_moving(cfg, 40);
  auto args = mode_args(GetParam(), csv, twin().base_url(), dir.path());
  args.push_back("--skip-unchanged");

  child c(args, twin().api_key(), dir.path(), "first");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!c.poll() && twin().stats().requests < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  ASSERT_FALSE(c.poll()) << "the run ended before the signal";
  ::kill(c.pid(), SIGTERM);
  const auto r = c.wait(std::chrono::seconds(60));
  ASSERT_FALSE(r.timed_out) << "SIGTERM did not end the run";
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_EQ(applied_so_far(twin(), batch()), 0u);
  auto first = outcomes_once(report, 80);
  EXPECT_EQ(first[io::outcome::not_attempted], 80u);

  args.push_back("--resume");
  const auto r2 = run(args, twin().api_key(), dir.path());
  EXPECT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
  expect_all_in_place(report, 80);
}

// Faults while inventories are paged (5xx, drops, slow answers, 429s, a redirect to the shard):
// --skip-unchanged still applies exactly the rows that change and reports the others unchanged,
// each once, and verify, under the same faults, finds every row in place.
TEST_P(RunFaults, InventoryPagingUnderFaults) {
  auto cfg = relicense::test::twin_config(2, 2500, 2323);  // three pages of 1000 per org
  cfg.fault_5xx = 0.1;
  cfg.fault_drop = 0.05;
  cfg.fault_slow = 0.05;
  cfg.fault_429 = 0.1;
  cfg.slow_delay = std::chrono::milliseconds(1500);
  cfg.redirect = true;
  cfg.batch_actions_per_second = 5000;
  start(cfg);
  // 60 rows per org: 30 that move a license, 30 that ask for what it already holds.
  std::string text = "organizationId,licenseId,deviceSerial\n";
  for (const auto& org : twin().orgs()) {
    for (std::size_t i = 0; i < 60; ++i) {
      const auto& lic = org.licenses[i];
      std::string serial = lic.device_serial.value_or("");
      if (i < 30)
        serial = org.devices[(i + 1) % org.devices.size()] == serial
                     ? org.devices[i % org.devices.size()]
                     : org.devices[(i + 1) % org.devices.size()];
      wanted[org.id][lic.id] = serial;
      text += org.id + "," + lic.id + "," + serial + "\n";
    }
  }
  const auto csv = dir.write("in.csv", text);
  auto args = mode_args(GetParam(), csv, twin().base_url(), dir.path());
  args.push_back("--skip-unchanged");
  const auto r = run(args, twin().api_key(), dir.path(), std::chrono::seconds(180));
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
  auto n = outcomes_once(report, 120);
  EXPECT_EQ(n[io::outcome::applied] + n[io::outcome::unchanged], 120u);
  EXPECT_GE(n[io::outcome::unchanged], 60u);
  const auto s = twin().stats();
  EXPECT_GT(s.fault_5xx + s.fault_5xx_applied + s.fault_drop + s.fault_slow + s.fault_429, 0u);
  EXPECT_GT(s.redirects, 0u);

  const auto v = run({"verify", csv.string(), "--base-url", twin().base_url(), "--rate", "0",
                      "--ip-rate", "0", "--timeout", "0.5", "--max-attempts", "30"},
                     twin().api_key(), dir.path(), std::chrono::seconds(120));
  ASSERT_FALSE(v.timed_out);
  EXPECT_EQ(v.exit_code, 0) << v.err;
}

/// A redirect the client must refuse: where it points, and what the rows' error then says.
struct redirect_case {
  const char* name;
  redirect_server::location_fn location;
  const char* error;
};

void PrintTo(const redirect_case& c, std::ostream* os) { *os << c.name; }

class Redirects : public fault_test,
                  public ::testing::WithParamInterface<std::tuple<redirect_case, std::string>> {};

// A server that redirects forever, or to a foreign host: every row fails once with the reason,
// no request goes beyond the 5-hop limit or to the foreign host, and a --resume against the real
// API ends exact with every row reported once.
TEST_P(Redirects, RefusedThenResumeAgainstTheApiEndsExact) {
  const auto& rc = std::get<0>(GetParam());
  const std::string& mode = std::get<1>(GetParam());
  auto cfg = relicense::test::twin_config(2, 30, 2424);
  cfg.batch_actions_per_second = 5000;
  const auto csv = start_moving(cfg, 30);
  redirect_server hostile(rc.location);
  auto args = mode_args(mode, csv, hostile.base_url(), dir.path());
  const auto r = run(args, twin().api_key(), dir.path(), std::chrono::seconds(60));
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  std::size_t failed = 0;
  for (const auto& row : io::read_report(report).rows) {
    failed += row.result == io::outcome::failed;
    EXPECT_NE(row.error.find(rc.error), std::string::npos) << row.error;
  }
  EXPECT_EQ(failed, 60u);
  outcomes_once(report, 60);
  // Put mode: one request and at most 5 hops per row; batch mode: per batch; and before them, per
  // organization, the pre-flight's GET and the inventory's, each with at most 5 hops.
  const int calls = mode == "batch" ? 2 : 60;
  EXPECT_LE(hostile.requests(), calls * 6 + 2 * 2 * 6);
  EXPECT_EQ(twin().stats().requests, 0u);

  // Inventory reads meet the same redirects: verify cannot read the organizations and says so.
  const int before = hostile.requests();
  const auto v = run(
      {"verify", csv.string(), "--base-url", hostile.base_url(), "--rate", "0", "--ip-rate", "0"},
      twin().api_key(), dir.path(), std::chrono::seconds(60));
  ASSERT_FALSE(v.timed_out);
  EXPECT_EQ(v.exit_code, 1) << v.err;
  EXPECT_NE(v.err.find("redirect"), std::string::npos) << v.err;
  EXPECT_LE(hostile.requests() - before, 2 * 6);  // one GET and at most 5 hops per org

  // The same journal against the real API: the refused rows were not applied, so they go out.
  args[5] = twin().base_url();
  args.push_back("--resume");
  const auto r2 = run(args, twin().api_key(), dir.path());
  EXPECT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
  expect_all_in_place(report, 60);
}

const redirect_case endless{"endless",
                            [](std::uint16_t port, const std::string& target) {
                              return "http://127.0.0.1:" + std::to_string(port) + target;
                            },
                            "more than 5 redirects"};
const redirect_case foreign{
    "foreign_host",
    [](std::uint16_t, const std::string& target) { return "http://evil.example" + target; },
    "refused redirect to http://evil.example"};

INSTANTIATE_TEST_SUITE_P(Modes, RunFaults, ::testing::Values("put", "batch", "auto"), mode_name);
INSTANTIATE_TEST_SUITE_P(
    EndlessAndForeign, Redirects,
    ::testing::Combine(::testing::Values(endless, foreign),
                       ::testing::Values(std::string("put"), std::string("batch"))),
    [](const ::testing::TestParamInfo<std::tuple<redirect_case, std::string>>& i) {
      return std::string(std::get<0>(i.param).name) + "_" + std::get<1>(i.param);
    });

}  // namespace
}  // namespace relicense::fault_test
