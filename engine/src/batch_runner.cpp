// Action-batch mode driver: coroutines drive the pure pieces (org_batches, token_bucket, decide,
// check_redirect) on one io_context thread, so the state needs no lock. Each organization gets
// max_running "lanes"; a lane takes a job (a batch to submit, or to poll after --resume), POSTs
// it, polls it until it completed or failed, reports its rows, and takes the next job. The
// lanes of all orgs share the per-IP bucket and a pool of keep-alive connections.
#include "relicense/engine/batch_runner.hpp"

#include "api_calls.hpp"

#include "relicense/engine/redirect.hpp"
#include "relicense/engine/token_bucket.hpp"
#include "relicense/io/json.hpp"
#include "relicense/plan/diff.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <csignal>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

namespace relicense::engine {

namespace net = boost::asio;

namespace detail {
namespace {

using token = net::as_tuple_t<net::use_awaitable_t<>>;

/// One organization: its bucket, its batches, and where redirects sent its calls.
struct org_ctx {
  std::string id;
  token_bucket bucket;
  org_batches batches;
  bool condemned = false;
  std::string condemn_reason;
  shard_memory shard;

  org_ctx(std::string i, double rate, double burst, clock::time_point now, const batch_config& c)
      : id(std::move(i)), bucket(rate, burst, now), batches(c) {}
};

/// A lane's own timer and JSON parser.
struct lane_ctx {
  std::size_t org = 0;
  std::unique_ptr<net::steady_timer> timer;
  io::response_parser parser;
};

/// A job on its way through a lane.
struct live_job {
  batch_job job;
  clock::time_point submitted{};  ///< when its POST went out (or the run started, on resume)
  unsigned status = 0;            ///< HTTP status of the last answer about it
  std::string request_id;         ///< X-Request-Id of that answer
  std::string host;               ///< the host that gave it
  bool posted = false;            ///< submitted by this run (its duration is known)
};

/// What the lane does next after an answer (decided by plain functions: g++ 12 mishandles
/// coroutine locals across a switch with co_return, so coroutines stay straight-line).
enum class next_step : std::uint8_t {
  done,    ///< the job is finished here (rows reported, requeued or abandoned)
  poll,    ///< the batch runs: poll again after `delay`
  retry    ///< send the same request again after `delay`
};

struct step {
  next_step what = next_step::done;
  std::chrono::nanoseconds delay{0};
};

class batch_run {
public:
  batch_run(const plan::plan& p, const run_config& c, const batch_run_options& o, result_sink& sink)
      : plan_(p), config_(c), options_(o), sink_(sink), signals_(ctx_), drain_timer_(ctx_), api_(c) {
    const auto now = clock::now();
    orgs_.reserve(p.orgs.size());
    for (const auto& id : p.orgs) orgs_.emplace_back(id, c.rate, burst_with_headroom(c.rate, c.burst), now, o.batch);
    // Polls are not capped by max_attempts (a batch may run for minutes); failures are counted
    // apart, against batch_config::max_poll_failures.
    poll_policy_ = c.retry;
    poll_policy_.max_attempts = std::numeric_limits<unsigned>::max();
  }

  run_result run() {
    start_ = clock::now();
    if (config_.skip_unchanged && !config_.dry_run) fetch_diff();
    net::co_spawn(ctx_, main(), [this](std::exception_ptr e) {
      if (e && !failure_) failure_ = e;
      // However main() ended, nothing may keep the loop alive: an armed signal set would hold
      // ctx_.run() forever and swallow every later SIGINT/SIGTERM.
      release_loop();
    });
    ctx_.run();
    if (failure_) std::rethrow_exception(failure_);
    run_result r;
    r.status = aborted_ ? run_status::aborted : interrupted_ ? run_status::interrupted : run_status::completed;
    r.abort_reason = abort_reason_;
    r.counters = std::move(counters_);
    r.concurrency = static_cast<unsigned>(lanes_.size());
    r.elapsed_s = std::chrono::duration<double>(clock::now() - start_).count();
    return r;
  }

private:
  // ----- setup -------------------------------------------------------------------------------

