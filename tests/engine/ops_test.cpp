// The operations' judges: what each answer means, without any network.
#include "mode_support.hpp"

#include "relicense/engine/ops/action_batch.hpp"
#include "relicense/engine/ops/license_list.hpp"
#include "relicense/engine/ops/license_put.hpp"

#include <gtest/gtest.h>

using namespace relicense;
using engine::next_step;
using test::json_answer;

namespace {

struct judge_rig {
  engine::retry_policy policy;
  engine::judge_context ctx{policy, 1, 0.5, engine::wall_time{} + std::chrono::hours(500000)};
  io::response_parser parser;
};

plan::row row(std::string id, std::string serial) {
  plan::row r;
  r.license_id = std::move(id);
  r.serial = std::move(serial);
  return r;
}

}  // namespace

// Unassigning sends a JSON null, and only an answer with a null serial confirms it.
TEST(LicensePut, AnUnassignSendsNullAndNeedsANullAnswer) {
  judge_rig j;
  auto r = row("L1", "");
  EXPECT_EQ(engine::ops::license_put_request("7", r).body, R"({"deviceSerial":null})");
  auto v = engine::ops::judge_license_put(r, json_answer(200, R"({"id":"L1","deviceSerial":null})"),
                                          j.ctx, j.parser);
  EXPECT_EQ(v.what, next_step::done);
  EXPECT_EQ(v.outcome, io::outcome::applied);
  EXPECT_TRUE(v.went_through);
  v = engine::ops::judge_license_put(r, json_answer(200, R"({"id":"L1","deviceSerial":"Q1"})"),
                                     j.ctx, j.parser);
  EXPECT_EQ(v.outcome, io::outcome::failed);
}

// A 2xx whose body is not a license fails the row; the budget still took the call.
TEST(LicensePut, AnUnreadableAnswerFailsTheRow) {
  judge_rig j;
  auto v =
      engine::ops::judge_license_put(row("L1", "Q1"), json_answer(200, "[1,2]"), j.ctx, j.parser);
  EXPECT_EQ(v.what, next_step::done);
  EXPECT_EQ(v.outcome, io::outcome::failed);
  EXPECT_TRUE(v.went_through);
  EXPECT_NE(v.message.find("unreadable license"), std::string::npos);
}

// A redirect the loop refused fails the row with the reason.
TEST(LicensePut, ARefusedRedirectFailsTheRow) {
  judge_rig j;
  auto a = json_answer(307, "");
  a.refused = "redirect to another host refused";
  auto v = engine::ops::judge_license_put(row("L1", "Q1"), a, j.ctx, j.parser);
  EXPECT_EQ(v.what, next_step::done);
  EXPECT_EQ(v.outcome, io::outcome::failed);
  EXPECT_EQ(v.message, "redirect to another host refused");
}

// A 429 with Retry-After pauses the org for that long; without it, only the row backs off.
TEST(LicensePut, OnlyA429WithRetryAfterPausesTheOrganization) {
  judge_rig j;
  auto a = json_answer(429, "{}");
  a.resp.retry_after = "2";
  auto v = engine::ops::judge_license_put(row("L1", "Q1"), a, j.ctx, j.parser);
  EXPECT_EQ(v.what, next_step::retry);
  EXPECT_TRUE(v.pause_org);
  EXPECT_EQ(v.delay, std::chrono::seconds(2));
  v = engine::ops::judge_license_put(row("L1", "Q1"), json_answer(429, "{}"), j.ctx, j.parser);
  EXPECT_EQ(v.what, next_step::retry);
  EXPECT_FALSE(v.pause_org);
  EXPECT_EQ(v.cause, engine::retry_cause::throttled_ip);
}

// The POST's 4xx other than 400/422 is the batch endpoint refusing the org: condemn it.
TEST(ActionBatch, AnEndpointRefusalCondemnsTheOrganization) {
  judge_rig j;
  auto v = engine::ops::judge_batch_post(json_answer(404, R"({"errors":["Not found"]})"), j.ctx,
                                         j.parser);
  EXPECT_EQ(v.what, next_step::condemn_org);
  v = engine::ops::judge_batch_post(json_answer(400, R"({"errors":["bad serial Q9"]})"), j.ctx,
                                    j.parser);
  EXPECT_EQ(v.what, next_step::done);
  EXPECT_EQ(v.news, engine::ops::batch_news::refused);
  EXPECT_EQ(v.message, "bad serial Q9");
}

// A poll answered about another batch says nothing about this one.
TEST(ActionBatch, APollAboutAnotherBatchIsUnreadable) {
  judge_rig j;
  auto v = engine::ops::judge_batch_poll(
      "b1",
      json_answer(200, R"({"id":"b2","status":{"completed":true,"failed":false,"errors":[]}})"),
      j.ctx, j.parser);
  EXPECT_EQ(v.news, engine::ops::batch_news::unreadable);
  EXPECT_NE(v.message.find("instead of b1"), std::string::npos);
  v = engine::ops::judge_batch_poll("b1", json_answer(404, "{}"), j.ctx, j.parser);
  EXPECT_EQ(v.news, engine::ops::batch_news::lost);
}

// A next page pointing outside the API's cloud is refused, as a redirect there would be.
TEST(LicenseList, ANextPageOutsideTheApiIsRefused) {
  judge_rig j;
  const io::origin base{true, "api.meraki.com", 443};
  auto a = json_answer(200, "[]");
  a.resp.link = "<https://evil.example/page2>; rel=next";
  auto v = engine::ops::judge_license_page(a, j.ctx, j.parser, base, base);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.message.find("next page"), std::string::npos);
  a.resp.link =
      "<https://n12.meraki.com/api/v1/organizations/1/licenses?startingAfter=x>; rel=next";
  v = engine::ops::judge_license_page(a, j.ctx, j.parser, base, base);
  ASSERT_TRUE(v.ok);
  ASSERT_TRUE(v.next_page);
  EXPECT_EQ(v.next_page->where.host, "n12.meraki.com");
}
