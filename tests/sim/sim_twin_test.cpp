#include "twin.hpp"

#include "relicense/test/fake_clock.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

using relicense::sim::detail::request_view;
using relicense::sim::detail::token_bucket;
using relicense::sim::detail::twin;
using relicense::test::fake_clock;

namespace {

request_view get(std::string_view target, std::string_view key) {
  request_view r;
  r.method = "GET";
  r.target = target;
  r.meraki_key = key;
  r.client_ip = "127.0.0.1";
  return r;
}

}  // namespace

// A full bucket serves `capacity` requests at once, then one per 1/rate seconds.
TEST(SimTokenBucket, BurstThenRate) {
  fake_clock clock;
  token_bucket b(10, 10, clock.now());
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(b.try_take(clock.now())) << i;
  EXPECT_FALSE(b.try_take(clock.now()));
  EXPECT_NEAR(b.wait_seconds(clock.now()), 0.1, 1e-9);
  clock.advance(std::chrono::milliseconds(100));
  EXPECT_TRUE(b.try_take(clock.now()));
  EXPECT_FALSE(b.try_take(clock.now()));
  clock.advance(std::chrono::seconds(100));  // refills only up to capacity
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(b.try_take(clock.now()));
  EXPECT_FALSE(b.try_take(clock.now()));
}

// The per-org budget allows at most burst + 2*rate requests in the first 2 s (30 at 10/10).
TEST(SimTwin, OrgBudgetOverTwoSeconds) {
  relicense::sim::sim_config c;
  c.orgs = 1;
  c.licenses_per_org = 5;
  c.ip_rate = 1e6;
  twin t(c);
  fake_clock clock;
  t.set_budget(10, 10, 1e6, clock.now());
  const std::string target = "/api/v1/organizations/" + t.orgs(clock.now())[0].id + "/licenses";
  int ok = 0, limited = 0;
  for (int ms = 0; ms < 2000; ms += 5) {  // 400 attempts, one per 5 ms
    auto r = t.handle(get(target, t.api_key()), clock.now());
    (r.status == 200 ? ok : limited) += 1;
    if (r.status == 429) {
      EXPECT_EQ(r.body, R"({"errors":["API rate limit exceeded for organization"]})");
      EXPECT_GE(r.retry_after, 1);
    }
    clock.advance(std::chrono::milliseconds(5));
  }
  EXPECT_GE(ok, 29);
  EXPECT_LE(ok, 30);
  EXPECT_EQ(ok + limited, 400);
  EXPECT_EQ(t.stats(clock.now()).max_org_requests_1s, 200u);  // every request counts, 429s included
}

// An asynchronous batch runs when its time has come, not before; a sync one runs at once.
TEST(SimTwin, AsyncBatchRunsAtConfiguredSpeed) {
  relicense::sim::sim_config c;
  c.orgs = 1;
  c.licenses_per_org = 5;
  c.rate = 0;
  c.batch_actions_per_second = 2;  // 2 actions: due after 1 s
  twin t(c);
  fake_clock clock;
  auto org = t.orgs(clock.now())[0];
  const std::string body =
      R"({"confirmed":true,"actions":[{"resource":"/organizations/)" + org.id + "/licenses/" +
      org.licenses[0].id +
      R"(","operation":"update","body":{"deviceSerial":null}},{"resource":"/organizations/)" +
      org.id + "/licenses/" + org.licenses[1].id +
      R"(","operation":"update","body":{"deviceSerial":")" + org.devices[3] + R"("}}]})";
  const std::string target = "/api/v1/organizations/" + org.id + "/actionBatches";
  const std::string key = t.api_key();
  request_view post = get(target, key);
  post.method = "POST";
  post.content_type = "application/json";
  post.body = body;
  auto r = t.handle(post, clock.now());
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_NE(r.body.find(R"("completed":false)"), std::string::npos);
  auto id_start = r.body.find(R"("id":")") + 6;
  const std::string id = r.body.substr(id_start, r.body.find('"', id_start) - id_start);
  clock.advance(std::chrono::milliseconds(900));
  auto status = t.handle(get(target + "/" + id, t.api_key()), clock.now());
  EXPECT_NE(status.body.find(R"("completed":false)"), std::string::npos) << status.body;
  EXPECT_EQ(t.state(clock.now())[org.id][org.licenses[1].id], org.licenses[1].device_serial);
  clock.advance(std::chrono::milliseconds(200));
  status = t.handle(get(target + "/" + id, t.api_key()), clock.now());
  EXPECT_NE(
      status.body.find(R"("completed":true,"failed":false,"errors":[],"createdResources":[])"),
      std::string::npos)
      << status.body;
  auto st = t.state(clock.now())[org.id];
  EXPECT_EQ(st[org.licenses[0].id], std::nullopt);
  EXPECT_EQ(st[org.licenses[1].id], org.devices[3]);
}

namespace {

request_view put(std::string_view target, std::string_view key, std::string_view body) {
  request_view r = get(target, key);
  r.method = "PUT";
  r.content_type = "application/json";
  r.body = body;
  return r;
}

}  // namespace