  void fetch_diff() {
    auto inv = fetch_inventories(plan_, config_);
    counters_.requests += inv.counters.requests;
    counters_.gets += inv.counters.gets;
    counters_.throttled += inv.counters.throttled;
    for (const auto& [s, n] : inv.counters.by_status) counters_.by_status[s] += n;
    if (inv.status == run_status::aborted) {
      aborted_ = true;
      abort_reason_ = inv.abort_reason;
      stopping_ = true;
    } else if (inv.status == run_status::interrupted) {
      interrupted_ = true;
      stopping_ = true;
    }
    diff_ = plan::diff(plan_, inv.inventories);
  }

  std::optional<std::string> previous_of(std::size_t i) const {
    if (diff_.rows.empty()) return std::nullopt;
    return diff_.rows[i].previous_serial;
  }

  /// Decides each row's fate before anything is sent and packs the rest into jobs.
  void queue_rows() {
    std::vector<std::vector<std::size_t>> fresh(orgs_.size());
    std::unordered_map<std::uint32_t, std::size_t> by_line;
    for (std::size_t i = 0; i < plan_.rows.size(); ++i) {
      const auto& row = plan_.rows[i];
      if (const auto pre = triage(config_, diff_, row, i); !pre.send) {
        if (pre.done) emit(*pre.done);
        else finish(i, pre.outcome, 0, pre.error);
        continue;
      }
      if (config_.dry_run) {
        finish(i, io::outcome::skipped, 0, "dry run: not sent (batch mode)");
        continue;
      }
      if (stopping_) {
        finish(i, io::outcome::not_attempted, 0, {});
        continue;
      }
      by_line.emplace(row.line, i);
      fresh[row.org].push_back(i);
    }
    // Batches of an earlier run: each line goes to the last batch that carried it.
    std::unordered_map<std::uint32_t, std::size_t> last_batch;
    for (std::size_t b = 0; b < options_.resumed.size(); ++b)
      for (auto line : options_.resumed[b].lines) last_batch[line] = b;
    std::vector<std::vector<std::size_t>> resumed_rows(options_.resumed.size());
    std::vector<bool> taken(plan_.rows.size(), false);
    for (const auto& [line, b] : last_batch) {
      auto it = by_line.find(line);
      if (it == by_line.end()) continue;
      const auto& row = plan_.rows[it->second];
      if (plan_.orgs[row.org] != options_.resumed[b].org_id) continue;  // not the same row
      resumed_rows[b].push_back(it->second);
      taken[it->second] = true;
    }
    for (std::size_t b = 0; b < options_.resumed.size(); ++b) {
      auto& rows = resumed_rows[b];
      if (rows.empty()) continue;
      std::sort(rows.begin(), rows.end());
      for (auto r : rows) batch_of_[r] = options_.resumed[b].id;
      orgs_[plan_.rows[rows.front()].org].batches.add_submitted(options_.resumed[b].id, rows);
    }
    for (std::size_t o = 0; o < orgs_.size(); ++o) {
      std::vector<std::size_t> rows;
      for (auto r : fresh[o])
        if (!taken[r]) rows.push_back(r);
      orgs_[o].batches.add_rows(rows);
    }
  }

  // ----- results -----------------------------------------------------------------------------

  void emit(const io::row_result& r) {
    counters_.count(r.result);
    try {
      sink_.on_result(r);
      sink_.on_progress(counters_);
    } catch (...) {
      sink_failed(std::current_exception());
    }
    if (!stopping_ && !sink_.keep_going()) {
      interrupted_ = true;
      request_stop();
    }
  }

  /// The sink (or the journal's batch record) could not be written: no request leaves after
  /// this, the jobs in flight settle (their rows still reach the sink: another of its files may
  /// be fine), and run() rethrows the first such exception.
  void sink_failed(std::exception_ptr e) {
    if (!failure_) failure_ = e;
    abort_run(sink_failure_text(e));
  }

