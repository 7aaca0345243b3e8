// Report writer and reader: formats, quoting, the serial encodings, flushing, crash prefixes.
#include "relicense/io/report.hpp"

#include "relicense/test/fake_clock.hpp"
#include "relicense/test/temp_dir.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <filesystem>

namespace io = relicense::io;
using relicense::test::fake_clock;
using relicense::test::temp_dir;

namespace {

io::row_result make_row(std::uint32_t line, io::outcome o) {
  io::row_result r;
  r.line = line;
  r.org_id = "123456";
  r.license_id = "L" + std::to_string(line);
  r.serial = "Q2AB-CDEF-" + std::to_string(1000 + line);
  r.previous_serial = "Q2ZZ-ZZZZ-" + std::to_string(1000 + line);
  r.result = o;
  r.http_status = 200;
  r.attempts = 1;
  r.latency_ms = 12.5;
  r.state = "active";
  return r;
}

/// Rows covering every encoding corner: unknown/unassigned previous, unassign, quoting.
std::vector<io::row_result> tricky_rows() {
  std::vector<io::row_result> rows;
  rows.push_back(make_row(2, io::outcome::applied));
  auto r = make_row(3, io::outcome::applied);
  r.previous_serial = std::string();  // was unassigned
  rows.push_back(r);
  r = make_row(4, io::outcome::failed);
  r.previous_serial.reset();  // unknown
  r.http_status = 400;
  r.error = "bad \"serial\", see\nline two\r\tand a tab";
  rows.push_back(r);
  r = make_row(5, io::outcome::applied);
  r.serial.clear();  // unassign
  r.state = " padded ";
  rows.push_back(r);
  r = make_row(6, io::outcome::not_attempted);
  r.attempts = 0;
  r.http_status = 0;
  r.latency_ms = 0;
  r.previous_serial.reset();
  r.state.clear();
  rows.push_back(r);
  return rows;
}

void expect_same(const io::row_result& a, const io::row_result& b) {
  EXPECT_EQ(a.line, b.line);
  EXPECT_EQ(a.org_id, b.org_id);
  EXPECT_EQ(a.license_id, b.license_id);
  EXPECT_EQ(a.serial, b.serial);
  EXPECT_EQ(a.previous_serial, b.previous_serial) << "line " << a.line;
  EXPECT_EQ(a.result, b.result);
  EXPECT_EQ(a.http_status, b.http_status);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_NEAR(a.latency_ms, b.latency_ms, 0.001);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.batch_id, b.batch_id);
  EXPECT_EQ(a.request_id, b.request_id);
  EXPECT_EQ(a.host, b.host);
}

/// The CSV header of reports written before batchId, requestId and host were columns.
constexpr std::string_view old_csv_header =
    "line,organizationId,licenseId,deviceSerial,previousDeviceSerial,outcome,httpStatus,attempts,"
    "latencyMs,state,error";

/// A row whose every field differs from a default row_result's, for round trips of every column.
io::row_result full_row() {
  io::row_result r;
  r.line = 4294967295u;
  r.org_id = "O,1";
  r.license_id = "L\"9\"";
  r.serial = "Q2AB-CDEF-GHIJ";
  r.previous_serial = "Q2ZZ-ZZZZ-ZZZZ";
  r.result = io::outcome::failed;
  r.http_status = 400;
  r.attempts = 7;
  r.latency_ms = 12.125;
  r.state = "active";
  r.error = "no \"such\" serial,\nsee docs";
  r.batch_id = "1234567890";
  r.request_id = "a1b2c3d4e5f60718";
  r.host = "n149.meraki.com";
  return r;
}

void write_all_rows(const std::filesystem::path& p, const std::vector<io::row_result>& rows) {
  io::report_writer w(p);
  for (const auto& r : rows) w.write(r);
  w.close();
}

}  // namespace

