// The runner: coroutines drive the pure pieces (token_bucket, decide, check_redirect). Everything
// runs on one io_context thread, so the scheduler's state needs no lock.
#include "relicense/engine/runner.hpp"

#include "api_calls.hpp"

#include "relicense/engine/redirect.hpp"
#include "relicense/engine/token_bucket.hpp"
#include "relicense/io/json.hpp"
#include "relicense/io/link_header.hpp"
#include "relicense/plan/diff.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <unordered_set>

namespace relicense::engine {

namespace net = boost::asio;
using detail::clock;
using token = net::as_tuple_t<net::use_awaitable_t<>>;

// ---------------------------------------------------------------------------------------------
// latency_histogram, counters, small helpers

void latency_histogram::record(double ms) noexcept {
  ms = std::max(ms, 0.0);
  // Bucket i holds (2^((i-1)/4), 2^(i/4)] ms; bucket 0 everything up to 1 ms.
  const double idx = ms <= 1.0 ? 0.0 : std::ceil(4.0 * std::log2(ms));
  const auto i = static_cast<std::size_t>(std::min(idx, static_cast<double>(buckets - 1)));
  ++counts_[i];
  ++count_;
  sum_ += ms;
  max_ = std::max(max_, ms);
}

double latency_histogram::percentile_ms(double q) const noexcept {
  if (count_ == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets; ++i) {
    seen += counts_[i];
    if (seen >= std::max<std::uint64_t>(rank, 1)) {
      return std::min(max_, std::exp2(static_cast<double>(i) / 4.0));
    }
  }
  return max_;
}

void run_counters::count(io::outcome o) noexcept {
  switch (o) {
    case io::outcome::applied: ++applied; break;
    case io::outcome::unchanged: ++unchanged; break;
    case io::outcome::failed: ++failed; break;
    case io::outcome::skipped: ++skipped; break;
    case io::outcome::not_attempted: ++not_attempted; break;
  }
}

std::uint64_t run_counters::retries_total() const noexcept {
  std::uint64_t n = 0;
  for (auto r : retries) n += r;
  return n;
}

const char* to_string(run_status s) noexcept {
  switch (s) {
    case run_status::completed: return "completed";
    case run_status::aborted: return "aborted";
    case run_status::interrupted: return "interrupted";
  }
  return "?";
}

unsigned default_concurrency(std::size_t orgs, std::size_t rows, double rate, double ip_rate) {
  constexpr double assumed_latency_s = 2.0;
  double budget = std::numeric_limits<double>::infinity();
  if (rate > 0) budget = rate * static_cast<double>(std::max<std::size_t>(orgs, 1));
  if (ip_rate > 0) budget = std::min(budget, ip_rate);
  double n = std::isinf(budget) ? 64.0 : std::clamp(std::ceil(budget * assumed_latency_s), 8.0, 64.0);
  n = std::min(n, static_cast<double>(std::max<std::size_t>(rows, 1)));
  return static_cast<unsigned>(n);
}

namespace detail {
namespace {

std::string join_path(std::string_view prefix, std::string_view org, std::string_view license) {
  std::string t(prefix);
  t += "/organizations/";
  t += org;
  t += "/licenses";
  if (!license.empty()) {
    t += '/';
    t += license;
  }
  return t;
}

/// A row on its way: which row, and what its earlier requests produced.
struct job {
  std::uint32_t row = 0;
  unsigned attempts = 0;        ///< requests counted by the retry policy
  unsigned requests = 0;        ///< every request sent for the row (report's attempts)
  unsigned last_status = 0;
  double last_latency_ms = 0;
  std::string last_error;
  std::string last_request_id;  ///< of the last answer that did not apply the row
  std::string last_host;        ///< that answered it
  clock::time_point not_before{};
};

struct later_first {
  bool operator()(const job& a, const job& b) const noexcept { return a.not_before > b.not_before; }
};

/// One organization's queue, bucket and shard.
struct org_state {
  std::string id;
  token_bucket bucket;
  std::vector<std::uint32_t> fresh;  ///< rows never sent, in plan order
  std::size_t fresh_head = 0;
  std::vector<job> retries;          ///< min-heap on not_before
  bool condemned = false;
  std::string condemn_reason;
  shard_memory shard;                ///< where redirects sent this org's calls

