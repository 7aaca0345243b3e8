// `relicense apply`: wiring only. The plan loader, the runner and the artefact writers do the work;
// this file checks the inputs (exit 2 before anything is sent), plugs the writers into the
// runner's result sink, and maps the run's end to the exit codes of docs/exit-codes.md.
#include "commands.hpp"
#include "confirm.hpp"
#include "failure_view.hpp"
#include "output_paths.hpp"
#include "serial_map_input.hpp"

#include "relicense/engine/batch_runner.hpp"
#include "relicense/engine/preflight.hpp"
#include "relicense/engine/runner.hpp"
#include "relicense/io/file_lock.hpp"
#include "relicense/io/journal.hpp"
#include "relicense/io/metrics.hpp"
#include "relicense/io/oplog.hpp"
#include "relicense/io/progress.hpp"
#include "relicense/io/proxy.hpp"
#include "relicense/io/report.hpp"
#include "relicense/io/summary.hpp"
#include "relicense/io/url.hpp"
#include "relicense/io/user_agent.hpp"
#include "relicense/plan/csv.hpp"
#include "relicense/plan/diff.hpp"
#include "relicense/plan/estimate.hpp"
#include "relicense/plan/shard.hpp"

#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace relicense::cli {
namespace {

namespace fs = std::filesystem;

/// The subcommand messages name: "apply", or "retry" when it runs a report's failed rows.
const char* command = "apply";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "relicense %s: %s\n", command, message.c_str());
  return exit_usage;
}

/// Opening the journal or the report failed before anything was sent: a journal in the way, a
/// file another run holds or a plan mismatch is the user's to fix (exit 2); a disk that cannot
/// write is a write error on an output file (exit 3, one line).
int open_error(const std::runtime_error& e) {
  if (dynamic_cast<const io::journal_error*>(&e) || dynamic_cast<const io::file_in_use_error*>(&e))
    return usage_error(e.what());
  std::fprintf(stderr, "relicense: %s\n", e.what());
  return exit_aborted;
}

/// Every finished row goes to the report, the journal, the summary and the progress line.
/// A file that cannot be written (full disk, I/O error) is left alone from then on, while the
/// other still gets the rows that settle as the run stops: the first such error is thrown once
/// to the runner, which stops sending, and error() keeps its text for the one line at the end.
class artefact_sink final : public engine::result_sink {
public:
  artefact_sink(io::report_writer& report, io::journal_writer* journal, io::run_summary& summary,
                io::progress& progress, const io::journal_contents& resumed,
                io::oplog* log = nullptr)
      : report_(&report), journal_(journal), summary_(summary), progress_(progress),
        resumed_(resumed), log_(log && log->enabled() ? log : nullptr) {}

  /// Heartbeat lines on stderr (cron logs: no TTY, no progress display, not --quiet).
  void enable_heartbeat(std::uint64_t total) {
    total_ = total;
    heartbeat_.emplace(std::chrono::steady_clock::now());
  }
  /// Failed rows also go to `g`, for the end-of-run view of failures by reason.
  void collect_failures(failure_groups& g) { failures_ = &g; }
  /// One line of the operational log; a write error counts like the other files'.
  void log(const std::string& text) {
    if (log_) guard(log_, [&] { log_->line(text); });
  }
  void on_event(const engine::run_event& e) override {
    if (!log_ || e.what != engine::run_event::kind::org_paused) return;
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.3f", std::chrono::duration<double>(e.delay).count());
    log("pause org=" + std::string(e.org_id) + " seconds=" + secs +
        " cause=" + io::to_string(e.cause));
  }

