// Progress line: enablement, rate limiting on a fake clock, log lines that do not tear it.
#include "relicense/io/progress.hpp"

#include "relicense/test/fake_clock.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

namespace io = relicense::io;
using relicense::test::fake_clock;
using namespace std::chrono_literals;

// --quiet and --progress off win; on forces it; auto needs a terminal.
TEST(ArtefactsProgress, enablement) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  EXPECT_FALSE(io::progress_enabled("auto", false, fds[1])) << "a pipe is not a terminal";
  EXPECT_TRUE(io::progress_enabled("on", false, fds[1]));
  EXPECT_FALSE(io::progress_enabled("on", true, fds[1]));
  EXPECT_FALSE(io::progress_enabled("off", false, fds[1]));
  ::close(fds[0]);
  ::close(fds[1]);
}

// 1000 updates over 2 s of fake time redraw at most every 250 ms (plus the final row).
TEST(ArtefactsProgress, RateLimitedRedraws) {
  fake_clock clock;
  std::string out;
  io::progress p(
      true, 1000, [&] { return clock.now(); }, [&](std::string_view s) { out += s; });
  for (std::uint64_t i = 1; i <= 1000; ++i) {
    clock.advance(2ms);
    p.update(i, 0);
  }
  EXPECT_GE(p.draws(), 8u);
  EXPECT_LE(p.draws(), 10u) << "2 s at 4 draws/s, plus the first and the last";
  EXPECT_NE(out.rfind("1000/1000 rows"), std::string::npos) << "the last row is always drawn";
}

// The line shows done/total, rate over the recent window, 429s and an ETA.
TEST(ArtefactsProgress, RenderRateAndEta) {
  fake_clock clock;
  io::progress p(
      true, 100, [&] { return clock.now(); }, [](std::string_view) {});
  clock.advance(5s);
  p.update(50, 3);
  EXPECT_EQ(p.render(), "50/100 rows (50.0%)  10.0 rows/s  429s: 3  failed: 0  ETA 5s");
  clock.advance(30s);  // a long pause (429s) then a fast burst: the window follows the recent pace
  p.update(60, 9);
  clock.advance(1s);
  p.update(80, 9);
  EXPECT_NE(p.render().find("ETA "), std::string::npos);
  EXPECT_EQ(io::format_eta(185), "3m05s");
  EXPECT_EQ(io::format_eta(3725), "1h02m");
  EXPECT_EQ(io::format_eta(-1), "--");
}

// log() clears the progress line, prints the message on its own line, then redraws the progress.
TEST(ArtefactsProgress, LogDoesNotTear) {
  fake_clock clock;
  std::vector<std::string> writes;
  io::progress p(
      true, 10, [&] { return clock.now(); }, [&](std::string_view s) { writes.emplace_back(s); });
  p.update(1, 0);
  ASSERT_EQ(writes.size(), 1u);
  p.log("warning: something");
  ASSERT_EQ(writes.size(), 3u);
  EXPECT_EQ(writes[1], "\r\x1b[Kwarning: something\n");
  EXPECT_EQ(writes[2].substr(0, 4), "\r\x1b[K");
  EXPECT_NE(writes[2].find("1/10 rows"), std::string::npos);
  p.finish();
  EXPECT_EQ(writes.back(), "\n") << "the final line is ended";
  p.log("after");
  EXPECT_EQ(writes.back(), "after\n") << "no redraw after finish";
}

// Disabled progress draws nothing, and log() prints plain lines.
TEST(ArtefactsProgress, DisabledPrintsOnlyLogs) {
  fake_clock clock;
  std::string out;
  {
    io::progress p(
        false, 10, [&] { return clock.now(); }, [&](std::string_view s) { out += s; });
    for (int i = 1; i <= 10; ++i) {
      clock.advance(1s);
      p.update(static_cast<std::uint64_t>(i), 0);
    }
    p.log("hello");
  }
  EXPECT_EQ(out, "hello\n");
}

// The line shows how many rows failed so far.
TEST(ProgressLine, ShowsTheFailedCount) {
  fake_clock clock;
  io::progress p(
      true, 100, [&] { return clock.now(); }, [](std::string_view) {});
  clock.advance(5s);
  p.update(50, 0, 7);
  EXPECT_NE(p.render().find("429s: 0  failed: 7  ETA"), std::string::npos) << p.render();
}

// Until the run has sent for the 10 s rate window, the ETA is the budget's: 1000 rows at 10/s
// with a burst of 10 take 99 s, however fast the burst's first 30 rows finished.
TEST(ProgressLine, EtaFromTheBudgetUntilARateIsMeasured) {
  fake_clock clock;
  io::progress p(
      true, 1000, [&] { return clock.now(); }, [](std::string_view) {});
  p.set_estimate(99, 1000);
  clock.advance(500ms);
  p.update(30, 0);  // the burst: a measured 60 rows/s would say 16 s
  EXPECT_NE(p.render().find("ETA 1m39s"), std::string::npos) << p.render();
  clock.advance(4500ms);
  p.update(60, 0);
  EXPECT_NE(p.render().find("ETA 1m34s"), std::string::npos) << p.render();
  // Slower than the budget (another application shares it): the estimate's share of the rows
  // left, not a countdown to zero.
  clock.advance(4s);
  p.update(61, 0);
  EXPECT_NE(p.render().find("ETA 1m33s"), std::string::npos) << p.render();
  // Past the window, the measured pace takes over: 10 rows/s over the last 10 s.
  for (int i = 0; i < 20; ++i) {
    clock.advance(1s);
    p.update(61 + static_cast<std::uint64_t>(i + 1) * 10, 0);
  }
  EXPECT_NE(p.render().find("10.0 rows/s"), std::string::npos) << p.render();
  EXPECT_NE(p.render().find("ETA 1m14s"), std::string::npos) << p.render();  // 739 rows left
}

// An unlimited budget has no estimate: the measured rate gives the ETA from the start.
TEST(ProgressLine, NoEstimateWithoutABudget) {
  fake_clock clock;
  io::progress p(
      true, 100, [&] { return clock.now(); }, [](std::string_view) {});
  p.set_estimate(0, 100);
  clock.advance(5s);
  p.update(50, 0);
  EXPECT_NE(p.render().find("ETA 5s"), std::string::npos) << p.render();
}

// A resumed run: the 700 rows its journal holds arrive at once and are not a rate; the rate
// and ETA count the rows it sends, and the ETA the rows it still has to send.
TEST(ProgressLine, ResumedRowsAreNotARate) {
  fake_clock clock;
  io::progress p(
      true, 1000, [&] { return clock.now(); }, [](std::string_view) {});
  clock.advance(10ms);
  p.update(700, 0, 0, 700);
  for (int i = 0; i < 10; ++i) {
    clock.advance(1s);
    p.update(700 + static_cast<std::uint64_t>(i + 1) * 10, 0, 0, 700);
  }
  EXPECT_NE(p.render().find("800/1000 rows (80.0%)  10.0 rows/s"), std::string::npos) << p.render();
  EXPECT_NE(p.render().find("ETA 20s"), std::string::npos) << p.render();
}
