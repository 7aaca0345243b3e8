// Run artefacts end to end, with the built binary against the in-process twin: resume after
// SIGKILL at several points, rollback restoring the original state, verify.
#include "relicense/sim/server.hpp"

#include "../io/test_server.hpp"

#include "relicense/io/journal.hpp"
#include "relicense/io/report.hpp"
#include "relicense/plan/csv.hpp"
#include "relicense/test/run_process.hpp"
#include "relicense/test/temp_dir.hpp"
#include "relicense/test/twin_csv.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

namespace io = relicense::io;
namespace sim = relicense::sim;
using relicense::test::run_relicense;
using relicense::test::temp_dir;

namespace {

using relicense::test::moving_csv;
using relicense::test::wanted_map;

void expect_state(const sim::server& twin, const wanted_map& wanted) {
  const auto state = twin.state();
  for (const auto& [org, lics] : wanted)
    for (const auto& [lic, serial] : lics)
      EXPECT_EQ(state.at(org).at(lic).value_or(""), serial) << org << "/" << lic;
}

std::size_t count_lines(const std::filesystem::path& p) {
  std::error_code ec;
  if (!std::filesystem::exists(p, ec)) return 0;
  const std::string s = temp_dir::read(p);
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

/// Starts `relicense args...` (output discarded), waits until `journal` holds at least
/// `records` lines or the process ends, then SIGKILLs it. Returns true if it was killed mid-run.
bool run_and_kill(const std::vector<std::string>& args, const std::string& key,
                  const std::filesystem::path& journal, std::size_t records) {
  const std::string bin = relicense::test::relicense_binary();
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::setenv("MERAKI_DASHBOARD_API_KEY", key.c_str(), 1);
    std::vector<char*> argv{const_cast<char*>(bin.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  // Polls the journal (a process-synchronisation wait, not a timing assumption), bounded.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;  // finished before the kill point
    if (count_lines(journal) >= records) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return WIFSIGNALED(status);
}

sim::sim_config twin_config(unsigned orgs, unsigned licenses) {
  sim::sim_config c;
  c.orgs = orgs;
  c.licenses_per_org = licenses;
  c.rate = 0;  // no budget: the test is about crash safety, not throttling
  c.latency = std::chrono::milliseconds(15);
  c.seed = 23;
  return c;
}

}  // namespace

// SIGKILL at several points (just after start, early, late), then --resume: the final state is
// the requested one, every row is reported applied (or unchanged: a row in flight at a kill that
// the resumed run's inventory read found in place), and only rows in flight at a kill were sent
// twice (at most --concurrency per kill).
TEST(ArtefactsE2E, SigkillAndResume) {
  sim::server twin(twin_config(2, 40));
  twin.start();
  temp_dir dir;
  wanted_map wanted;
  const auto csv = dir.write("in.csv", moving_csv(twin, 40, wanted));
  const auto report = dir.path() / "report.csv";
  const auto journal = dir.path() / "run.journal";
  const unsigned concurrency = 2;
  std::vector<std::string> args = {
      "apply",    csv.string(),    "--base-url", twin.base_url(),  "--rate",
      "0",        "--ip-rate",     "0",          "--concurrency",  std::to_string(concurrency),
      "--report", report.string(), "--journal",  journal.string(), "--progress",
      "off"};
  unsigned kills = 0;
  bool first = true;
  // Kill points count rows finished by that run: a resumed run first re-reports (and journals)
  // the rows already done.
  for (std::size_t fresh_rows : {1u, 12u, 25u, 20u}) {
    auto a = args;
    std::size_t base = count_lines(journal);
    if (!first) {
      a.push_back("--resume");
      try {
        base += io::read_journal(journal).done.size();
      } catch (const io::journal_error&) {
        // Missing, or killed while writing its header: nothing done yet.
      }
    }
    first = false;
    kills += run_and_kill(a, twin.api_key(), journal, base + fresh_rows) ? 1 : 0;
  }
  EXPECT_GE(kills, 2u) << "the run was too fast to be killed mid-way";

  args.push_back("--resume");
  const auto r = run_relicense(args, {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_state(twin, wanted);

  const auto stats = twin.stats();
  std::printf("kills: %u, duplicate applies: %llu\n", kills,
              static_cast<unsigned long long>(stats.duplicate_applies));
  EXPECT_LE(stats.duplicate_applies, std::uint64_t{kills} * concurrency)
      << "rows re-sent beyond those in flight";
  const auto rows = io::read_report(report).rows;
  ASSERT_EQ(rows.size(), 80u);
  std::uint64_t found_in_place = 0;
  for (const auto& row : rows) {
    EXPECT_TRUE(row.result == io::outcome::applied || row.result == io::outcome::unchanged)
        << "line " << row.line;
    found_in_place += row.result == io::outcome::unchanged;
  }
  EXPECT_LE(found_in_place, std::uint64_t{kills} * concurrency) << "only rows in flight at a kill";
  EXPECT_EQ(io::read_journal(journal).done.size(), 80u);
}

// Resuming a journal with another CSV is refused before anything is sent.
TEST(ArtefactsE2E, ResumeWithAnotherCsvRefused) {
  sim::server twin(twin_config(1, 10));
  twin.start();
  temp_dir dir;
  wanted_map wanted;
  const auto csv = dir.write("in.csv", moving_csv(twin, 5, wanted));
  const auto other = dir.write("other.csv", moving_csv(twin, 6, wanted));
  const auto journal = dir.path() / "run.journal";
  std::vector<std::string> base = {
      "--base-url", twin.base_url(), "--rate",         "0",          "--ip-rate",
      "0",          "--journal",     journal.string(), "--progress", "off"};
  auto a1 = base;
  a1.insert(a1.begin(), {"apply", csv.string(), "--report", (dir.path() / "r1.csv").string()});
  ASSERT_EQ(run_relicense(a1, {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}}).exit_code, 0);
  const auto sent = twin.stats().requests;
  auto a2 = base;
  a2.insert(a2.begin(),
            {"apply", other.string(), "--resume", "--report", (dir.path() / "r2.csv").string()});
  const auto r = run_relicense(a2, {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("different plan"), std::string::npos) << r.err;
  EXPECT_EQ(twin.stats().requests, sent) << "nothing sent";
}

// apply (which reads the inventory first by default and so learns each previous serial), rollback,
// apply the rollback
// CSV: the twin is back in its original state; verify says so, and flags the moved rows before.
TEST(ArtefactsE2E, RollbackRestoresOriginalState) {
  sim::server twin(twin_config(2, 20));
  twin.start();
  const auto original = twin.state();
  temp_dir dir;
  wanted_map wanted;
  std::string text = moving_csv(twin, 12, wanted);
  // One unassign too, so rollback has to re-assign it.
  const auto orgs = twin.orgs();
  for (const auto& lic : orgs[0].licenses) {
    if (lic.device_serial && !wanted[orgs[0].id].count(lic.id)) {
      text += orgs[0].id + "," + lic.id + ",\n";
      wanted[orgs[0].id][lic.id] = "";
      break;
    }
  }
  const auto csv = dir.write("in.csv", text);
  const std::map<std::string, std::string> env = {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}};
  const std::vector<std::string> conn = {"--base-url", twin.base_url(), "--rate",
                                         "0",          "--ip-rate",     "0"};
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.end(), conn.begin(), conn.end());
    return a;
  };

  auto before = run_relicense(with({"verify", csv.string()}), env);
  EXPECT_EQ(before.exit_code, 1) << before.err;
  EXPECT_EQ(std::count(before.out.begin(), before.out.end(), '\n'), 25) << before.out;

  const auto report = dir.path() / "report.jsonl";
  auto applied = run_relicense(with({"apply", csv.string(), "--report", report.string()}), env);
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  expect_state(twin, wanted);
  auto after = run_relicense(with({"verify", csv.string()}), env);
  EXPECT_EQ(after.exit_code, 0) << after.out << after.err;

  const auto undo = dir.path() / "undo.csv";
  auto rb = run_relicense({"rollback", report.string(), "--output", undo.string()});
  ASSERT_EQ(rb.exit_code, 0) << rb.err;
  auto restored = run_relicense(
      with({"apply", undo.string(), "--report", (dir.path() / "undo-report.csv").string()}), env);
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_EQ(twin.state(), original);
}

namespace {

/// The answers of a scripted API for request-id tests: PUTs of license L1 go on to `shard` with a
/// 307 (when set) and are refused there with a 400 carrying an X-Request-Id; L2 applies; L3 is
/// answered 401 (the run aborts); an action batch is refused with a 400 and an id. Every answer
/// closes its connection: the scripted server serves one connection at a time.
void scripted_api(io::test::server_session& s, std::uint16_t shard) {
  const std::string close = "Connection: close\r\n";
  if (auto req = s.read_request()) {
    const std::string& t = req->target;
    if (req->method == "GET" && t.ends_with("/organizations/1")) {
      // The pre-flight: a per-device organization.
      s.respond(200, R"({"id":"1","name":"o","licensing":{"model":"per-device"}})",
                "application/json", close);
    } else if (req->method == "POST" && t.ends_with("/actionBatches")) {
      s.respond(400, R"({"errors":["Device serial is not valid"]})", "application/json",
                "X-Request-Id: batch-77\r\n" + close);
    } else if (t.ends_with("/licenses/L1") && shard != 0) {
      s.respond(307, "", "",
                "Location: http://localhost:" + std::to_string(shard) + t + "\r\n" + close);
    } else if (t.ends_with("/licenses/L1")) {
      s.respond(400, R"({"errors":["Device serial is not in the organization's inventory"]})",
                "application/json", "X-Request-Id: 5e1d0c9a7b3f4e21\r\n" + close);
    } else if (t.ends_with("/licenses/L2")) {
      s.respond(200, R"({"id":"L2","deviceSerial":"Q2AA-BBBB-CCCC","state":"active"})",
                "application/json", "X-Request-Id: applied-id\r\n" + close);
    } else {
      s.respond(401, R"({"errors":["Invalid API key"]})", "application/json",
                "X-Request-Id: abc123\r\n" + close);
    }
    s.close();
  }
}

}  // namespace

// A failed row carries the X-Request-Id of the answer that failed it and the host that gave it
// (the shard host after a redirect), in the CSV report and in the JSON Lines report; an applied
// row carries neither.
TEST(ArtefactsE2E, FailedRowReportsRequestIdAndHost) {
  io::test::script_server shard([](io::test::server_session& s) { scripted_api(s, 0); });
  const std::uint16_t shard_port = shard.port();
  io::test::script_server api(
      [shard_port](io::test::server_session& s) { scripted_api(s, shard_port); });
  temp_dir dir;
  const auto csv = dir.write("in.csv",
                             "organizationId,licenseId,deviceSerial\n1,L1,Q2AA-BBBB-CCCC\n"
                             "1,L2,Q2AA-BBBB-CCCC\n");
  const std::string base = "http://127.0.0.1:" + std::to_string(api.port()) + "/api/v1";
  for (const char* name : {"report.csv", "report.jsonl"}) {
    const auto report = dir.path() / name;
    const auto r =
        run_relicense({"apply", csv.string(), "--base-url", base, "--report", report.string(),
                       "--progress", "off", "--concurrency", "1", "--no-inventory", "--journal",
                       (dir.path() / (std::string(name) + ".journal")).string()},
                      {{"MERAKI_DASHBOARD_API_KEY", "0123456789abcdef0123456789abcdef01234567"}});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    const auto rows = io::read_report(report).rows;
    ASSERT_EQ(rows.size(), 2u) << name;
    for (const auto& row : rows) {
      if (row.license_id == "L1") {
        EXPECT_EQ(row.result, io::outcome::failed) << name;
        EXPECT_EQ(row.http_status, 400u) << name;
        EXPECT_EQ(row.request_id, "5e1d0c9a7b3f4e21") << name;
        EXPECT_EQ(row.host, "localhost") << name << ": the shard answered, not the base URL's host";
      } else {
        EXPECT_EQ(row.result, io::outcome::applied) << name;
        EXPECT_EQ(row.request_id, "") << name;
        EXPECT_EQ(row.host, "") << name;
      }
    }
    const std::string text = temp_dir::read(report);
    if (report.extension() == ".csv") {
      EXPECT_NE(text.find(",5e1d0c9a7b3f4e21,localhost\n"), std::string::npos) << text;
    } else {
      EXPECT_NE(text.find("\"requestId\":\"5e1d0c9a7b3f4e21\",\"host\":\"localhost\""),
                std::string::npos)
          << text;
    }
  }
}

// An abort's message names the request id and the host of the answer that stopped the run.
TEST(ArtefactsE2E, AbortMessageNamesRequestIdAndHost) {
  io::test::script_server api([](io::test::server_session& s) { scripted_api(s, 0); });
  temp_dir dir;
  const auto csv =
      dir.write("in.csv", "organizationId,licenseId,deviceSerial\n1,L3,Q2AA-BBBB-CCCC\n");
  const auto report = dir.path() / "report.csv";
  const auto r =
      run_relicense({"apply", csv.string(), "--base-url",
                     "http://127.0.0.1:" + std::to_string(api.port()) + "/api/v1", "--report",
                     report.string(), "--progress", "off", "--concurrency", "1", "--no-inventory"},
                    {{"MERAKI_DASHBOARD_API_KEY", "0123456789abcdef0123456789abcdef01234567"}});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("(request id abc123, host 127.0.0.1)"), std::string::npos) << r.err;
  const auto rows = io::read_report(report).rows;
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].result, io::outcome::not_attempted);  // the run's failure: --resume sends it
  EXPECT_EQ(rows[0].request_id, "abc123");
  EXPECT_EQ(rows[0].host, "127.0.0.1");
}

