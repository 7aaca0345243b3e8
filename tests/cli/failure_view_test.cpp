// Failed rows grouped by reason: the normalisation rule, bounded examples in input order, and the
// text printed at the end of a run.
#include "failure_view.hpp"

#include <gtest/gtest.h>

#include <string>

namespace cli = relicense::cli;
namespace io = relicense::io;

namespace {

io::row_result failed(std::uint32_t line, std::string license, std::string error,
                      std::string serial = "Q2AA-BBBB-CCCC") {
  io::row_result r;
  r.line = line;
  r.org_id = "549236";
  r.license_id = std::move(license);
  r.serial = std::move(serial);
  r.result = io::outcome::failed;
  r.error = std::move(error);
  return r;
}

}  // namespace

// The row's own license id and serial become placeholders; HTTP statuses stay.
TEST(FailureReason, StripsTheRowsOwnValues) {
  EXPECT_EQ(cli::failure_reason(failed(2, "L1", "HTTP 400: license L1 not found")),
            "HTTP 400: license <license> not found");
  EXPECT_EQ(cli::failure_reason(failed(3, "L2", "HTTP 400: license L2 not found")),
            "HTTP 400: license <license> not found");
  EXPECT_EQ(cli::failure_reason(
                failed(4, "7", "HTTP 404: device Q2AA-BBBB-CCCC is not in organization 549236")),
            "HTTP 404: device <serial> is not in organization <org>");
}

// Other words holding a digit become <id>; numbers of at most three digits and a final full stop
// stay, even when a row's license id is such a number.
TEST(FailureReason, MasksOtherIdsButKeepsStatusesAndCounts) {
  EXPECT_EQ(cli::failure_reason(failed(2, "1", "gave up after 6 attempts: HTTP 503")),
            "gave up after 6 attempts: HTTP 503");
  EXPECT_EQ(cli::failure_reason(
                failed(2, "4455", "the API answered about license 998877 instead of 4455.")),
            "the API answered about license <id> instead of <license>.");
  EXPECT_EQ(cli::failure_reason(
                failed(2, "1", "action batch 123456789 failed: License Q2ZZ-ZZZZ-ZZZ9 taken")),
            "action batch <id> failed: License <id> taken");
  EXPECT_EQ(cli::failure_reason(failed(2, "500", "HTTP 500")), "HTTP 500");
  EXPECT_EQ(cli::failure_reason(failed(2, "1", "")), "(no error text)");
}

// Rows of one reason group together whatever their ids; other outcomes are not counted.
TEST(FailureGroups, GroupsByReasonInInputOrder) {
  cli::failure_groups g;
  g.add(failed(9, "L9", "HTTP 404: License L9 not found"));
  g.add(failed(3, "L3", "HTTP 404: License L3 not found"));
  g.add(failed(5, "L5", "HTTP 400: bad serial"));
  g.add(failed(7, "L7", "HTTP 404: License L7 not found"));
  g.add(failed(2, "L2", "HTTP 404: License L2 not found"));
  io::row_result ok = failed(1, "L1", "");
  ok.result = io::outcome::applied;
  g.add(ok);
  EXPECT_EQ(g.failed_rows(), 5u);
  const auto groups = g.sorted();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].reason, "HTTP 404: License <license> not found");
  EXPECT_EQ(groups[0].rows, 4u);
  ASSERT_EQ(groups[0].examples.size(), 3u);
  EXPECT_EQ(groups[0].examples[0].line, 2u);  // the lowest lines, whatever order they finished in
  EXPECT_EQ(groups[0].examples[1].line, 3u);
  EXPECT_EQ(groups[0].examples[2].line, 7u);
  EXPECT_EQ(groups[1].reason, "HTTP 400: bad serial");
  EXPECT_EQ(groups[1].rows, 1u);
}

// A million failed rows of one reason keep a count and three examples, not the rows.
TEST(FailureGroups, KeepsAtMostThreeExamplesPerReason) {
  cli::failure_groups g;
  for (std::uint32_t line = 1'000'001; line > 1; --line)
    g.add(failed(line, std::to_string(line), "HTTP 500"));
  const auto groups = g.sorted();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].rows, 1'000'000u);
  ASSERT_EQ(groups[0].examples.size(), 3u);
  EXPECT_EQ(groups[0].examples[0].line, 2u);
  EXPECT_EQ(groups[0].examples[2].line, 4u);
}

// Equal counts keep the order of their first input line.
TEST(FailureGroups, TiesInOrderOfFirstLine) {
  cli::failure_groups g;
  g.add(failed(8, "a", "HTTP 400: late"));
  g.add(failed(4, "b", "HTTP 400: early"));
  const auto groups = g.sorted();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].reason, "HTTP 400: early");
}

// The end-of-run text: top reasons with counts and example lines, then how many reasons are left.
TEST(FormatFailures, TopReasonsThenTheRest) {
  cli::failure_groups g;
  for (std::uint32_t i = 0; i < 4; ++i)
    g.add(
        failed(10 + i, "L" + std::to_string(i), "HTTP 404: gone", i == 1 ? "" : "Q2AA-BBBB-CCCC"));
  g.add(failed(20, "x", "HTTP 400: one"));
  g.add(failed(21, "y", "HTTP 400: two"));
  g.add(failed(22, "z", "HTTP 400: three"));
  const auto text = cli::format_failures(g, "in.csv", 2);
  EXPECT_EQ(text,
            "relicense: 7 rows failed, by reason:\n"
            "  HTTP 404: gone (4 rows)\n"
            "    in.csv:10 L0 -> Q2AA-BBBB-CCCC\n"
            "    in.csv:11 L1 -> (unassign)\n"
            "    in.csv:12 L2 -> Q2AA-BBBB-CCCC\n"
            "    ... and 1 more row\n"
            "  HTTP 400: one (1 row)\n"
            "    in.csv:20 x -> Q2AA-BBBB-CCCC\n"
            "  and 2 more reasons (2 rows)\n");
  EXPECT_EQ(cli::format_failures(cli::failure_groups{}, "in.csv"), "");
  EXPECT_NE(cli::format_failures(g, "").find("    line 10 L0 -> "), std::string::npos);
}

// Past the cap on reasons, rows of new reasons are only counted, and the text says there are
// more reasons than it kept.
TEST(FailureGroups, CapsTheNumberOfReasons) {
  cli::failure_groups g(3, 2);
  g.add(failed(2, "a", "HTTP 400: alpha"));
  g.add(failed(3, "b", "HTTP 400: beta"));
  g.add(failed(4, "c", "HTTP 400: gamma"));
  g.add(failed(5, "d", "HTTP 400: alpha"));
  EXPECT_EQ(g.reasons(), 2u);
  EXPECT_EQ(g.failed_rows(), 4u);
  EXPECT_EQ(g.rows_of_unkept_reasons(), 1u);
  const auto text = cli::format_failures(g, "in.csv", 1);
  EXPECT_NE(text.find("  HTTP 400: alpha (2 rows)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  and more than 1 more reasons (2 rows)\n"), std::string::npos) << text;
}