  org_state(std::string i, double rate, double burst, clock::time_point now)
      : id(std::move(i)), bucket(rate, burst, now) {}
  bool has_fresh() const noexcept { return fresh_head < fresh.size(); }
  bool has_work() const noexcept { return has_fresh() || !retries.empty(); }
  std::size_t pending() const noexcept { return fresh.size() - fresh_head + retries.size(); }
};

/// A worker's own connections (one per origin, kept alive) and JSON parser.
struct worker_ctx {
  std::vector<std::unique_ptr<io::connection>> connections;
  io::origin home;        ///< where this worker's last request went: opened before the next token
  bool preopen = true;    ///< false after a failed pre-open, until a request gets an answer
  io::connection* opening = nullptr;  ///< being pre-opened: closed if the run ends meanwhile
  io::response_parser parser;
  std::unique_ptr<net::steady_timer> timer;
};

class run_state {
public:
  run_state(const plan::plan& p, const run_config& c, result_sink& sink)
      : plan_(p), config_(c), sink_(sink), signals_(ctx_), drain_timer_(ctx_), api_(c) {
    const auto now = clock::now();
    orgs_.reserve(p.orgs.size());
    for (const auto& id : p.orgs) orgs_.emplace_back(id, c.rate, burst_with_headroom(c.rate, c.burst), now);
    concurrency_ = c.concurrency ? c.concurrency
                                 : default_concurrency(p.orgs.size(), p.rows.size(), c.rate, c.ip_rate);
  }

  inventory_result run_inventories() {
    inventory_only_ = true;
    run();
    inventory_result r;
    r.inventories = std::move(inventories_);
    r.errors = std::move(inventory_errors_);
    r.status = aborted_ ? run_status::aborted : interrupted_ ? run_status::interrupted : run_status::completed;
    r.abort_reason = abort_reason_;
    r.counters = std::move(counters_);
    return r;
  }

  run_result run() {
    start_ = clock::now();
    running_ = true;
    net::co_spawn(ctx_, main(), [this](std::exception_ptr e) {
      if (e && !failure_) failure_ = e;
      // However main() ended, nothing may keep the loop alive: an armed signal set would hold
      // ctx_.run() forever and swallow every later SIGINT/SIGTERM.
      release_loop();
    });
    ctx_.run();
    running_ = false;
    flush_sink();
    if (failure_) std::rethrow_exception(failure_);
    run_result r;
    r.status = aborted_ ? run_status::aborted : interrupted_ ? run_status::interrupted : run_status::completed;
    r.abort_reason = abort_reason_;
    r.counters = std::move(counters_);
    r.concurrency = concurrency_;
    r.elapsed_s = std::chrono::duration<double>(clock::now() - start_).count();
    return r;
  }

private:
  // ----- top level ---------------------------------------------------------------------------

