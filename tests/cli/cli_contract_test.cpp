// The command-line surface: help, version, and usage errors (docs/exit-codes.md).
#include "relicense/test/run_process.hpp"

#include <gtest/gtest.h>

using relicense::test::run_relicense;

// --version prints the program name and version and exits 0.
TEST(cli_contract, version) {
  auto r = run_relicense({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("relicense "), std::string::npos);
}

// --help lists every subcommand of the contract.
TEST(cli_contract, help_lists_subcommands) {
  auto r = run_relicense({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* sub : {"plan", "apply", "verify", "rollback", "sim", "demo"})
    EXPECT_NE(r.out.find(sub), std::string::npos) << sub;
}

// Each subcommand has its own --help and exits 0 with it.
TEST(cli_contract, subcommand_help) {
  for (const char* sub : {"plan", "apply", "verify", "rollback", "sim", "demo"}) {
    auto r = run_relicense({sub, "--help"});
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
}

// No subcommand, an unknown option, or a missing required argument are usage errors: exit 2.
TEST(cli_contract, usage_errors_exit_2) {
  EXPECT_EQ(run_relicense({}).exit_code, 2);
  EXPECT_EQ(run_relicense({"apply"}).exit_code, 2);
  EXPECT_EQ(run_relicense({"plan", "x.csv", "--no-such-option"}).exit_code, 2);
  EXPECT_EQ(run_relicense({"apply", "x.csv", "--mode", "fast"}).exit_code, 2);
}
