// Secrets: every subcommand, on its success and failure paths, run with a marker API
// key; the marker never appears in stdout, stderr, the report, summary, journal, metrics or any
// other file the run wrote. Credentials quoted in URLs are redacted too.
#include "relicense/sim/server.hpp"

#include "fault_support.hpp"

#include <gtest/gtest.h>

#include <string>

namespace relicense::fault_test {
namespace {

constexpr const char* marker = "SECRET-MARKER-abc123";

/// Fails the test if the marker (or its most obvious encodings) is in `text`.
void expect_clean(const std::string& text, const std::string& where) {
  for (const std::string& m : {std::string(marker), std::string("SECRET-MARKER"),
                              std::string("U0VDUkVULU1BUktFUi1hYmMxMjM")}) {  // base64 of the marker
    EXPECT_EQ(text.find(m), std::string::npos) << "'" << m << "' leaked into " << where << ":\n" << text.substr(0, 3000);
  }
}

/// Scans a run's stdout, stderr and every file under `dir` (report, summary, journal, metrics,
/// rollback CSV, progress...).
void expect_clean(const child_result& r, const std::filesystem::path& dir, const std::string& what) {
  expect_clean(r.out, what + " stdout");
  expect_clean(r.err, what + " stderr");
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) expect_clean(temp_dir::read(e.path()), what + " file " + e.path().filename().string());
  }
}

class Secrets : public ::testing::Test {
protected:
  void SetUp() override {
    sim::sim_config cfg;
    cfg.orgs = 2;
    cfg.licenses_per_org = 30;
    cfg.rate = 0;
    cfg.seed = 515;
    cfg.api_key = marker;  // the twin accepts exactly the marker
    twin_ = std::make_unique<sim::server>(cfg);
    twin_->start();
    csv_ = dir_.write("in.csv", moving_csv(*twin_, 30, wanted_));
    const auto org = twin_->orgs()[0];
    // A second CSV with one row the API refuses (a license the org does not have).
    bad_csv_ = dir_.write("bad.csv", "organizationId,licenseId,deviceSerial\n" + org.id + "," + org.licenses[0].id +
                                         "," + org.devices[0] + "\n" + org.id + ",NO-SUCH-LICENSE," + org.devices[0] + "\n");
  }

  /// apply/verify arguments with every artefact in a fresh sub-directory `tag` of the temp dir.
  std::vector<std::string> apply_args(const std::string& tag, const std::filesystem::path& csv,
                                      const std::string& base_url = {}) {
    const auto d = dir_.path() / tag;
    std::filesystem::create_directories(d);
    return {"apply", csv.string(), "--base-url", base_url.empty() ? twin_->base_url() : base_url, "--rate", "0",
            "--ip-rate", "0", "--report", (d / "report.csv").string(), "--summary", (d / "summary.json").string(),
            "--metrics", (d / "metrics.prom").string(), "--journal", (d / "run.journal").string(),
            "--progress", "on"};
  }

  temp_dir dir_;
  std::unique_ptr<sim::server> twin_;
  wanted_map wanted_;
  std::filesystem::path csv_;
  std::filesystem::path bad_csv_;
};

