// Prometheus textfile metrics: content, syntax, labels, atomic replacement.
#include "relicense/io/metrics.hpp"

#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <regex>
#include <sstream>

namespace io = relicense::io;
using relicense::test::temp_dir;

namespace {

io::run_summary sample_summary() {
  io::run_summary s;
  io::row_result r;
  r.org_id = "A";
  r.attempts = 1;
  r.latency_ms = 250;
  r.result = io::outcome::applied;
  s.add(r);
  r.result = io::outcome::failed;
  s.add(r);
  s.count_request(7);
  s.count_429(3);
  s.count_retry(io::retry_cause::throttled, 3);
  s.set_elapsed(std::chrono::seconds(4));
  return s;
}

ino_t inode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_ino;
}

}  // namespace

// The exposition carries the run's counters, and every sample line is `name{labels} value`.
TEST(ArtefactsMetrics, ExpositionContentAndSyntax) {
  auto t = std::chrono::system_clock::from_time_t(1796000000);
  std::string text = io::format_metrics(sample_summary(), t, {{"shard", "2/8"}, {"job", "a\"b"}});
  EXPECT_NE(text.find("relicense_rows_total{shard=\"2/8\",job=\"a\\\"b\",outcome=\"applied\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("relicense_rows_total{shard=\"2/8\",job=\"a\\\"b\",outcome=\"failed\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("relicense_requests_total{shard=\"2/8\",job=\"a\\\"b\"} 7\n"),
            std::string::npos);
  EXPECT_NE(text.find("relicense_http_429_total{shard=\"2/8\",job=\"a\\\"b\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("relicense_run_duration_seconds{shard=\"2/8\",job=\"a\\\"b\"} 4\n"),
            std::string::npos);
  EXPECT_NE(
      text.find("relicense_last_run_timestamp_seconds{shard=\"2/8\",job=\"a\\\"b\"} 1796000000\n"),
      std::string::npos);
  EXPECT_NE(text.find("relicense_last_run_success{shard=\"2/8\",job=\"a\\\"b\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("quantile=\"0.5\"} 0.25\n"), std::string::npos);
  std::regex sample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+$)");
  std::regex comment(R"(^# (HELP|TYPE) relicense_[a-z0-9_]+ .+$)");
  std::istringstream in(text);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.starts_with("#")) {
      EXPECT_TRUE(std::regex_match(line, comment)) << line;
    } else {
      EXPECT_TRUE(std::regex_match(line, sample)) << line;
      ++samples;
    }
  }
  EXPECT_GT(samples, 15);
}

// write_metrics replaces the file by rename (new inode, never a half-written file) and leaves no
// temporary file behind, under a name the textfile collector (*.prom) never reads.
TEST(ArtefactsMetrics, AtomicReplace) {
  temp_dir dir;
  auto p = dir.path() / "relicense.prom";
  dir.write("relicense.prom", "old content\n");
  const ino_t before = inode_of(p);
  io::write_metrics(p, sample_summary(), std::chrono::system_clock::now());
  EXPECT_NE(inode_of(p), before) << "written in place instead of renamed over";
  EXPECT_EQ(temp_dir::read(p).find("old content"), std::string::npos);
  EXPECT_NE(temp_dir::read(p).find("relicense_requests_total 7\n"), std::string::npos);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(e.path().filename(), "relicense.prom");
  }
  EXPECT_EQ(files, 1);
  EXPECT_THROW(io::write_metrics(dir.path() / "no-such-dir" / "x.prom", sample_summary(),
                                 std::chrono::system_clock::now()),
               std::runtime_error);
}