  void finish(std::size_t i, io::outcome o, unsigned status, std::string error, double latency_ms = 0,
              const live_job* answered = nullptr) {
    const auto& row = plan_.rows[i];
    io::row_result r;
    r.line = row.line;
    r.org_id = plan_.orgs[row.org];
    r.license_id = row.license_id;
    r.serial = row.serial;
    r.previous_serial = previous_of(i);
    r.result = o;
    r.http_status = status;
    if (auto it = posts_.find(i); it != posts_.end()) r.attempts = it->second;
    r.latency_ms = latency_ms;
    r.error = std::move(error);
    if (auto it = batch_of_.find(i); it != batch_of_.end()) r.batch_id = it->second;
    if (answered && (o == io::outcome::failed || o == io::outcome::not_attempted)) {
      r.request_id = answered->request_id;
      r.host = answered->host;
    }
    emit(r);
  }

  void finish_job(const live_job& j, io::outcome o, unsigned status, const std::string& error,
                  double latency_ms = 0) {
    for (auto r : j.job.rows) finish(r, o, status, error, latency_ms, &j);
  }

  void finish_remaining() {
    for (auto& org : orgs_) {
      const std::string why = org.condemned ? org.condemn_reason + " (not sent)" : std::string();
      for (auto r : org.batches.drain())
        finish(r, org.condemned ? io::outcome::failed : io::outcome::not_attempted, 0, why);
    }
  }

  // ----- stopping ----------------------------------------------------------------------------

  net::awaitable<void> watch_signals() {
    for (;;) {
      auto [ec, sig] = co_await signals_.async_wait(token{});
      if (ec) co_return;
      (void)sig;
      if (!stopping_) {
        interrupted_ = true;
        request_stop();
      } else {
        close_all();  // a second signal: do not wait for in-flight calls any more
      }
    }
  }

  net::awaitable<void> drain_watch() {
    drain_timer_.expires_after(config_.drain_timeout);
    auto [ec] = co_await drain_timer_.async_wait(token{});
    if (!ec) close_all();
  }

  void request_stop() {
    if (stopping_) return;
    stopping_ = true;
    for (auto* t : sleeping_) t->cancel();
    notify_all();
    if (!busy_.empty()) net::co_spawn(ctx_, drain_watch(), net::detached);
  }

  void abort_run(std::string reason) {
    if (!aborted_) {
      aborted_ = true;
      abort_reason_ = std::move(reason);
    }
    request_stop();
  }

  void close_all() {
    for (auto& c : idle_) c->close();
    for (auto* c : busy_) c->close();
  }

  void condemn(org_ctx& org, std::string reason) {
    if (org.condemned) return;
    org.condemned = true;
    org.condemn_reason = std::move(reason);
    for (auto r : org.batches.drain()) finish(r, io::outcome::failed, 0, org.condemn_reason + " (not sent)");
    notify_all();
  }

  // ----- waiting -----------------------------------------------------------------------------

  void notify_all() {
    for (auto* t : idle_waiters_) t->cancel();
  }

  /// Sleeps until `until`, or until notify_all() (new work, or the end) or a stop.
  net::awaitable<void> wait_for_work(net::steady_timer& t, clock::time_point until) {
    t.expires_at(until);
    idle_waiters_.insert(&t);
    auto [ec] = co_await t.async_wait(token{});
    (void)ec;
    idle_waiters_.erase(&t);
  }

  /// Sleeps until `until`; only a stop cuts it short.
  net::awaitable<void> sleep_until(net::steady_timer& t, clock::time_point until) {
    while (!stopping_ && clock::now() < until) {
      t.expires_at(until);
      sleeping_.insert(&t);
      auto [ec] = co_await t.async_wait(token{});
      (void)ec;
      sleeping_.erase(&t);
    }
  }

  /// One token of the org's bucket and one of the IP's, taken together so that a lane never
  /// holds an IP token while it waits for its org.
  net::awaitable<void> acquire(org_ctx& org, net::steady_timer& t) {
    while (!stopping_) {
      clock::time_point at;
      if (api_.try_take(org.bucket, clock::now(), at)) co_return;
      co_await sleep_until(t, at);
    }
  }

  // ----- requests ----------------------------------------------------------------------------

  std::unique_ptr<io::connection> borrow(const io::origin& where) {
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
      if ((*it)->where() == where) {
        auto c = std::move(*it);
        idle_.erase(it);
        return c;
      }
    }
    return std::make_unique<io::connection>(ctx_.get_executor(), api_.tls(), where, api_.client());
  }

