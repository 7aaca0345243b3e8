// Operational log: the line format, appending to the file, and the heartbeat decision.
#include "relicense/io/oplog.hpp"

#include "relicense/test/fake_clock.hpp"
#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace io = relicense::io;
using relicense::test::fake_clock;
using relicense::test::temp_dir;
using namespace std::chrono_literals;

namespace {

std::chrono::system_clock::time_point at_ms(long long ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

}  // namespace

// Timestamps are UTC, ISO 8601, with milliseconds and a Z.
TEST(ArtefactsOplog, Iso8601UtcWithMilliseconds) {
  EXPECT_EQ(io::iso8601_utc(at_ms(0)), "1970-01-01T00:00:00.000Z");
  // 2026-11-29T21:40:00.123Z
  EXPECT_EQ(io::iso8601_utc(at_ms(1795988400123LL)), "2026-11-29T21:40:00.123Z");
}

// A line is the timestamp, one space, the text and a newline.
TEST(ArtefactsOplog, LineFormat) {
  EXPECT_EQ(io::oplog::format(at_ms(1500), "pause org=1 seconds=2.000"),
            "1970-01-01T00:00:01.500Z pause org=1 seconds=2.000\n");
}

// The file is opened for append: a second log on the same file keeps the first one's lines, and
// each line carries the injected clock's time.
TEST(ArtefactsOplog, AppendsWithInjectedClock) {
  temp_dir dir;
  const auto path = dir.path() / "run.log";
  {
    io::oplog log(path, false, [] { return at_ms(1000); });
    EXPECT_TRUE(log.enabled());
    log.line("start one");
  }
  {
    io::oplog log(path, false, [] { return at_ms(2000); });
    log.line("start two");
  }
  EXPECT_EQ(temp_dir::read(path),
            "1970-01-01T00:00:01.000Z start one\n1970-01-01T00:00:02.000Z start two\n");
}

// No file and no stderr: the log is disabled, so callers skip formatting.
TEST(ArtefactsOplog, DisabledWithoutDestination) {
  io::oplog log({}, false);
  EXPECT_FALSE(log.enabled());
  log.line("nowhere");
}

// A log file that cannot be opened is an error naming the file.
TEST(ArtefactsOplog, OpenErrorNamesFile) {
  temp_dir dir;
  const auto path = dir.path() / "missing-folder" / "run.log";
  try {
    io::oplog log(path, false);
    FAIL() << "opened a file in a missing folder";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
}

// A write error (a full disk) throws naming the file.
TEST(ArtefactsOplog, WriteErrorNamesFile) {
  io::oplog log("/dev/full", false);
  try {
    log.line("x");
    FAIL() << "no error writing to /dev/full";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/dev/full"), std::string::npos) << e.what();
  }
}

// The heartbeat is due 60 s after the start, then 60 s after the last one, never in between.
TEST(ArtefactsOplog, HeartbeatEvery60Seconds) {
  fake_clock clock;
  io::heartbeat hb(clock.now());
  clock.advance(59s);
  EXPECT_FALSE(hb.due(clock.now()));
  clock.advance(1s);
  EXPECT_TRUE(hb.due(clock.now()));
  EXPECT_FALSE(hb.due(clock.now())) << "twice at the same instant";
  clock.advance(30s);
  EXPECT_FALSE(hb.due(clock.now()));
  clock.advance(45s);  // a long gap (a pause): one line, then 60 s from it
  EXPECT_TRUE(hb.due(clock.now()));
  clock.advance(59s);
  EXPECT_FALSE(hb.due(clock.now()));
}

// The heartbeat line: rows done/total, failed, rows/s since the start and the ETA at that rate.
TEST(ArtefactsOplog, HeartbeatLine) {
  fake_clock clock;
  io::heartbeat hb(clock.now());
  clock.advance(60s);
  EXPECT_EQ(hb.line(120, 1000, 3, clock.now()),
            "progress: 120/1000 rows, 3 failed, 2.0 rows/s, ETA 7m20s");
  EXPECT_EQ(hb.line(0, 10, 0, clock.now()),
            "progress: 0/10 rows, 0 failed, 0.0 rows/s, ETA unknown");
  EXPECT_EQ(hb.line(10, 10, 0, clock.now()), "progress: 10/10 rows, 0 failed, 0.2 rows/s, ETA 0s");
  EXPECT_EQ(hb.line(60, 100000, 0, clock.now()),
            "progress: 60/100000 rows, 0 failed, 1.0 rows/s, ETA 27h45m");
}

// A resumed run's heartbeat: the 700 rows its journal held are not a rate; the 60 rows it sent
// in 60 s are 1.0 rows/s.
TEST(OplogHeartbeat, ResumedRowsAreNotARate) {
  fake_clock clock;
  io::heartbeat hb(clock.now());
  clock.advance(std::chrono::seconds(60));
  EXPECT_EQ(hb.line(760, 1000, 0, clock.now(), 700),
            "progress: 760/1000 rows, 0 failed, 1.0 rows/s, ETA 4m00s");
}
