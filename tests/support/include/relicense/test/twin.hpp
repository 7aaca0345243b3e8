// The twin as end-to-end tests start it: its settings, and a fixture that starts it next to a
// scratch directory and runs the relicense binary against it. Header-only: only targets that link
// relicense::sim include it.
#pragma once

#include "relicense/sim/server.hpp"
#include "relicense/test/run_process.hpp"
#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relicense::test {

/// The twin's settings for an end-to-end test: `orgs` orgs of `licenses` licenses generated from
/// `seed`, no budget unless a test sets one.
inline sim::sim_config twin_config(unsigned orgs, unsigned licenses, std::uint64_t seed) {
  sim::sim_config c;
  c.orgs = orgs;
  c.licenses_per_org = licenses;
  c.rate = 0;
  c.seed = seed;
  return c;
}

/// A test of the relicense binary against the twin: start() brings the twin up (again, for tests
/// that loop over a setting), `dir` holds the test's files, and apply() runs `relicense apply`
/// against the twin with its key.
class twin_cli_test : public ::testing::Test {
protected:
  void start(const sim::sim_config& cfg) {
    twin_.reset();
    twin_.emplace(cfg);
    twin_->start();
  }

  sim::server& twin() { return *twin_; }

  /// A file of the test's directory.
  std::filesystem::path file(std::string_view name) const { return dir.path() / name; }

  /// `relicense apply <csv> --base-url <the twin> --progress off`, then `options`.
  std::vector<std::string> apply_args(const std::filesystem::path& csv,
                                      const std::vector<std::string>& options = {}) {
    std::vector<std::string> a{"apply",           csv.string(), "--base-url",
                               twin().base_url(), "--progress", "off"};
    a.insert(a.end(), options.begin(), options.end());
    return a;
  }

  /// The environment that hands a child `key`, by default the twin's.
  std::map<std::string, std::string> key_env(std::optional<std::string> key = {}) {
    return {{"MERAKI_DASHBOARD_API_KEY", key.value_or(twin().api_key())}};
  }

  /// Runs apply_args(csv, options) to the end with `key` (by default the twin's; "" for none).
  process_result apply(const std::filesystem::path& csv,
                       const std::vector<std::string>& options = {},
                       std::optional<std::string> key = {}) {
    return run_relicense(apply_args(csv, options), key_env(std::move(key)));
  }

  temp_dir dir;

private:
  std::optional<sim::server> twin_;
};

}  // namespace relicense::test
