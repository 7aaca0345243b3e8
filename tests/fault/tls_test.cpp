// TLS: certificate verification is on by default and cannot be turned off. A
// self-signed twin without --ca-file, or a certificate for another host name, is refused with a
// clear message and exit 3, before any license is touched; with --ca-file the run works.
#include "relicense/sim/server.hpp"

#include "fault_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace relicense::fault_test {
namespace {

class Tls : public fault_test {
protected:
  /// A self-signed twin (its certificate for `cert_host`) of one org of 20 licenses, and a CSV
  /// moving them all.
  std::filesystem::path start_tls(const std::string& cert_host = {}) {
    auto cfg = relicense::test::twin_config(1, 20, 31);
    cfg.tls = true;
    cfg.cert_host = cert_host;
    return start_moving(cfg, 20);
  }
  /// No client budget, then `extra`.
  child_result run_unpaced(const std::filesystem::path& csv,
                           const std::vector<std::string>& extra = {}) {
    std::vector<std::string> o{"--rate",        "0",         "--ip-rate",     "0", "--report",
                               report.string(), "--journal", journal.string()};
    o.insert(o.end(), extra.begin(), extra.end());
    return run_apply(csv, o);
  }
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// The message says it is about the certificate/TLS, so the user knows what to fix.
void expect_clear_tls_message(const std::string& err) {
  const auto e = lower(err);
  EXPECT_TRUE(e.find("certificate") != std::string::npos || e.find("tls") != std::string::npos ||
              e.find("ssl") != std::string::npos)
      << "no clear TLS message in: " << err;
}

// A self-signed twin without --ca-file: exit 3, a message about the certificate, nothing applied.
TEST_F(Tls, SelfSignedWithoutCaFileIsRefused) {
  const auto r = run_unpaced(start_tls());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  expect_clear_tls_message(r.err);
  EXPECT_EQ(twin().stats().puts_applied, 0u);
  EXPECT_EQ(twin().stats().requests, 0u)
      << "a request (and the key) went over an unverified connection";
}

// A certificate from the trusted CA but for another host name: exit 3 even with --ca-file.
TEST_F(Tls, CertificateForAnotherHostIsRefused) {
  const auto csv = start_tls("api.example.org");
  const auto r = run_unpaced(csv, {"--ca-file", twin().ca_file()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  expect_clear_tls_message(r.err);
  EXPECT_EQ(twin().stats().requests, 0u)
      << "a request (and the key) went to a server of another name";
}

// The same self-signed twin with --ca-file: every row applied, exit 0.
TEST_F(Tls, WorksWithCaFile) {
  const auto csv = start_tls();
  const auto r = run_unpaced(csv, {"--ca-file", twin().ca_file()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_mismatches(twin(), wanted), 0u);
}

// verify is refused the same way against an untrusted certificate.
TEST_F(Tls, VerifyRefusesUntrustedCertificate) {
  const auto csv = start_tls();
  const auto r = run(
      {"verify", csv.string(), "--base-url", twin().base_url(), "--rate", "0", "--ip-rate", "0"},
      twin().api_key(), dir.path());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  expect_clear_tls_message(r.err);
  EXPECT_EQ(twin().stats().requests, 0u);
}

// No option of apply or verify turns verification off (no --insecure, -k, --no-verify...), and
// such flags are rejected as unknown (exit 2).
TEST_F(Tls, NoFlagTurnsVerificationOff) {
  for (const char* cmd : {"apply", "verify"}) {
    const auto r = run({std::string(cmd), "--help"}, "", dir.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const auto help = lower(r.out + r.err);
    EXPECT_NE(help.find("--ca-file"), std::string::npos) << help;
    for (const char* word : {"insecure", "no-verify", "noverify", "skip-verify",
                             "verify=", "--verify", "-k,", "allow-invalid", "tls-skip"}) {
      EXPECT_EQ(help.find(word), std::string::npos) << cmd << " --help offers '" << word << "':\n"
                                                    << help;
    }
  }
  const auto csv =
      dir.write("in.csv", "organizationId,licenseId,deviceSerial\n1,L1,Q2AA-BBBB-CCCC\n");
  for (const char* flag : {"--insecure", "-k", "--no-verify", "--tls-no-verify"}) {
    const auto r = run({"apply", csv.string(), flag, "--base-url", "https://127.0.0.1:1/api/v1"},
                       "k", dir.path());
    EXPECT_EQ(r.exit_code, 2) << flag << " was accepted: " << r.err;
  }
}

}  // namespace
}  // namespace relicense::fault_test