// plan, apply (success, failures, dry-run, skip-unchanged, batch mode, resume), verify and
// rollback with the marker key: none of them writes it anywhere.
TEST_F(Secrets, NoSubcommandLeaksTheKey) {
  auto r = run({"plan", csv_.string()}, marker, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(r, dir_.path(), "plan");

  auto a = apply_args("ok", csv_);
  a.push_back("--skip-unchanged");  // learns each previous serial, so rollback has rows to write
  r = run(a, marker, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_mismatches(*twin_, wanted_), 0u);
  expect_clean(r, dir_.path(), "apply");

  a.push_back("--resume");
  r = run(a, marker, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(r, dir_.path(), "apply --resume");

  r = run(apply_args("fail", bad_csv_), marker, dir_.path());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  expect_clean(r, dir_.path(), "apply with a failing row");

  a = apply_args("dry", csv_);
  a.push_back("--dry-run");
  r = run(a, marker, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(r, dir_.path(), "apply --dry-run");

  a = apply_args("skip", csv_);
  a.push_back("--skip-unchanged");
  r = run(a, marker, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(r, dir_.path(), "apply --skip-unchanged");

  twin_->reset();
  a = apply_args("batch", csv_);
  a.insert(a.end(), {"--mode", "batch"});
  r = run(a, marker, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(r, dir_.path(), "apply --mode batch");

  r = run({"verify", csv_.string(), "--base-url", twin_->base_url(), "--rate", "0", "--ip-rate", "0"}, marker,
          dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(r, dir_.path(), "verify");

  twin_->reset();
  r = run({"verify", csv_.string(), "--base-url", twin_->base_url(), "--rate", "0", "--ip-rate", "0"}, marker,
          dir_.path());
  EXPECT_NE(r.exit_code, 0) << "verify of an unapplied CSV passed";
  expect_clean(r, dir_.path(), "verify with mismatches");

  r = run({"rollback", (dir_.path() / "ok" / "report.csv").string(), "--output", (dir_.path() / "undo.csv").string()},
          marker, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(r, dir_.path(), "rollback");
}

// Transient faults (5xx, drops, timeouts, 429s) put error texts in the report and the retries in
// the summary and metrics: none of them carries the key.
TEST_F(Secrets, FaultPathsDoNotLeakTheKey) {
  twin_->set_faults(0.2, 0.05, 0.02, 0.2);
  auto a = apply_args("faults", csv_);
  a.insert(a.end(), {"--timeout", "0.5", "--max-attempts", "2"});  // few attempts: some rows fail with errors
  const auto r = run(a, marker, dir_.path());
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.exit_code << " " << r.err;
  expect_clean(r, dir_.path(), "apply under faults");
}

// A key the API rejects (401): the run aborts (exit 3) and the rejected key is nowhere.
TEST_F(Secrets, RejectedKeyIsNotPrinted) {
  sim::sim_config cfg;
  cfg.orgs = 2;
  cfg.licenses_per_org = 30;
  cfg.rate = 0;
  cfg.seed = 515;  // same orgs, another key
  sim::server other(cfg);
  other.start();
  auto r = run(apply_args("401", csv_, other.base_url()), marker, dir_.path());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(other.stats().puts_applied, 0u);
  expect_clean(r, dir_.path(), "apply with a rejected key");

  r = run({"verify", csv_.string(), "--base-url", other.base_url(), "--rate", "0", "--ip-rate", "0"}, marker,
          dir_.path());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  expect_clean(r, dir_.path(), "verify with a rejected key");
}

// Credentials written into --base-url (user-info, a key-like query parameter) are redacted from
// every error message, whether the URL is refused or the host unreachable.
TEST_F(Secrets, CredentialsInUrlsAreRedacted) {
  const std::string port = std::to_string(twin_->port());
  for (const std::string& url : {"http://user:" + std::string(marker) + "@api.meraki.com/api/v1",
                                "https://user:" + std::string(marker) + "@127.0.0.1:1/api/v1",
                                "https://127.0.0.1:1/api/v1?apiKey=" + std::string(marker),
                                "http://user:" + std::string(marker) + "@127.0.0.1:" + port + "/api/v1",
                                "ftp://" + std::string(marker) + "@127.0.0.1/"}) {
    const auto r = run(apply_args("url", csv_, url), "another-key-0000", dir_.path());
    EXPECT_NE(r.exit_code, 0) << url;
    expect_clean(r, dir_.path(), "apply --base-url " + url);
  }
}

// `relicense demo` (which runs its own twin) writes no key given in the environment.
TEST_F(Secrets, DemoDoesNotLeakTheKey) {
  const auto r = run({"demo"}, marker, dir_.path(), std::chrono::seconds(180));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(r, dir_.path(), "demo");
  // "relicense demo: files in DIR (CSV, ...)": scan DIR as well, then remove it.
  if (const auto at = r.err.find("files in "); at != std::string::npos) {
    const auto start = at + 9;
    const std::filesystem::path out = r.err.substr(start, r.err.find_first_of(" \n", start) - start);
    expect_clean(r, out, "demo");
    std::error_code ec;
    std::filesystem::remove_all(out, ec);
  } else {
    ADD_FAILURE() << "demo did not say where its files are: " << r.err;
  }
}

} // namespace
} // namespace relicense::fault_test
