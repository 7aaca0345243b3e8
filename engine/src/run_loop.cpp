// Everything runs on one io_context thread, so the loop's and the modes' state needs no lock.
// Coroutine bodies stay straight-line around their co_awaits, and every decision is a plain
// function (docs/coroutines.md: g++ 12 miscompiles coroutine locals that leave a switch with
// co_return, and destroys a co_await temporary in a braced initializer twice).
#include "run_loop.hpp"

#include "endpoint.hpp"

#include "relicense/engine/redirect.hpp"
#include "relicense/io/json.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <deque>
#include <optional>
#include <unordered_set>

namespace relicense::engine::detail {

namespace net = boost::asio;
using token = net::as_tuple_t<net::use_awaitable_t<>>;

namespace {

/// A worker's own connections (one per origin, kept alive) and JSON parser.
struct worker_ctx {
  std::vector<std::unique_ptr<io::connection>> connections;
  io::origin home;      ///< where this worker's last request went: opened before the next token
  bool preopen = true;  ///< false after a failed pre-open, until a request gets an answer
  io::connection* opening = nullptr;  ///< being pre-opened: closed if the run ends meanwhile
  io::response_parser parser;
  std::unique_ptr<net::steady_timer> timer;
};

bool is_redirect(const io::response& r) noexcept {
  const unsigned s = r.status;
  return r.error == io::transport_error::none && !r.location.empty() &&
         (s == 301 || s == 302 || s == 303 || s == 307 || s == 308);
}

}  // namespace

struct run_loop::impl {
  impl(run_loop& self, const plan::plan& p, const run_config& c, result_sink& s)
      : self_(self), plan_(p), config_(c), sink_(s), clock_(c.clock ? *c.clock : real_clock()),
        signals_(ctx_), drain_timer_(ctx_),
        sched_(p.orgs.size(), budget_config{c.rate, c.burst, c.ip_rate}, clock_.now()),
        shards_(p.orgs.size()), api_(c) {}

  // ----- the run ------------------------------------------------------------------------------

  void run(phase_source& phases) {
    start_ = clock_.now();
    running_ = true;
    net::co_spawn(ctx_, main(&phases), [this](std::exception_ptr e) {
      if (e && !failure_) failure_ = e;
      // However main() ended, nothing may keep the loop alive: an armed signal set would hold
      // ctx_.run() forever and swallow every later SIGINT/SIGTERM.
      release_loop();
    });
    ctx_.run();
    running_ = false;
    flush_sink();
    if (failure_) std::rethrow_exception(failure_);
  }

  run_result result() {
    run_result r;
    r.status = aborted_       ? run_status::aborted
               : interrupted_ ? run_status::interrupted
                              : run_status::completed;
    r.abort_reason = abort_reason_;
    r.counters = std::move(counters_);
    r.concurrency = concurrency_;
    r.elapsed_s = std::chrono::duration<double>(clock_.now() - start_).count();
    return r;
  }

  net::awaitable<void> main(phase_source* phases) {
    if (config_.handle_signals) {
      signals_.add(SIGINT);
      signals_.add(SIGTERM);
      net::co_spawn(ctx_, watch_signals(), net::detached);
    }
    for (mode* m = phases->next(self_); m; m = phases->next(self_)) co_await run_mode(m);
  }

  /// One mode from start to finish_remaining: its workers run until nothing is queued, nothing is
  /// in flight and the mode expects nothing more, or until the run stops.
  net::awaitable<void> run_mode(mode* m) {
    mode_ = m;
    const auto now = clock_.now();
    m->start(now);
    concurrency_ = m->concurrency();
    const unsigned n = m->workers();
    if (!stopping_ && n > 0 && has_work(now)) {
      workers_.resize(n);
      using op_type = decltype(net::co_spawn(ctx_, worker(nullptr), net::deferred));
      std::vector<op_type> ops;
      ops.reserve(n);
      for (auto& w : workers_) {
        w.timer = std::make_unique<net::steady_timer>(ctx_);
        ops.push_back(net::co_spawn(ctx_, worker(&w), net::deferred));
      }
      // One ranged group joins every worker (never a group per task).
      auto [order, errors] = co_await net::experimental::make_parallel_group(std::move(ops))
                                 .async_wait(net::experimental::wait_for_all(), net::use_awaitable);
      (void)order;
      for (auto& e : errors) {
        if (e && !failure_) failure_ = e;
      }
      workers_.clear();
    }
    m->finish_remaining();
    mode_ = nullptr;
  }

  bool has_work(steady_time now) const {
    return sched_.pending() > 0 || in_flight_ > 0 || mode_->wake_at(now) != steady_time::max();
  }

  // ----- stopping -----------------------------------------------------------------------------

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
    notify_all();
    if (in_flight_ > 0) net::co_spawn(ctx_, drain_watch(), net::detached);
  }

  void abort_run(std::string reason) {
    if (!aborted_) {
      aborted_ = true;
      abort_reason_ = std::move(reason);
    }
    request_stop();
  }

