// The discovery reads on the fake clock: the listing operations' requests and judges, and the
// listing mode reading a collection page by page.
#include "mode_support.hpp"

#include "relicense/engine/listing_mode.hpp"
#include "relicense/engine/ops/listing.hpp"

#include <gtest/gtest.h>

using namespace relicense;
using engine::next_step;
using engine::scheduler;
using kind = scheduler::pick::kind;
using test::json_answer;
using test::mode_rig;

namespace {

struct judge_rig {
  engine::retry_policy policy;
  engine::judge_context ctx{policy, 1, 0.5, engine::wall_time{} + std::chrono::hours(500000)};
  io::response_parser parser;
};

const io::origin api{false, "127.0.0.1", 8080};

engine::answer page(std::string body, std::string next = {}) {
  auto a = json_answer(200, std::move(body));
  a.where = api;
  if (!next.empty()) a.resp.link = "<http://127.0.0.1:8080" + next + ">; rel=next";
  return a;
}

scheduler::pick answer_next(mode_rig& rig, engine::mode& m, const engine::answer& a) {
  auto p = rig.sched.next(rig.clock.now());
  EXPECT_EQ(p.what, kind::task);
  if (p.what != kind::task) return p;
  (void)m.request_for(p.org, p.task, rig.clock.now());
  m.on_answer(p.org, p.task, a, rig.parser, rig.clock.now());
  return p;
}

engine::listing_query licenses_of(std::string org, std::string serial = {}) {
  engine::listing_query q;
  q.what = engine::listing_query::of::licenses;
  q.org_id = std::move(org);
  q.serial = std::move(serial);
  return q;
}

constexpr const char* org_a = R"({"id":"100","name":"A","licensing":{"model":"per-device"}})";
constexpr const char* org_b = R"({"id":"101","name":"B","licensing":{"model":"co-term"}})";
constexpr const char* lic_1 =
    R"({"id":"L1","licenseType":"MX64-ENT","state":"active","deviceSerial":"Q2AA-BBBB-CCCC","expirationDate":"2027-01-01T00:00:00Z"})";
constexpr const char* lic_2 =
    R"({"id":"L2","licenseType":"MX64-ENT","state":"unused","deviceSerial":null})";

}  // namespace

// ---- operations ------------------------------------------------------------------------------

// The organization list is a plain GET of /organizations, counted as a read.
TEST(ListingOps, TheOrganizationListIsAGetOfOrganizations) {
  auto r = engine::ops::organization_list_request();
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/organizations");
  EXPECT_EQ(r.kind, engine::call_kind::read);
}

// A device filter goes into the query, percent-encoded, after the page size.
TEST(ListingOps, TheDeviceFilterIsPercentEncoded) {
  EXPECT_EQ(engine::ops::license_records_request("7", "").path,
            "/organizations/7/licenses?perPage=1000");
  EXPECT_EQ(engine::ops::license_records_request("7", "Q2AA-BBBB-CCCC").path,
            "/organizations/7/licenses?perPage=1000&deviceSerial=Q2AA-BBBB-CCCC");
  EXPECT_EQ(engine::ops::license_records_request("7", "A B&c=d#").path,
            "/organizations/7/licenses?perPage=1000&deviceSerial=A%20B%26c%3Dd%23");
  EXPECT_EQ(engine::ops::percent_encode("az09-._~\xC3\xA9"), "az09-._~%C3%A9");
}

// A page of organizations gives records with their licensing model and, when asked, their text.
TEST(ListingOps, AnOrganizationPageKeepsTheObjectsWhenAsked) {
  judge_rig j;
  auto v = engine::ops::judge_organization_page(page(std::string("[") + org_a + "," + org_b + "]"),
                                                j.ctx, j.parser, true, api, api);
  ASSERT_TRUE(v.ok);
  ASSERT_EQ(v.items.size(), 2u);
  EXPECT_EQ(v.items[1].licensing_model, "co-term");
  EXPECT_EQ(v.items[0].raw_json, org_a);
  EXPECT_FALSE(v.next_page);
  v = engine::ops::judge_organization_page(page(std::string("[") + org_a + "]"), j.ctx, j.parser,
                                           false, api, api);
  ASSERT_TRUE(v.ok);
  EXPECT_TRUE(v.items[0].raw_json.empty());
}

// A body that is not a list of organizations is an error, not an empty list.
TEST(ListingOps, AnUnreadableOrganizationPageIsAnError) {
  judge_rig j;
  auto v =
      engine::ops::judge_organization_page(page(R"({"id":"1"})"), j.ctx, j.parser, false, api, api);
  EXPECT_EQ(v.what, next_step::done);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.message.find("unreadable organization list"), std::string::npos);
}

