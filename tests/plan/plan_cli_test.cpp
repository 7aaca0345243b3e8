// `relicense plan` as a user runs it: exit codes, messages naming file:line, the summary.
#include "relicense/test/run_process.hpp"
#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <thread>

#include <sys/stat.h>

using relicense::test::run_relicense;
using relicense::test::temp_dir;

// A good file prints the summary on stdout and exits 0.
TEST(PlanCli, summary) {
  temp_dir dir;
  auto f = dir.write("ok.csv",
                     "licenseId,deviceSerial,organizationId\n"
                     "L1,Q2AA-BBBB-CCCC,O1\nL2,Q2AA-BBBB-CCCC,O1\nL3,,O2\nL1,Q2AA-BBBB-CCCC,O1\n");
  auto r = run_relicense({"plan", f.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* want :
       {"rows read                      4", "unique licenses                3",
        "organizations                  2", "assigns                        2",
        "unassigns                      1", "duplicates dropped             1",
        "serials receiving several      1", "estimated duration, put mode",
        "estimated duration, batch mode", "estimated duration, auto mode", "fingerprint"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  EXPECT_NE(r.err.find("ok.csv:5: column 1 (licenseId): license \"L1\" repeated"),
            std::string::npos)
      << r.err;
}

// Bad rows: every error on stderr as file:line: column, nothing on stdout, exit 2.
TEST(PlanCli, ErrorsExit2) {
  temp_dir dir;
  auto f = dir.write("bad.csv", "licenseId,deviceSerial\nL1,nope\nL/2,\n");
  auto r = run_relicense({"plan", f.string(), "--org", "O"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.csv:2: column 2 (deviceSerial): invalid serial \"NOPE\""),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("bad.csv:3: column 1 (licenseId): \"L/2\" contains '/'"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("2 errors"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

// A missing file is a clear error and exit 2.
TEST(PlanCli, MissingFile) {
  auto r = run_relicense({"plan", "/nonexistent/relicense/plan.csv", "--org", "O"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("/nonexistent/relicense/plan.csv: cannot open: No such file or directory"),
            std::string::npos)
      << r.err;
}

// Without an org column, --org is required.
TEST(PlanCli, OrgRequired) {
  temp_dir dir;
  auto f = dir.write("noorg.csv", "licenseId,deviceSerial\nL1,\n");
  auto r = run_relicense({"plan", f.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("noorg.csv:1: no organizationId column and no --org"), std::string::npos)
      << r.err;
  EXPECT_EQ(run_relicense({"plan", f.string(), "--org", "O"}).exit_code, 0);
}

// --shard must be K/N; a valid one filters by org and says so.
TEST(PlanCli, shard) {
  temp_dir dir;
  auto f = dir.write("s.csv", "licenseId,deviceSerial,org\nL1,,A\nL2,,B\nL3,,C\n");
  auto bad = run_relicense({"plan", f.string(), "--shard", "3/3"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("invalid --shard \"3/3\""), std::string::npos) << bad.err;
  auto r = run_relicense({"plan", f.string(), "--shard", "1/2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("shard 1/2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("filtered out"), std::string::npos) << r.out;
}

// The error list is capped with "and N more", and reading stops after 100 errors, saying where.
TEST(PlanCli, ErrorCap) {
  temp_dir dir;
  std::string text = "licenseId,deviceSerial\n";
  for (int i = 0; i < 100000; ++i) text += "L" + std::to_string(i) + ",x\n";
  auto f = dir.write("many.csv", text);
  auto r = run_relicense({"plan", f.string(), "--org", "O"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("many.csv:21: column 2 (deviceSerial): invalid serial"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("many.csv:22:"), std::string::npos) << r.err;
  EXPECT_NE(
      r.err.find(
          "many.csv:101: stopped reading after 100 errors; the rest of the file was not checked\n"
          "... and 80 more errors\n"),
      std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("100 errors in"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

// "-" reads the CSV from standard input.
TEST(PlanCli, stdin) {
  std::string text = "licenseId,deviceSerial\n";
  for (int i = 0; i < 20000; ++i) text += "L" + std::to_string(i) + ",\n";  // several pipe buffers
  auto r = relicense::test::run_relicense_with_input({"plan", "-", "--org", "O"}, text);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("rows read                      20000"), std::string::npos) << r.out;
  auto bad = relicense::test::run_relicense_with_input({"plan", "-", "--org", "O"},
                                                       "licenseId,deviceSerial\nL/1,\n");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("<stdin>:2: column 1 (licenseId): \"L/1\" contains '/'"),
            std::string::npos)
      << bad.err;
}

// A pipe as the file (what `relicense plan <(cmd)` passes) is read to its end, as a file is.
TEST(PlanCli, NamedPipe) {
  temp_dir dir;
  const auto fifo = dir.path() / "plan.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] {
    std::FILE* w = std::fopen(fifo.c_str(), "wb");
    ASSERT_NE(w, nullptr);
    std::fputs("licenseId,deviceSerial\n", w);
    for (int i = 0; i < 20000; ++i) std::fprintf(w, "L%d,\n", i);
    std::fclose(w);
  });
  auto r = run_relicense({"plan", fifo.string(), "--org", "O"});
  writer.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("rows read                      20000"), std::string::npos) << r.out;
}

// Endless inputs end at once: /dev/zero at its first byte, exit 2, the file and line named.
TEST(PlanCli, DevZero) {
  auto r = run_relicense({"plan", "/dev/zero", "--org", "O"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("/dev/zero:1: column 1: a NUL byte"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}
