// Shared helpers of the fault suite: CSVs built from the twin, the expected final
// state, and running the relicense binary as a child process with its output in files, a
// bounded wait and its resource usage (wait4), so tests can kill it, watch its memory and scan
// everything it wrote for the API key.
#pragma once

#include "relicense/io/journal.hpp"
#include "relicense/io/report.hpp"
#include "relicense/sim/server.hpp"
#include "relicense/test/run_process.hpp"
#include "relicense/test/temp_dir.hpp"
#include "relicense/test/twin_csv.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace relicense::fault_test {

namespace sim = relicense::sim;
using relicense::test::temp_dir;

using relicense::test::moving_csv;
using relicense::test::wanted_map;

/// Every wanted license holds its wanted serial in the twin; returns the number of mismatches.
inline std::size_t state_mismatches(const sim::server& twin, const wanted_map& wanted) {
  const auto state = twin.state();
  std::size_t bad = 0;
  for (const auto& [org, lics] : wanted) {
    for (const auto& [lic, serial] : lics) {
      if (state.at(org).at(lic).value_or("") != serial) {
        ADD_FAILURE() << org << "/" << lic << " holds '" << state.at(org).at(lic).value_or("")
                      << "', wanted '" << serial << "'";
        ++bad;
      }
    }
  }
  return bad;
}

/// What a finished child did.
struct child_result {
  int exit_code = -1;     ///< exit status, 128+signal when killed, -1 when it never ended
  std::string out;        ///< its standard output
  std::string err;        ///< its standard error
  long max_rss_kb = 0;    ///< peak resident set (wait4 rusage)
  bool timed_out = false; ///< it was killed for outliving the bound
};

/// A started `relicense` child whose stdout/stderr go to files in a directory.
class child {
public:
  /// Starts `relicense args...` with MERAKI_DASHBOARD_API_KEY=`key` (unset when empty).
  /// Everything the child needs is built before fork(): the twin's threads leave the child
  /// allowed only async-signal-safe calls until execve.
  child(const std::vector<std::string>& args, const std::string& key, const std::filesystem::path& dir,
        const std::string& tag = "child")
      : out_path_(dir / (tag + ".out")), err_path_(dir / (tag + ".err")) {
    const std::string bin = relicense::test::relicense_binary();
    const auto sanitizer_env = relicense::test::sanitizer_env();
    std::vector<std::string> argv_s{bin};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<std::string> env_s;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string_view(*e).rfind("MERAKI_DASHBOARD_API_KEY=", 0) != 0) env_s.emplace_back(*e);
    }
    if (!key.empty()) env_s.push_back("MERAKI_DASHBOARD_API_KEY=" + key);
    for (const auto& s : sanitizer_env) {  // replaces the inherited value of the same variable
      const std::string name = s.substr(0, s.find('=') + 1);
      std::erase_if(env_s, [&](const std::string& e) { return e.rfind(name, 0) == 0; });
      env_s.push_back(s);
    }
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    const int out_fd = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int err_fd = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out_fd, 1);
      ::dup2(err_fd, 2);
      ::execve(bin.c_str(), argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(out_fd);
    ::close(err_fd);
  }
  ~child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  pid_t pid() const noexcept { return pid_; }

  /// True once the child has ended (reaps it).
  bool poll() {
    if (reaped_) return true;
    rusage ru{};
    int status = 0;
    if (::wait4(pid_, &status, WNOHANG, &ru) == pid_) {
      finish(status, ru);
      return true;
    }
    return false;
  }

  /// SIGKILLs the child and reaps it. Returns true if it was still running.
  bool kill() {
    if (poll()) return false;
    ::kill(pid_, SIGKILL);
    rusage ru{};
    int status = 0;
    ::wait4(pid_, &status, 0, &ru);
    finish(status, ru);
    return true;
  }

  /// Waits until the child ends, at most `bound` (then SIGKILLs it: timed_out). The poll is a
  /// process-synchronisation wait, not a timing assumption.
  child_result wait(std::chrono::seconds bound = std::chrono::seconds(120)) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!poll()) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill();
        result_.timed_out = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    result_.out = temp_dir::read(out_path_);
    result_.err = temp_dir::read(err_path_);
    relicense::test::expect_no_sanitizer_report(result_.err, "relicense (" + err_path_.filename().string() + ")");
    return result_;
  }

private:
  void finish(int status, const rusage& ru) {
    reaped_ = true;
    result_.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
    result_.max_rss_kb = ru.ru_maxrss;
  }

  std::filesystem::path out_path_;
  std::filesystem::path err_path_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  child_result result_;
};

/// Runs `relicense args...` to the end (bounded) and returns what it did.
inline child_result run(const std::vector<std::string>& args, const std::string& key,
                        const std::filesystem::path& dir, std::chrono::seconds bound = std::chrono::seconds(120)) {
  child c(args, key, dir);
  return c.wait(bound);
}

/// Licenses the twin has applied so far: PUTs in put mode, action-batch updates in batch mode.
inline std::uint64_t applied_so_far(const sim::server& twin, bool batch) {
  const auto s = twin.stats();
  return batch ? s.batch_actions_applied : s.puts_applied;
}

/// Waits until the twin has applied at least `n` licenses or the child ended (bounded: a
/// process-synchronisation wait, not a timing assumption). False when the child ended first.
inline bool wait_for_applied(child& c, const sim::server& twin, bool batch, std::uint64_t n,
                             std::chrono::seconds bound = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (applied_so_far(twin, batch) < n) {
    if (c.poll() || std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return !c.poll();
}

/// Outcomes of a report whose rows must be the plan's lines 2..1+`rows`, each exactly once
/// (failures recorded with ADD_FAILURE).
inline std::map<io::outcome, std::size_t> outcomes_once(const std::filesystem::path& report, std::size_t rows) {
  std::map<io::outcome, std::size_t> n;
  std::set<std::uint32_t> lines;
  for (const auto& row : io::read_report(report).rows) {
    if (!lines.insert(row.line).second) ADD_FAILURE() << "line " << row.line << " reported twice";
    ++n[row.result];
  }
  EXPECT_EQ(lines.size(), rows) << report;
  if (!lines.empty()) {
    EXPECT_EQ(*lines.begin(), 2u);
    EXPECT_EQ(*lines.rbegin(), rows + 1);
  }
  return n;
}

/// Every row of the report is applied or unchanged, and each is there once.
inline void expect_all_in_place(const std::filesystem::path& report, std::size_t rows) {
  for (const auto& row : io::read_report(report).rows) {
    EXPECT_TRUE(row.result == io::outcome::applied || row.result == io::outcome::unchanged)
        << "line " << row.line << ": " << io::to_string(row.result) << " " << row.error;
  }
  outcomes_once(report, rows);
}

/// The lines of `text`, without empty ones.
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

/// "put" and "batch", for TEST_P over the apply modes.
inline std::string mode_name(const ::testing::TestParamInfo<std::string>& i) { return i.param; }

} // namespace relicense::fault_test