  /// Opens an idle connection to `where` unless one is open: done before taking a token, so
  /// connection set-up never sits between a token and its request (see burst_with_headroom).
  net::awaitable<void> preopen(const io::origin& where) {
    for (auto& c : idle_) {
      if (c->where() == where && c->is_open()) co_return;
    }
    auto conn = borrow(where);
    busy_.insert(conn.get());
    const io::response r = co_await conn->open();  // a failure shows again in the request
    (void)r;
    busy_.erase(conn.get());
    idle_.push_back(std::move(conn));
  }

  net::awaitable<sent> send(const io::origin& where, std::string_view method, std::string_view target,
                            std::string_view body) {
    auto conn = borrow(where);
    busy_.insert(conn.get());
    sent s = co_await api_.send(*conn, method, target, body, counters_);
    busy_.erase(conn.get());
    idle_.push_back(std::move(conn));
    co_return s;
  }

  static bool is_redirect(const io::response& r) noexcept {
    const unsigned s = r.status;
    return r.error == io::transport_error::none && !r.location.empty() &&
           (s == 301 || s == 302 || s == 303 || s == 307 || s == 308);
  }

  /// Checks a redirect; true (with where/target updated) to follow it.
  bool follow(org_ctx& org, sent& s, std::string_view suffix, unsigned& hops, io::origin& where,
              std::string& target) {
    if (++hops > config_.retry.max_redirects) {
      s.refused = "more than " + std::to_string(config_.retry.max_redirects) + " redirects";
      return false;
    }
    auto v = check_redirect(api_.base(), where, s.resp.location);
    if (!v.allowed) {
      s.refused = v.reason;
      return false;
    }
    ++counters_.redirects;
    org.shard.remember(v.target, suffix);
    where = v.target.where;
    target = v.target.path;
    return true;
  }

  /// One API call of `org` inside its budget, following allowed redirects (each hop is a call).
  net::awaitable<sent> call(lane_ctx& l, org_ctx& org, std::string_view method, std::string suffix,
                            std::string_view body) {
    io::origin where = api_.origin_for(org.shard);
    std::string target = api_.target_for(org.shard, suffix);
    unsigned hops = 0;
    for (;;) {
      co_await preopen(where);
      co_await acquire(org, *l.timer);
      if (stopping_) {
        sent none;
        none.not_sent = true;
        co_return none;
      }
      sent s = co_await send(where, method, target, body);
      if (!is_redirect(s.resp) || !follow(org, s, suffix, hops, where, target)) co_return s;
    }
  }

  std::vector<batch_action_ref> actions_of(const batch_job& job) const {
    std::vector<batch_action_ref> a;
    a.reserve(job.rows.size());
    for (auto r : job.rows) a.push_back({plan_.rows[r].license_id, plan_.rows[r].serial});
    return a;
  }

  std::string batch_suffix(const org_ctx& org) const {
    return "/organizations/" + org.id + "/actionBatches";
  }

  // ----- outcomes of a batch -----------------------------------------------------------------

  void completed(org_ctx& org, live_job& j) {
    const double ms = ms_between(j.submitted, clock::now());
    auto out = org.batches.on_completed(j.job);
    for (auto r : out.applied) finish(r, io::outcome::applied, j.status, {}, ms);
  }

  /// The API refused the batch (it failed, or its POST got a 400): rows alone fail for good with
  /// the API's error; larger batches are split and requeued.
  void refused(org_ctx& org, live_job& j, std::string errors, unsigned status) {
    if (errors.empty()) errors = j.job.id.empty() ? "action batch refused" : "action batch " + j.job.id + " failed";
    const double ms = ms_between(j.submitted, clock::now());
    auto out = org.batches.on_failed(j.job, errors, actions_of(j.job));
    for (auto r : out.failed) finish(r, io::outcome::failed, status, errors, ms, &j);
    notify_all();
  }

  /// The job's fate stays unknown in this run.
  void abandon(org_ctx& org, live_job& j, io::outcome o, unsigned status, std::string error) {
    org.batches.on_abandoned(j.job);
    finish_job(j, o, status, error);
  }

  static void note_answer(live_job& j, const sent& s) {
    j.status = s.resp.error == io::transport_error::none ? s.resp.status : 0;
    j.request_id = s.resp.request_id;
    j.host = s.host;
  }

