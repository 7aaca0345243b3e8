#include "relicense/test/run_process.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace relicense::test {

std::string relicense_binary() {
  const char* bin = std::getenv("RELICENSE_BIN");
  if (bin == nullptr)
    throw std::runtime_error("RELICENSE_BIN is not set (run the tests through ctest)");
  return bin;
}

std::string sanitizer_report(std::string_view err) {
  // The first lines the runtimes print; "runtime error:" is UBSan's line for each finding.
  static constexpr std::array<std::string_view, 6> markers = {
      "ERROR: AddressSanitizer",  "ERROR: LeakSanitizer",   "SUMMARY: UndefinedBehaviorSanitizer",
      "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer", ": runtime error: "};
  std::size_t first = std::string_view::npos;
  for (auto m : markers) first = std::min(first, err.find(m));
  if (first == std::string_view::npos) return {};
  const std::size_t begin = err.rfind('\n', first);
  const std::size_t from = begin == std::string_view::npos ? 0 : begin + 1;
  return std::string(err.substr(from, err.find('\n', first) - from));
}

void expect_no_sanitizer_report(std::string_view err, std::string_view what) {
  if (auto line = sanitizer_report(err); !line.empty()) {
    ADD_FAILURE() << what << " reported a sanitizer error (its exit code does not count):\n"
                  << line << "\n--- its stderr ---\n"
                  << err.substr(0, 8000);
  }
}

std::vector<std::string> sanitizer_env() {
  const std::string code = "exitcode=" + std::to_string(sanitizer_exit_code);
  std::vector<std::string> out;
  for (const char* var : {"ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"}) {
    const char* cur = std::getenv(var);
    std::string value = cur != nullptr ? cur : "";
    if (value.find("exitcode=") != std::string::npos) continue;  // the caller chose
    if (!value.empty()) value += ':';
    value += code;
    if (std::string_view(var) == "UBSAN_OPTIONS") value += ":halt_on_error=1";
    out.push_back(std::string(var) + "=" + value);
  }
  return out;
}

process_result run_program(const std::string& bin, const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env, std::string_view input) {
  // Everything the child needs is built before fork(): the caller may have threads (the twin),
  // so the child makes only async-signal-safe calls until execve.
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string name(entry.substr(0, entry.find('=')));
    if (env.count(name) == 0) env_s.emplace_back(entry);
  }
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
  for (auto& s : sanitizer_env()) {
    const std::string name = s.substr(0, s.find('='));
    std::erase_if(env_s, [&](const std::string& e) { return e.rfind(name + "=", 0) == 0; });
    env_s.push_back(std::move(s));
  }
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string bin_s = bin;
  std::vector<char*> argv{bin_s.data()};
  std::vector<std::string> args_s(args);
  for (auto& a : args_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execve(bin_s.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  // A child that exits without reading all its input must not kill the test with SIGPIPE.
  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &old);
  int in_fd = in_pipe[1];
  if (input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  } else {
    ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  process_result r;
  pollfd fds[3] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}, {in_fd, POLLOUT, 0}};
  char buf[65536];
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        continue;
      }
      (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
    }
    if (fds[2].fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = ::write(fds[2].fd, input.data(), input.size());
      if (n > 0) input.remove_prefix(static_cast<std::size_t>(n));
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || input.empty()) {
        ::close(fds[2].fd);
        fds[2].fd = -1;
      }
    }
  }
  if (fds[2].fd >= 0) ::close(fds[2].fd);
  ::sigaction(SIGPIPE, &old, nullptr);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

process_result run_relicense(const std::vector<std::string>& args,
                             const std::map<std::string, std::string>& env) {
  return run_relicense_with_input(args, {}, env);
}

process_result run_relicense_with_input(const std::vector<std::string>& args,
                                        std::string_view input,
                                        const std::map<std::string, std::string>& env) {
  process_result r = run_program(relicense_binary(), args, env, input);
  std::string what = "relicense";
  for (const auto& a : args) what += " " + a;
  expect_no_sanitizer_report(r.err, what);
  return r;
}

}  // namespace relicense::test
