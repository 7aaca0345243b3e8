#include "relicense/io/json.hpp"

#include <gtest/gtest.h>

namespace relicense::io {
namespace {

constexpr std::string_view example_license = R"({
  "id": "1234", "licenseType": "MX64-ENT", "licenseKey": "Z21234567890",
  "orderNumber": "4C1234567", "deviceSerial": "Q234-ABCD-5678", "networkId": "N_24329156",
  "state": "active", "seatCount": 25, "totalDurationInDays": 425, "durationInDays": 365,
  "permanentlyQueuedLicenses": [{"id": "1234", "licenseType": "MX64-ENT",
    "licenseKey": "Z21234567890", "orderNumber": "4C1234567", "durationInDays": 60}],
  "claimDate": "2019-08-29T12:40:10Z", "activationDate": "2019-09-01T15:01:46Z",
  "expirationDate": "2020-10-30T15:01:46Z", "headLicenseId": "1234"})";

// The OpenAPI example license parses with the fields relicense uses.
TEST(Json, LicenseExample) {
  response_parser p;
  auto r = p.parse_license(example_license);
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->id, "1234");
  EXPECT_EQ(r.value->device_serial, "Q234-ABCD-5678");
  EXPECT_EQ(r.value->state, "active");
  EXPECT_EQ(r.value->license_type, "MX64-ENT");
  EXPECT_EQ(r.value->network_id, "N_24329156");
  EXPECT_EQ(r.value->head_license_id, "1234");
}

// A null or absent deviceSerial means unassigned; null strings elsewhere are tolerated.
TEST(Json, LicenseNullSerial) {
  response_parser p;
  auto r = p.parse_license(R"({"id":"9","deviceSerial":null,"state":"unused","headLicenseId":null})");
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_FALSE(r.value->device_serial);
  EXPECT_EQ(r.value->head_license_id, "");
  EXPECT_TRUE(r.value->has_device_serial);
  auto absent = p.parse_license(R"({"state":"unused","id":"9"})");
  ASSERT_TRUE(absent.value) << absent.error;
  EXPECT_FALSE(absent.value->device_serial);
  EXPECT_FALSE(absent.value->has_device_serial);  // the caller can tell "null" from "not said"
  auto esc = p.parse_license(R"({"id":"a\"b","deviceSerial":"Q2\u0041A-0000-0000"})");
  ASSERT_TRUE(esc.value) << esc.error;
  EXPECT_EQ(esc.value->id, "a\"b");
  EXPECT_EQ(esc.value->device_serial, "Q2AA-0000-0000");
}

// Malformed JSON and wrong types become error values, never exceptions.
TEST(Json, LicenseErrors) {
  response_parser p;
  for (std::string_view bad :
       {std::string_view(""), std::string_view("{"), std::string_view("[]"),
        std::string_view("null"), std::string_view("<html>502</html>"),
        std::string_view(R"({"id":5})"), std::string_view(R"({"id":"1","deviceSerial":7})"),
        std::string_view(R"({"id":"1","deviceSerial":["x"]})"),
        std::string_view(R"({"deviceSerial":"X"})"), std::string_view(R"({"id":"1"} trailing)"),
        std::string_view(R"({"id":"1",})"), std::string_view("{\"id\":\"\xff\xfe\"}"),
        std::string_view("{\"id\":\"1\0\"}", 10)}) {
    auto r = p.parse_license(bad);
    EXPECT_FALSE(r.value) << bad;
    EXPECT_FALSE(r.error.empty()) << bad;
  }
  // The parser is still usable after errors.
  EXPECT_TRUE(p.parse_license(R"({"id":"1"})").value);
}

// {"errors":[...]} is joined into one message; other shapes are errors.
TEST(Json, Errors) {
  response_parser p;
  auto r = p.parse_errors(R"({"errors":["API rate limit exceeded for organization"]})");
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(*r.value, "API rate limit exceeded for organization");
  auto two = p.parse_errors(R"({"other":1,"errors":["a", "b", 3]})");
  ASSERT_TRUE(two.value) << two.error;
  EXPECT_EQ(*two.value, "a; b; 3");
  EXPECT_FALSE(p.parse_errors(R"({"error":"x"})").value);
  EXPECT_FALSE(p.parse_errors(R"({"errors":"x"})").value);
  EXPECT_FALSE(p.parse_errors("Bad Gateway").value);
}

