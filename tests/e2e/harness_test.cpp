// The child-process harness: a child's sanitizer report fails the calling test even when the
// child exits with the code the test expects (the sanitizers' default 1 is also relicense's "some
// rows failed"), and children get the sanitizers' own exit code.
#include "relicense/test/run_process.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

using relicense::test::expect_no_sanitizer_report;
using relicense::test::run_program;
using relicense::test::sanitized;
using relicense::test::sanitizer_exit_code;
using relicense::test::sanitizer_report;

namespace {

// The canary in `mode`, expected to be caught: its report found, the test failed by the check,
// and the sanitizers' exit code.
void expect_caught(const char* mode, const char* marker) {
  const auto r = run_program(RELICENSE_CANARY, {mode});
  EXPECT_NE(sanitizer_report(r.err).find(marker), std::string::npos) << mode << ":\n" << r.err;
  EXPECT_NONFATAL_FAILURE(expect_no_sanitizer_report(r.err, mode), "reported a sanitizer error");
  EXPECT_EQ(r.exit_code, sanitizer_exit_code) << mode << ":\n" << r.err;
}

}  // namespace

// Each kind of report is recognised in a child's stderr, wherever it starts; clean text is not.
TEST(Harness, RecognisesSanitizerReports) {
  EXPECT_EQ(
      sanitizer_report("==12==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x1\nmore"),
      "==12==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x1");
  EXPECT_EQ(sanitizer_report("x\n==7==ERROR: LeakSanitizer: detected memory leaks\n"),
            "==7==ERROR: LeakSanitizer: detected memory leaks");
  EXPECT_EQ(sanitizer_report("a.cpp:3:9: runtime error: signed integer overflow\n"),
            "a.cpp:3:9: runtime error: signed integer overflow");
  EXPECT_FALSE(sanitizer_report("SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior a.cpp:3:9")
                   .empty());
  EXPECT_EQ(sanitizer_report("relicense: 3 rows failed; see report.csv\n"), "");
  EXPECT_EQ(sanitizer_report(""), "");
  EXPECT_NONFATAL_FAILURE(expect_no_sanitizer_report("==1==ERROR: LeakSanitizer: x", "child"),
                          "child reported a sanitizer error");
}

// Children are told to exit with the sanitizers' own code, keeping options already set.
TEST(Harness, ChildrenGetTheSanitizerExitCode) {
  for (const auto& e : relicense::test::sanitizer_env()) {
    if (e.find("exitcode=") != std::string::npos) {
      EXPECT_NE(e.find("exitcode=" + std::to_string(sanitizer_exit_code)), std::string::npos) << e;
    }
  }
  const auto r = run_program("/bin/sh", {"-c", "echo \"$ASAN_OPTIONS|$UBSAN_OPTIONS\""});
  EXPECT_NE(r.out.find("exitcode="), std::string::npos) << r.out;
}

// A clean exit 1 is just exit 1; stdin is fed and stdout captured.
TEST(Harness, CleanChild) {
  const auto r = run_program(RELICENSE_CANARY, {"exit", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(sanitizer_report(r.err), "");
  const auto cat =
      run_program("/bin/cat", {}, {}, std::string(200000, 'x'));  // several pipe buffers
  EXPECT_EQ(cat.exit_code, 0);
  EXPECT_EQ(cat.out.size(), 200000u);
}

// Under the sanitizer build, a child that leaks, overflows a buffer or overflows an int while
// exiting with 1 is caught: by its report, and by its exit code.
TEST(Harness, CatchesAChildsMemoryErrors) {
  if (!sanitized) GTEST_SKIP() << "only the sanitizer build can see the canary's faults";
  expect_caught("leak", "LeakSanitizer");
  expect_caught("overflow", "AddressSanitizer");
  expect_caught("ub", "runtime error");
}
