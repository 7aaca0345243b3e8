// Planner benchmark: generates an N-row CSV (temp file), plans it with load_plan, and prints the
// time (median, min, max of the runs) and the process's peak RSS. The target on the 2-core
// dev machines: 1,000,000 rows in under 1 s and under 200 MB peak RSS.
//
//   plan_bench                 1,000,000 rows, 5 runs
//   plan_bench --rows N --runs R
//   plan_bench --quick         20,000 rows, 1 run (the ctest smoke test; no timing assertions)
#include "relicense/plan/csv.hpp"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {

// A realistic file: 10 orgs, 16-digit license ids (beyond std::string's small-buffer size, as
// real ids are), Meraki-shaped serials (some lower case), ~1% unassigns, ~1% exact duplicates,
// a few serials receiving two licenses, CRLF, an ignored notes column with quoting.
std::filesystem::path generate(std::size_t rows) {
  char pattern[] = "/tmp/relicense-plan-bench-XXXXXX";
  const int fd = ::mkstemp(pattern);
  if (fd < 0) {
    std::perror("mkstemp");
    std::exit(1);
  }
  std::FILE* f = ::fdopen(fd, "wb");
  std::fputs("organizationId,licenseId,deviceSerial,notes\r\n", f);
  static constexpr char alnum[] = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
  std::uint64_t x = 88172645463325252ULL;
  auto rnd = [&x] {  // xorshift64: deterministic, so every run plans the same file
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  char serial[15];
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t id = (i % 100 == 99) ? i - 50 : i;  // 1% exact duplicates of an earlier row
    std::uint64_t s = (id % 1000 == 7) ? id - 1 : id;     // some serials get two licenses
    s = s * 0x9E3779B97F4A7C15ULL;
    for (int k = 0, j = 0; k < 14; ++k) {
      if (k == 4 || k == 9) {
        serial[k] = '-';
        continue;
      }
      serial[k] = alnum[(s >> (j * 5)) % 34];
      ++j;
    }
    if (id % 10 == 3) serial[0] = 'q';  // lower case gets normalised
    serial[14] = '\0';
    const bool unassign = id % 97 == 5;
    const unsigned long long lic = 1000000000000000ULL + id;
    if (rnd() % 8 == 0)
      std::fprintf(f, "org_%zu,%llu,%s,\"note, with \"\"quotes\"\"\"\r\n", id % 10, lic,
                   unassign ? "" : serial);
    else std::fprintf(f, "org_%zu,%llu,%s,\r\n", id % 10, lic, unassign ? "" : serial);
  }
  std::fclose(f);
  return pattern;
}

// CPU time of this process: on a shared, loaded machine it says more than wall time alone.
double cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

long peak_rss_kib() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;  // KiB on Linux
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t rows = 1'000'000;
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      rows = 20'000;
      runs = 1;
    } else if (std::strcmp(argv[i], "--rows") == 0 && i + 1 < argc) {
      rows = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: plan_bench [--quick] [--rows N] [--runs R]\n");
      return 2;
    }
  }
  const auto file = generate(rows);
  const auto bytes = std::filesystem::file_size(file);
  const long rss_before = peak_rss_kib();

  std::vector<double> ms, cpu;
  relicense::plan::load_result last;
  for (int r = 0; r < runs; ++r) {
    last = {};  // free the previous plan first, as a real run has only one
    const double c0 = cpu_ms();
    const auto t0 = std::chrono::steady_clock::now();
    last = relicense::plan::load_plan(file, {});
    const auto t1 = std::chrono::steady_clock::now();
    cpu.push_back(cpu_ms() - c0);
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::filesystem::remove(file);
  if (!last.ok()) {
    for (const auto& d : last.errors) std::fprintf(stderr, "%s\n", to_string(d).c_str());
    return 1;
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const auto& c = last.plan.counts;
  std::printf("plan_bench: %zu rows, %.1f MB CSV, %d run%s\n", rows,
              static_cast<double>(bytes) / 1e6, runs, runs == 1 ? "" : "s");
  std::printf("  %-28s %zu rows, %zu orgs, %llu duplicates, %llu serials with several\n", "plan",
              last.plan.rows.size(), last.plan.orgs.size(),
              static_cast<unsigned long long>(c.duplicates_dropped),
              static_cast<unsigned long long>(c.serials_with_several));
  std::printf("  %-28s median %.1f ms, min %.1f ms, max %.1f ms (%.0f MB/s)\n", "load_plan time",
              sorted[sorted.size() / 2], sorted.front(), sorted.back(),
              static_cast<double>(bytes) / 1e3 / sorted[sorted.size() / 2]);
  std::sort(cpu.begin(), cpu.end());
  std::printf("  %-28s median %.1f ms, min %.1f ms, max %.1f ms\n", "load_plan CPU time",
              cpu[cpu.size() / 2], cpu.front(), cpu.back());
  std::printf("  %-28s %.1f MB (before planning: %.1f MB)\n", "peak RSS (getrusage)",
              peak_rss_kib() / 1024.0, rss_before / 1024.0);
  return 0;
}