  void close_all() {
    for (auto& w : workers_) {
      for (auto& c : w.connections) c->close();
    }
  }

  // ----- results ------------------------------------------------------------------------------

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
  /// this, the calls in flight settle (the sink still gets their rows: another of its files may
  /// be fine), and run() rethrows the first such exception.
  void sink_failed(std::exception_ptr e) {
    if (!failure_) failure_ = e;
    std::string why = "cannot write the run's results";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      why = x.what();  // names the file and the OS error
    } catch (...) {}
    abort_run(std::move(why));
  }

  // ----- scheduling ---------------------------------------------------------------------------

  /// Wakes every worker waiting for work (new work, a stop, the end).
  void notify_all() {
    for (auto* t : waiting_) t->cancel();
    if (stopping_ || (sched_.pending() == 0 && in_flight_ == 0)) {
      // Nothing left to send: a connection still being pre-opened (a slow or dead host) must
      // not hold the end of the run.
      for (auto& w : workers_) {
        if (w.opening) w.opening->close();
      }
    }
  }

  /// Sleeps until `until` or until notify_all().
  net::awaitable<void> sleep_until(net::steady_timer& t, steady_time until) {
    t.expires_at(until);
    waiting_.insert(&t);
    auto [ec] = co_await t.async_wait(token{});
    (void)ec;
    waiting_.erase(&t);
  }

  next_work poll_work() {
    const next_work n = choose_work(sched_, *mode_, clock_.now(), stopping_, in_flight_);
    if (n.what == next_work::kind::task) ++in_flight_;
    if (n.what == next_work::kind::end && !stopping_) notify_all();  // the other idle workers too
    return n;
  }

  /// The next task any organization may send now; waits (on a timer, never blocking the thread)
  /// until the scheduler has one whose budget allows it.
  net::awaitable<std::optional<scheduler::pick>> next_task(net::steady_timer& t) {
    for (;;) {
      const next_work n = poll_work();
      if (n.what == next_work::kind::end) co_return std::nullopt;
      if (n.what == next_work::kind::task) co_return n.pick;
      co_await sleep_until(t, n.until);
    }
  }

  /// Waits for a token of `org` (and the IP) for one more request of a task already held: a
  /// redirect hop. Every call counts against the budget.
  net::awaitable<void> acquire(std::size_t org, net::steady_timer& t) {
    for (;;) {
      steady_time at;
      if (stopping_ || sched_.try_take(org, clock_.now(), at)) co_return;
      co_await sleep_until(t, at);
    }
  }

  // ----- requests -----------------------------------------------------------------------------

  io::connection& connection_for(worker_ctx& w, const io::origin& where) {
    for (auto& c : w.connections) {
      if (c->where() == where) return *c;
    }
    w.connections.push_back(
        std::make_unique<io::connection>(ctx_.get_executor(), api_.tls, where, api_.client));
    return *w.connections.back();
  }

  void record(worker_ctx& w, const request& rq, answer& a, steady_time t0) {
    a.latency_ms = std::chrono::duration<double, std::milli>(clock_.now() - t0).count();
    a.host = a.where.host;
    w.home = a.where;
    ++counters_.requests;
    if (rq.kind == call_kind::license_put) ++counters_.puts;
    if (rq.kind == call_kind::read) ++counters_.gets;
    if (a.resp.error == io::transport_error::none) {
      w.preopen = true;
      ++counters_.by_status[a.resp.status];
      if (a.resp.status == 429) ++counters_.throttled;
    } else {
      ++counters_.transport_errors;
    }
  }

  /// After an answer: true (with `a.where`/`target` moved on) to follow its redirect; false to
  /// hand it to the mode, with `a.refused` saying why a redirect was not followed.
  bool follow(std::size_t org, const request& rq, answer& a, std::string& target) {
    if (!is_redirect(a.resp)) return false;
    if (++a.hops > config_.retry.max_redirects) {
      --a.hops;
      a.refused = "more than " + std::to_string(config_.retry.max_redirects) + " redirects";
      return false;
    }
    auto v = check_redirect(api_.base, a.where, a.resp.location);
    if (!v.allowed) {
      --a.hops;
      a.refused = v.reason;
      return false;
    }
    ++counters_.redirects;
    if (!rq.at) shards_[org].remember(v.target, rq.path);
    a.where = v.target.where;
    target = v.target.path;
    return true;
  }

  /// Hands an answer to the mode; wakes the waiting workers when it queued new work.
  void settle(std::size_t org, task_id t, const answer& a, worker_ctx& w) {
    const std::size_t before = sched_.pending();
    const steady_time now = clock_.now();
    // Work the mode holds until it is due (a batch's next poll) wakes the workers as queued
    // work does: their sleep may end after it.
    const steady_time wake = mode_->wake_at(now);
    mode_->on_answer(org, t, a, w.parser, now);
    --in_flight_;
    if (sched_.pending() > before || (sched_.pending() == 0 && in_flight_ == 0) ||
        mode_->wake_at(now) < wake)
      notify_all();
  }

  /// A connection to open before the next token: the worker's home one, if it is not open.
  io::connection* to_preopen(worker_ctx& w) {
    if (!w.preopen || stopping_ || sched_.pending() == 0) return nullptr;
    auto& c = connection_for(w, w.home);
    return c.is_open() ? nullptr : &c;
  }

  net::awaitable<void> preopen(worker_ctx& w, io::connection& c) {
    w.opening = &c;
    const io::response r = co_await c.open();
    w.opening = nullptr;
    if (r.error != io::transport_error::none) w.preopen = false;  // the request will say why
  }

  net::awaitable<void> worker(worker_ctx* w) {
    w->home = api_.base;
    for (;;) {
      // Connection set-up (TCP, TLS: several round trips) happens before the worker takes a
      // token, never between the token and the request: otherwise the first requests reach the
      // server long after we counted them, the server's full bucket cannot bank the refill we
      // already spent, and the start of a run draws 429s (see burst_with_headroom).
      // The common cases (the connection is open, a task is ready) cost no coroutine frame: on
      // the engine's one thread every frame is an allocation per request.
      if (io::connection* c = to_preopen(*w)) co_await preopen(*w, *c);
      const next_work n = poll_work();
      if (n.what == next_work::kind::end) break;
      std::optional<scheduler::pick> p;
      if (n.what == next_work::kind::task) {
        p = n.pick;
      } else {
        co_await sleep_until(*w->timer, n.until);
        p = co_await next_task(*w->timer);
        if (!p) break;
      }
      const request rq = mode_->request_for(p->org, p->task, clock_.now());
      // Sends `rq` (its token already taken) and follows allowed redirects, each hop after one
      // more token. Here rather than in a coroutine of its own, which would cost a frame and a
      // move of the answer per request.
      answer a;
      url_target to = rq.at ? *rq.at : api_.target_for(shards_[p->org], rq.path);
      a.where = std::move(to.where);
      std::string target = std::move(to.path);
      for (;;) {
        const io::request req{rq.method, target, rq.body, api_.auth};
        const auto t0 = clock_.now();
        a.resp = co_await connection_for(*w, a.where).send(req);
        record(*w, rq, a, t0);
        if (!follow(p->org, rq, a, target)) break;
        co_await acquire(p->org, *w->timer);
        if (stopping_) {
          // Only a redirect was answered: nothing leaves after a stop.
          a.not_sent = true;
          break;
        }
      }
      settle(p->org, p->task, a, *w);
      // The sink's flush for this turn's results was posted; queueing behind it means this
      // worker's next request leaves only after its task's results are written.
      if (flush_posted_) co_await net::post(ctx_, net::use_awaitable);
    }
    for (auto& c : w->connections) c->close();
  }

  // ----- state --------------------------------------------------------------------------------

  run_loop& self_;
  const plan::plan& plan_;
  const run_config& config_;
  result_sink& sink_;
  const clock_source& clock_;
  // Run on one thread, and every socket is used from it: the reactor's lock per socket operation
  // is not needed (the scheduler keeps its lock: the resolver completes from its own thread).
  net::io_context ctx_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  net::signal_set signals_;
  net::steady_timer drain_timer_;
  scheduler sched_;
  std::vector<shard_memory> shards_;  ///< per org
  api_endpoint api_;
  mode* mode_ = nullptr;
  std::deque<worker_ctx> workers_;  ///< deque: stable addresses for the coroutines
  std::unordered_set<net::steady_timer*> waiting_;
  std::size_t in_flight_ = 0;
  run_counters counters_;
  unsigned concurrency_ = 0;
  bool stopping_ = false;
  bool running_ = false;  ///< inside ctx_.run(): flushes are posted, else done at the end
  bool flush_posted_ = false;
  bool aborted_ = false;
  bool interrupted_ = false;
  std::string abort_reason_;
  std::exception_ptr failure_;
  steady_time start_{};
};

run_loop::run_loop(const plan::plan& p, const run_config& c, result_sink& sink)
    : impl_(std::make_unique<impl>(*this, p, c, sink)) {}
run_loop::~run_loop() = default;

scheduler& run_loop::sched() noexcept { return impl_->sched_; }
const io::origin& run_loop::base() const noexcept { return impl_->api_.base; }
void run_loop::run(phase_source& phases) { impl_->run(phases); }
run_result run_loop::result() { return impl_->result(); }
void run_loop::emit(const io::row_result& r) { impl_->emit(r); }
void run_loop::event(const run_event& e) { impl_->sink_.on_event(e); }
void run_loop::abort(std::string reason) { impl_->abort_run(std::move(reason)); }
void run_loop::output_failed(std::exception_ptr e) { impl_->sink_failed(e); }
bool run_loop::stopping() const { return impl_->stopping_; }
run_counters& run_loop::counters() { return impl_->counters_; }
double run_loop::jitter() { return impl_->api_.jitter->next(); }
wall_time run_loop::wall_now() const { return impl_->clock_.wall_now(); }

}  // namespace relicense::engine::detail
