// `relicense demo`: a whole migration against the built-in twin, through the very code path of
// `relicense apply` (run_apply with the twin's URL and key), then a check of the twin's final
// state against the CSV. The twin's budget is the real one's shape sped up 20× (200/s, burst
// 200 per org) so 3,000 licenses take seconds, not minutes; the client is given the same budget.
// Then a hardware refresh from a serial map: live plan, apply, verify, rollback, verify again.
#include "commands.hpp"

#include "relicense/sim/server.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

namespace relicense::cli {
namespace {

namespace fs = std::filesystem;

constexpr unsigned demo_orgs = 3;
constexpr unsigned demo_licenses_per_org = 1000;
constexpr double demo_rate = 200;
constexpr double demo_burst = 200;
constexpr double demo_ip_rate = 1000;

/// A fresh directory under the system temp dir (mkdtemp: never an existing one).
fs::path make_output_dir() {
  std::string tmpl = (fs::temp_directory_path() / "relicense-demo-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("cannot create a directory in " + fs::temp_directory_path().string());
  return tmpl;
}

struct expected_row {
  std::string org;
  std::string license;
  std::optional<std::string> serial;  ///< nullopt: unassigned
};

/// A CSV mixing moves (60 %), unassigns (15 %) and rows already in place (25 %).
std::vector<expected_row> write_csv(const fs::path& csv, const std::vector<sim::org_info>& orgs,
                                    std::map<std::string, unsigned>& kinds) {
  std::mt19937_64 rng(2024);
  std::vector<expected_row> rows;
  std::ofstream out(csv, std::ios::binary);
  out << "organizationId,licenseId,deviceSerial\n";
  for (const auto& org : orgs) {
    if (org.coterm || org.devices.empty()) continue;
    for (const auto& lic : org.licenses) {
      const unsigned roll = static_cast<unsigned>(rng() % 100);
      expected_row r{org.id, lic.id, lic.device_serial};
      if (roll < 60) {
        // A move: a device other than the current one, when the org has another.
        std::string serial = org.devices[rng() % org.devices.size()];
        for (int tries = 0; tries < 8 && lic.device_serial == serial; ++tries) {
          serial = org.devices[rng() % org.devices.size()];
        }
        r.serial = serial;
        ++kinds["assign"];
      } else if (roll < 75) {
        r.serial.reset();
        ++kinds["unassign"];
      } else {
        ++kinds["already in place"];
      }
      out << r.org << ',' << r.license << ',' << r.serial.value_or("") << '\n';
      rows.push_back(std::move(r));
    }
  }
  out.close();
  if (!out) throw std::runtime_error("cannot write " + csv.string());
  return rows;
}

/// Act two, a hardware refresh on a twin of its own: a serial map of old devices to their
/// unlicensed successors, the live plan (and the rows it resolves to), apply, verify, rollback,
/// verify again. Returns the worst exit code of its steps.
int refresh_story(const fs::path& dir) {
  sim::sim_config sc;
  sc.orgs = 1;
  sc.licenses_per_org = 200;
  sc.rate = demo_rate;
  sc.burst = demo_burst;
  sc.ip_rate = demo_ip_rate;
  sim::server twin(sc);
  twin.start();
  const auto before = twin.state();
  fs::create_directories(dir);

  // Old devices that burn or queue a license (one holding only expired ones has nothing to move).
  const auto org = twin.orgs().at(0);
  std::string map = "organizationId,oldSerial,newSerial\n";
  std::size_t mappings = 0;
  for (const auto& [old_serial, new_serial] : org.successors) {
    bool holds = false;
    for (const auto& l : org.licenses)
      holds = holds || (l.device_serial == old_serial && l.state != "expired");
    if (!holds) continue;
    map += org.id + "," + old_serial + "," + new_serial + "\n";
    ++mappings;
  }
  const fs::path map_csv = dir / "refresh-map.csv";
  {
    std::ofstream out(map_csv, std::ios::binary);
    out << map;
    if (!out) throw std::runtime_error("cannot write " + map_csv.string());
  }
  std::fprintf(stderr,
               "\nrelicense demo: a hardware refresh: %zu old devices replaced by new ones (%s)\n",
               mappings, map_csv.string().c_str());

  apply_options o;
  o.base_url = twin.base_url();
  o.rate = demo_rate;
  o.burst = demo_burst;
  o.ip_rate = demo_ip_rate;
  o.no_proxy = true;
  o.yes = true;
  o.progress = "off";
  const auto step = [](const char* what) { std::fprintf(stderr, "\nrelicense demo: %s\n", what); };
  int worst = exit_ok;
  const auto keep = [&worst](int rc) {
    if (rc != exit_ok && worst == exit_ok) worst = rc;
    return rc;
  };

  step("the live plan of the map (relicense plan refresh-map.csv --live --emit refresh-moves.csv)");
  plan_options po;
  po.csv = map_csv.string();
  po.live = true;
  po.emit = (dir / "refresh-moves.csv").string();
  std::fflush(stdout);
  if (keep(run_plan_live(po, o)) != exit_ok) return worst;
  std::fflush(stdout);

  step("apply the map (relicense apply refresh-map.csv)");
  apply_options a = o;
  a.csv = map_csv.string();
  a.report = (dir / "refresh-report.csv").string();
  a.summary = (dir / "refresh-summary.json").string();
  if (keep(run_apply(a)) != exit_ok) return worst;

  step("verify: every moved license on its new device (relicense verify refresh-moves.csv)");
  apply_options v = o;
  v.csv = po.emit;
  keep(run_verify(v));

  step("roll back (relicense rollback refresh-report.csv, then apply the undo CSV)");
  rollback_options ro;
  ro.report = a.report;
  ro.output = (dir / "refresh-undo.csv").string();
  if (keep(run_rollback(ro)) != exit_ok) return worst;
  apply_options u = o;
  u.csv = ro.output;
  u.report = (dir / "refresh-undo-report.csv").string();
  if (keep(run_apply(u)) != exit_ok) return worst;

  step("verify again: every license back where it was (relicense verify refresh-undo.csv)");
  apply_options v2 = o;
  v2.csv = ro.output;
  keep(run_verify(v2));
  const bool restored = twin.state() == before;
  twin.stop();
  std::fprintf(stderr, "relicense demo: the refresh %s\n",
               restored ? "was applied, verified and rolled back: the twin is as it was"
                        : "FAILED: the twin is not as it was");
  if (!restored) keep(exit_rows_failed);
  return worst;
}

}  // namespace

int run_demo() {
  sim::sim_config sc;
  sc.orgs = demo_orgs;
  sc.licenses_per_org = demo_licenses_per_org;
  sc.rate = demo_rate;
  sc.burst = demo_burst;
  sc.ip_rate = demo_ip_rate;
  sc.latency = std::chrono::milliseconds(20);  // a little network, so concurrency matters
  sim::server twin(sc);
  twin.start();

  const fs::path dir = make_output_dir();
  const fs::path csv = dir / "migration.csv";
  std::map<std::string, unsigned> kinds;
  const auto expected = write_csv(csv, twin.orgs(), kinds);
  std::fprintf(stderr,
               "relicense demo: twin of the Meraki license API at %s (%u orgs, budget %.0f/s burst "
               "%.0f per org)\n",
               twin.base_url().c_str(), demo_orgs, demo_rate, demo_burst);
  std::fprintf(
      stderr, "relicense demo: CSV of %zu rows (%u assign, %u unassign, %u already in place): %s\n",
      expected.size(), kinds["assign"], kinds["unassign"], kinds["already in place"],
      csv.string().c_str());

  apply_options o;
  o.csv = csv.string();
  o.base_url = twin.base_url();
  o.rate = demo_rate;
  o.burst = demo_burst;
  o.ip_rate = demo_ip_rate;
  o.report = (dir / "report.csv").string();
  o.summary = (dir / "summary.json").string();
  o.no_proxy = true;  // the twin runs in this process: no proxy elsewhere can reach it
  // The twin's key, not a secret (it only opens this local server); apply reads it from the
  // environment exactly as it does for the real API.
  ::setenv("MERAKI_DASHBOARD_API_KEY", twin.api_key().c_str(), 1);
  const int rc = run_apply(o);

  const auto state = twin.state();
  twin.stop();
  std::size_t mismatches = 0;
  for (const auto& r : expected) {
    std::optional<std::string> actual;
    bool found = false;
    if (auto org = state.find(r.org); org != state.end()) {
      if (auto lic = org->second.find(r.license); lic != org->second.end()) {
        found = true;
        actual = lic->second;
      }
    }
    if (!found || actual != r.serial) {
      if (++mismatches <= 10) {
        std::fprintf(stderr, "mismatch: org %s license %s: wanted %s, twin has %s\n", r.org.c_str(),
                     r.license.c_str(), r.serial.value_or("unassigned").c_str(),
                     found ? actual.value_or("unassigned").c_str() : "no such license");
      }
    }
  }
  std::fprintf(stderr, "relicense demo: files in %s (CSV, report.csv, summary.json, journal)\n",
               dir.string().c_str());
  if (mismatches > 0) {
    std::fprintf(stderr, "relicense demo: FAILED: %zu of %zu licenses differ from the CSV\n",
                 mismatches, expected.size());
    return rc != exit_ok ? rc : exit_rows_failed;
  }
  std::fprintf(stderr, "relicense demo: verified: all %zu licenses in the twin match the CSV\n",
               expected.size());
  const int refresh = refresh_story(dir / "refresh");
  return rc != exit_ok ? rc : refresh;
}

}  // namespace relicense::cli
