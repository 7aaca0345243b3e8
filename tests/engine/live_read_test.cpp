// The live read on a fake clock: per organization its model, its license records and its
// devices, one call after another, pages followed; co-term orgs, retries and stops.
#include "mode_support.hpp"

#include "relicense/engine/live_read_mode.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using namespace relicense;
using engine::scheduler;
using kind = scheduler::pick::kind;
using test::json_answer;
using test::mode_rig;

namespace {

/// Picks the next task, checks its request's path (when given), and answers it with `a`.
scheduler::pick answer_next(mode_rig& rig, engine::mode& m, const engine::answer& a,
                            std::string_view path = {}) {
  auto p = rig.sched.next(rig.clock.now());
  EXPECT_EQ(p.what, kind::task);
  if (p.what != kind::task) return p;
  auto rq = m.request_for(p.org, p.task, rig.clock.now());
  if (!path.empty()) {
    EXPECT_EQ(rq.at ? rq.at->path : rq.path, path);
  }
  m.on_answer(p.org, p.task, a, rig.parser, rig.clock.now());
  return p;
}

constexpr std::string_view per_device_org =
    R"({"id":"100","name":"A","licensing":{"model":"per-device"}})";

}  // namespace

// The model, every license page and every device page are read, in that order, into one inventory.
TEST(LiveReadMode, ReadsTheModelLicensesAndDevicesOfAnOrganization) {
  mode_rig rig(test::make_plan(1, 0));
  const io::origin api{false, "127.0.0.1", 8080};
  engine::live_read_mode m(rig.context(), api);
  m.start(rig.clock.now());
  auto org = json_answer(200, std::string(per_device_org));
  answer_next(rig, m, org, "/organizations/100");
  auto lic1 = json_answer(
      200,
      R"([{"id":"L1","licenseType":"MX64-ENT","state":"active","deviceSerial":"q2aa-0000-0001"}])");
  lic1.where = api;
  lic1.resp.link =
      "<http://127.0.0.1:8080/api/v1/organizations/100/licenses?startingAfter=L1>; rel=next";
  answer_next(rig, m, lic1, "/organizations/100/licenses?perPage=1000");
  auto lic2 = json_answer(
      200, R"([{"id":"L2","licenseType":"MX64-ENT","state":"unused","deviceSerial":null}])");
  lic2.where = api;
  answer_next(rig, m, lic2, "/api/v1/organizations/100/licenses?startingAfter=L1");
  auto dev = json_answer(
      200,
      R"([{"serial":"Q2AA-0000-0001","model":"MX64"},{"serial":"Q2BB-0000-0002","model":"MX67"}])");
  dev.where = api;
  answer_next(rig, m, dev, "/organizations/100/inventory/devices?perPage=1000");
  EXPECT_EQ(rig.sched.pending(), 0u);
  m.finish_remaining();

  auto inv = m.take_inventories();
  ASSERT_EQ(inv.count("100"), 1u);
  const auto& i = inv.at("100");
  EXPECT_EQ(i.licensing_model(), "per-device");
  ASSERT_EQ(i.licenses().size(), 2u);
  EXPECT_EQ(i.find("L1")->device_serial, "Q2AA-0000-0001");
  EXPECT_EQ(i.find("L2")->state, "unused");
  EXPECT_TRUE(i.devices_known());
  EXPECT_TRUE(i.has_device("Q2BB-0000-0002"));
  EXPECT_TRUE(m.take_errors().empty());
}

// An org whose model is not per-device gets an inventory with its model and no license call.
TEST(LiveReadMode, AnOrganizationThatIsNotPerDeviceKeepsItsModelOnly) {
  mode_rig rig(test::make_plan(1, 0));
  engine::live_read_mode m(rig.context(), io::origin{false, "api.test", 80});
  m.start(rig.clock.now());
  answer_next(rig, m,
              json_answer(200, R"({"id":"100","name":"A","licensing":{"model":"co-term"}})"));
  EXPECT_EQ(rig.sched.pending(), 0u);
  auto inv = m.take_inventories();
  ASSERT_EQ(inv.count("100"), 1u);
  EXPECT_EQ(inv.at("100").licensing_model(), "co-term");
  EXPECT_TRUE(m.take_errors().empty());
}