  void on_result(const io::row_result& r) override {
    // A resumed run re-reports the rows its journal already holds; journaling them again would
    // only grow the journal with every resume.
    const bool carried = resumed_.done.contains(r.line);
    carried_ += carried;
    if (journal_ && !carried) guard(journal_, [&] { journal_->append_row(r); });
    if (report_) guard(report_, [&] { report_->write(r); });
    // Rows the journal holds were sent by an earlier run: not this run's rate or budget.
    if (carried) summary_.add_carried(r);
    else summary_.add(r);
    if (failures_) failures_->add(r);
    raise();
  }
  void on_progress(const engine::run_counters& c) override {
    progress_.update(c.rows_done(), c.throttled, c.failed, carried_);
    if (heartbeat_) {
      const auto now = std::chrono::steady_clock::now();
      if (heartbeat_->due(now)) {
        const auto text = heartbeat_->line(c.rows_done(), total_, c.failed, now, carried_);
        std::fprintf(stderr, "relicense: %s\n", text.c_str());
      }
    }
    raise();
  }
  void flush() override {
    if (journal_) guard(journal_, [&] { journal_->flush(); });
    raise();
  }
  /// Batch mode: an accepted batch is journaled before its first poll.
  void on_batch_accepted(const io::journal_batch& b) {
    if (journal_) guard(journal_, [&] { journal_->append_batch(b); });
    raise();
  }
  /// Closes (flushes and syncs) the files still writable; an error there counts like any other.
  void close() {
    if (report_) guard(report_, [&] { report_->close(); });
    if (journal_) guard(journal_, [&] { journal_->close(); });
    pending_ = nullptr;
  }
  /// The log after close(): a write error there is reported, not thrown.
  void log_quietly(const std::string& text) {
    log(text);
    pending_ = nullptr;
  }
  /// The first write error ("cannot write FILE: REASON"), empty when every write went through.
  const std::string& error() const noexcept { return error_; }

private:
  template <class Writer, class Fn>
  void guard(Writer*& writer, Fn&& fn) {
    try {
      fn();
    } catch (const std::exception& e) {
      writer = nullptr;
      if (error_.empty()) {
        error_ = e.what();
        pending_ = std::current_exception();
      }
    }
  }
  void raise() {
    if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
  }

  io::report_writer* report_;
  io::journal_writer* journal_;
  io::run_summary& summary_;
  io::progress& progress_;
  const io::journal_contents& resumed_;
  io::oplog* log_;
  failure_groups* failures_ = nullptr;
  std::uint64_t carried_ = 0;  ///< rows taken from the journal of a resumed run
  std::optional<io::heartbeat> heartbeat_;
  std::uint64_t total_ = 0;
  std::string error_;
  std::exception_ptr pending_;  ///< error_ not yet thrown to the runner
};

/// The run's settings from the options (the pre-read of the inventories uses them too).
engine::run_config run_config_of(const apply_options& o, const char* key) {
  engine::run_config c = read_config(o, key);
  c.concurrency = o.concurrency;
  c.dry_run = o.dry_run;
  c.skip_unchanged = !o.no_inventory;
  c.limit = o.limit;
  return c;
}

/// The question's numbers: the rows that change, at most --limit of them, and their organizations.
/// With the live inventories (`read`), rows in place, unknown licenses and an organization that
/// takes no calls are not changes; without (`nullptr`, --no-inventory), every row is one, except
/// in the organizations the pre-flight refused (`refused`: ids, with why). Rows a resumed
/// journal holds as done (`done`, by line) are not changes either.
change_totals totals_of(const plan::plan& p, const engine::inventory_result* read,
                        const std::vector<std::pair<std::string, std::string>>& refused,
                        const std::map<std::uint32_t, io::row_result>& done, std::uint64_t limit) {
  std::vector<bool> no_calls(p.orgs.size(), false);
  for (std::size_t o = 0; o < p.orgs.size(); ++o) {
    for (const auto& r : refused) no_calls[o] = no_calls[o] || r.first == p.orgs[o];
  }
  plan::plan_diff d;
  if (read) d = plan::diff(p, read->inventories);
  std::vector<bool> touched(p.orgs.size(), false);
  change_totals t;
  for (std::size_t i = 0; i < p.rows.size(); ++i) {
    const auto org = p.rows[i].org;
    if (no_calls[org] || done.contains(p.rows[i].line)) continue;
    if (read) {
      const auto kind = d.rows[i].kind;
      if (kind == plan::change_kind::unchanged || kind == plan::change_kind::unknown_license)
        continue;
      if (org < read->refused.size() && !read->refused[org].empty()) continue;
    }
    if (limit > 0 && t.changes == limit) break;
    ++t.changes;
    if (!touched[org]) {
      touched[org] = true;
      ++t.organizations;
    }
  }
  return t;
}

