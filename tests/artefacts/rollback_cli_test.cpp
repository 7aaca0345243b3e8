// `relicense rollback`: the inverse CSV of a report, through the built binary.
#include "relicense/io/report.hpp"

#include "relicense/test/run_process.hpp"
#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>

namespace io = relicense::io;
using relicense::test::run_relicense;
using relicense::test::temp_dir;

namespace {

io::row_result row(std::uint32_t line, std::string license, std::string serial,
                   std::optional<std::string> previous, io::outcome o) {
  io::row_result r;
  r.line = line;
  r.org_id = "O,1";  // needs quoting in the output too
  r.license_id = std::move(license);
  r.serial = std::move(serial);
  r.previous_serial = std::move(previous);
  r.result = o;
  r.attempts = o == io::outcome::applied ? 1 : 0;
  r.http_status = o == io::outcome::applied ? 200 : 0;
  return r;
}

std::vector<io::row_result> sample_rows() {
  return {
      row(2, "L2", "NEW2-SSSS-0002", std::string("OLD2-SSSS-0002"), io::outcome::applied),
      row(3, "L3", "NEW3-SSSS-0003", std::string(), io::outcome::applied),    // was unassigned
      row(4, "L4", "", std::string("OLD4-SSSS-0004"), io::outcome::applied),  // was unassigned now
      row(5, "L5", "NEW5-SSSS-0005", std::nullopt, io::outcome::applied),     // unknown
      row(6, "L6", "NEW6-SSSS-0006", std::string("OLD6-SSSS-0006"), io::outcome::failed),
      row(7, "L7", "NEW7-SSSS-0007", std::string("NEW7-SSSS-0007"), io::outcome::unchanged)};
}

}  // namespace

// Applied rows map back to their previous serial (or to unassign); unknown ones are listed on
// stderr and make the exit code 1; failed and unchanged rows are not touched.
TEST(ArtefactsRollbackCli, InverseCsv) {
  for (const char* name : {"run.csv", "run.jsonl"}) {
    temp_dir dir;
    auto report = dir.path() / name;
    {
      io::report_writer w(report);
      for (const auto& r : sample_rows()) w.write(r);
    }
    auto out = dir.path() / "undo.csv";
    auto res = run_relicense({"rollback", report.string(), "--output", out.string()});
    EXPECT_EQ(res.exit_code, 1) << name << ": " << res.err;
    EXPECT_EQ(temp_dir::read(out),
              "organizationId,licenseId,deviceSerial\n"
              "\"O,1\",L2,OLD2-SSSS-0002\n"
              "\"O,1\",L3,\n"
              "\"O,1\",L4,OLD4-SSSS-0004\n")
        << name;
    EXPECT_NE(res.err.find("line 5"), std::string::npos) << res.err;
    EXPECT_NE(res.err.find("L5"), std::string::npos) << res.err;
    EXPECT_EQ(res.err.find("L6"), std::string::npos) << "failed rows are not listed";
  }
}

// When every applied row has a known previous serial, rollback exits 0.
TEST(ArtefactsRollbackCli, CompleteInverseExits0) {
  temp_dir dir;
  auto report = dir.path() / "run.csv";
  {
    io::report_writer w(report);
    w.write(sample_rows()[0]);
  }
  auto out = dir.path() / "undo.csv";
  auto res = run_relicense({"rollback", report.string(), "--output", out.string()});
  EXPECT_EQ(res.exit_code, 0) << res.err;
  EXPECT_EQ(temp_dir::read(out),
            "organizationId,licenseId,deviceSerial\n\"O,1\",L2,OLD2-SSSS-0002\n");
}

// A report of a run that did not read the inventory: rollback lists the first 20 rows whose
// previous serial is unknown, then only their count, not a line per row.
TEST(ArtefactsRollbackCli, UnknownRowsListedUpToTwentyThenCounted) {
  temp_dir dir;
  auto report = dir.path() / "run.csv";
  {
    io::report_writer w(report);
    for (std::uint32_t line = 2; line < 2 + 300; ++line)
      w.write(row(line, "L" + std::to_string(line), "NEW", std::nullopt, io::outcome::applied));
  }
  auto out = dir.path() / "undo.csv";
  auto res = run_relicense({"rollback", report.string(), "--output", out.string()});
  EXPECT_EQ(res.exit_code, 1) << res.err;
  EXPECT_EQ(temp_dir::read(out), "organizationId,licenseId,deviceSerial\n");
  std::size_t listed = 0;
  for (auto at = res.err.find("  line "); at != std::string::npos;
       at = res.err.find("  line ", at + 1))
    ++listed;
  EXPECT_EQ(listed, 20u) << res.err;
  EXPECT_NE(res.err.find("license L21 "), std::string::npos) << res.err;
  EXPECT_EQ(res.err.find("license L22 "), std::string::npos) << res.err;
  EXPECT_NE(res.err.find("  ... and 280 more\n"), std::string::npos) << res.err;
  EXPECT_NE(res.err.find("300 applied rows could not be included"), std::string::npos) << res.err;
}

// A malformed report is bad input: exit 2 with file:line, and no output file.
TEST(ArtefactsRollbackCli, BadReportExit2WithFileLine) {
  temp_dir dir;
  // A report of the format before batchId, requestId and host: still read by header name.
  auto report =
      dir.write("bad.csv",
                std::string("line,organizationId,licenseId,deviceSerial,previousDeviceSerial,"
                            "outcome,httpStatus,attempts,latencyMs,state,error") +
                    "\n2,1,L2,S,,applied,200,1,1,active,\n3,1,L3,S\n4,1,L4,S,,applied,200,1,1,,\n");
  auto out = dir.path() / "undo.csv";
  auto res = run_relicense({"rollback", report.string(), "--output", out.string()});
  EXPECT_EQ(res.exit_code, 2);
  EXPECT_NE(res.err.find("bad.csv:3:"), std::string::npos) << res.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  auto missing =
      run_relicense({"rollback", (dir.path() / "none.csv").string(), "--output", out.string()});
  EXPECT_EQ(missing.exit_code, 2);
  auto same = run_relicense({"rollback", report.string(), "--output", report.string()});
  EXPECT_EQ(same.exit_code, 2) << "never overwrite the report";
}