// RFC 4180: fields with a comma, quote, CR or LF (or edge spaces) are quoted, quotes doubled.
TEST(ArtefactsReport, CsvFieldQuoting) {
  EXPECT_EQ(io::csv_field("plain"), "plain");
  EXPECT_EQ(io::csv_field(""), "");
  EXPECT_EQ(io::csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(io::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(io::csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(io::csv_field("cr\r"), "\"cr\r\"");
  EXPECT_EQ(io::csv_field(" lead"), "\" lead\"");
}

// The CSV report has exactly the docs/report.md header and encodes the serials as documented.
TEST(ArtefactsReport, CsvHeaderAndSerialEncoding) {
  temp_dir dir;
  auto p = dir.path() / "r.csv";
  write_all_rows(p, tricky_rows());
  std::string text = temp_dir::read(p);
  EXPECT_EQ(
      text.substr(0, text.find('\n')),
      "line,organizationId,licenseId,deviceSerial,previousDeviceSerial,outcome,httpStatus,attempts,"
      "latencyMs,state,error,batchId,requestId,host");
  EXPECT_NE(
      text.find("\n2,123456,L2,Q2AB-CDEF-1002,Q2ZZ-ZZZZ-1002,applied,200,1,12.5,active,,,,\n"),
      std::string::npos);
  EXPECT_NE(text.find("\n3,123456,L3,Q2AB-CDEF-1003,null,applied,"), std::string::npos)
      << "unassigned = null";
  EXPECT_NE(text.find("\n4,123456,L4,Q2AB-CDEF-1004,,failed,400,"), std::string::npos)
      << "unknown = empty";
  EXPECT_NE(text.find("\n5,123456,L5,,Q2ZZ-ZZZZ-1005,applied,"), std::string::npos)
      << "unassign = empty";
  EXPECT_NE(text.find("\"bad \"\"serial\"\", see\nline two\r\tand a tab\""), std::string::npos);
}

// Every row written to a CSV report reads back identical, quoting and encodings included.
TEST(ArtefactsReport, CsvRoundTrip) {
  temp_dir dir;
  auto p = dir.path() / "r.csv";
  auto rows = tricky_rows();
  write_all_rows(p, rows);
  auto back = io::read_report(p);
  EXPECT_FALSE(back.torn_tail);
  ASSERT_EQ(back.rows.size(), rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) expect_same(back.rows[i], rows[i]);
}

// The CSV header is the column table's names in order, and a JSON Lines record holds the table's
// keys in the same order.
TEST(ArtefactsReport, HeaderAndKeysFollowTheColumnTable) {
  std::string names;
  for (const auto& c : io::report_columns)
    names += (names.empty() ? "" : ",") + std::string(c.name);
  EXPECT_EQ(names, io::report_csv_header);
  const std::string json = io::format_report_row(full_row(), io::report_format::jsonl);
  std::size_t at = 0;
  for (const auto& c : io::report_columns) {
    const auto key = "\"" + std::string(c.name) + "\":";
    const auto found = json.find(key, at);
    ASSERT_NE(found, std::string::npos) << c.name << " in " << json;
    at = found + key.size();
  }
}

// Every column of the table survives a round trip through CSV and through JSON Lines, each
// column alone (the others at their defaults) and all of them together.
TEST(ArtefactsReport, EveryColumnRoundTripsInBothFormats) {
  const io::row_result full = full_row();
  std::vector<io::row_result> rows{full};
  for (const auto& c : io::report_columns) {
    // The row has only this column set (and the columns every reader needs).
    io::row_result r;
    r.line = 2;
    r.license_id = "L2";
    switch (c.codec) {
      case io::column_codec::number: r.*c.number = full.*c.number; break;
      case io::column_codec::decimal: r.*c.decimal = full.*c.decimal; break;
      case io::column_codec::text:
      case io::column_codec::text_if_set:
      case io::column_codec::serial: r.*c.text = full.*c.text; break;
      case io::column_codec::known_serial: r.*c.known = full.*c.known; break;
      case io::column_codec::outcome: r.*c.result = full.*c.result; break;
    }
    rows.push_back(r);
  }
  for (const char* name : {"r.csv", "r.jsonl"}) {
    temp_dir dir;
    const auto p = dir.path() / name;
    write_all_rows(p, rows);
    const auto back = io::read_report(p);
    ASSERT_EQ(back.rows.size(), rows.size()) << name;
    for (std::size_t i = 0; i < rows.size(); ++i)
      EXPECT_EQ(back.rows[i], rows[i]) << name << " row " << i;
  }
}

// batchId, requestId and host are CSV columns too, at the end, after the columns older readers
// find by position.
TEST(ArtefactsReport, BatchIdRequestIdAndHostInCsv) {
  const std::string line = io::format_report_row(full_row(), io::report_format::csv);
  EXPECT_EQ(
      line,
      "4294967295,\"O,1\",\"L\"\"9\"\"\",Q2AB-CDEF-GHIJ,Q2ZZ-ZZZZ-ZZZZ,failed,400,7,12.125,active,"
      "\"no \"\"such\"\" serial,\nsee docs\",1234567890,a1b2c3d4e5f60718,n149.meraki.com\n");
}

// Reports written before the new columns existed still read back: CSV without them (found by
// header name), JSON Lines without the keys.
TEST(ArtefactsReport, ReportsOfThePreviousFormatReadBack) {
  temp_dir dir;
  auto csv = dir.write("old.csv", std::string(old_csv_header) +
                                      "\n2,42,L2,Q2AA-BBBB-CCCC,null,applied,200,1,12.5,active,\n"
                                      "3,42,L3,,,failed,400,2,3,,\"bad, serial\"\n");
  auto jsonl = dir.write(
      "old.jsonl",
      "{\"line\":2,\"organizationId\":\"42\",\"licenseId\":\"L2\",\"deviceSerial\":\"Q2AA-BBBB-"
      "CCCC\","
      "\"previousDeviceSerial\":null,\"outcome\":\"applied\",\"httpStatus\":200,\"attempts\":1,"
      "\"latencyMs\":12.5,\"state\":\"active\",\"error\":\"\",\"batchId\":\"B1\"}\n"
      "{\"line\":3,\"organizationId\":\"42\",\"licenseId\":\"L3\",\"deviceSerial\":null,"
      "\"outcome\":\"failed\",\"httpStatus\":400,\"attempts\":2,\"latencyMs\":3,\"state\":\"\","
      "\"error\":\"bad, serial\"}\n");
  for (const auto& p : {csv, jsonl}) {
    auto back = io::read_report(p);
    ASSERT_EQ(back.rows.size(), 2u) << p;
    EXPECT_EQ(back.rows[0].line, 2u);
    EXPECT_EQ(back.rows[0].previous_serial, std::string()) << p;
    EXPECT_EQ(back.rows[0].latency_ms, 12.5);
    EXPECT_EQ(back.rows[0].state, "active");
    EXPECT_EQ(back.rows[1].result, io::outcome::failed);
    EXPECT_EQ(back.rows[1].serial, "");
    EXPECT_FALSE(back.rows[1].previous_serial.has_value());
    EXPECT_EQ(back.rows[1].error, "bad, serial");
    EXPECT_EQ(back.rows[1].request_id, "");
    EXPECT_EQ(back.rows[1].host, "");
  }
  EXPECT_EQ(io::read_report(jsonl).rows[0].batch_id, "B1");
}

// The outcome has one spelling, which the reader parses back, and nothing else parses.
TEST(ArtefactsReport, OutcomeSpelledOnce) {
  for (auto o : {io::outcome::applied, io::outcome::unchanged, io::outcome::failed,
                 io::outcome::skipped, io::outcome::not_attempted}) {
    io::outcome back = io::outcome::applied;
    ASSERT_TRUE(io::parse_outcome(io::to_string(o), back)) << io::to_string(o);
    EXPECT_EQ(back, o);
  }
  io::outcome o;
  EXPECT_FALSE(io::parse_outcome("unknown", o));
  EXPECT_FALSE(io::parse_outcome("Applied", o));
}

// A .jsonl name selects JSON Lines: null = unassign / was unassigned, absent = unknown; round trip.
TEST(ArtefactsReport, JsonlFormatAndRoundTrip) {
  temp_dir dir;
  auto p = dir.path() / "r.JSONL";
  ASSERT_EQ(io::report_format_for(p), io::report_format::jsonl);
  auto rows = tricky_rows();
  rows[0].batch_id = "B-77";
  write_all_rows(p, rows);
  std::string text = temp_dir::read(p);
  EXPECT_EQ(text.find("line,"), std::string::npos) << "no CSV header in JSON Lines";
  EXPECT_NE(text.find("\"previousDeviceSerial\":null"), std::string::npos);
  EXPECT_NE(text.find("\"deviceSerial\":null"), std::string::npos);
  EXPECT_NE(text.find("\"batchId\":\"B-77\""), std::string::npos);
  auto line4 = text.substr(text.find("{\"line\":4"));
  line4 = line4.substr(0, line4.find('\n'));
  EXPECT_EQ(line4.find("previousDeviceSerial"), std::string::npos)
      << "unknown previous serial is absent";
  auto back = io::read_report(p);
  ASSERT_EQ(back.rows.size(), rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) expect_same(back.rows[i], rows[i]);
  EXPECT_EQ(back.rows[0].batch_id, "B-77");
}

// Invalid UTF-8 from a server's error text is replaced, so the JSON Lines file still parses.
TEST(ArtefactsReport, JsonlInvalidUtf8StillParses) {
  temp_dir dir;
  auto p = dir.path() / "r.jsonl";
  auto r = make_row(2, io::outcome::failed);
  r.error = std::string("bad \xff\xfe byte \x01");
  write_all_rows(p, {r});
  auto back = io::read_report(p);
  ASSERT_EQ(back.rows.size(), 1u);
  EXPECT_EQ(back.rows[0].error, "bad ?? byte \x01");
}

// Valid UTF-8 is kept as it is, and every escape reads back: quotes, backslashes, control bytes.
TEST(ArtefactsReport, JsonlEscapesAndValidUtf8RoundTrip) {
  temp_dir dir;
  auto p = dir.path() / "r.jsonl";
  auto r = make_row(2, io::outcome::failed);
  r.error = "caf\xc3\xa9 \xe2\x80\x93 \"q\" back\\slash \x01\x1f\x7f end";
  write_all_rows(p, {r});
  EXPECT_NE(temp_dir::read(p).find(
                "caf\xc3\xa9 \xe2\x80\x93 \\\"q\\\" back\\\\slash \\u0001\\u001f\\u007f end"),
            std::string::npos)
      << temp_dir::read(p);
  auto back = io::read_report(p);
  ASSERT_EQ(back.rows.size(), 1u);
  EXPECT_EQ(back.rows[0].error, r.error);
}

// Rows are buffered until the row count or the interval of the flush policy is reached.
TEST(ArtefactsReport, FlushPolicyRowsAndInterval) {
  temp_dir dir;
  auto p = dir.path() / "r.csv";
  fake_clock clock;
  io::report_writer w(p, io::flush_policy{3, std::chrono::milliseconds(200)},
                      [&] { return clock.now(); });
  auto lines = [&] {
    std::string t = temp_dir::read(p);
    return std::count(t.begin(), t.end(), '\n');
  };
  EXPECT_EQ(lines(), 1) << "header written at once";
  w.write(make_row(2, io::outcome::applied));
  w.write(make_row(3, io::outcome::applied));
  EXPECT_EQ(lines(), 1) << "2 rows stay buffered";
  w.write(make_row(4, io::outcome::applied));
  EXPECT_EQ(lines(), 4) << "3rd row flushes";
  w.write(make_row(5, io::outcome::applied));
  clock.advance(std::chrono::milliseconds(199));
  w.write(make_row(6, io::outcome::applied));
  EXPECT_EQ(lines(), 4);
  clock.advance(std::chrono::milliseconds(1));
  w.write(make_row(7, io::outcome::applied));
  EXPECT_EQ(lines(), 7) << "oldest buffered row reached the interval";
  w.write(make_row(8, io::outcome::applied));
  w.close();
  EXPECT_EQ(lines(), 8) << "close flushes";
  EXPECT_EQ(w.rows_written(), 7u);
}

// A process killed with SIGKILL after flushes leaves a report of whole rows that reads back.
TEST(ArtefactsReport, SigkillLeavesReadablePrefix) {
  temp_dir dir;
  auto p = dir.path() / "r.csv";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    io::report_writer w(p, io::flush_policy{5, std::chrono::hours(1)});
    for (std::uint32_t i = 2; i < 2 + 23; ++i) w.write(make_row(i, io::outcome::applied));
    ::raise(SIGKILL);  // no close(), no destructor, no atexit
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto back = io::read_report(p);
  EXPECT_FALSE(back.torn_tail);
  ASSERT_EQ(back.rows.size(), 20u) << "four flushes of five rows; the last three were buffered";
  for (std::uint32_t i = 0; i < 20; ++i) EXPECT_EQ(back.rows[i].line, i + 2);
}

// A report cut at any byte of its last record reads back the previous rows, never garbage.
TEST(ArtefactsReport, TornLastRecordAtEveryOffset) {
  for (const char* name : {"r.csv", "r.jsonl"}) {
    temp_dir dir;
    auto p = dir.path() / name;
    auto rows = tricky_rows();
    write_all_rows(p, rows);
    const std::string full = temp_dir::read(p);
    const std::size_t last_start = full.rfind('\n', full.size() - 2) + 1;
    for (std::size_t cut = last_start; cut < full.size(); ++cut) {
      auto q = dir.write("cut" + std::string(name), full.substr(0, cut));
      auto back = io::read_report(q);
      const bool complete = cut == full.size() - 1;  // only the line break is missing
      EXPECT_EQ(back.rows.size(), rows.size() - (complete ? 0 : 1)) << name << " cut at " << cut;
      EXPECT_EQ(back.torn_tail, !complete && cut > last_start) << name << " cut at " << cut;
      for (std::size_t i = 0; i + 1 < rows.size(); ++i) expect_same(back.rows[i], rows[i]);
    }
  }
}

// A malformed row in the middle is an error naming file:line; so is a file that is not a report.
TEST(ArtefactsReport, MalformedReportNamesFileAndLine) {
  temp_dir dir;
  auto p = dir.write(
      "bad.csv", std::string(old_csv_header) +
                     "\n2,1,L2,S,,applied,200,1,1,active,\n3,1,L3,S,,exploded,200,1,1,active,\n");
  try {
    io::read_report(p);
    FAIL() << "no error";
  } catch (const io::report_error& e) {
    EXPECT_EQ(e.line(), 3u);
    EXPECT_NE(std::string(e.what()).find("bad.csv:3:"), std::string::npos) << e.what();
  }
  auto q = dir.write("other.csv", "licenseId,deviceSerial\nL1,S1\n");
  EXPECT_THROW(io::read_report(q), io::report_error);
  auto j =
      dir.write("bad.jsonl", "{\"line\":2,\"licenseId\":\"L\",\"outcome\":\"applied\"}\n{oops}\n");
  try {
    io::read_report(j);
    FAIL() << "no error";
  } catch (const io::report_error& e) {
    EXPECT_EQ(e.line(), 2u);
  }
  EXPECT_THROW(io::read_report(dir.path() / "missing.csv"), std::runtime_error);
}

// The reader accepts a UTF-8 BOM, CRLF line ends, and columns in another order.
TEST(ArtefactsReport, BomCrlfAndColumnOrder) {
  temp_dir dir;
  auto p = dir.write(
      "x.csv",
      "\xEF\xBB\xBFoutcome,licenseId,line,organizationId,deviceSerial,previousDeviceSerial\r\n"
      "applied,L9,9,42,\"Q2AA-BBBB-CCCC\",null\r\n");
  auto back = io::read_report(p);
  ASSERT_EQ(back.rows.size(), 1u);
  EXPECT_EQ(back.rows[0].line, 9u);
  EXPECT_EQ(back.rows[0].org_id, "42");
  EXPECT_EQ(back.rows[0].serial, "Q2AA-BBBB-CCCC");
  EXPECT_EQ(back.rows[0].previous_serial, std::string());
}

// The default report sits next to the CSV, named with a UTC timestamp.
TEST(ArtefactsReport, DefaultReportPathNextToCsv) {
  auto t = std::chrono::system_clock::from_time_t(1796000000);  // 2026-11-30T00:53:20Z
  EXPECT_EQ(io::default_report_path("/data/moves.csv", t),
            "/data/moves.report-20261130T005320Z.csv");
  EXPECT_EQ(io::default_report_path("moves.csv", t), "moves.report-20261130T005320Z.csv");
}

// verify: a license elsewhere, unassigned, missing, or in an unread org is a mismatch; others are
// not.
TEST(ArtefactsReport, FindMismatches) {
  relicense::plan::plan p;
  p.orgs = {"A", "B", "C"};
  p.rows = {{2, 0, "L1", "S1"}, {3, 0, "L2", "S2"}, {4, 1, "L3", ""},
            {5, 1, "L4", "S4"}, {6, 1, "L5", ""},   {7, 2, "L6", "S6"}};
  relicense::plan::inventories inv;
  inv["A"].set("L1", "S1");
  inv["A"].set("L2", "S9");
  inv["A"].set("L4", "S4");
  inv["B"].set("L3", "");
  inv["B"].set("L5", "S5");
  auto m = io::find_mismatches(p, inv);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].line, 3u);
  EXPECT_EQ(m[0].actual, "S9");
  EXPECT_EQ(m[0].kind, io::mismatch_kind::wrong_serial);
  EXPECT_EQ(m[1].line, 5u) << "L4 is in org A's inventory, not B's";
  EXPECT_EQ(m[1].kind, io::mismatch_kind::missing_license);
  EXPECT_EQ(m[2].line, 6u);
  EXPECT_EQ(m[2].actual, "S5");
  EXPECT_EQ(m[2].requested, "");
  EXPECT_EQ(m[3].line, 7u);
  EXPECT_EQ(m[3].kind, io::mismatch_kind::not_fetched);
  EXPECT_EQ(io::describe(m[0], "in.csv"),
            "in.csv:3: organization A, license L2: on S9, requested S2");
  EXPECT_EQ(io::describe(m[2], "in.csv"),
            "in.csv:6: organization B, license L5: on S5, requested no device (unassigned)");
}
