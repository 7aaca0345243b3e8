// The confirmation question of `apply`: what it prints, which answers accept, when it is asked.
#include "confirm.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace cli = relicense::cli;

namespace {

bool answer(const std::string& typed, std::string* printed = nullptr) {
  std::istringstream in(typed);
  std::ostringstream out;
  const bool yes = cli::confirm({1200, 3}, in, out);
  if (printed) *printed = out.str();
  return yes;
}

}  // namespace

// The question names the number of changes and organizations.
TEST(Confirm, PrintsTheQuestion) {
  std::string printed;
  answer("y\n", &printed);
  EXPECT_EQ(printed, "Apply 1200 changes in 3 organizations? [y/N] ");
  std::istringstream in("n\n");
  std::ostringstream out;
  cli::confirm({1, 1}, in, out);
  EXPECT_EQ(out.str(), "Apply 1 change in 1 organization? [y/N] ");
}

// y and yes in any case accept, blanks around them ignored.
TEST(Confirm, YesInAnyCaseAccepts) {
  for (const char* typed : {"y\n", "Y\n", "yes\n", "YES\n", "Yes", "  y \r\n"})
    EXPECT_TRUE(answer(typed)) << typed;
}

// Anything else, an empty line and end of input refuse.
TEST(Confirm, AnythingElseRefuses) {
  for (const char* typed : {"\n", "n\n", "no\n", "yeah\n", "y es\n", "1\n", ""})
    EXPECT_FALSE(answer(typed)) << typed;
  std::string printed;
  answer("", &printed);
  EXPECT_EQ(printed.back(), '\n') << "end of input closes the prompt's line";
}

// Asked only on a terminal (both standard input and standard error), without --yes, not for a
// dry run.
TEST(Confirm, AskedOnlyInteractively) {
  EXPECT_TRUE(cli::should_confirm(true, true, false, false));
  EXPECT_FALSE(cli::should_confirm(false, true, false, false));
  EXPECT_FALSE(cli::should_confirm(true, false, false, false));
  EXPECT_FALSE(cli::should_confirm(true, true, true, false));
  EXPECT_FALSE(cli::should_confirm(true, true, false, true));
}
