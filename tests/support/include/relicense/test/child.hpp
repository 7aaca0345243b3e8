// The relicense binary as a child process that a test watches while it runs: its output in files,
// a bounded wait, its resource usage (wait4), and signals (SIGINT, SIGKILL) sent mid-run.
// Header-only, for the end-to-end and fault suites.
#pragma once

#include "relicense/test/run_process.hpp"
#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace relicense::test {

/// What a finished child did.
struct child_result {
  int exit_code = -1;      ///< exit status, 128+signal when killed, -1 when it never ended
  std::string out;         ///< its standard output
  std::string err;         ///< its standard error
  int signal = 0;          ///< the signal that killed it, 0 when it exited
  long max_rss_kb = 0;     ///< peak resident set (wait4 rusage)
  bool timed_out = false;  ///< it was killed for outliving the bound
};

/// A started `relicense` child whose stdout/stderr go to files in a directory.
class child {
public:
  /// Starts `relicense args...` with MERAKI_DASHBOARD_API_KEY=`key` (unset when empty).
  /// Everything the child needs is built before fork(): the twin's threads leave the child
  /// allowed only async-signal-safe calls until execve.
  child(const std::vector<std::string>& args, const std::string& key,
        const std::filesystem::path& dir, const std::string& tag = "child")
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

  /// Sends `sig` to the child (SIGINT, as a user's Ctrl-C).
  void signal(int sig) const { ::kill(pid_, sig); }

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
    relicense::test::expect_no_sanitizer_report(
        result_.err, "relicense (" + err_path_.filename().string() + ")");
    return result_;
  }

private:
  void finish(int status, const rusage& ru) {
    reaped_ = true;
    result_.exit_code = WIFEXITED(status)     ? WEXITSTATUS(status)
                        : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                              : -1;
    result_.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    result_.max_rss_kb = ru.ru_maxrss;
  }

  std::filesystem::path out_path_;
  std::filesystem::path err_path_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  child_result result_;
};

/// Polls `done` until it holds or `bound` has passed, and returns its last answer. A
/// process-synchronisation wait, not a timing assumption.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds bound = std::chrono::seconds(15)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace relicense::test