  step on_post_answer(lane_ctx& l, org_ctx& org, live_job& j, sent& s, unsigned attempt) {
    note_answer(j, s);
    if (!s.refused.empty()) {
      abandon(org, j, io::outcome::failed, j.status, s.refused);
      return {};
    }
    const std::string api_error = api_endpoint::api_error_of(l.parser, s.resp);
    if (s.resp.error == io::transport_error::none && s.resp.status == 400 &&
        is_too_many_batches_error(api_error)) {
      // Other applications' batches fill the org's limit: wait for them, do not fail rows.
      ++counters_.retries[static_cast<std::size_t>(retry_cause::throttled)];
      org.batches.on_busy(j.job, clock::now());
      notify_all();
      return {};
    }
    auto d = decide(config_.retry, api_endpoint::to_attempt(s.resp, api_error), attempt, api_.next_jitter(),
                    std::chrono::system_clock::now());
    const auto now = clock::now();
    switch (d.what) {
      case action::succeeded: {
        org.bucket.on_success(now);
        auto b = l.parser.parse_action_batch(s.resp.body);
        if (!b.value) {
          abandon(org, j, io::outcome::failed, j.status, "unreadable action batch in the response: " + b.error);
          return {};
        }
        j.job.id = b.value->id;
        org.batches.on_accepted();
        io::journal_batch jb;
        jb.id = j.job.id;
        jb.org_id = org.id;
        for (auto r : j.job.rows) {
          jb.lines.push_back(plan_.rows[r].line);
          batch_of_[r] = j.job.id;
        }
        if (options_.on_batch_accepted) {
          try {
            options_.on_batch_accepted(jb);
          } catch (...) {
            sink_failed(std::current_exception());
          }
        }
        if (b.value->completed) {
          completed(org, j);
          return {};
        }
        if (b.value->failed) {
          refused(org, j, b.value->errors, 400);
          return {};
        }
        j.posted = true;
        return {next_step::poll, org.batches.first_poll_delay(j.job.rows.size())};
      }
      case action::retry:
        ++counters_.retries[static_cast<std::size_t>(d.cause)];
        if (d.cause == retry_cause::throttled) {
          api_endpoint::throttled(org.bucket, now, d.delay);
          sink_.on_event({run_event::kind::org_paused, org.id, d.delay, d.cause, d.message});
        }
        if (org.condemned) {
          abandon(org, j, io::outcome::failed, j.status, org.condemn_reason);
          return {};
        }
        return {next_step::retry, d.delay};
      case action::fail_row:
        if (s.resp.error == io::transport_error::none && (s.resp.status == 400 || s.resp.status == 422)) {
          // The API refused the batch as a whole; which action it objects to, bisection tells.
          refused(org, j, api_error.empty() ? d.message : api_error, s.resp.status);
        } else if (s.resp.error == io::transport_error::none && s.resp.status >= 400 && s.resp.status < 500) {
          // 404, 405, ...: the org's batch endpoint itself says no; every row would hear the same.
          abandon(org, j, io::outcome::failed, j.status, d.message);
          condemn(org, d.message);
        } else {
          abandon(org, j, io::outcome::failed, j.status, d.message);
        }
        return {};
      case action::abort_run:
        // A rejected key, TLS or an unreachable host is the run's failure, not the rows': the
        // batch was not accepted, and --resume must send its rows again.
        abandon(org, j, io::outcome::not_attempted, j.status, d.message);
        abort_run(abort_reason(std::move(d.message), s.resp, org.id) + trace_of(s));
        return {};
      case action::condemn_org:
        abandon(org, j, io::outcome::failed, j.status, d.message);
        condemn(org, std::move(d.message));
        return {};
      case action::follow_redirect:
        break;
    }
    abandon(org, j, io::outcome::failed, j.status, "unexpected answer to the batch POST");
    return {};
  }

