#include "twin.hpp"

#include "relicense/test/fake_clock.hpp"

#include <gtest/gtest.h>

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

} // namespace

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
  EXPECT_EQ(t.stats().max_org_requests_1s, 200u);  // every request counts, 429s included
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
  const std::string body = R"({"confirmed":true,"actions":[{"resource":"/organizations/)" + org.id +
                           "/licenses/" + org.licenses[0].id +
                           R"(","operation":"update","body":{"deviceSerial":null}},{"resource":"/organizations/)" +
                           org.id + "/licenses/" + org.licenses[1].id +
                           R"(","operation":"update","body":{"deviceSerial":")" + org.devices[3] + R"("}}]})";
  const std::string target = "/api/v1/organizations/" + org.id + "/actionBatches";
  const std::string key = t.api_key();
  request_view post = get(target, key);
  post.method = "POST";
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
  EXPECT_NE(status.body.find(R"("completed":true,"failed":false,"errors":[],"createdResources":[])"),
            std::string::npos)
      << status.body;
  auto st = t.state(clock.now())[org.id];
  EXPECT_EQ(st[org.licenses[0].id], std::nullopt);
  EXPECT_EQ(st[org.licenses[1].id], org.devices[3]);
}
