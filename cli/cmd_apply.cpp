// `relicense apply`: wiring only. The plan loader, the runner and the artefact writers do the work;
// this file checks the inputs (exit 2 before anything is sent), plugs the writers into the
// runner's result sink, and maps the run's end to the exit codes of docs/exit-codes.md.
#include "commands.hpp"
#include "output_paths.hpp"

#include "relicense/engine/batch_runner.hpp"
#include "relicense/engine/runner.hpp"
#include "relicense/io/journal.hpp"
#include "relicense/io/metrics.hpp"
#include "relicense/io/progress.hpp"
#include "relicense/io/proxy.hpp"
#include "relicense/io/report.hpp"
#include "relicense/io/summary.hpp"
#include "relicense/io/url.hpp"
#include "relicense/plan/csv.hpp"
#include "relicense/plan/shard.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace relicense::cli {
namespace {

namespace fs = std::filesystem;

int usage_error(const std::string& message) {
  std::fprintf(stderr, "relicense apply: %s\n", message.c_str());
  return exit_usage;
}

io::retry_cause summary_cause(engine::retry_cause c) {
  switch (c) {
    case engine::retry_cause::throttled:
    case engine::retry_cause::throttled_ip: return io::retry_cause::rate_limited;
    case engine::retry_cause::server_error: return io::retry_cause::server_error;
    case engine::retry_cause::timeout: return io::retry_cause::timeout;
    case engine::retry_cause::reset:
    case engine::retry_cause::truncated:
    case engine::retry_cause::connect: return io::retry_cause::connection;
    case engine::retry_cause::count: break;
  }
  return io::retry_cause::other;
}

/// Every finished row goes to the report, the journal, the summary and the progress line.
class artefact_sink final : public engine::result_sink {
public:
  artefact_sink(io::report_writer& report, io::journal_writer* journal, io::run_summary& summary,
                io::progress& progress, const io::journal_contents& resumed)
      : report_(report), journal_(journal), summary_(summary), progress_(progress), resumed_(resumed) {}

  void on_result(const io::row_result& r) override {
    // A resumed run re-reports the rows its journal already holds; journaling them again would
    // only grow the journal with every resume.
    if (journal_ && !resumed_.done.contains(r.line)) journal_->append_row(r);
    report_.write(r);
    summary_.add(r);
  }
  void on_progress(const engine::run_counters& c) override {
    progress_.update(c.rows_done(), c.throttled);
  }
  void flush() override {
    if (journal_) journal_->flush();
  }

private:
  io::report_writer& report_;
  io::journal_writer* journal_;
  io::run_summary& summary_;
  io::progress& progress_;
  const io::journal_contents& resumed_;
};

} // namespace

std::string check_run_options(const apply_options& o, plan::load_options& lo) {
  lo.org = o.org;
  if (!o.shard.empty()) {
    lo.shard = plan::parse_shard(o.shard);
    if (!lo.shard) return "--shard must be K/N with 0 <= K < N, got '" + o.shard + "'";
  }
  if (o.rate < 0 || o.burst < 0 || o.ip_rate < 0) return "--rate, --burst and --ip-rate must be >= 0";
  if (o.max_attempts < 1) return "--max-attempts must be at least 1";
  if (!(o.timeout > 0) || o.timeout > 3600) return "--timeout must be in (0, 3600] seconds";
  auto base = io::parse_base_url(o.base_url);
  if (!base.value) return "--base-url: " + base.error;
  if (auto why = io::cleartext_refusal(base.value->where); !why.empty()) return "--base-url: " + why;
  if (!o.proxy.empty()) {
    // Checked even when NO_PROXY names the base host: a typo must not wait for a shard redirect.
    if (auto p = io::parse_proxy_url(o.proxy); !p.value) return "--proxy: " + p.error;
  }
  const auto& where = base.value->where;
  const auto route = io::select_proxy(proxy_settings(o), where.tls, where.host, where.port);
  if (!route.error.empty()) return route.error;
  if (auto why = io::proxy_cleartext_refusal(route, where.tls); !why.empty()) return "--base-url: " + why;
  return {};
}

io::proxy_config proxy_settings(const apply_options& o) {
  io::proxy_config p;
  p.url = o.proxy;
  p.disabled = o.no_proxy;
  if (!o.no_proxy) p.env = io::proxy_environment::from_process();
  return p;
}

