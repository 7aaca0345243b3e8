#include "relicense/io/json.hpp"

#include "relicense/plan/csv.hpp"
#include "relicense/plan/serial_map.hpp"

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
  auto r =
      p.parse_license(R"({"id":"9","deviceSerial":null,"state":"unused","headLicenseId":null})");
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
  EXPECT_EQ(
      p.describe_error(400, R"({"errors":["Organization does not support per-device licensing"]})"),
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
  auto unsaid =
      p.parse_license_page(R"([{"id":"1","deviceSerial":null},{"id":"2","state":"active"}])");
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

// The organization's list of action batches reads each batch as a single answer is read.
TEST(Json, ActionBatchList) {
  response_parser p;
  auto r = p.parse_action_batches(R"([{"id":"1","organizationId":"9","confirmed":true,
    "synchronous":false,"status":{"completed":false,"failed":false,"errors":[],
    "createdResources":[]},"actions":[]},
    {"id":"2","status":{"completed":true,"failed":false,"errors":[]},"actions":[{}]}])");
  ASSERT_TRUE(r.value) << r.error;
  ASSERT_EQ(r.value->size(), 2u);
  EXPECT_EQ((*r.value)[0].id, "1");
  EXPECT_FALSE((*r.value)[0].completed);
  EXPECT_EQ((*r.value)[1].id, "2");
  EXPECT_TRUE((*r.value)[1].completed);
  auto empty = p.parse_action_batches("[]");
  ASSERT_TRUE(empty.value) << empty.error;
  EXPECT_TRUE(empty.value->empty());
}

// A malformed list of action batches is an error value: not an array, a batch without an id,
// a wrong type, a truncated body.
TEST(Json, ActionBatchListMalformed) {
  response_parser p;
  EXPECT_FALSE(p.parse_action_batches(R"({"id":"1"})").value);
  auto unnamed = p.parse_action_batches(R"([{"id":"1"},{"status":{}}])");
  EXPECT_FALSE(unnamed.value);
  EXPECT_EQ(unnamed.error, "action batch 2 of the answer has no \"id\"");
  EXPECT_FALSE(p.parse_action_batches(R"([{"id":1}])").value);
  EXPECT_FALSE(p.parse_action_batches(R"([{"id":"1","status":{"completed":"yes"}}])").value);
  EXPECT_FALSE(p.parse_action_batches(R"([{"id":"1"})").value);
  EXPECT_FALSE(p.parse_action_batches("").value);
  EXPECT_FALSE(p.parse_action_batches("[1]").value);
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
    body +=
        R"({"id":")" + std::to_string(i) + R"(","deviceSerial":"Q2AA-AAAA-AAAA","state":"active"})";
  }
  body += "]";
  response_parser p;
  for (int round = 0; round < 2; ++round) {
    auto r = p.parse_license_page(body);
    ASSERT_TRUE(r.value) << r.error;
    EXPECT_EQ(r.value->size(), 10000u);
  }
}

// A license page read as full records: every field the live plan and `licenses` show.
TEST(Json, LicenseRecords) {
  response_parser p;
  const std::string body =
      std::string("[") + std::string(example_license) +
      R"(, {"id":"9","deviceSerial":null,"state":"unused","licenseType":"MR-ENT",
                                "activationDate":null,"expirationDate":null,"headLicenseId":null}])";
  auto r = p.parse_license_records(body);
  ASSERT_TRUE(r.value) << r.error;
  ASSERT_EQ(r.value->size(), 2u);
  const auto& a = (*r.value)[0];
  EXPECT_EQ(a.id, "1234");
  EXPECT_EQ(a.license_type, "MX64-ENT");
  EXPECT_EQ(a.state, "active");
  EXPECT_EQ(a.device_serial, "Q234-ABCD-5678");
  EXPECT_EQ(a.activation_date, "2019-09-01T15:01:46Z");
  EXPECT_EQ(a.expiration_date, "2020-10-30T15:01:46Z");
  EXPECT_EQ(a.head_license_id, "1234");
  EXPECT_TRUE(a.raw_json.empty());  // only with keep_raw
  const auto& b = (*r.value)[1];
  EXPECT_EQ(b.device_serial, "");
  EXPECT_EQ(b.expiration_date, "");
  EXPECT_EQ(b.head_license_id, "");
}