/// Organizations the pre-flight found invisible to the key: one line each, then "nothing was
/// sent" (the caller exits 2, bad input).
void say_invisible(const char* command,
                   const std::vector<std::pair<std::string, unsigned>>& invisible) {
  for (const auto& [id, status] : invisible) {
    std::fprintf(stderr,
                 "relicense %s: organization %s is not visible to this API key (%u): check --org / "
                 "the CSV's organizationId and the key's access\n",
                 command, id.c_str(), status);
  }
  std::fprintf(stderr, "relicense %s: nothing was sent\n", command);
}

}  // namespace

std::string check_run_options(const apply_options& o, plan::load_options& lo) {
  lo.org = o.org;
  if (!o.shard.empty()) {
    lo.shard = plan::parse_shard(o.shard);
    if (!lo.shard) return "--shard must be K/N with 0 <= K < N, got '" + o.shard + "'";
  }
  if (o.rate < 0 || o.burst < 0 || o.ip_rate < 0)
    return "--rate, --burst and --ip-rate must be >= 0";
  if (o.max_attempts < 1) return "--max-attempts must be at least 1";
  if (!(o.timeout > 0) || o.timeout > 3600) return "--timeout must be in (0, 3600] seconds";
  auto base = io::parse_base_url(o.base_url);
  if (!base.value) return "--base-url: " + base.error;
  if (auto why = io::cleartext_refusal(base.value->where); !why.empty())
    return "--base-url: " + why;
  if (!o.proxy.empty()) {
    // Checked even when NO_PROXY names the base host: a typo must not wait for a shard redirect.
    if (auto p = io::parse_proxy_url(o.proxy); !p.value) return "--proxy: " + p.error;
  }
  const auto& where = base.value->where;
  const auto route = io::select_proxy(proxy_settings(o), where.tls, where.host, where.port);
  if (!route.error.empty()) return route.error;
  if (auto why = io::proxy_cleartext_refusal(route, where.tls); !why.empty())
    return "--base-url: " + why;
  return {};
}

engine::run_config read_config(const apply_options& o, const char* key) {
  engine::run_config c;
  c.base_url = o.base_url;
  if (key) c.api_key = key;
  c.rate = o.rate;
  c.burst = o.burst;
  c.ip_rate = o.ip_rate;
  c.retry.max_attempts = o.max_attempts;
  c.client.timeout = std::chrono::milliseconds(static_cast<long long>(o.timeout * 1000));
  c.client.ca_file = o.ca_file;
  c.client.proxy = proxy_settings(o);
  c.client.user_agent = io::user_agent(o.caller);
  return c;
}

io::proxy_config proxy_settings(const apply_options& o) {
  io::proxy_config p;
  p.url = o.proxy;
  p.disabled = o.no_proxy;
  if (!o.no_proxy) p.env = io::proxy_environment::from_process();
  return p;
}

