// `relicense demo`: a whole migration against the built-in twin, through the very code path of
// `relicense apply` (run_apply with the twin's URL and key), then a check of the twin's final
// state against the CSV. The twin's budget is the real one's shape sped up 20× (200/s, burst
// 200 per org) so 3,000 licenses take seconds, not minutes; the client is given the same budget.
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
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("cannot create a directory in " + fs::temp_directory_path().string());
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

} // namespace

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
  std::fprintf(stderr, "relicense demo: twin of the Meraki license API at %s (%u orgs, budget %.0f/s burst %.0f per org)\n",
               twin.base_url().c_str(), demo_orgs, demo_rate, demo_burst);
  std::fprintf(stderr, "relicense demo: CSV of %zu rows (%u assign, %u unassign, %u already in place): %s\n",
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
    std::fprintf(stderr, "relicense demo: FAILED: %zu of %zu licenses differ from the CSV\n", mismatches,
                 expected.size());
    return rc != exit_ok ? rc : exit_rows_failed;
  }
  std::fprintf(stderr, "relicense demo: verified: all %zu licenses in the twin match the CSV\n", expected.size());
  return rc;
}

} // namespace relicense::cli