// With keep_raw each record carries its object's text as sent, and the fields are still read.
TEST(Json, LicenseRecordsKeepRaw) {
  response_parser p;
  const std::string body = R"( [ {"id":"1","deviceSerial":"q2aa-aaaa-0001","nested":{"a":[1,2]}} ,
    {"id":"2","deviceSerial":null}
  ] )";
  auto r = p.parse_license_records(body, true);
  ASSERT_TRUE(r.value) << r.error;
  ASSERT_EQ(r.value->size(), 2u);
  EXPECT_EQ((*r.value)[0].raw_json,
            R"({"id":"1","deviceSerial":"q2aa-aaaa-0001","nested":{"a":[1,2]}})");
  EXPECT_EQ((*r.value)[0].device_serial, "Q2AA-AAAA-0001");  // upper-cased; the raw text is not
  EXPECT_EQ((*r.value)[1].raw_json, R"({"id":"2","deviceSerial":null})");
  EXPECT_EQ((*r.value)[1].id, "2");
  // The same parser, reused without raw text, and again with it.
  EXPECT_TRUE(p.parse_license_records(body).value);
  EXPECT_EQ(p.parse_license_records(body, true).value->size(), 2u);
}

// Bad license pages are error values naming the license and the missing field.
TEST(Json, LicenseRecordsErrors) {
  response_parser p;
  for (bool raw : {false, true}) {
    auto unsaid = p.parse_license_records(
        R"([{"id":"1","deviceSerial":null},{"id":"2","state":"active"}])", raw);
    EXPECT_FALSE(unsaid.value);
    EXPECT_EQ(unsaid.error, "license 2 of the answer (2) has no \"deviceSerial\"");
    auto no_id = p.parse_license_records(R"([{"deviceSerial":null}])", raw);
    EXPECT_EQ(no_id.error, "license 1 of the answer has no \"id\"");
    for (std::string_view bad : {std::string_view(R"({"id":"1"})"),
                                 std::string_view(R"([{"id":"1","deviceSerial":null},2])"),
                                 std::string_view(R"([{"id":"1","deviceSerial":7}])"),
                                 std::string_view(R"([{"id":"1","deviceSerial":null,"state":[]}])"),
                                 std::string_view(R"([{"id":"1","deviceSerial":null}] x)"),
                                 std::string_view("[{"), std::string_view("")}) {
      auto r = p.parse_license_records(bad, raw);
      EXPECT_FALSE(r.value) << bad;
      EXPECT_FALSE(r.error.empty()) << bad;
    }
  }
  EXPECT_TRUE(p.parse_license_records("[]").value);
}

// The device inventory page: serial (upper-cased), model and name; a device without serial is an
// error.
TEST(Json, DevicePage) {
  response_parser p;
  auto r = p.parse_device_page(
      R"([{"mac":"00:18:0a:00:00:01","serial":"q2bb-bbbb-0001","name":null,"model":"MX67",
    "networkId":"N_1","tags":[],"details":[]},{"serial":"Q2BB-BBBB-0002","name":"Branch \u00e9","model":"MR46"}])");
  ASSERT_TRUE(r.value) << r.error;
  ASSERT_EQ(r.value->size(), 2u);
  EXPECT_EQ((*r.value)[0].serial, "Q2BB-BBBB-0001");
  EXPECT_EQ((*r.value)[0].model, "MX67");
  EXPECT_EQ((*r.value)[0].name, "");
  EXPECT_EQ((*r.value)[1].name, "Branch \xC3\xA9");
  auto bad = p.parse_device_page(R"([{"model":"MX67"}])");
  EXPECT_EQ(bad.error, "device 1 of the answer has no \"serial\"");
  EXPECT_FALSE(p.parse_device_page(R"([{"serial":5}])").value);
}

