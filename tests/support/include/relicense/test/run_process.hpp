// Runs the relicense binary (path from the RELICENSE_BIN environment variable set by ctest) and
// captures its exit code, stdout and stderr, for tests of the command-line contract.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace relicense::test {

struct process_result {
  int exit_code = -1;  ///< exit status, or 128+signal when killed
  std::string out;     ///< standard output
  std::string err;     ///< standard error
};

/// Path of the built relicense binary.
std::string relicense_binary();

/// Runs `relicense args...` with extra environment variables, waits, and returns what it did.
process_result run_relicense(const std::vector<std::string>& args,
                             const std::map<std::string, std::string>& env = {});

} // namespace relicense::test