int run_apply(const apply_options& o) {
  // ----- inputs: every problem is exit 2, before anything is sent ------------------------------
  plan::load_options lo;
  if (auto why = check_run_options(o, lo); !why.empty()) return usage_error(why);
  if (o.resume && o.journal.empty() && o.report.empty()) {
    return usage_error("--resume needs the --journal (or --report) of the interrupted run");
  }

  const bool sends = !o.dry_run || o.skip_unchanged;
  const char* key = std::getenv("MERAKI_DASHBOARD_API_KEY");
  if (sends && (key == nullptr || *key == '\0')) {
    return usage_error("set MERAKI_DASHBOARD_API_KEY to the Dashboard API key (it is never printed)");
  }

  auto loaded = plan::load_plan(o.csv, lo);
  for (const auto& d : loaded.errors) std::fprintf(stderr, "%s\n", plan::to_string(d).c_str());
  if (loaded.errors_not_shown) std::fprintf(stderr, "... and %zu more errors\n", loaded.errors_not_shown);
  if (!loaded.ok()) return usage_error("the plan has errors; nothing was sent");
  if (!o.quiet) {
    for (const auto& d : loaded.warnings) std::fprintf(stderr, "warning: %s\n", plan::to_string(d).c_str());
  }
  const plan::plan& p = loaded.plan;

  // ----- artefacts ---------------------------------------------------------------------------
  const fs::path report_path =
      o.report.empty() ? io::default_report_path(o.csv, std::chrono::system_clock::now()) : fs::path(o.report);
  const fs::path journal_path = o.journal.empty() ? io::default_journal_path(report_path) : fs::path(o.journal);

  if (auto why = check_apply_paths(o, report_path, journal_path); !why.empty()) return usage_error(why);

  // Both files are locked from here to the end of the run: a second run on either stops here.
  io::journal_contents resumed;
  std::optional<io::journal_writer> journal;
  try {
    if (!o.dry_run) {
      journal = o.resume ? io::journal_writer::resume(journal_path, p.fingerprint, resumed)
                         : io::journal_writer::create(journal_path, p.fingerprint);
    }
  } catch (const std::runtime_error& e) {
    return usage_error(e.what());
  }
  if (resumed.damaged_records > 0) {
    const auto n = resumed.damaged_records;
    std::fprintf(stderr, "journal: %llu damaged record%s skipped; %s will be sent again\n",
                 static_cast<unsigned long long>(n), n == 1 ? "" : "s", n == 1 ? "its row" : "their rows");
  }
  std::optional<io::report_writer> report_file;
  try {
    report_file.emplace(report_path);
  } catch (const std::runtime_error& e) {
    if (journal && journal->created()) journal->discard();  // nothing was sent: leave nothing
    return usage_error(e.what());
  }
  io::report_writer& report = *report_file;
  io::run_budget budget{o.rate, o.burst, o.ip_rate};
  io::run_summary summary(budget);
  io::progress progress(io::progress_enabled(o.progress, o.quiet), p.rows.size());
  artefact_sink sink(report, journal ? &*journal : nullptr, summary, progress, resumed);

  // ----- run ---------------------------------------------------------------------------------
  engine::run_config c;
  c.base_url = o.base_url;
  if (key) c.api_key = key;
  c.rate = o.rate;
  c.burst = o.burst;
  c.ip_rate = o.ip_rate;
  c.concurrency = o.concurrency;
  c.retry.max_attempts = o.max_attempts;
  c.client.timeout = std::chrono::milliseconds(static_cast<long long>(o.timeout * 1000));
  c.client.ca_file = o.ca_file;
  c.client.proxy = proxy_settings(o);
  c.dry_run = o.dry_run;
  c.skip_unchanged = o.skip_unchanged;
  if (o.resume) {
    c.already_done = [&resumed](const plan::row& r) -> const io::row_result* {
      auto it = resumed.done.find(r.line);
      return it == resumed.done.end() ? nullptr : &it->second;
    };
  }

  // Batch mode: the journal records each accepted batch before its first poll, and a
  // resumed run polls the batches it lists instead of submitting their rows again.
  engine::batch_run_options batch;
  batch.resumed = resumed.batches;
  if (journal) batch.on_batch_accepted = [&journal](const io::journal_batch& b) { journal->append_batch(b); };
  // The put runner flushes the sink once per turn of its event loop (result_sink::flush), so
  // its journal writes rows in groups; batch mode keeps one write per record.
  if (journal && o.mode != "batch") journal->set_deferred(true);
  const auto result = o.mode == "batch" ? engine::run_batches(p, c, batch, sink) : engine::run(p, c, sink);
  progress.finish();
  report.close();
  if (journal) journal->close();

  const auto& k = result.counters;
  summary.count_request(k.requests);
  summary.count_429(k.throttled);
  for (std::size_t i = 0; i < k.retries.size(); ++i) {
    summary.count_retry(summary_cause(static_cast<engine::retry_cause>(i)), k.retries[i]);
  }
  summary.set_elapsed(std::chrono::duration<double>(result.elapsed_s));
  const auto finished = std::chrono::system_clock::now();
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
  std::fprintf(stderr, "report: %s\n", report_path.string().c_str());
  if (journal) std::fprintf(stderr, "journal: %s\n", journal_path.string().c_str());

  switch (result.status) {
    case engine::run_status::aborted:
      std::fprintf(stderr, "relicense apply: run aborted: %s\n", result.abort_reason.c_str());
      return exit_aborted;
    case engine::run_status::interrupted:
      std::fprintf(stderr, "relicense apply: interrupted; continue with --resume --journal %s\n",
                   journal_path.string().c_str());
      return exit_interrupted;
    case engine::run_status::completed: break;
  }
  return k.failed > 0 ? exit_rows_failed : exit_ok;
}

} // namespace relicense::cli