// GET /organizations and GET /organizations/{id}: id, name and licensing.model.
TEST(Json, Organizations) {
  response_parser p;
  const std::string_view list = R"([{"id":"1","name":"A","url":"https://x","api":{"enabled":true},
    "licensing":{"model":"per-device"},"cloud":{"region":{"name":"North America"}}},
    {"id":"2","name":"B","licensing":null},{"id":"3","name":null}])";
  auto r = p.parse_organizations(list);
  ASSERT_TRUE(r.value) << r.error;
  ASSERT_EQ(r.value->size(), 3u);
  EXPECT_EQ((*r.value)[0].licensing_model, "per-device");
  EXPECT_EQ((*r.value)[0].name, "A");
  EXPECT_EQ((*r.value)[1].licensing_model, "");
  EXPECT_EQ((*r.value)[2].name, "");
  EXPECT_TRUE((*r.value)[0].raw_json.empty());
  auto raw = p.parse_organizations(list, true);
  ASSERT_TRUE(raw.value) << raw.error;
  EXPECT_EQ((*raw.value)[1].raw_json, R"({"id":"2","name":"B","licensing":null})");

  auto one =
      p.parse_organization(R"( {"id":"7","name":"Co","licensing":{"model":"co-term"}} )", true);
  ASSERT_TRUE(one.value) << one.error;
  EXPECT_EQ(one.value->id, "7");
  EXPECT_EQ(one.value->licensing_model, "co-term");
  EXPECT_EQ(one.value->raw_json, R"({"id":"7","name":"Co","licensing":{"model":"co-term"}})");
  EXPECT_EQ(p.parse_organization(R"({"name":"x"})").error, "organization has no \"id\"");
  EXPECT_FALSE(p.parse_organization(R"({"id":"1","licensing":"x"})").value);
  EXPECT_FALSE(p.parse_organization("[]").value);
  EXPECT_EQ(p.parse_organizations(R"([{"name":"x"}])").error,
            "organization 1 of the answer has no \"id\"");
}

// The answers as the twin and the API send them feed the planner: parsed records, an inventory,
// and a serial map resolved against it.
TEST(Json, RecordsResolveASerialMap) {
  response_parser p;
  auto licenses = p.parse_license_records(
      R"([{"id":"L2","licenseType":"MX64-ENT","deviceSerial":"Q2AA-AAAA-0001","networkId":"N_1",
           "state":"recentlyQueued","headLicenseId":"L1","expirationDate":null},
          {"id":"L1","licenseType":"MX64-ENT","deviceSerial":"Q2AA-AAAA-0001","networkId":"N_1",
           "state":"active","headLicenseId":null,"expirationDate":"2027-01-01T00:00:00Z"}])");
  auto devices = p.parse_device_page(
      R"([{"serial":"Q2AA-AAAA-0001","model":"MX64","name":"old"},{"serial":"Q2BB-BBBB-0001","model":"MX67","name":null}])");
  auto org = p.parse_organization(R"({"id":"O","name":"Org","licensing":{"model":"per-device"}})");
  ASSERT_TRUE(licenses.value && devices.value && org.value);
  plan::inventories inv;
  plan::inventory& o = inv[org.value->id];
  o.set_licensing_model(org.value->licensing_model);
  for (auto& l : *licenses.value) o.add(std::move(l));
  o.add_devices(std::move(*devices.value));
  plan::load_options lo;
  lo.org = "O";
  lo.accept_serial_map = true;
  auto loaded = plan::parse_plan("from,to\nQ2AA-AAAA-0001,Q2BB-BBBB-0001\n", "m.csv", lo);
  ASSERT_TRUE(loaded.ok() && loaded.map);
  auto res = plan::resolve_serial_map(*loaded.map, inv);
  ASSERT_TRUE(res.ok());
  EXPECT_TRUE(res.result.warnings.empty());
  EXPECT_EQ(plan::moves_csv(res),
            "organizationId,licenseId,deviceSerial,previousDeviceSerial\n"
            "O,L1,Q2BB-BBBB-0001,Q2AA-AAAA-0001\n"
            "O,L2,Q2BB-BBBB-0001,Q2AA-AAAA-0001\n");
}

}  // namespace
}  // namespace relicense::io