// The background application spends about R calls/s of an org's budget: alone it is never
// throttled; against a client that takes every token it mostly gets 429s, and the two together
// never exceed the budget; the same seed and request times give the same counts; rate 0 stops it.
TEST(SimTwin, BackgroundApplicationSharesTheOrgBudget) {
  relicense::sim::sim_config c;
  c.orgs = 1;
  c.licenses_per_org = 5;
  c.rate = 10;
  c.burst = 10;
  c.ip_rate = 1e6;
  c.background_rate = 3;
  auto run = [&](bool foreground) {
    twin t(c);
    fake_clock clock;
    t.reset(clock.now());
    const std::string target = "/api/v1/organizations/" + t.orgs(clock.now())[0].id + "/licenses";
    int ok = 0;
    for (int ms = 0; ms < 100'000; ms += 20) {  // 50 requests/s offered for 100 s
      if (foreground && t.handle(get(target, t.api_key()), clock.now()).status == 200) ++ok;
      clock.advance(std::chrono::milliseconds(20));
    }
    return std::make_pair(ok, t.stats(clock.now()));
  };
  auto [idle_ok, idle] = run(false);
  // 3/s x 100 s: a Poisson count of 300 is within +-80 with overwhelming odds.
  EXPECT_NEAR(static_cast<double>(idle.background_calls), 300, 80);
  EXPECT_EQ(idle.background_rate_limited, 0u);
  EXPECT_EQ(idle.requests, 0u);

  auto [ok, busy] = run(true);
  auto [ok_again, busy_again] = run(true);
  EXPECT_EQ(ok, ok_again);
  EXPECT_EQ(busy.background_calls, busy_again.background_calls);
  EXPECT_EQ(busy.background_rate_limited, busy_again.background_rate_limited);
  EXPECT_GT(busy.background_rate_limited, busy.background_calls / 2);
  // One budget for both: 10 + 10/s over 100 s.
  const auto background_ok = static_cast<int>(busy.background_calls - busy.background_rate_limited);
  EXPECT_GT(background_ok, 0);
  EXPECT_NEAR(ok + background_ok, 1010, 2);
  EXPECT_EQ(static_cast<std::uint64_t>(ok), busy.by_status[200]);

  twin t(c);
  fake_clock clock;
  t.reset(clock.now());
  clock.advance(std::chrono::seconds(10));
  t.set_background_rate(0, clock.now());
  const auto before = t.stats(clock.now()).background_calls;
  EXPECT_GT(before, 0u);
  clock.advance(std::chrono::seconds(100));
  EXPECT_EQ(t.stats(clock.now()).background_calls, before);
}

// --latency-dist lognormal: median at the configured latency, p99 near 3.2x and p99.9 near 4.6x
// it, never above 6x; fixed: exactly the configured latency.
TEST(SimTwin, LatencyDistribution) {
  relicense::sim::sim_config c;
  c.orgs = 1;
  c.licenses_per_org = 5;
  c.rate = 0;
  c.latency = std::chrono::milliseconds(500);
  twin t(c);
  fake_clock clock;
  const std::string target = "/api/v1/organizations/" + t.orgs(clock.now())[0].id + "/licenses";
  std::vector<long long> ms;
  for (int i = 0; i < 20000; ++i)
    ms.push_back(t.handle(get(target, t.api_key()), clock.now()).delay.count());
  std::sort(ms.begin(), ms.end());
  EXPECT_NEAR(static_cast<double>(ms[10000]), 500, 25);
  EXPECT_NEAR(static_cast<double>(ms[19800]), 1600, 200);  // p99
  EXPECT_NEAR(static_cast<double>(ms[19980]), 2300, 500);  // p99.9
  EXPECT_LE(ms.back(), 3000);
  EXPECT_GE(ms.front(), 30);

  c.latency_distribution = relicense::sim::latency_dist::fixed;
  twin f(c);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(f.handle(get(target, f.api_key()), clock.now()).delay,
              std::chrono::milliseconds(500));
}

// --batch-action-ms: a batch of n actions completes n x MS after it is created; a synchronous
// one answers after that time.
TEST(SimTwin, BatchActionTime) {
  relicense::sim::sim_config c;
  c.orgs = 1;
  c.licenses_per_org = 20;
  c.rate = 0;
  c.batch_action_ms = 330;
  twin t(c);
  fake_clock clock;
  t.reset(clock.now());
  auto org = t.orgs(clock.now())[0];
  auto body = [&](std::size_t first, std::size_t n, bool sync) {
    std::string b = std::string(R"({"confirmed":true,"synchronous":)") + (sync ? "true" : "false") +
                    R"(,"actions":[)";
    for (std::size_t i = first; i < first + n; ++i) {
      if (i != first) b += ',';
      b += R"({"resource":"/organizations/)" + org.id + "/licenses/" + org.licenses[i].id +
           R"(","operation":"update","body":{"deviceSerial":null}})";
    }
    return b + "]}";
  };
  const std::string target = "/api/v1/organizations/" + org.id + "/actionBatches";
  const std::string b10 = body(0, 10, false);
  const std::string key = t.api_key();
  request_view post = put(target, key, b10);
  post.method = "POST";
  auto r = t.handle(post, clock.now());
  ASSERT_EQ(r.status, 201u) << r.body;
  auto id_start = r.body.find(R"("id":")") + 6;
  const std::string id = r.body.substr(id_start, r.body.find('"', id_start) - id_start);
  clock.advance(std::chrono::milliseconds(3290));
  EXPECT_NE(
      t.handle(get(target + "/" + id, t.api_key()), clock.now()).body.find(R"("completed":false)"),
      std::string::npos);
  clock.advance(std::chrono::milliseconds(20));
  EXPECT_NE(
      t.handle(get(target + "/" + id, t.api_key()), clock.now()).body.find(R"("completed":true)"),
      std::string::npos);

  const std::string b3 = body(10, 3, true);
  post.body = b3;
  auto sync = t.handle(post, clock.now());
  ASSERT_EQ(sync.status, 201u) << sync.body;
  EXPECT_EQ(sync.delay, std::chrono::milliseconds(990));
}