// Batch mode: a row the API refused alone carries the request id and host of that answer.
TEST(ArtefactsE2E, BatchFailedRowReportsRequestIdAndHost) {
  io::test::script_server api([](io::test::server_session& s) { scripted_api(s, 0); });
  temp_dir dir;
  const auto csv =
      dir.write("in.csv", "organizationId,licenseId,deviceSerial\n1,L1,Q2AA-BBBB-CCCC\n");
  const auto report = dir.path() / "report.jsonl";
  const auto r =
      run_relicense({"apply", csv.string(), "--mode", "batch", "--base-url",
                     "http://127.0.0.1:" + std::to_string(api.port()) + "/api/v1", "--report",
                     report.string(), "--progress", "off", "--concurrency", "1", "--no-inventory"},
                    {{"MERAKI_DASHBOARD_API_KEY", "0123456789abcdef0123456789abcdef01234567"}});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto rows = io::read_report(report).rows;
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].result, io::outcome::failed);
  EXPECT_EQ(rows[0].http_status, 400u);
  EXPECT_EQ(rows[0].request_id, "batch-77");
  EXPECT_EQ(rows[0].host, "127.0.0.1");
}

// --log-file and --summary of a run that meets the twin's 429s: the log has the start line
// (version, plan fingerprint, host, mode), a pause line per 429 that paused an organization and
// the end line; the summary has the run's identity with exit status 0; the key is in neither.
TEST(ArtefactsE2E, LogFileAndSummaryIdentity) {
  sim::sim_config cfg = twin_config(1, 30);
  cfg.rate = 5;  // the twin's budget, well below what the run is told it may send
  cfg.burst = 2;
  cfg.latency = std::chrono::milliseconds(1);
  sim::server twin(cfg);
  twin.start();
  temp_dir dir;
  wanted_map wanted;
  const auto csv = dir.write("in.csv", moving_csv(twin, 20, wanted));
  const auto log = dir.path() / "run.log";
  const auto summary = dir.path() / "summary.json";
  const auto r = run_relicense(
      {"apply", csv.string(), "--base-url", twin.base_url(), "--rate", "50", "--burst", "50",
       "--report", (dir.path() / "report.csv").string(), "--log-file", log.string(), "--summary",
       summary.string(), "--progress", "off"},
      {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_GT(twin.stats().rate_limited, 0u) << "the twin sent no 429: the test proves nothing";

  const std::string text = temp_dir::read(log);
  const std::string fingerprint = relicense::plan::load_plan(csv.string(), {}).plan.fingerprint;
  EXPECT_NE(text.find(" start relicense "), std::string::npos) << text;
  EXPECT_NE(text.find(" plan=" + fingerprint), std::string::npos) << text;
  EXPECT_NE(text.find(" host=127.0.0.1"), std::string::npos) << text;
  EXPECT_NE(text.find(" mode=put"), std::string::npos) << text;
  EXPECT_NE(text.find(" pause org="), std::string::npos) << text;
  EXPECT_NE(text.find(" retries "), std::string::npos) << text;
  EXPECT_NE(text.find(" end status=completed applied=20 "), std::string::npos) << text;
  EXPECT_NE(text.find(" exit=0\n"), std::string::npos) << text;
  // Every line starts with a UTC timestamp with milliseconds.
  for (std::size_t at = 0; at < text.size(); at = text.find('\n', at) + 1) {
    ASSERT_GE(text.size() - at, 25u);
    EXPECT_EQ(text[at + 10], 'T');
    EXPECT_EQ(text.substr(at + 19, 6), std::string(".") + text.substr(at + 20, 3) + "Z ");
  }

  const std::string json = temp_dir::read(summary);
  EXPECT_NE(json.find("\"startedAt\": \""), std::string::npos) << json;
  EXPECT_NE(json.find("\"endedAt\": \""), std::string::npos) << json;
  EXPECT_NE(json.find("\"planFingerprint\": \"" + fingerprint + "\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"baseUrlHost\": \"127.0.0.1\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"mode\": \"put\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"dryRun\": false"), std::string::npos) << json;
  EXPECT_NE(json.find("\"exitStatus\": 0"), std::string::npos) << json;
  EXPECT_NE(json.find("\"version\": \""), std::string::npos) << json;

  EXPECT_EQ(text.find(twin.api_key()), std::string::npos) << "the key is in the log";
  EXPECT_EQ(json.find(twin.api_key()), std::string::npos) << "the key is in the summary";

  // verify appends its own start and end lines to the same log.
  const auto v = run_relicense(
      {"verify", csv.string(), "--base-url", twin.base_url(), "--log-file", log.string()},
      {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  const std::string after = temp_dir::read(log);
  ASSERT_EQ(after.compare(0, text.size(), text), 0) << "verify did not append";
  EXPECT_NE(after.find(" verify plan=" + fingerprint, text.size()), std::string::npos) << after;
  EXPECT_NE(after.find(" exit=0\n", text.size()), std::string::npos) << after;
  EXPECT_EQ(after.find(twin.api_key()), std::string::npos) << "the key is in the log";
}

// A --log-file in a missing folder is refused before anything is sent (exit 2, naming it); one
// that cannot be written (a full disk) stops the run before its first request (exit 3, naming it).
TEST(ArtefactsE2E, LogFileCheckedBeforeSending) {
  sim::server twin(twin_config(1, 5));
  twin.start();
  temp_dir dir;
  wanted_map wanted;
  const auto csv = dir.write("in.csv", moving_csv(twin, 3, wanted));
  const auto missing = dir.path() / "no-such-folder" / "run.log";
  auto r = run_relicense(
      {"apply", csv.string(), "--base-url", twin.base_url(), "--report",
       (dir.path() / "report.csv").string(), "--log-file", missing.string(), "--progress", "off"},
      {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(missing.string()), std::string::npos) << r.err;

  r = run_relicense(
      {"apply", csv.string(), "--base-url", twin.base_url(), "--report",
       (dir.path() / "report2.csv").string(), "--log-file", "/dev/full", "--progress", "off"},
      {{"MERAKI_DASHBOARD_API_KEY", twin.api_key()}});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("/dev/full"), std::string::npos) << r.err;
  EXPECT_EQ(twin.stats().requests, 0u) << "a request left although the log could not be written";
}