// describe_error prefers the API's errors, else a printable start of the body.
TEST(Json, DescribeError) {
  response_parser p;
  EXPECT_EQ(p.describe_error(400, R"({"errors":["Organization does not support per-device licensing"]})"),
            "Organization does not support per-device licensing");
  EXPECT_EQ(p.describe_error(502, "Bad\nGateway\x01"), "HTTP 502: Bad Gateway\\x01");
  EXPECT_EQ(p.describe_error(504, ""), "HTTP 504");
  const std::string big(5000, 'x');
  EXPECT_LT(p.describe_error(500, big).size(), 300u);
}

// A license list page gives id + serial of each license; bad pages are errors.
TEST(Json, LicensePage) {
  response_parser p;
  auto r = p.parse_license_page(
      R"([{"id":"1","deviceSerial":"Q2AA-AAAA-AAAA","state":"active"},{"id":"2","deviceSerial":null}])");
  ASSERT_TRUE(r.value) << r.error;
  ASSERT_EQ(r.value->size(), 2u);
  EXPECT_EQ((*r.value)[0].device_serial, "Q2AA-AAAA-AAAA");
  EXPECT_EQ((*r.value)[0].state, "active");
  EXPECT_FALSE((*r.value)[1].device_serial);
  auto empty = p.parse_license_page("[]");
  ASSERT_TRUE(empty.value) << empty.error;
  EXPECT_TRUE(empty.value->empty());
  EXPECT_FALSE(p.parse_license_page(R"({"id":"1"})").value);
  EXPECT_FALSE(p.parse_license_page(R"([{"id":"1"},2])").value);
  EXPECT_FALSE(p.parse_license_page(R"([{"id":"1"},{"x":1}])").value);
  EXPECT_FALSE(p.parse_license_page(R"([{"id":"1"})").value);
  // A license that does not say where it is cannot be compared with the plan.
  auto unsaid = p.parse_license_page(R"([{"id":"1","deviceSerial":null},{"id":"2","state":"active"}])");
  EXPECT_FALSE(unsaid.value);
  EXPECT_EQ(unsaid.error, "license 2 of the page (2) has no \"deviceSerial\"");
}

// An action batch reports its id and status.
TEST(Json, ActionBatch) {
  response_parser p;
  auto r = p.parse_action_batch(R"({"id":"123","organizationId":"1","confirmed":true,
    "synchronous":false,"status":{"completed":false,"failed":true,"errors":["bad serial"],
    "createdResources":[]},"actions":[]})");
  ASSERT_TRUE(r.value) << r.error;
  EXPECT_EQ(r.value->id, "123");
  EXPECT_TRUE(r.value->confirmed);
  EXPECT_FALSE(r.value->completed);
  EXPECT_TRUE(r.value->failed);
  EXPECT_EQ(r.value->errors, "bad serial");
  EXPECT_FALSE(p.parse_action_batch(R"({"status":{}})").value);
  EXPECT_FALSE(p.parse_action_batch(R"({"id":"1","status":{"completed":"yes"}})").value);
}

// Content types: JSON with parameters and +json suffixes pass; others do not.
TEST(Json, ContentType) {
  EXPECT_TRUE(is_json_content_type("application/json"));
  EXPECT_TRUE(is_json_content_type("Application/JSON; charset=utf-8"));
  EXPECT_TRUE(is_json_content_type("application/problem+json"));
  EXPECT_FALSE(is_json_content_type("text/html"));
  EXPECT_FALSE(is_json_content_type(""));
  EXPECT_FALSE(is_json_content_type("application/jsonx"));
}

// A large page (10,000 licenses) parses with one reused parser, twice.
TEST(Json, LargePageReused) {
  std::string body = "[";
  for (int i = 0; i < 10000; ++i) {
    body += (i ? "," : "");
    body += R"({"id":")" + std::to_string(i) + R"(","deviceSerial":"Q2AA-AAAA-AAAA","state":"active"})";
  }
  body += "]";
  response_parser p;
  for (int round = 0; round < 2; ++round) {
    auto r = p.parse_license_page(body);
    ASSERT_TRUE(r.value) << r.error;
    EXPECT_EQ(r.value->size(), 10000u);
  }
}

} // namespace
} // namespace relicense::io
