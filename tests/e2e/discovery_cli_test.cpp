// `relicense orgs` and `relicense licenses` against the twin: what they list, how they filter,
// the JSON and CSV they print, and how they fail (exit codes, messages, never the key).
#include "relicense/io/json.hpp"
#include "relicense/test/twin.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

using namespace relicense;
using test::process_result;

namespace {

class DiscoveryCli : public test::twin_cli_test {
protected:
  void start_twin(unsigned orgs, unsigned licenses, unsigned coterm = 0, bool redirect = false) {
    auto c = test::twin_config(orgs, licenses, 41);
    c.coterm_orgs = coterm;
    c.redirect = redirect;
    start(c);
  }

  /// `relicense <args> --base-url <twin>` with the twin's key (or `key`), checking that the key
  /// appears in neither output.
  process_result run(std::vector<std::string> args, std::optional<std::string> key = {}) {
    args.insert(args.end(), {"--base-url", twin().base_url()});
    const std::string sent = key.value_or(twin().api_key());
    auto r = test::run_relicense(args, key_env(key));
    if (!sent.empty()) {
      EXPECT_EQ(r.out.find(sent), std::string::npos) << "the key is in stdout";
      EXPECT_EQ(r.err.find(sent), std::string::npos) << "the key is in stderr";
    }
    return r;
  }

  std::size_t lines(const std::string& text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  }
};

}  // namespace