int run_apply(const apply_options& o, const given_plan* given) {
  command = given ? given->command : "apply";
  // ----- inputs: every problem is exit 2, before anything is sent ------------------------------
  plan::load_options lo;
  if (auto why = check_run_options(o, lo); !why.empty()) return usage_error(why);
  if (o.resume && o.journal.empty() && (o.report.empty() || o.report == "-")) {
    return usage_error("--resume needs the --journal (or --report) of the interrupted run");
  }
  io::report_format report_format{};
  if (auto why = choose_report_format(o, report_format); !why.empty()) return usage_error(why);

  const bool sends = !o.dry_run || !o.no_inventory;
  const char* key = std::getenv("MERAKI_DASHBOARD_API_KEY");
  if (sends && (key == nullptr || *key == '\0')) {
    return usage_error(
        "set MERAKI_DASHBOARD_API_KEY to the Dashboard API key (it is never printed)");
  }

  plan::load_result from_file;
  if (!given) {
    lo.accept_serial_map = true;
    from_file = plan::load_plan(o.csv, lo);
    if (from_file.ok() && from_file.map) return apply_serial_map(o, from_file);
  }
  const plan::load_result& loaded = given ? *given->loaded : from_file;
  for (const auto& d : loaded.errors) std::fprintf(stderr, "%s\n", plan::to_string(d).c_str());
  if (loaded.errors_not_shown)
    std::fprintf(stderr, "... and %zu more errors\n", loaded.errors_not_shown);
  if (!loaded.ok()) return usage_error("the plan has errors; nothing was sent");
  if (!o.quiet) {
    for (const auto& d : loaded.warnings)
      std::fprintf(stderr, "warning: %s\n", plan::to_string(d).c_str());
  }
  const plan::plan& p = loaded.plan;
  if (p.rows.empty() && !o.org.empty()) {
    return usage_error("no rows of organization " + o.org + " in " + input_name(o.csv) +
                       "; nothing to do");
  }
  if (p.rows.empty() && !o.shard.empty()) {
    return usage_error("shard " + o.shard + " holds no organization of this plan; nothing to do");
  }
  if (o.no_inventory && !o.dry_run && !o.quiet) {
    std::fprintf(
        stderr,
        "relicense %s: --no-inventory: previous serials are not recorded; this run cannot be "
        "rolled back\n",
        command);
  }

  // ----- artefacts ---------------------------------------------------------------------------
  // The default names derive from the input's; standard input ("stdin") and a pipe such as
  // <(cmd) ("input") get theirs in the working directory.
  std::error_code ec;
  fs::path default_report =
      io::default_report_path(given                            ? fs::path(given->report_base)
                              : o.csv == "-"                   ? fs::path("stdin")
                              : fs::is_regular_file(o.csv, ec) ? fs::path(o.csv)
                                                               : fs::path("input"),
                              std::chrono::system_clock::now());
  if (report_format == io::report_format::jsonl) default_report.replace_extension(".jsonl");
  const fs::path report_path = o.report.empty() ? default_report : fs::path(o.report);
  const fs::path journal_path =
      !o.journal.empty() ? fs::path(o.journal)
                         : io::default_journal_path(o.report == "-" ? default_report : report_path);

  if (auto why = check_apply_paths(o, report_path, journal_path); !why.empty())
    return usage_error(why);
  // The question counts live changes: the pre-flight and the inventory read go before it, in the
  // run's order, and the run uses what they found instead of asking the API again.
  std::optional<engine::inventory_result> pre_read;
  bool preflight_done = false;
  // The GETs sent before the run (a serial map's live read, the question's reads): the summary
  // counts them with the run's.
  engine::run_counters asked_before;
  if (given) {
    asked_before.requests = given->requests_before;
    asked_before.throttled = given->throttled_before;
  }
  std::vector<std::pair<std::string, std::string>> refused_before;  // by the pre-flight, with why
  if (should_confirm(::isatty(0) == 1, ::isatty(2) == 1, o.yes, o.dry_run)) {
    if (key && *key) {
      const auto checks = engine::preflight_organizations(p.orgs, run_config_of(o, key));
      if (checks.status == engine::run_status::aborted) {
        std::fprintf(stderr, "relicense %s: run aborted: %s; nothing was changed\n", command,
                     checks.abort_reason.c_str());
        return exit_aborted;
      }
      if (checks.status == engine::run_status::interrupted) {
        std::fprintf(stderr, "relicense %s: interrupted; nothing was changed\n", command);
        return exit_interrupted;
      }
      std::vector<std::pair<std::string, unsigned>> invisible;
      for (const auto& [id, check] : checks.orgs) {
        if (!check.visible) invisible.emplace_back(id, check.status);
        else if (auto why = engine::licensing_refusal(id, check); !why.empty())
          refused_before.emplace_back(id, std::move(why));
      }
      if (!invisible.empty()) {
        say_invisible(command, invisible);
        return exit_usage;
      }
      preflight_done = true;
      asked_before.requests += checks.counters.requests;
      asked_before.throttled += checks.counters.throttled;
    }
    // A resumed run's question leaves out the rows its journal holds as done. The journal is only
    // read here (no lock): it is opened, checked and locked after the answer, as without a
    // question.
    std::map<std::uint32_t, io::row_result> journaled;
    if (o.resume) {
      try {
        auto j = io::read_journal(journal_path);
        if (j.fingerprint == p.fingerprint) journaled = std::move(j.done);
      } catch (const std::exception&) {
        // missing, or not a journal: the open below starts it or says what is wrong
      }
    }
    if (!o.no_inventory) {
      pre_read = engine::fetch_inventories(p, run_config_of(o, key));
      if (pre_read->status == engine::run_status::aborted) {
        std::fprintf(stderr, "relicense %s: run aborted: %s; nothing was changed\n", command,
                     pre_read->abort_reason.c_str());
        return exit_aborted;
      }
      if (pre_read->status == engine::run_status::interrupted) {
        std::fprintf(stderr, "relicense %s: interrupted; nothing was changed\n", command);
        return exit_interrupted;
      }
    }
    const change_totals totals =
        totals_of(p, pre_read ? &*pre_read : nullptr, refused_before, journaled, o.limit);
    // A CSV typed into this terminal ended with end of input; the answer comes after it.
    std::clearerr(stdin);
    std::cin.clear();
    if (!confirm(totals, std::cin, std::cerr)) {
      std::fprintf(stderr, "relicense: not confirmed; nothing was changed\n");
      return exit_ok;
    }
  }
  std::optional<io::oplog> oplog;
  try {
    if (!o.log_file.empty() || o.verbose) oplog.emplace(o.log_file, o.verbose);
  } catch (const std::runtime_error& e) {
    return open_error(e);
  }

  // Both files are locked from here to the end of the run: a second run on either stops here.
  io::journal_contents resumed;
  std::optional<io::journal_writer> journal;
  try {
    if (!o.dry_run) {
      journal = o.resume ? io::journal_writer::resume(journal_path, p.fingerprint, resumed)
                         : io::journal_writer::create(journal_path, p.fingerprint);
    }
  } catch (const std::runtime_error& e) {
    return open_error(e);
  }
  if (resumed.damaged_records > 0) {
    const auto n = resumed.damaged_records;
    std::fprintf(stderr, "journal: %llu damaged record%s skipped; %s will be sent again\n",
                 static_cast<unsigned long long>(n), n == 1 ? "" : "s",
                 n == 1 ? "its row" : "their rows");
  }
  std::optional<io::report_writer> report_file;
  try {
    report_file.emplace(report_path, report_format);
  } catch (const std::runtime_error& e) {
    if (journal && journal->created()) journal->discard();  // nothing was sent: leave nothing
    return open_error(e);
  }
  io::report_writer& report = *report_file;
  io::run_budget budget{o.rate, o.burst, o.ip_rate};
  io::run_summary summary(budget);
  io::progress progress(io::progress_enabled(o.progress, o.quiet), p.rows.size());
  if (!o.dry_run) {
    // The ETA's first guess: the budget's time for the rows this run sends (not those the
    // journal of a resumed run already holds).
    std::vector<std::uint64_t> to_send(p.orgs.size(), 0);
    std::uint64_t sending = 0;
    for (const auto& r : p.rows) {
      if (resumed.done.contains(r.line) || r.org >= to_send.size()) continue;
      ++to_send[r.org];
      ++sending;
    }
    const plan::budget b{o.rate, o.burst, o.ip_rate};
    const auto est = o.mode == "batch"  ? plan::estimate_batch(to_send, b)
                     : o.mode == "auto" ? plan::estimate_auto(to_send, b)
                                        : plan::estimate_put(to_send, b);
    progress.set_estimate(est.seconds, sending);
  }
  artefact_sink sink(report, journal ? &*journal : nullptr, summary, progress, resumed,
                     oplog ? &*oplog : nullptr);
  failure_groups failures;
  sink.collect_failures(failures);
  // A cron log gets a line a minute instead of the progress display it cannot show.
  if (!o.quiet && !progress.enabled() && ::isatty(2) == 0) sink.enable_heartbeat(p.rows.size());
  const auto started = std::chrono::system_clock::now();
  // Only the host of the base URL and the proxy's host:port: never user-info or the key.
  const auto base = io::parse_base_url(o.base_url);
  const std::string base_host = base.value ? base.value->where.host : std::string();
  if (oplog && oplog->enabled()) {
    std::string line = std::string("start relicense ") + io::relicense_version() +
                       " plan=" + p.fingerprint + " host=" + base_host;
    if (base.value) {
      const auto route = io::select_proxy(proxy_settings(o), base.value->where.tls, base_host,
                                          base.value->where.port);
      if (route.proxy) line += " proxy=" + route.proxy->display();
    }
    char budget_text[96];
    std::snprintf(budget_text, sizeof budget_text, " rate=%g burst=%g ip-rate=%g", o.rate, o.burst,
                  o.ip_rate);
    line += budget_text;
    line += " mode=" + o.mode + " dry-run=" + (o.dry_run ? "yes" : "no") +
            " rows=" + std::to_string(p.rows.size()) + " orgs=" + std::to_string(p.orgs.size());
    sink.log(line);
    if (!sink.error().empty()) {  // the log cannot be written: stop before the first request
      std::fprintf(stderr, "relicense: %s\n", sink.error().c_str());
      if (journal && journal->created()) journal->discard();
      return exit_aborted;
    }
  }

  // ----- run ---------------------------------------------------------------------------------
  engine::run_config c = run_config_of(o, key);
  if (pre_read) c.inventories = &*pre_read;
  // Each organization is read once before any row goes (see docs/budget.md: its cost), here or
  // before the question.
  c.preflight = key && *key && !preflight_done;
  for (const auto& [id, why] : refused_before) c.refused_orgs.emplace(id, why);
  if (o.resume) {
    c.already_done = [&resumed](const plan::row& r) -> const io::row_result* {
      auto it = resumed.done.find(r.line);
      return it == resumed.done.end() ? nullptr : &it->second;
    };
  }

  // Batch and auto modes: the journal records each accepted batch before its first poll, and a
  // resumed run polls the batches it lists instead of submitting their rows again.
  engine::batch_run_options batch;
  batch.resumed = resumed.batches;
  if (journal)
    batch.on_batch_accepted = [&sink](const io::journal_batch& b) { sink.on_batch_accepted(b); };
  // The put runner flushes the sink once per turn of its event loop (result_sink::flush), so
  // its journal writes rows in groups; batch mode keeps one write per record.
  if (journal && o.mode == "put") journal->set_deferred(true);
  engine::run_result result;
  try {
    if (o.mode == "batch") result = engine::run_batches(p, c, batch, sink);
    else if (o.mode == "auto") result = engine::run_hybrid(p, c, batch, sink);
    else result = engine::run(p, c, sink);
  } catch (...) {
    if (sink.error().empty()) throw;  // a setup failure (CA file...): main() says which
  }
  if (!result.invisible_orgs.empty()) {
    // Bad input, found by the pre-flight: nothing was sent, and nothing is left behind.
    progress.finish();
    say_invisible(command, result.invisible_orgs);
    if (journal && journal->created()) journal->discard();
    report_file.reset();
    if (o.report != "-") fs::remove(report_path, ec);
    return exit_usage;
  }
  progress.finish();
  if (!o.quiet) {
    for (const auto& [id, why] : refused_before)
      std::fprintf(stderr, "warning: %s; its rows failed unsent\n", why.c_str());
    for (const auto& [id, why] : result.refused_orgs)
      std::fprintf(stderr, "warning: %s; its rows failed unsent\n", why.c_str());
  }
  sink.close();
  const auto& k = result.counters;
  const auto log_end = [&](int exit_code) {
    if (!oplog || !oplog->enabled()) return;
    std::string retries = "retries";
    for (std::size_t i = 0; i < k.retries.size(); ++i) {
      retries += std::string(" ") + io::to_string(static_cast<io::retry_cause>(i)) + "=" +
                 std::to_string(k.retries[i]);
    }
    sink.log_quietly(retries);
    if (result.status == engine::run_status::aborted)
      sink.log_quietly("aborted: " + result.abort_reason);
    else if (!sink.error().empty()) sink.log_quietly("aborted: " + sink.error());
    char elapsed[32];
    std::snprintf(elapsed, sizeof elapsed, "%.3f", result.elapsed_s);
    sink.log_quietly(
        std::string("end status=") + engine::to_string(result.status) +
        " applied=" + std::to_string(k.applied) + " unchanged=" + std::to_string(k.unchanged) +
        " failed=" + std::to_string(k.failed) + " skipped=" + std::to_string(k.skipped) +
        " not_attempted=" + std::to_string(k.not_attempted) +
        " requests=" + std::to_string(k.requests) + " 429s=" + std::to_string(k.throttled) +
        " elapsed=" + elapsed + "s exit=" + std::to_string(exit_code));
  };
  if (!sink.error().empty()) {
    log_end(exit_aborted);
    // One line: the file and the OS error. The runner stopped sending at the error and settled
    // the rows in flight; the journal (if it is not the file that failed) holds them.
    std::fprintf(
        stderr, "relicense: %s%s\n", sink.error().c_str(),
        journal
            ? ("; once fixed, continue with --resume --journal " + journal_path.string()).c_str()
            : "");
    return exit_aborted;
  }

  int exit_code = k.failed > 0 ? exit_rows_failed : exit_ok;
  if (result.status == engine::run_status::aborted) exit_code = exit_aborted;
  if (result.status == engine::run_status::interrupted) exit_code = exit_interrupted;
  log_end(exit_code);
  const bool log_failed = !sink.error().empty();
  if (log_failed) exit_code = exit_aborted;

  // The inventory read before the question is this run's too.
  if (pre_read) {
    asked_before.requests += pre_read->counters.requests;
    asked_before.throttled += pre_read->counters.throttled;
  }
  summary.count_request(k.requests + asked_before.requests);
  summary.count_429(k.throttled + asked_before.throttled);
  for (std::size_t i = 0; i < k.retries.size(); ++i) {
    summary.count_retry(static_cast<io::retry_cause>(i), k.retries[i]);
  }
  summary.set_elapsed(std::chrono::duration<double>(result.elapsed_s));
  const auto finished = std::chrono::system_clock::now();
  summary.set_identity({started, finished, io::relicense_version(), p.fingerprint, base_host,
                        o.mode, o.dry_run, exit_code});
  if (!o.summary.empty()) summary.write_json(o.summary);
  if (!o.metrics.empty()) {
    // Shards writing into one collector directory must not produce identical series.
    io::metric_labels labels;
    if (!o.shard.empty()) labels.emplace_back("shard", o.shard);
    io::write_metrics(o.metrics, summary, finished, labels);
  }

  std::fprintf(stderr, "%s", summary.human().c_str());
  std::fprintf(stderr, "workers: %u, redirects followed: %llu\n", result.concurrency,
               static_cast<unsigned long long>(k.redirects));
  if (o.dry_run) std::fprintf(stderr, "dry run: no PUT was sent\n");
  std::fprintf(stderr, "report: %s\n",
               o.report == "-" ? "standard output" : report_path.string().c_str());
  if (journal) std::fprintf(stderr, "journal: %s\n", journal_path.string().c_str());
  std::fprintf(stderr, "%s",
               format_failures(failures, given ? given->source : input_name(o.csv)).c_str());
  if (log_failed) {
    std::fprintf(stderr, "relicense: %s\n", sink.error().c_str());
    return exit_aborted;
  }

  if (o.limit > 0 && result.status == engine::run_status::completed && k.not_attempted > 0) {
    std::fprintf(
        stderr,
        "relicense %s: --limit %llu: %llu row%s left (not_attempted, \"left by --limit\" in the "
        "report)%s%s\n",
        command, static_cast<unsigned long long>(o.limit),
        static_cast<unsigned long long>(k.not_attempted), k.not_attempted == 1 ? "" : "s",
        journal ? "; continue with --resume --journal " : "",
        journal ? journal_path.string().c_str() : "");
  }
  switch (result.status) {
    case engine::run_status::aborted:
      std::fprintf(stderr, "relicense %s: run aborted: %s\n", command, result.abort_reason.c_str());
      if (journal) {
        std::fprintf(stderr,
                     "relicense %s: rows not applied are not_attempted; once fixed, continue with "
                     "--resume --journal %s\n",
                     command, journal_path.string().c_str());
      }
      return exit_aborted;
    case engine::run_status::interrupted:
      std::fprintf(stderr, "relicense %s: interrupted; continue with --resume --journal %s\n",
                   command, journal_path.string().c_str());
      return exit_interrupted;
    case engine::run_status::completed: break;
  }
  return exit_code;
}

}  // namespace relicense::cli