  net::awaitable<void> main() {
    if (config_.handle_signals) {
      signals_.add(SIGINT);
      signals_.add(SIGTERM);
      net::co_spawn(ctx_, watch_signals(), net::detached);
    }
    if (inventory_only_) {
      co_await fetch_inventories();
      co_return;
    }
    if (config_.skip_unchanged) {
      co_await fetch_inventories();
      diff_ = plan::diff(plan_, inventories_);
    }
    queue_rows();

    if (!config_.dry_run && !stopping_ && pending_ > 0) {
      const unsigned n = static_cast<unsigned>(std::min<std::size_t>(concurrency_, pending_));
      workers_.resize(n);
      using op_type = decltype(net::co_spawn(ctx_, worker(nullptr), net::deferred));
      std::vector<op_type> ops;
      ops.reserve(n);
      for (auto& w : workers_) {
        w.timer = std::make_unique<net::steady_timer>(ctx_);
        ops.push_back(net::co_spawn(ctx_, worker(&w), net::deferred));
      }
      // One ranged group joins every worker (never a group per row).
      auto [order, errors] = co_await net::experimental::make_parallel_group(std::move(ops))
                                 .async_wait(net::experimental::wait_for_all(), net::use_awaitable);
      (void)order;
      for (auto& e : errors) {
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

  net::awaitable<void> watch_signals() {
    for (;;) {
      auto [ec, sig] = co_await signals_.async_wait(token{});
      if (ec) co_return;
      (void)sig;
      if (!stopping_) {
        interrupted_ = true;
        request_stop();
      } else {
        // A second signal: do not wait for in-flight calls any more.
        close_all();
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
    notify_all();
    if (in_flight_ > 0) net::co_spawn(ctx_, drain_watch(), net::detached);
  }

  void close_all() {
    for (auto& w : workers_) {
      for (auto& c : w.connections) c->close();
    }
  }

  // ----- queues ------------------------------------------------------------------------------

  void queue_rows() {
    for (std::uint32_t i = 0; i < plan_.rows.size(); ++i) {
      const auto& row = plan_.rows[i];
      if (const auto pre = triage(config_, diff_, row, i); !pre.send) {
        if (pre.done) emit(*pre.done);
        else finish(i, pre.outcome, {}, 0, pre.error);
        continue;
      }
      auto& org = orgs_[row.org];
      if (org.condemned) {
        finish(i, io::outcome::failed, {}, 0, org.condemn_reason + " (not sent)");
        continue;
      }
      if (config_.dry_run) {
        std::string what = "dry run: not sent";
        if (auto prev = previous_of(i)) {
          what = "dry run: would move from " + (prev->empty() ? std::string("unassigned") : *prev) +
                 " to " + (row.serial.empty() ? std::string("unassigned") : row.serial);
        }
        finish(i, io::outcome::skipped, {}, 0, std::move(what));
        continue;
      }
      if (stopping_) {
        finish(i, io::outcome::not_attempted, {}, 0);
        continue;
      }
      org.fresh.push_back(i);
      ++pending_;
    }
  }

  void finish_remaining() {
    for (auto& org : orgs_) {
      while (org.has_fresh()) {
        finish(org.fresh[org.fresh_head++], io::outcome::not_attempted, {}, 0);
      }
      for (auto& j : org.retries) {
        finish(j.row, io::outcome::not_attempted, j, 0,
               j.last_error.empty() ? std::string() : "stopped before retrying: " + j.last_error);
      }
      org.retries.clear();
    }
    pending_ = 0;
  }

  std::optional<std::string> previous_of(std::uint32_t i) const {
    if (diff_.rows.empty()) return std::nullopt;
    return diff_.rows[i].previous_serial;
  }

  void emit(const io::row_result& r) {
    counters_.count(r.result);
    try {
      sink_.on_result(r);
      sink_.on_progress(counters_);
    } catch (...) {
      sink_failed(std::current_exception());
    }
    if (!flush_posted_ && running_) {
      // One flush after every result handled in this turn of the event loop (see worker()).
      flush_posted_ = true;
      net::post(ctx_, [this] { flush_sink(); });
    }
    if (!stopping_ && !sink_.keep_going()) {
      interrupted_ = true;
      request_stop();
    }
  }

  void flush_sink() {
    flush_posted_ = false;
    try {
      sink_.flush();
    } catch (...) {
      sink_failed(std::current_exception());
    }
  }

  /// The sink could not record a result (a full disk, an I/O error): no request leaves after
  /// this, the rows in flight settle (the sink still gets them: another of its files may be
  /// fine), and run() rethrows the first such exception.
  void sink_failed(std::exception_ptr e) {
    if (!failure_) failure_ = e;
    abort_run(sink_failure_text(e));
  }

  void finish(std::uint32_t i, io::outcome o, const job& j, unsigned status, std::string error = {},
              std::string state = {}) {
    const auto& row = plan_.rows[i];
    io::row_result r;
    r.line = row.line;
    r.org_id = plan_.orgs[row.org];
    r.license_id = row.license_id;
    r.serial = row.serial;
    r.previous_serial = previous_of(i);
    r.result = o;
    r.http_status = status ? status : j.last_status;
    r.attempts = j.requests;
    r.latency_ms = j.last_latency_ms;
    r.state = std::move(state);
    r.error = std::move(error);
    // Failed rows, and the row whose answer aborted the run (not_attempted, so --resume sends it).
    if (o == io::outcome::failed || o == io::outcome::not_attempted) {
      r.request_id = j.last_request_id;
      r.host = j.last_host;
    }
    emit(r);
  }

  // ----- scheduling --------------------------------------------------------------------------

  void notify_all() {
    for (auto* t : waiting_) t->cancel();
    if (stopping_ || (pending_ == 0 && in_flight_ == 0)) {
      // Nothing left to send: a connection still being pre-opened (a slow or dead host) must
      // not hold the end of the run.
      for (auto& w : workers_) {
        if (w.opening) w.opening->close();
      }
    }
  }

  /// Sleeps until `until` or until notify_all().
  net::awaitable<void> sleep_until(net::steady_timer& t, clock::time_point until) {
    t.expires_at(until);
    waiting_.insert(&t);
    auto [ec] = co_await t.async_wait(token{});
    (void)ec;
    waiting_.erase(&t);
  }

  /// The next row any organization may send now; waits (on a timer, never blocking the thread)
  /// until some organization's bucket and the IP bucket both have a token. Organizations are
  /// served round-robin, so one org's empty bucket never holds back another's rows.
  net::awaitable<std::optional<job>> next_job(net::steady_timer& t) {
    for (;;) {
      if (stopping_) co_return std::nullopt;
      if (pending_ == 0) {
        if (in_flight_ == 0) {
          notify_all();  // let the other idle workers see the end
          co_return std::nullopt;
        }
        co_await sleep_until(t, clock::time_point::max());
        continue;
      }
      const auto now = clock::now();
      auto earliest = clock::time_point::max();
      const std::size_t n = orgs_.size();
      for (std::size_t k = 0; k < n; ++k) {
        const std::size_t o = (rr_ + k) % n;
        auto& org = orgs_[o];
        if (!org.has_work()) continue;
        clock::time_point due = now;
        const bool retry_due = !org.retries.empty() && org.retries.front().not_before <= now;
        if (!retry_due && !org.has_fresh()) due = org.retries.front().not_before;
        const auto at = std::max(due, api_.available_at(org.bucket, now));
        if (at > now) {
          earliest = std::min(earliest, at);
          continue;
        }
        api_.take(org.bucket, now);
        rr_ = o + 1;
        --pending_;
        ++in_flight_;
        if (retry_due) {
          std::pop_heap(org.retries.begin(), org.retries.end(), later_first{});
          job j = std::move(org.retries.back());
          org.retries.pop_back();
          co_return j;
        }
        job j;
        j.row = org.fresh[org.fresh_head++];
        co_return j;
      }
      co_await sleep_until(t, earliest);
    }
  }

  /// Waits for a token of `org` (and the IP) for one more request of a row already held: a
  /// redirect hop or an inventory page. Every call counts against the budget.
  net::awaitable<void> acquire(org_state& org, net::steady_timer& t) {
    for (;;) {
      clock::time_point at;
      if (api_.try_take(org.bucket, clock::now(), at)) co_return;
      t.expires_at(at);
      auto [ec] = co_await t.async_wait(token{});
      (void)ec;
    }
  }

  void requeue(org_state& org, job j, std::chrono::nanoseconds delay) {
    j.not_before = clock::now() + delay;
    org.retries.push_back(std::move(j));
    std::push_heap(org.retries.begin(), org.retries.end(), later_first{});
    ++pending_;
  }

  void condemn(org_state& org, std::string reason) {
    if (org.condemned) return;
    org.condemned = true;
    org.condemn_reason = std::move(reason);
    // Fail the org's remaining rows without sending them.
    while (org.has_fresh()) {
      --pending_;
      finish(org.fresh[org.fresh_head++], io::outcome::failed, {}, 0, org.condemn_reason + " (not sent)");
    }
    for (auto& j : org.retries) {
      --pending_;
      finish(j.row, io::outcome::failed, j, 0, org.condemn_reason);
    }
    org.retries.clear();
  }

  void abort_run(std::string reason) {
    if (!aborted_) {
      aborted_ = true;
      abort_reason_ = std::move(reason);
    }
    request_stop();
  }

  // ----- requests ----------------------------------------------------------------------------

  io::connection& connection_for(worker_ctx& w, const io::origin& where) {
    for (auto& c : w.connections) {
      if (c->where() == where) return *c;
    }
    w.connections.push_back(std::make_unique<io::connection>(ctx_.get_executor(), api_.tls(), where, api_.client()));
    return *w.connections.back();
  }

  net::awaitable<sent> send(worker_ctx& w, const io::origin& where, std::string_view method,
                            std::string_view target, std::string_view body) {
    sent s = co_await api_.send(connection_for(w, where), method, target, body, counters_);
    w.home = where;
    if (s.resp.error == io::transport_error::none) w.preopen = true;
    co_return s;
  }

  net::awaitable<void> worker(worker_ctx* w) {
    w->home = api_.base();
    for (;;) {
      // Connection set-up (TCP, TLS: several round trips) happens before the worker takes a
      // token, never between the token and the request: otherwise the first requests reach the
      // server long after we counted them, the server's full bucket cannot bank the refill we
      // already spent, and the start of a run draws 429s (measured with `relicense demo` before
      // this: 13-20 429s without a 10 % burst headroom to hide them).
      if (w->preopen && !stopping_ && pending_ > 0) {
        auto& c = connection_for(*w, w->home);
        if (!c.is_open()) {
          w->opening = &c;
          const io::response r = co_await c.open();
          w->opening = nullptr;
          if (r.error != io::transport_error::none) w->preopen = false;  // the request will say why
        }
      }
      auto j = co_await next_job(*w->timer);
      if (!j) break;
      co_await process(*w, std::move(*j));
      // The sink's flush for this turn's results was posted; queueing behind it means this
      // worker's next request leaves only after its row's result is written.
      if (flush_posted_) co_await net::post(ctx_, net::use_awaitable);
      --in_flight_;
      if (pending_ == 0 && in_flight_ == 0) notify_all();
    }
    for (auto& c : w->connections) c->close();
  }

  /// What a request's answer means for the row that sent it.
  enum class step : std::uint8_t {
    done,    ///< the row has its result (or went back to the queue for a retry)
    follow   ///< send again to `where`/`target` (a redirect), after one more token
  };

  net::awaitable<void> process(worker_ctx& w, job j) {
    const auto& row = plan_.rows[j.row];
    auto& org = orgs_[row.org];
    if (org.condemned) {
      finish(j.row, io::outcome::failed, j, 0, org.condemn_reason + " (not sent)");
      co_return;
    }
    const std::string suffix = join_path("", org.id, row.license_id);
    io::origin where = api_.origin_for(org.shard);
    std::string target = api_.target_for(org.shard, suffix);
    const std::string body = row.serial.empty() ? std::string(R"({"deviceSerial":null})")
                                                : R"({"deviceSerial":")" + row.serial + "\"}";
    ++j.attempts;
    unsigned hops = 0;
    // The decision is taken by a plain function: g++ 12 miscompiles locals of coroutines that
    // leave a switch with co_return/continue (double destruction), so the coroutine body stays
    // straight-line around its co_awaits.
    for (;;) {
      ++counters_.puts;
      sent s = co_await send(w, where, "PUT", target, body);
      if (on_put_answer(w, j, org, row, s, suffix, hops, where, target) == step::done) co_return;
      co_await acquire(org, *w.timer);
      if (stopping_) {
        // Only a redirect was answered: nothing was applied, and nothing leaves after a stop.
        finish(j.row, io::outcome::not_attempted, j, 0, "stopped before following a redirect");
        co_return;
      }
    }
  }

  static void note_answer(job& j, const sent& s) {
    j.last_request_id = s.resp.request_id;
    j.last_host = s.host;
  }

  step on_put_answer(worker_ctx& w, job& j, org_state& org, const plan::row& row, const sent& s,
                     const std::string& suffix, unsigned& hops, io::origin& where, std::string& target) {
    ++j.requests;
    j.last_latency_ms = s.latency_ms;
    j.last_status = s.resp.error == io::transport_error::none ? s.resp.status : 0;
    const std::string api_error = api_endpoint::api_error_of(w.parser, s.resp);
    auto d = decide(config_.retry, api_endpoint::to_attempt(s.resp, api_error), j.attempts, api_.next_jitter(),
                    std::chrono::system_clock::now());
    // Kept for the report of a failed row; applied rows, most of a run, skip the copies.
    if (d.what != action::succeeded) note_answer(j, s);
    const auto now = clock::now();
    switch (d.what) {
      case action::succeeded: {
        org.bucket.on_success(now);
        auto lic = w.parser.parse_license(s.resp.body);
        if (!lic.value) {
          note_answer(j, s);
          finish(j.row, io::outcome::failed, j, 0, "unreadable license in the response: " + lic.error);
          return step::done;
        }
        if (auto wrong = answer_mismatch(row, *lic.value); !wrong.empty()) {
          note_answer(j, s);
          finish(j.row, io::outcome::failed, j, 0, std::move(wrong), lic.value->state);
          return step::done;
        }
        finish(j.row, io::outcome::applied, j, 0, {}, lic.value->state);
        return step::done;
      }
      case action::follow_redirect: {
        if (++hops > config_.retry.max_redirects) {
          finish(j.row, io::outcome::failed, j, 0,
                 "more than " + std::to_string(config_.retry.max_redirects) + " redirects");
          return step::done;
        }
        auto v = check_redirect(api_.base(), where, s.resp.location);
        if (!v.allowed) {
          finish(j.row, io::outcome::failed, j, 0, v.reason);
          return step::done;
        }
        ++counters_.redirects;
        org.shard.remember(v.target, suffix);
        where = v.target.where;
        target = v.target.path;
        return step::follow;
      }
      case action::retry: {
        ++counters_.retries[static_cast<std::size_t>(d.cause)];
        if (d.cause == retry_cause::throttled) {
          api_endpoint::throttled(org.bucket, now, d.delay);
          sink_.on_event({run_event::kind::org_paused, org.id, d.delay, d.cause, d.message});
        }
        j.last_error = d.message;
        if (org.condemned) {
          finish(j.row, io::outcome::failed, j, 0, org.condemn_reason);
          return step::done;
        }
        requeue(org, std::move(j), d.delay);
        notify_all();
        return step::done;
      }
      case action::fail_row:
        finish(j.row, io::outcome::failed, j, 0, std::move(d.message));
        return step::done;
      case action::abort_run:
        // A rejected key, TLS or an unreachable host is the run's failure, not the row's: the
        // row was not applied, and --resume must send it again.
        finish(j.row, io::outcome::not_attempted, j, 0, d.message);
        abort_run(abort_reason(std::move(d.message), s.resp, org.id) + trace_of(s));
        return step::done;
      case action::condemn_org:
        finish(j.row, io::outcome::failed, j, 0, d.message);
        condemn(org, std::move(d.message));
        notify_all();
        return step::done;
    }
    return step::done;
  }

  // ----- inventories (--skip-unchanged) ------------------------------------------------------

  net::awaitable<void> fetch_inventories() {
    workers_.resize(1);
    auto& w = workers_.front();
    w.timer = std::make_unique<net::steady_timer>(ctx_);
    for (auto& org : orgs_) {
      if (stopping_) break;
      plan::inventory one;
      std::string why;
      if (co_await fetch_inventory(w, org, one, why)) {
        inventories_.emplace(org.id, std::move(one));
      } else {
        inventory_errors_[org.id] = why.empty() ? "inventory not read" : why;
      }
    }
    for (auto& c : w.connections) c->close();
    workers_.clear();
  }

  /// Fetches one org's licenses page by page (Link rel=next), inside the org's budget. False when
  /// the inventory could not be read whole (its rows are then sent as changes).
  net::awaitable<bool> fetch_inventory(worker_ctx& w, org_state& org, plan::inventory& out,
                                       std::string& why) {
    page_cursor c;
    c.where = api_.base();
    c.target = join_path(api_.base_prefix(), org.id, "") + "?perPage=1000";
    while (!stopping_) {
      co_await acquire(org, *w.timer);
      ++counters_.gets;
      sent s = co_await send(w, c.where, "GET", c.target, {});
      const page_step st = on_page_answer(w, org, s, c, out, why);
      if (st == page_step::finished) co_return true;
      if (st == page_step::failed) co_return false;
      if (st == page_step::wait) {
        w.timer->expires_after(c.delay);
        auto [ec] = co_await w.timer->async_wait(token{});
        (void)ec;
      }
    }
    co_return false;
  }

  /// Where the inventory fetch of one org stands.
  struct page_cursor {
    io::origin where;
    std::string target;
    unsigned attempts = 0;
    unsigned hops = 0;
    std::chrono::nanoseconds delay{0};
  };

  /// What to do after one page's answer.
  enum class page_step : std::uint8_t {
    next,      ///< request c.target now
    wait,      ///< request c.target after c.delay
    finished,  ///< the last page was read
    failed     ///< give up on this org's inventory (`why` says why)
  };

  page_step on_page_answer(worker_ctx& w, org_state& org, const sent& s, page_cursor& c,
                           plan::inventory& out, std::string& why) {
    ++c.attempts;
    const std::string api_error = api_endpoint::api_error_of(w.parser, s.resp);
    auto d = decide(config_.retry, api_endpoint::to_attempt(s.resp, api_error), c.attempts, api_.next_jitter(),
                    std::chrono::system_clock::now());
    const auto now = clock::now();
    switch (d.what) {
      case action::succeeded: {
        org.bucket.on_success(now);
        auto page = w.parser.parse_license_page(s.resp.body);
        if (!page.value) {
          why = "unreadable license list: " + page.error;
          return page_step::failed;
        }
        for (auto& l : *page.value) out.set(std::move(l.id), l.device_serial.value_or(""));
        auto next = io::next_link(s.resp.link);
        if (!next) return page_step::finished;
        auto v = check_redirect(api_.base(), c.where, *next);
        if (!v.allowed) {
          why = "next page: " + v.reason;
          return page_step::failed;
        }
        c.where = v.target.where;
        c.target = v.target.path;
        c.attempts = 0;
        c.hops = 0;
        return page_step::next;
      }
      case action::follow_redirect: {
        auto v = check_redirect(api_.base(), c.where, s.resp.location);
        if (!v.allowed || ++c.hops > config_.retry.max_redirects) {
          why = v.allowed ? "too many redirects" : v.reason;
          return page_step::failed;
        }
        ++counters_.redirects;
        org.shard.remember(v.target, join_path("", org.id, ""));
        c.where = v.target.where;
        c.target = v.target.path;
        return page_step::next;
      }
      case action::retry:
        ++counters_.retries[static_cast<std::size_t>(d.cause)];
        if (d.cause == retry_cause::throttled) api_endpoint::throttled(org.bucket, now, d.delay);
        c.delay = d.delay;
        return page_step::wait;
      case action::fail_row:
        why = d.message;
        return page_step::failed;
      case action::abort_run:
        why = d.message;
        abort_run(abort_reason(std::move(d.message), s.resp, org.id) + trace_of(s));
        return page_step::failed;
      case action::condemn_org:
        why = d.message;
        condemn_before_queueing(org, std::move(d.message));
        return page_step::failed;
    }
    return page_step::failed;
  }

  /// A co-term org found while fetching inventories: queue_rows() fails its rows unsent.
  static void condemn_before_queueing(org_state& org, std::string reason) {
    org.condemned = true;
    org.condemn_reason = std::move(reason);
  }

  // ----- state -------------------------------------------------------------------------------

  const plan::plan& plan_;
  const run_config& config_;
  result_sink& sink_;
  net::io_context ctx_{1};
  net::signal_set signals_;
  net::steady_timer drain_timer_;
  api_endpoint api_;
  std::vector<org_state> orgs_;
  std::size_t rr_ = 0;
  std::size_t pending_ = 0;      ///< rows queued (fresh or waiting for a retry)
  std::size_t in_flight_ = 0;    ///< rows held by a worker
  std::unordered_set<net::steady_timer*> waiting_;
  std::deque<worker_ctx> workers_;  ///< deque: stable addresses for the coroutines
  plan::plan_diff diff_;
  plan::inventories inventories_;
  std::map<std::string, std::string> inventory_errors_;
  bool inventory_only_ = false;
  run_counters counters_;
  unsigned concurrency_ = 1;
  bool stopping_ = false;
  bool running_ = false;        ///< inside ctx_.run(): flushes are posted, else done at the end
  bool flush_posted_ = false;
  bool aborted_ = false;
  bool interrupted_ = false;
  std::string abort_reason_;
  std::exception_ptr failure_;
  clock::time_point start_;
};

/// The sink of an inventory-only run: it never sees a row.
class no_rows final : public result_sink {
public:
  void on_result(const io::row_result&) override {}
};

} // namespace
} // namespace detail

run_result run(const plan::plan& p, const run_config& config, result_sink& sink) {
  detail::run_state state(p, config, sink);
  return state.run();
}

inventory_result fetch_inventories(const plan::plan& p, const run_config& config) {
  detail::no_rows sink;
  detail::run_state state(p, config, sink);
  return state.run_inventories();
}

} // namespace relicense::engine