// A license page gives full records; a next link outside the API's cloud is refused.
TEST(ListingOps, ALicensePageGivesRecordsAndAllowedNextLinks) {
  judge_rig j;
  auto v = engine::ops::judge_license_record_page(
      page(std::string("[") + lic_1 + "," + lic_2 + "]",
           "/api/v1/organizations/7/licenses?startingAfter=L2"),
      j.ctx, j.parser, false, api, api);
  ASSERT_TRUE(v.ok);
  ASSERT_EQ(v.items.size(), 2u);
  EXPECT_EQ(v.items[0].device_serial, "Q2AA-BBBB-CCCC");
  EXPECT_EQ(v.items[1].device_serial, "");
  ASSERT_TRUE(v.next_page);
  EXPECT_EQ(v.next_page->path, "/api/v1/organizations/7/licenses?startingAfter=L2");
  auto evil = page("[]");
  evil.resp.link = "<https://evil.example/x>; rel=next";
  v = engine::ops::judge_license_record_page(evil, j.ctx, j.parser, false, api, api);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.message.find("next page"), std::string::npos);
}

// An unknown organization's 404 ends the listing with the API's words; a co-term org is refused.
TEST(ListingOps, RefusalsEndTheListing) {
  judge_rig j;
  auto v = engine::ops::judge_license_record_page(
      json_answer(404, R"({"errors":["Organization not found"]})"), j.ctx, j.parser, false, api,
      api);
  EXPECT_EQ(v.what, next_step::done);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.message.find("Organization not found"), std::string::npos);
  v = engine::ops::judge_license_record_page(
      json_answer(400,
                  R"({"errors":["Organization with ID 7 does not support per-device licensing"]})"),
      j.ctx, j.parser, false, api, api);
  EXPECT_EQ(v.what, next_step::condemn_org);
  EXPECT_FALSE(v.ok);
}

// ---- listing mode ----------------------------------------------------------------------------

// One worker reads the pages one after another, each at the link the last one gave.
TEST(ListingMode, ReadsEveryPageInOrder) {
  mode_rig rig(test::make_plan(1, 0));
  engine::listing_mode m(rig.context(), api, licenses_of("100", "Q2AA-BBBB-CCCC"));
  EXPECT_EQ(m.workers(), 1u);
  m.start(rig.clock.now());
  auto p = rig.sched.next(rig.clock.now());
  ASSERT_EQ(p.what, kind::task);
  auto rq = m.request_for(p.org, p.task, rig.clock.now());
  EXPECT_EQ(rq.path, "/organizations/100/licenses?perPage=1000&deviceSerial=Q2AA-BBBB-CCCC");
  EXPECT_FALSE(rq.at);
  m.on_answer(p.org, p.task,
              page(std::string("[") + lic_1 + "]", "/api/v1/organizations/100/licenses?after=L1"),
              rig.parser, rig.clock.now());
  EXPECT_FALSE(m.complete());
  p = rig.sched.next(rig.clock.now());
  ASSERT_EQ(p.what, kind::task);
  rq = m.request_for(p.org, p.task, rig.clock.now());
  ASSERT_TRUE(rq.at);
  EXPECT_EQ(rq.at->path, "/api/v1/organizations/100/licenses?after=L1");
  m.on_answer(p.org, p.task, page(std::string("[") + lic_2 + "]"), rig.parser, rig.clock.now());
  m.finish_remaining();
  EXPECT_TRUE(m.complete());
  EXPECT_TRUE(m.error().empty());
  auto got = m.take_licenses();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, "L1");
  EXPECT_EQ(got[1].id, "L2");
}

// The organization list keeps the objects' text for --json.
TEST(ListingMode, TheOrganizationListKeepsTheObjectsText) {
  mode_rig rig(test::make_plan(1, 0));
  engine::listing_query q;
  q.keep_raw = true;
  engine::listing_mode m(rig.context(), api, q);
  m.start(rig.clock.now());
  auto p = answer_next(rig, m, page(std::string("[") + org_a + "," + org_b + "]"));
  EXPECT_EQ(m.request_for(p.org, p.task, rig.clock.now()).path, "/organizations");
  m.finish_remaining();
  ASSERT_TRUE(m.complete());
  auto orgs = m.take_organizations();
  ASSERT_EQ(orgs.size(), 2u);
  EXPECT_EQ(orgs[1].raw_json, org_b);
}

// A 429 with Retry-After pauses the listing for that long (a logged event), then the page is
// asked again.
TEST(ListingMode, A429PausesForItsRetryAfter) {
  mode_rig rig(test::make_plan(1, 0), {10, 10, 0});
  engine::listing_mode m(rig.context(), api, licenses_of("100"));
  m.start(rig.clock.now());
  auto a = json_answer(429, R"({"errors":["Too many requests"]})");
  a.resp.retry_after = "3";
  answer_next(rig, m, a);
  ASSERT_EQ(rig.fx.events.size(), 1u);
  EXPECT_EQ(rig.fx.events[0], engine::run_event::kind::org_paused);
  EXPECT_EQ(rig.fx.counts.retries[static_cast<std::size_t>(engine::retry_cause::throttled)], 1u);
  const auto t0 = rig.clock.now();
  auto p = rig.sched.next(rig.clock.now());
  ASSERT_EQ(p.what, kind::wait);
  EXPECT_GE(p.at - t0, std::chrono::seconds(3));
  rig.clock.advance(p.at - t0);
  answer_next(rig, m, page(std::string("[") + lic_1 + "]"));
  m.finish_remaining();
  EXPECT_TRUE(m.complete());
}