// orgs lists every organization the key sees, each with its licensing model.
TEST_F(DiscoveryCli, OrgsListsEveryOrganizationWithItsLicensingModel) {
  start_twin(3, 5, 1);
  auto r = run({"orgs"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("LICENSING"), std::string::npos);
  for (const auto& o : twin().orgs()) {
    const auto at = r.out.find(o.id);
    ASSERT_NE(at, std::string::npos) << o.id;
    const auto line = r.out.substr(at, r.out.find('\n', at) - at);
    EXPECT_NE(line.find(o.coterm ? "co-term" : "per-device"), std::string::npos) << line;
  }
  EXPECT_EQ(lines(r.out), 4u);
}

// orgs --json prints the API's organization objects as one JSON array.
TEST_F(DiscoveryCli, OrgsJsonIsOneArrayOfTheApisObjects) {
  start_twin(3, 5, 1);
  auto r = run({"orgs", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  io::response_parser parser;
  auto orgs = parser.parse_organizations(r.out);
  ASSERT_TRUE(orgs.value) << orgs.error;
  const auto twin_orgs = twin().orgs();
  ASSERT_EQ(orgs.value->size(), twin_orgs.size());
  for (std::size_t i = 0; i < twin_orgs.size(); ++i) {
    EXPECT_EQ((*orgs.value)[i].id, twin_orgs[i].id);
    EXPECT_EQ((*orgs.value)[i].licensing_model, twin_orgs[i].licensing_model);
  }
  // The API's own fields, not only the ones relicense reads.
  EXPECT_NE(r.out.find("\"url\":"), std::string::npos);
}

// licenses lists every license of the organization: id, type, state and device.
TEST_F(DiscoveryCli, LicensesListsTheOrganizationsLicenses) {
  start_twin(2, 12);
  const auto org = twin().orgs()[1];
  auto r = run({"licenses", "--org", org.id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("ID", 0), 0u);
  EXPECT_EQ(lines(r.out), org.licenses.size() + 1);
  for (const auto& l : org.licenses) {
    const auto at = r.out.find(l.id);
    ASSERT_NE(at, std::string::npos) << l.id;
    const auto line = r.out.substr(at, r.out.find('\n', at) - at);
    EXPECT_NE(line.find(l.license_type), std::string::npos) << line;
    EXPECT_NE(line.find(l.state), std::string::npos) << line;
    EXPECT_NE(line.find(l.device_serial.value_or("-")), std::string::npos) << line;
  }
}

// --serial (any case) keeps only the licenses of that device, filtered by the API.
TEST_F(DiscoveryCli, SerialListsOnlyThatDevicesLicenses) {
  start_twin(1, 40);
  const auto org = twin().orgs()[0];
  std::string serial;
  for (const auto& l : org.licenses)
    if (l.device_serial) serial = *l.device_serial;
  ASSERT_FALSE(serial.empty());
  std::size_t on_it = 0;
  for (const auto& l : org.licenses) on_it += l.device_serial == serial;
  std::string lower = serial;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto r = run({"licenses", "--org", org.id, "--serial", lower, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  io::response_parser parser;
  auto got = parser.parse_license_records(r.out);
  ASSERT_TRUE(got.value) << got.error;
  EXPECT_EQ(got.value->size(), on_it);
  for (const auto& l : *got.value) EXPECT_EQ(l.device_serial, serial);
}

// orgs reads every page of GET /organizations: more organizations than one page holds (9000).
TEST_F(DiscoveryCli, OrgsReadsEveryPage) {
  start_twin(9005, 0);
  auto r = run({"orgs", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  io::response_parser parser;
  auto orgs = parser.parse_organizations(r.out);
  ASSERT_TRUE(orgs.value) << orgs.error;
  const auto twin_orgs = twin().orgs();
  ASSERT_EQ(orgs.value->size(), twin_orgs.size());
  EXPECT_EQ(orgs.value->front().id, twin_orgs.front().id);
  EXPECT_EQ(orgs.value->back().id, twin_orgs.back().id);
  EXPECT_EQ(twin().stats().by_status[200], 2u);  // 9000 + 5
}

// --json prints the API's license objects as one JSON array, every page of them.
TEST_F(DiscoveryCli, LicensesJsonReadsEveryPage) {
  start_twin(1, 2300);
  const auto org = twin().orgs()[0];
  auto r = run({"licenses", "--org", org.id, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  io::response_parser parser;
  auto got = parser.parse_license_records(r.out);
  ASSERT_TRUE(got.value) << got.error;
  ASSERT_EQ(got.value->size(), org.licenses.size());
  for (std::size_t i = 0; i < org.licenses.size(); ++i)
    EXPECT_EQ((*got.value)[i].id, org.licenses[i].id);
  EXPECT_EQ(twin().stats().by_status[200], 3u);  // 1000 + 1000 + 300
}

// Through a redirect to a shard host, as the real API sends calls, the listings still read whole.
TEST_F(DiscoveryCli, ListingsFollowRedirectsToAShard) {
  start_twin(2, 1200, 0, true);
  auto r = run({"orgs"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto org = twin().orgs()[0];
  r = run({"licenses", "--org", org.id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(r.out), org.licenses.size() + 1);
  EXPECT_GE(twin().stats().redirects, 2u);
}

// --csv prints a license CSV that `relicense plan` accepts as it is.
TEST_F(DiscoveryCli, LicensesCsvIsAPlanInput) {
  start_twin(1, 8);
  const auto org = twin().orgs()[0];
  auto r = run({"licenses", "--org", org.id, "--csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("organizationId,licenseId,deviceSerial", 0), 0u);
  EXPECT_EQ(lines(r.out), org.licenses.size() + 1);
  const auto csv = file("licenses.csv");
  { std::ofstream(csv) << r.out; }
  auto plan = test::run_relicense({"plan", csv.string()});
  EXPECT_EQ(plan.exit_code, 0) << plan.err;
}

// An organization the key cannot see (the API's 404) is a clear error, exit 1, nothing printed.
TEST_F(DiscoveryCli, AnUnknownOrganizationIsAClearError) {
  start_twin(1, 3);
  auto r = run({"licenses", "--org", "424242"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("organization 424242"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;
}

// A co-term organization has no per-device licenses to list: exit 1, and the message says why.
TEST_F(DiscoveryCli, ACotermOrganizationSaysWhy) {
  start_twin(2, 3, 1);
  const auto org = twin().orgs()[1];
  ASSERT_TRUE(org.coterm);
  auto r = run({"licenses", "--org", org.id});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("co-term"), std::string::npos) << r.err;
}

// A rejected key aborts (exit 3) and says what to check; the wrong key is not echoed either.
TEST_F(DiscoveryCli, ARejectedKeyAborts) {
  start_twin(1, 3);
  const std::string wrong = "0123456789abcdef0123456789abcdef01234567";
  auto r = run({"orgs"}, wrong);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("aborted"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("MERAKI_DASHBOARD_API_KEY"), std::string::npos) << r.err;
  r = run({"licenses", "--org", twin().orgs()[0].id}, wrong);
  EXPECT_EQ(r.exit_code, 3);
}

// Bad usage is exit 2 with nothing sent: no key, no --org, a bad --org, --json with --csv.
TEST_F(DiscoveryCli, BadUsageSendsNothing) {
  start_twin(1, 3);
  EXPECT_EQ(run({"orgs"}, std::string()).exit_code, 2);
  EXPECT_EQ(run({"licenses"}).exit_code, 2);
  auto r = run({"licenses", "--org", "1/2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--org"), std::string::npos) << r.err;
  EXPECT_EQ(run({"licenses", "--org", "1", "--json", "--csv"}).exit_code, 2);
  EXPECT_EQ(twin().stats().requests, 0u);
}
