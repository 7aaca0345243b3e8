// `relicense plan FILE --live` and serial maps (`plan map.csv --live --emit`, `apply map.csv`),
// running the built binary against the twin: the live plan's counts, a map resolved into license
// rows and applied, the emitted rows applied, and a map that does not resolve sending nothing.
#include "relicense/sim/server.hpp"

#include "relicense/test/run_process.hpp"
#include "relicense/test/temp_dir.hpp"
#include "relicense/test/twin.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace sim = relicense::sim;
using relicense::test::run_relicense;
using relicense::test::temp_dir;

namespace {

/// Two orgs of 40 licenses, no budget; each has unlicensed successors of licensed devices.
sim::sim_config twin_config() { return relicense::test::twin_config(2, 40, 23); }

std::size_t lines_of(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

class LiveCli : public relicense::test::twin_cli_test {
protected:
  /// `relicense plan <file> --live --base-url <the twin>` without a client budget, then `options`.
  relicense::test::process_result plan_live(const std::filesystem::path& file,
                                            const std::vector<std::string>& options = {}) {
    std::vector<std::string> a{"plan",       file.string(),     "--live",
                               "--base-url", twin().base_url(), "--rate",
                               "0",          "--ip-rate",       "0"};
    a.insert(a.end(), options.begin(), options.end());
    return run_relicense(a, key_env());
  }

  /// The map of every successor of every org whose old device holds a license that is not
  /// expired (a device with only expired ones is a mapping error): old device -> new hardware.
  std::string successor_map() {
    std::string csv = "organizationId,oldSerial,newSerial\n";
    for (const auto& o : twin().orgs())
      for (const auto& [old_serial, new_serial] : o.successors)
        if (holds_license(o, old_serial)) csv += o.id + "," + old_serial + "," + new_serial + "\n";
    return csv;
  }

  static bool holds_license(const sim::org_info& o, const std::string& serial) {
    return std::any_of(o.licenses.begin(), o.licenses.end(), [&](const auto& l) {
      return l.device_serial == serial && l.state != "expired";
    });
  }

  /// Per org, the licenses the map moves: those on an old device that are not expired.
  std::map<std::string, std::map<std::string, std::string>> expected_moves() {
    std::map<std::string, std::map<std::string, std::string>> moves;
    for (const auto& o : twin().orgs())
      for (const auto& l : o.licenses) {
        if (!l.device_serial || l.state == "expired") continue;
        if (auto it = o.successors.find(*l.device_serial); it != o.successors.end())
          moves[o.id][l.id] = it->second;
      }
    return moves;
  }

  /// Every license of `moves` is on its new device in the twin.
  void expect_moved(const std::map<std::string, std::map<std::string, std::string>>& moves) {
    const auto state = twin().state();
    for (const auto& [org, licenses] : moves)
      for (const auto& [license, serial] : licenses) {
        const auto& now = state.at(org).at(license);
        ASSERT_TRUE(now.has_value()) << license;
        EXPECT_EQ(*now, serial) << license;
      }
  }

  static std::size_t count(const std::map<std::string, std::map<std::string, std::string>>& moves) {
    std::size_t n = 0;
    for (const auto& [org, licenses] : moves) n += licenses.size();
    return n;
  }
};

}  // namespace

// The live plan counts a move, an assign and a row already in place, as text and as JSON.
TEST_F(LiveCli, ThePlanCountsWhatTheLiveStateNeeds) {
  start(twin_config());
  const auto org = twin().orgs()[0];
  std::string csv = "organizationId,licenseId,deviceSerial\n";
  const std::string target = org.successors.begin()->second;  // unlicensed: no queue warning
  const auto assigned = std::find_if(org.licenses.begin(), org.licenses.end(), [](const auto& l) {
    return l.device_serial && l.state == "active";
  });
  const auto unassigned = std::find_if(org.licenses.begin(), org.licenses.end(), [](const auto& l) {
    return !l.device_serial && l.state != "expired";
  });
  ASSERT_NE(assigned, org.licenses.end());
  ASSERT_NE(unassigned, org.licenses.end());
  csv += org.id + "," + assigned->id + "," + target + "\n";            // move
  csv += org.id + "," + unassigned->id + "," + org.devices[1] + "\n";  // assign
  csv += org.id + "," + assigned->id + "x," + org.devices[2] + "\n";   // no such license
  const auto in_place = std::find_if(std::next(assigned), org.licenses.end(),
                                     [](const auto& l) { return l.device_serial.has_value(); });
  ASSERT_NE(in_place, org.licenses.end());
  csv += org.id + "," + in_place->id + "," + *in_place->device_serial + "\n";  // unchanged
  const auto file = dir.write("in.csv", csv);

  const auto text = plan_live(file);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("organization " + org.id + " (per-device)"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("total: 1 organization, 2 changes (assign 1, unassign 0, move 1), 1 "
                          "unchanged, 1 unknown"),
            std::string::npos)
      << text.out;

  const auto json = plan_live(file, {"--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NE(
      json.out.find(
          R"("id":")" + org.id +
          R"(","licensingModel":"per-device","assign":1,"unassign":0,"move":1,"unchanged":1,"unknown":1)"),
      std::string::npos)
      << json.out;
  EXPECT_NE(json.out.find(R"("changes":2)"), std::string::npos) << json.out;
  EXPECT_EQ(twin().stats().puts_applied, 0u);  // a plan never changes anything
  EXPECT_EQ(json.err.find(twin().api_key()), std::string::npos);
}

// A serial map of old to new devices: apply resolves it against the live state, every license
// on an old device moves to the new one, and the report names each license and its old device.
TEST_F(LiveCli, ApplyResolvesASerialMapAndMovesTheLicenses) {
  start(twin_config());
  const auto before = twin().orgs();
  const auto moves = expected_moves();
  const auto move_count = count(moves);
  ASSERT_GT(move_count, 0u);
  const auto map = dir.write("map.csv", successor_map());

  const auto plan = plan_live(map, {"--json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find(R"("move":)" + std::to_string(move_count) +
                          R"(,"unchanged":0,"unknown":0,"changes":)"),
            std::string::npos)
      << plan.out;

  const auto sent_before = twin().stats().requests;
  const auto r =
      apply(map, {"--rate", "0", "--ip-rate", "0", "--report", file("report.csv").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_moved(moves);
  // The summary counts every call the apply made: the live read's GETs too.
  const auto sent = twin().stats().requests - sent_before;
  EXPECT_NE(r.err.find("requests " + std::to_string(sent) + ", 429s"), std::string::npos)
      << sent << "\n"
      << r.err;
  const auto report = temp_dir::read(file("report.csv"));
  EXPECT_EQ(lines_of(report), move_count + 1);
  for (const auto& o : before)
    for (const auto& [old_serial, new_serial] : o.successors) {
      if (!holds_license(o, old_serial)) continue;
      EXPECT_NE(report.find("," + new_serial + "," + old_serial + ",applied,"), std::string::npos)
          << report;
    }
}

// `plan map.csv --live --emit moves.csv` writes the resolved rows; apply takes the file as it is.
TEST_F(LiveCli, TheEmittedRowsAreAppliedAsTheyAre) {
  start(twin_config());
  const auto moves = expected_moves();
  const auto move_count = count(moves);
  const auto map = dir.write("map.csv", successor_map());
  const auto plan = plan_live(map, {"--emit", file("moves.csv").string()});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  const auto emitted = temp_dir::read(file("moves.csv"));
  EXPECT_EQ(emitted.rfind("organizationId,licenseId,deviceSerial,previousDeviceSerial\n", 0), 0u)
      << emitted;
  EXPECT_EQ(lines_of(emitted), move_count + 1);
  EXPECT_EQ(twin().stats().puts_applied, 0u);

  const auto r = apply(file("moves.csv"),
                       {"--rate", "0", "--ip-rate", "0", "--report", file("report.csv").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_moved(moves);
}

// A mapping whose old device holds no license: plan and apply name map.csv:line, exit 2, and
// nothing is changed.
TEST_F(LiveCli, AMapThatDoesNotResolveExitsTwoAndSendsNothing) {
  start(twin_config());
  const auto org = twin().orgs()[0];
  const auto& [old_serial, new_serial] = *org.successors.begin();
  // A device on neither side of the first mapping, as the target of the second.
  const auto other = std::find_if(org.devices.begin(), org.devices.end(), [&](const auto& d) {
    return d != old_serial && d != new_serial;
  });
  ASSERT_NE(other, org.devices.end());
  std::string csv = "oldSerial,newSerial\n";
  csv += old_serial + "," + new_serial + "\n";
  csv += "Q2ZZ-ZZZZ-ZZZ1," + *other + "\n";  // line 3: no such device, so no license on it
  const auto map = dir.write("map.csv", csv);

  const auto plan = plan_live(map, {"--org", org.id, "--emit", file("moves.csv").string()});
  EXPECT_EQ(plan.exit_code, 2) << plan.err;
  EXPECT_NE(plan.err.find("map.csv:3:"), std::string::npos) << plan.err;
  EXPECT_EQ(plan.err.find("map.csv:2:"), std::string::npos) << plan.err;
  EXPECT_FALSE(std::filesystem::exists(file("moves.csv")));

  const auto r = apply(map, {"--org", org.id, "--report", file("report.csv").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("map.csv:3:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no change was sent"), std::string::npos) << r.err;
  EXPECT_EQ(twin().stats().puts_applied, 0u);
  EXPECT_FALSE(std::filesystem::exists(file("report.csv")));
}

// --resume cannot be exact for a serial map: exit 2, and the message points at --emit.
TEST_F(LiveCli, ResumeIsRefusedForASerialMap) {
  start(twin_config());
  const auto map = dir.write("map.csv", successor_map());
  const auto r = apply(map, {"--resume", "--journal", file("j").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--emit"), std::string::npos) << r.err;
  EXPECT_EQ(twin().stats().requests, 0u);
}

// A co-term organization is read for its model only; its rows are unknown, with a warning.
TEST_F(LiveCli, ACotermOrganizationIsNamedAndItsRowsAreUnknown) {
  auto cfg = twin_config();
  cfg.coterm_orgs = 1;
  start(cfg);
  const auto orgs = twin().orgs();
  const auto& coterm = orgs.at(1);
  ASSERT_TRUE(coterm.coterm);
  std::string csv = "organizationId,licenseId,deviceSerial\n";
  csv += coterm.id + "," + coterm.licenses.at(0).id + "," + coterm.devices.at(0) + "\n";
  const auto r = plan_live(dir.write("in.csv", csv), {"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(
      r.out.find(
          R"("licensingModel":"co-term","assign":0,"unassign":0,"move":0,"unchanged":0,"unknown":1)"),
      std::string::npos)
      << r.out;
}

// A key the API refuses aborts the read (exit 3) without printing it; no key at all is exit 2.
TEST_F(LiveCli, ARefusedKeyAbortsAndAMissingOneIsAUsageError) {
  start(twin_config());
  const auto org = twin().orgs()[0];
  const auto file = dir.write("in.csv", "organizationId,licenseId,deviceSerial\n" + org.id + "," +
                                            org.licenses[0].id + "," + org.devices[0] + "\n");
  const std::string wrong = "0123456789abcdef0123456789abcdef01234567";
  const auto refused = run_relicense(
      {"plan", file.string(), "--live", "--base-url", twin().base_url()}, key_env(wrong));
  EXPECT_EQ(refused.exit_code, 3) << refused.err;
  EXPECT_EQ(refused.err.find(wrong), std::string::npos) << refused.err;
  EXPECT_EQ(refused.out.find(wrong), std::string::npos) << refused.out;
  const auto missing = run_relicense(
      {"plan", file.string(), "--live", "--base-url", twin().base_url()}, key_env(""));
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
}

// Options that only a live plan uses are refused without --live (exit 2), not ignored.
TEST(LivePlanOptions, ConnectionOptionsNeedLive) {
  temp_dir dir;
  const auto file =
      dir.write("in.csv", "organizationId,licenseId,deviceSerial\n1,L1,Q2AA-BBBB-CCCC\n");
  for (const auto& extra : {std::vector<std::string>{"--json"},
                            {"--emit", "x.csv"},
                            {"--base-url", "http://127.0.0.1:1/api/v1"},
                            {"--rate", "3"}}) {
    std::vector<std::string> args{"plan", file.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_relicense(args);
    EXPECT_EQ(r.exit_code, 2) << extra[0] << ": " << r.err;
    EXPECT_NE(r.err.find("--live"), std::string::npos) << r.err;
  }
}