  step on_poll_answer(lane_ctx& l, org_ctx& org, live_job& j, sent& s, unsigned& polls,
                      unsigned& failures, unsigned& streak) {
    note_answer(j, s);
    const std::string unknown = "; the journal keeps action batch " + j.job.id + " for --resume";
    if (!s.refused.empty()) {
      abandon(org, j, io::outcome::failed, j.status, s.refused + unknown);
      return {};
    }
    if (s.resp.error == io::transport_error::none && s.resp.status == 404) {
      // The API does not know the batch (an old journal): its rows are submitted again, which
      // is safe because a license update is idempotent.
      org.batches.on_lost(j.job);
      notify_all();
      return {};
    }
    const std::string api_error = api_endpoint::api_error_of(l.parser, s.resp);
    ++streak;
    auto d = decide(poll_policy_, api_endpoint::to_attempt(s.resp, api_error), std::min(streak, 30u), api_.next_jitter(),
                    std::chrono::system_clock::now());
    const auto now = clock::now();
    switch (d.what) {
      case action::succeeded: {
        org.bucket.on_success(now);
        streak = 0;
        auto b = l.parser.parse_action_batch(s.resp.body);
        if (b.value && b.value->id != j.job.id) {
          // An answer about another batch says nothing about this one's rows.
          b.error = "the API answered about action batch " + b.value->id + " instead of " + j.job.id;
          b.value.reset();
        }
        if (!b.value) {
          if (++failures >= options_.batch.max_poll_failures) {
            abandon(org, j, io::outcome::failed, j.status, "unreadable action batch status: " + b.error + unknown);
            return {};
          }
          return {next_step::poll, poll_delay(options_.batch, polls++)};
        }
        if ((b.value->completed || b.value->failed) && j.posted)
          org.batches.observe(now - j.submitted, j.job.rows.size(), polls == 0);
        if (b.value->completed) {
          completed(org, j);
          return {};
        }
        if (b.value->failed) {
          refused(org, j, b.value->errors, 400);
          return {};
        }
        return {next_step::poll, org.batches.repoll_delay(j.job.rows.size(), ++polls)};
      }
      case action::retry:
        ++counters_.retries[static_cast<std::size_t>(d.cause)];
        if (d.cause == retry_cause::throttled) {
          api_endpoint::throttled(org.bucket, now, d.delay);
          sink_.on_event({run_event::kind::org_paused, org.id, d.delay, d.cause, d.message});
        } else if (d.cause != retry_cause::throttled_ip && ++failures >= options_.batch.max_poll_failures) {
          abandon(org, j, io::outcome::failed, j.status, "status unknown: " + d.message + unknown);
          return {};
        }
        return {next_step::poll, d.delay};
      case action::abort_run:
        abandon(org, j, io::outcome::not_attempted, j.status, d.message + unknown);
        abort_run(abort_reason(std::move(d.message), s.resp, org.id) + trace_of(s));
        return {};
      case action::condemn_org:
        abandon(org, j, io::outcome::failed, j.status, d.message);
        condemn(org, std::move(d.message));
        return {};
      case action::fail_row:
      case action::follow_redirect:
        break;
    }
    abandon(org, j, io::outcome::failed, j.status, d.message + unknown);
    return {};
  }

  // ----- coroutines --------------------------------------------------------------------------

  net::awaitable<void> main() {
    if (config_.handle_signals) {
      signals_.add(SIGINT);
      signals_.add(SIGTERM);
      net::co_spawn(ctx_, watch_signals(), net::detached);
    }
    queue_rows();
    if (!stopping_) {
      for (std::size_t o = 0; o < orgs_.size(); ++o) {
        if (orgs_[o].batches.done()) continue;
        const unsigned n = std::max(1u, options_.batch.max_running);
        for (unsigned k = 0; k < n; ++k) {
          auto l = std::make_unique<lane_ctx>();
          l->org = o;
          l->timer = std::make_unique<net::steady_timer>(ctx_);
          lanes_.push_back(std::move(l));
        }
      }
      using op_type = decltype(net::co_spawn(ctx_, lane(nullptr), net::deferred));
      std::vector<op_type> ops;
      ops.reserve(lanes_.size());
      for (auto& l : lanes_) ops.push_back(net::co_spawn(ctx_, lane(l.get()), net::deferred));
      if (!ops.empty()) {
        // One ranged group joins every lane.
        auto [order, errors] = co_await net::experimental::make_parallel_group(std::move(ops))
                                   .async_wait(net::experimental::wait_for_all(), net::use_awaitable);
        (void)order;
        for (auto& e : errors)
          if (e && !failure_) failure_ = e;
      }
    }
    finish_remaining();
  }

