// Runs the relicense binary (path from the RELICENSE_BIN environment variable set by ctest) and
// captures its exit code, stdout and stderr, for tests of the command-line contract.
//
// A child's memory error must never pass for an expected exit code: ASan, LSan and UBSan exit
// with 1 by default, which is also relicense's "some rows failed". So every child gets
// `exitcode=86` in its sanitizer options (unless the caller set another), and run_relicense
// fails the calling test when the child's stderr holds a sanitizer report, whatever its code.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace relicense::test {

/// Exit code the sanitizers are given in children (and in dev.sh): no relicense code uses it.
inline constexpr int sanitizer_exit_code = 86;

/// Whether this test binary is built with AddressSanitizer (its children then are too).
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif
#else
inline constexpr bool sanitized = false;
#endif

struct process_result {
  int exit_code = -1;  ///< exit status, or 128+signal when killed
  std::string out;     ///< standard output
  std::string err;     ///< standard error
};

/// Path of the built relicense binary.
std::string relicense_binary();

/// The first line of a sanitizer report in `err` (AddressSanitizer, LeakSanitizer,
/// UndefinedBehaviorSanitizer, ThreadSanitizer), or empty if there is none.
std::string sanitizer_report(std::string_view err);

/// Adds a (non-fatal) test failure naming `what` if `err` holds a sanitizer report.
void expect_no_sanitizer_report(std::string_view err, std::string_view what);

/// The environment entries `name=value` that make a child's sanitizers exit with
/// sanitizer_exit_code, given the current environment (options already set are kept).
std::vector<std::string> sanitizer_env();

/// Runs `bin args...` with extra environment variables (and the sanitizer options), feeding it
/// `input` on standard input, waits, and returns what it did. No check of its stderr.
process_result run_program(const std::string& bin, const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env = {},
                           std::string_view input = {});

/// Runs `relicense args...` with extra environment variables, waits, and returns what it did.
/// Fails the calling test if the child reported a sanitizer error.
process_result run_relicense(const std::vector<std::string>& args,
                             const std::map<std::string, std::string>& env = {});

/// The same, with `input` on the child's standard input.
process_result run_relicense_with_input(const std::vector<std::string>& args,
                                        std::string_view input,
                                        const std::map<std::string, std::string>& env = {});

}  // namespace relicense::test