// Server errors are retried up to the policy's attempts; then the listing says why it ended.
TEST(ListingMode, ServerErrorsAreRetriedThenReported) {
  mode_rig rig(test::make_plan(1, 0));
  rig.config.retry.max_attempts = 2;
  engine::listing_mode m(rig.context(), api, licenses_of("100"));
  m.start(rig.clock.now());
  answer_next(rig, m, json_answer(503, R"({"errors":["busy"]})"));
  auto p = rig.sched.next(rig.clock.now());
  ASSERT_EQ(p.what, kind::wait);
  rig.clock.advance(p.at - rig.clock.now());
  answer_next(rig, m, json_answer(503, R"({"errors":["busy"]})"));
  EXPECT_EQ(rig.sched.pending(), 0u);
  m.finish_remaining();
  EXPECT_FALSE(m.complete());
  EXPECT_NE(m.error().find("busy"), std::string::npos);
}

// An unknown organization ends the listing with the API's reason and no records.
TEST(ListingMode, AnUnknownOrganizationIsAnErrorWithoutRecords) {
  mode_rig rig(test::make_plan(1, 0));
  engine::listing_mode m(rig.context(), api, licenses_of("100"));
  m.start(rig.clock.now());
  answer_next(rig, m, json_answer(404, R"({"errors":["Organization not found"]})"));
  m.finish_remaining();
  EXPECT_FALSE(m.complete());
  EXPECT_NE(m.error().find("Organization not found"), std::string::npos);
  EXPECT_TRUE(m.take_licenses().empty());
  EXPECT_TRUE(rig.fx.aborts.empty());
}

// A rejected key stops the run, and the reason says what to check (never the key).
TEST(ListingMode, ARejectedKeyAbortsTheRun) {
  mode_rig rig(test::make_plan(1, 0));
  engine::listing_mode m(rig.context(), api, engine::listing_query{});
  m.start(rig.clock.now());
  answer_next(rig, m, json_answer(401, R"({"errors":["Invalid API key"]})"));
  ASSERT_EQ(rig.fx.aborts.size(), 1u);
  EXPECT_NE(rig.fx.aborts[0].find("MERAKI_DASHBOARD_API_KEY"), std::string::npos);
  EXPECT_NE(rig.fx.aborts[0].find("request id req-1"), std::string::npos);
  m.finish_remaining();
  EXPECT_FALSE(m.complete());
}

// Records read before a later page failed are not handed out: a listing is whole or nothing.
TEST(ListingMode, ALaterPageFailingDropsTheEarlierPages) {
  mode_rig rig(test::make_plan(1, 0));
  engine::listing_mode m(rig.context(), api, licenses_of("100"));
  m.start(rig.clock.now());
  answer_next(rig, m,
              page(std::string("[") + lic_1 + "]", "/api/v1/organizations/100/licenses?after=L1"));
  answer_next(rig, m, page("not json"));
  m.finish_remaining();
  EXPECT_FALSE(m.complete());
  EXPECT_NE(m.error().find("unreadable license list"), std::string::npos);
  EXPECT_TRUE(m.take_licenses().empty());
}

// A next link back to a page already read ends the listing instead of looping.
TEST(ListingMode, ANextLinkBackToAReadPageEndsTheListing) {
  mode_rig rig(test::make_plan(1, 0));
  engine::listing_mode m(rig.context(), api, licenses_of("100"));
  m.start(rig.clock.now());
  const std::string next = "/api/v1/organizations/100/licenses?after=L1";
  answer_next(rig, m, page(std::string("[") + lic_1 + "]", next));
  answer_next(rig, m, page(std::string("[") + lic_2 + "]", next));
  EXPECT_EQ(rig.sched.pending(), 0u);
  m.finish_remaining();
  EXPECT_FALSE(m.complete());
  EXPECT_NE(m.error().find("points back"), std::string::npos);
}

// A stop (signal, abort) before the last page says the listing was not read.
TEST(ListingMode, AStopLeavesTheListingUnread) {
  mode_rig rig(test::make_plan(1, 0));
  engine::listing_mode m(rig.context(), api, licenses_of("100"));
  m.start(rig.clock.now());
  engine::answer a;
  a.not_sent = true;
  answer_next(rig, m, a);
  m.finish_remaining();
  EXPECT_FALSE(m.complete());
  EXPECT_NE(m.error().find("not read"), std::string::npos);
  EXPECT_EQ(rig.sched.pending(), 0u);
}