// A license list that answers "no per-device licensing" ends that org's read with what it knows.
TEST(LiveReadMode, ACotermAnswerToTheLicenseListEndsTheReadWithTheModel) {
  mode_rig rig(test::make_plan(1, 0));
  engine::live_read_mode m(rig.context(), io::origin{false, "api.test", 80});
  m.start(rig.clock.now());
  answer_next(rig, m, json_answer(200, R"({"id":"100","name":"A","licensing":null})"));
  answer_next(
      rig, m,
      json_answer(400, R"({"errors":["Organization does not support per-device licensing"]})"));
  EXPECT_EQ(rig.sched.pending(), 0u);
  auto inv = m.take_inventories();
  ASSERT_EQ(inv.count("100"), 1u);
  EXPECT_EQ(inv.at("100").licensing_model(), "co-term");
}

// A 503 is retried after its backoff, on the same call.
TEST(LiveReadMode, AServerErrorIsRetriedOnTheSameCall) {
  mode_rig rig(test::make_plan(1, 0));
  engine::live_read_mode m(rig.context(), io::origin{false, "api.test", 80});
  m.start(rig.clock.now());
  answer_next(rig, m, json_answer(503, R"({"errors":["busy"]})"));
  EXPECT_EQ(rig.sched.pending(), 1u);
  EXPECT_EQ(rig.sched.next(rig.clock.now()).what, kind::wait);
  rig.clock.advance(60s);
  answer_next(rig, m, json_answer(200, std::string(per_device_org)), "/organizations/100");
  EXPECT_EQ(rig.fx.counts.retries_total(), 1u);
}

// A 404 for the organization is that org's error; the others are read.
TEST(LiveReadMode, AnOrganizationThatCannotBeReadIsAnError) {
  mode_rig rig(test::make_plan(2, 0));
  engine::live_read_mode m(rig.context(), io::origin{false, "api.test", 80});
  m.start(rig.clock.now());
  auto p = answer_next(rig, m, json_answer(404, R"({"errors":["Not found"]})"));
  auto errors = m.take_errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors.at(rig.plan.orgs[p.org]).find("organization: "), std::string::npos);
}

// A 401 aborts the run; a stop leaves every org not read whole with an error and nothing queued.
TEST(LiveReadMode, A401AbortsAndTheRestIsNotRead) {
  mode_rig rig(test::make_plan(2, 0));
  engine::live_read_mode m(rig.context(), io::origin{false, "api.test", 80});
  m.start(rig.clock.now());
  answer_next(rig, m, json_answer(401, R"({"errors":["Invalid API key"]})"));
  EXPECT_EQ(rig.fx.aborts.size(), 1u);
  m.finish_remaining();
  EXPECT_EQ(m.take_errors().size(), 2u);
  EXPECT_TRUE(m.take_inventories().empty());
  EXPECT_EQ(rig.sched.pending(), 0u);
}

// A next page that points off the API's domain is not followed: that org is an error.
TEST(LiveReadMode, ANextPageOffTheApiIsRefused) {
  mode_rig rig(test::make_plan(1, 0));
  const io::origin api{false, "127.0.0.1", 8080};
  engine::live_read_mode m(rig.context(), api);
  m.start(rig.clock.now());
  answer_next(rig, m, json_answer(200, std::string(per_device_org)));
  auto page = json_answer(200, R"([{"id":"L1","state":"unused","deviceSerial":null}])");
  page.where = api;
  page.resp.link =
      "<https://evil.example/api/v1/organizations/100/licenses?startingAfter=L1>; rel=next";
  answer_next(rig, m, page);
  EXPECT_EQ(rig.sched.pending(), 0u);
  auto errors = m.take_errors();
  ASSERT_EQ(errors.count("100"), 1u);
  EXPECT_NE(errors.at("100").find("licenses: next page"), std::string::npos) << errors.at("100");
  EXPECT_TRUE(m.take_inventories().empty());
}

// A device page that is not a list of devices is that org's error, not a crash or an empty
// inventory.
TEST(LiveReadMode, AnUnreadableDevicePageIsAnError) {
  mode_rig rig(test::make_plan(1, 0));
  engine::live_read_mode m(rig.context(), io::origin{false, "api.test", 80});
  m.start(rig.clock.now());
  answer_next(rig, m, json_answer(200, std::string(per_device_org)));
  answer_next(rig, m, json_answer(200, "[]"));
  answer_next(rig, m, json_answer(200, R"({"serial":"Q2AA-0000-0001"})"));
  auto errors = m.take_errors();
  ASSERT_EQ(errors.count("100"), 1u);
  EXPECT_NE(errors.at("100").find("devices: unreadable device inventory"), std::string::npos)
      << errors.at("100");
}