  void release_loop() {
    boost::system::error_code ignored;
    signals_.cancel(ignored);
    drain_timer_.cancel();
    close_all();
  }

  net::awaitable<void> lane(lane_ctx* l) {
    auto& org = orgs_[l->org];
    for (;;) {
      if (stopping_ || org.condemned) break;
      const auto now = clock::now();
      auto job = org.batches.take(now);
      if (!job) {
        if (org.batches.done()) break;
        const bool could = org.batches.running() < std::max(1u, options_.batch.max_running) &&
                           org.batches.queued() > 0;
        co_await wait_for_work(*l->timer, could ? org.batches.ready_at(now) : clock::time_point::max());
        continue;
      }
      live_job j;
      j.job = std::move(*job);
      co_await run_job(*l, org, std::move(j));
      notify_all();
    }
    notify_all();  // the other lanes of the org may be waiting for work that will not come
  }

  net::awaitable<void> run_job(lane_ctx& l, org_ctx& org, live_job j) {
    step st{next_step::poll, std::chrono::nanoseconds(0)};  // a journal batch: poll at once
    j.submitted = start_;
    if (j.job.id.empty()) {
      const std::string body = build_batch_body(org.id, actions_of(j.job));
      unsigned attempt = 0;
      st.what = next_step::retry;
      while (st.what == next_step::retry) {
        if (attempt > 0) co_await sleep_until(*l.timer, clock::now() + st.delay);
        if (stopping_) break;
        ++attempt;
        j.submitted = clock::now();
        sent s = co_await call(l, org, "POST", batch_suffix(org), body);
        if (s.not_sent) break;
        for (auto r : j.job.rows) ++posts_[r];
        st = on_post_answer(l, org, j, s, attempt);
      }
      if (stopping_ && st.what == next_step::retry) {
        abandon(org, j, io::outcome::not_attempted, j.status, {});
        co_return;
      }
    }
    unsigned polls = 0, failures = 0, streak = 0;
    while (st.what == next_step::poll) {
      co_await sleep_until(*l.timer, clock::now() + st.delay);
      if (stopping_) {
        abandon(org, j, io::outcome::not_attempted, j.status,
                "stopped while action batch " + j.job.id + " ran; --resume polls it");
        co_return;
      }
      sent s = co_await call(l, org, "GET", batch_suffix(org) + "/" + j.job.id, {});
      if (s.not_sent) {
        abandon(org, j, io::outcome::not_attempted, j.status,
                "stopped while action batch " + j.job.id + " ran; --resume polls it");
        co_return;
      }
      st = on_poll_answer(l, org, j, s, polls, failures, streak);
    }
  }

  const plan::plan& plan_;
  const run_config& config_;
  const batch_run_options& options_;
  result_sink& sink_;
  net::io_context ctx_;
  net::signal_set signals_;
  net::steady_timer drain_timer_;
  api_endpoint api_;
  std::vector<org_ctx> orgs_;
  retry_policy poll_policy_;
  plan::plan_diff diff_;
  std::vector<std::unique_ptr<lane_ctx>> lanes_;
  std::vector<std::unique_ptr<io::connection>> idle_;
  std::unordered_set<io::connection*> busy_;
  std::unordered_set<net::steady_timer*> idle_waiters_;
  std::unordered_set<net::steady_timer*> sleeping_;
  std::unordered_map<std::size_t, unsigned> posts_;           ///< row -> POSTs that carried it
  std::unordered_map<std::size_t, std::string> batch_of_;     ///< row -> last batch id
  run_counters counters_;
  clock::time_point start_{};
  bool stopping_ = false;
  bool aborted_ = false;
  bool interrupted_ = false;
  std::string abort_reason_;
  std::exception_ptr failure_;
};

} // namespace
} // namespace detail

run_result run_batches(const plan::plan& p, const run_config& config,
                       const batch_run_options& options, result_sink& sink) {
  detail::batch_run r(p, config, options, sink);
  return r.run();
}

} // namespace relicense::engine
