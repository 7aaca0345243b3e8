#include "relicense/engine/hybrid_mode.hpp"

#include "relicense/engine/row_triage.hpp"

#include <algorithm>
#include <cmath>

namespace relicense::engine {

namespace {

double per_action(const split_state& s, const split_config& c) {
  return s.per_action_s > 0 ? s.per_action_s : c.prior_per_action_s;
}

/// Seconds a batch of `n` actions takes from its POST to the poll that sees it done.
double batch_seconds(double n, double a, const split_config& c) {
  return std::max(n * a, c.min_batch_s) + c.overhead_s;
}

batch_run_options with_first_poll(batch_run_options o, const split_config& c) {
  o.batch.first_poll = std::min(o.batch.first_poll, c.first_poll);
  o.batch.first_poll_aim = std::min(o.batch.first_poll_aim, c.first_poll_aim);
  return o;
}

/// The time T at which both channels together have moved the queue: PUTs at `put_rate` from now,
/// each free slot from now and each running batch's slot from when it frees, at `batch_rate`'s
/// share per slot after a batch's overhead. Rows in running batches are theirs already.
double work_left_s(const split_state& s, const split_config& c, double put_rate,
                   double batch_rate) {
  const double per_slot = batch_rate / std::max(1u, s.slots);
  // The batches' own calls (a POST and its polls per batch) come out of the PUTs' tokens.
  const double batch_calls = s.slots * c.calls_per_batch /
                             batch_seconds(static_cast<double>(c.max_actions), s.per_action_s, c);
  const double puts = std::max(0.0, put_rate - batch_calls);
  const auto running = static_cast<unsigned>(s.busy_s.size());
  const unsigned free = s.slots > running ? s.slots - running : 0;
  const auto moved = [&](double t) {
    double rows = puts * t + free * per_slot * t;
    for (double b : s.busy_s) rows += per_slot * std::max(0.0, t - b - c.overhead_s);
    return rows;
  };
  const auto queued = static_cast<double>(s.queued);
  double lo = 0, hi = 1;
  while (moved(hi) < queued && hi < 1e7) hi *= 2;
  for (int i = 0; i < 50; ++i) {
    const double mid = (lo + hi) / 2;
    (moved(mid) < queued ? lo : hi) = mid;
  }
  return hi;
}

}  // namespace

std::size_t batch_share(const split_state& s, const split_config& c) {
  if (s.queued == 0 || s.put_rate <= 0 || c.max_actions == 0) return 0;
  const double a = per_action(s, c);
  const auto full = static_cast<double>(c.max_actions);
  // Batches move `slots` full batches at a time, and never more than the budget pays for: each
  // costs at least a POST and a poll.
  const double batch_rate =
      std::min(s.slots * full / batch_seconds(full, a, c), s.put_rate / 2 * full);
  const bool balance = puts_pay(s, c);
  const double put_rate = balance && !puts_idle(s, c) ? s.put_rate : 0;
  const double left_s =
      s.per_action_s > 0 ? work_left_s(s, c, put_rate, batch_rate)
                         : static_cast<double>(s.queued + s.in_batches) / (put_rate + batch_rate);
  // The batch ends with the work left, or is the shortest batch there is. When PUTs do not pay
  // (fast batches bound by the budget), every batch costs the same calls whatever its size:
  // full ones.
  const double room_s = std::max(left_s, batch_seconds(0, a, c)) - c.overhead_s;
  const double fits = !balance ? full : a > 0 ? std::floor(room_s / a) : full;
  const double n = std::min({fits, full, static_cast<double>(s.queued)});
  const double put_alone_s = static_cast<double>(s.queued) / s.put_rate;
  // PUTs alone would move the whole queue before such a batch ends.
  if (n >= static_cast<double>(c.min_rows) && batch_seconds(n, a, c) < put_alone_s)
    return static_cast<std::size_t>(n);
  // Nothing learnt and nothing running: a probe of min_rows, when even at the prior speed it
  // ends before the PUTs, so that the speed is learnt at all.
  const auto probe = static_cast<double>(c.min_rows);
  if (s.per_action_s <= 0 && s.in_batches == 0 && static_cast<double>(s.queued) >= probe &&
      batch_seconds(probe, a, c) < put_alone_s)
    return c.min_rows;
  return 0;
}

bool puts_idle(const split_state& s, const split_config& c) {
  if (s.put_rate <= 0 || s.per_action_s <= 0) return false;
  return s.slots / s.per_action_s > c.put_worth * s.put_rate;
}

bool puts_pay(const split_state& s, const split_config& c) {
  if (s.put_rate <= 0) return true;
  const double a = per_action(s, c);
  const double demand = s.slots * 2 / batch_seconds(static_cast<double>(c.max_actions), a, c);
  return demand < s.put_rate * c.batch_budget_share;
}

void hybrid_mode::batch_effects::emit(const io::row_result& r) {
  const auto it = std::find(plan_.orgs.begin(), plan_.orgs.end(), r.org_id);
  if (it != plan_.orgs.end()) {
    auto& n = in_batches_[static_cast<std::size_t>(it - plan_.orgs.begin())];
    if (n > 0) --n;  // rows of an earlier run's batches were never counted in
  }
  fx_.emit(r);
}

hybrid_mode::hybrid_mode(const mode_context& ctx, const batch_run_options& options,
                         split_config split)
    : ctx_(ctx), split_(split), options_(with_first_poll(options, split)),
      in_batches_(ctx.plan.orgs.size()),
      batch_fx_(ctx.fx, ctx.plan, in_batches_), batch_ctx_{ctx.plan,  ctx.config, ctx.sched,
                                                           batch_fx_, ctx.diff,   ctx.refused},
      put_(ctx, {batch_bit, 0}), batch_(batch_ctx_, options_, {batch_bit, batch_bit}),
      queued_(ctx.plan.orgs.size()), speeds_(ctx.plan.orgs.size(), batch_speed(split.speed)) {
  batch_.set_pacer(this);
  split_.max_actions =
      std::min(split_.max_actions, std::max<std::size_t>(1, options.batch.max_actions));
}

void hybrid_mode::start(steady_time now) {
  auto fresh = batch_.start_holding(now);
  for (std::size_t o = 0; o < fresh.size(); ++o)
    queued_[o].assign(fresh[o].begin(), fresh[o].end());
  tick(now);
}

unsigned hybrid_mode::workers() const { return put_.concurrency() + batch_.workers(); }

request hybrid_mode::request_for(std::size_t org, task_id t, steady_time now) {
  return is_batch(t) ? batch_.request_for(org, t, now) : put_.request_for(org, t, now);
}

void hybrid_mode::on_answer(std::size_t org, task_id t, const answer& a,
                            io::response_parser& parser, steady_time now) {
  if (is_batch(t)) batch_.on_answer(org, t, a, parser, now);
  else put_.on_answer(org, t, a, parser, now);
}

nanos hybrid_mode::first_poll(std::size_t org, std::size_t actions) {
  return speeds_[org].first_poll(actions);
}

void hybrid_mode::polled(std::size_t org, std::size_t actions, nanos elapsed, bool done) {
  if (done) speeds_[org].done(elapsed, actions);
  else speeds_[org].running(elapsed, actions);
}

nanos hybrid_mode::next_poll(std::size_t org, std::size_t actions, nanos elapsed) {
  return speeds_[org].next_poll(actions, elapsed);
}

bool hybrid_mode::learning(std::size_t org) const {
  const auto& sp = speeds_[org];
  return !sp.bounded() && sp.lower() < split_.slow_s && batch_.batches(org).running() > 0;
}

double hybrid_mode::reserve(std::size_t org) const {
  const auto& ob = batch_.batches(org);
  const unsigned slots = std::max(1u, batch_.config().max_running);
  // A running batch wants a poll, and its slot a POST once it ends while rows wait. Kept tokens
  // are not lost (the bucket stays below its capacity, and they go to PUTs once no batch runs);
  // a slot waiting on a refill idles for it.
  double r = ob.running() * (queued_[org].empty() ? 1.0 : 2.0);
  if (learning(org) && !queued_[org].empty())
    r += std::min<double>(slots - std::min(slots, ob.running()), split_.learn_reserve);
  const double cap = ctx_.sched.bucket(org).capacity() - 2;
  return std::max(0.0, std::min({r, split_.max_reserve, cap}));
}

std::size_t hybrid_mode::spare_tokens(std::size_t org, steady_time now) const {
  const auto& b = ctx_.sched.bucket(org);
  const auto& ip = ctx_.sched.ip_bucket();
  if (b.available_at(now) > now || ip.available_at(now) > now) return 0;
  constexpr double many = 1e9;
  // The tokens kept for the batches' next calls (reserve) find them at once.
  const double mine = b.unlimited() ? many : std::floor(b.tokens(now)) - reserve(org);
  const double ips = ip.unlimited() ? many : std::floor(ip.tokens(now));
  const double n = std::min(mine, ips);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

split_state hybrid_mode::state_of(std::size_t o, steady_time now) const {
  const auto& sp = speeds_[o];
  const auto& bucket = ctx_.sched.bucket(o);
  split_state s;
  s.queued = queued_[o].size();
  s.in_batches = in_batches_[o];
  s.put_rate = bucket.unlimited() ? 0 : bucket.effective_rate();
  // The per-action time batches are sized by: learnt between the bounds, the prior for an org
  // already known to be slow, 0 (the prior) while nothing is known.
  if (sp.bounded()) s.per_action_s = sp.sizing();
  else if (sp.lower() >= split_.slow_s)
    s.per_action_s = std::max(split_.prior_per_action_s, 2 * sp.lower());
  s.slots = std::max(1u, batch_.config().max_running);
  if (s.per_action_s > 0) {
    for (const auto& b : batch_.running_batches(o)) {
      // Its actions left at the learnt speed; none once a list found it finished. A batch whose
      // POST is not answered yet has all of them ahead.
      const double elapsed =
          b.posted ? std::chrono::duration<double>(now - b.submitted).count() : 0;
      const double left = static_cast<double>(b.actions) * s.per_action_s - elapsed;
      s.busy_s.push_back(b.found_done ? 0 : std::max(0.0, left));
    }
  }
  return s;
}

bool hybrid_mode::puts_held(std::size_t o, steady_time now) const {
  const auto s = state_of(o, now);
  return (!puts_pay(s, split_) || puts_idle(s, split_)) && batch_share(s, split_) > 0;
}

void hybrid_mode::feed(std::size_t o, steady_time now) {
  auto& q = queued_[o];
  const auto& ob = batch_.batches(o);
  const auto& sp = speeds_[o];
  const unsigned slots = std::max(1u, batch_.config().max_running);
  // Batches first: free slots filled one by one, each sized by what the polls of the earlier
  // ones said. While nothing is known, one probe; until its polls say the org is slow or how
  // fast it is, the other slots wait for them.
  while (!q.empty() && ob.queued() == 0 && ob.running() < slots && ob.ready_at(now) <= now) {
    const bool blank = !sp.bounded() && sp.lower() < split_.slow_s;
    if (blank && ob.running() > 0) break;
    std::size_t n = batch_share(state_of(o, now), split_);
    if (blank) n = std::min(n, split_.probe_rows);
    if (n == 0) break;
    std::vector<std::size_t> rows(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(n));
    q.erase(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(n));
    in_batches_[o] += n;
    by_batch_ += n;
    batch_.add_rows(o, rows, now);
  }
  // Then single rows on the tokens no batch call is waiting for, unless batches would spend
  // them better (fast batches, bound by the budget), as long as they take rows at all.
  if (q.empty() || ctx_.sched.has_due(o, now) || puts_held(o, now)) return;
  for (std::size_t k = spare_tokens(o, now); k > 0 && !q.empty(); --k) {
    put_.send(o, static_cast<std::uint32_t>(q.front()));
    q.pop_front();
    ++by_put_;
  }
}

void hybrid_mode::tick(steady_time now) {
  batch_.tick(now);
  if (ctx_.fx.stopping()) return;
  for (std::size_t o = 0; o < queued_.size(); ++o) {
    if (queued_[o].empty()) continue;
    const std::string& why = !put_.condemned(o).empty() ? put_.condemned(o) : batch_.condemned(o);
    if (!why.empty()) {
      drop_queued(o, io::outcome::failed, why + " (not sent)");
      continue;
    }
    feed(o, now);
  }
}

steady_time hybrid_mode::wake_at(steady_time now) const {
  auto at = batch_.wake_at(now);
  if (ctx_.fx.stopping()) return at;
  for (std::size_t o = 0; o < queued_.size(); ++o) {
    // Rows held for the batches wait for a slot, which the batch channel wakes the loop for.
    if (queued_[o].empty() || ctx_.sched.has_due(o, now) || puts_held(o, now)) continue;
    const auto& b = ctx_.sched.bucket(o);
    auto when = std::max(b.available_at(now), ctx_.sched.ip_bucket().available_at(now));
    // A PUT waits for the tokens kept for the running batches' next calls (spare_tokens).
    const double kept = reserve(o);
    if (kept > 0 && !b.unlimited() && b.effective_rate() > 0) {
      const double short_of = std::floor(b.tokens(now)) < 1 + kept ? 1 + kept - b.tokens(now) : 0;
      when = std::max(when, now + std::chrono::duration_cast<nanos>(std::chrono::duration<double>(
                                      short_of / b.effective_rate())));
    }
    // A slot that frees, or a holdoff that ends, wakes the loop through the batch channel; rows
    // the split rule left to PUTs need a token, never sooner than a moment from now.
    at = std::min(at, std::max(when, now + nanos(1)));
  }
  return at;
}

void hybrid_mode::drop_queued(std::size_t o, io::outcome out, const std::string& why) {
  for (auto r : queued_[o]) {
    io::row_result res = result_of(ctx_.plan, ctx_.diff, r, out);
    res.error = why;
    ctx_.fx.emit(res);
  }
  queued_[o].clear();
}

void hybrid_mode::finish_remaining() {
  put_.finish_remaining();
  batch_.finish_remaining();
  for (std::size_t o = 0; o < queued_.size(); ++o) {
    const std::string& why = !put_.condemned(o).empty() ? put_.condemned(o) : batch_.condemned(o);
    if (why.empty()) drop_queued(o, io::outcome::not_attempted, {});
    else drop_queued(o, io::outcome::failed, why + " (not sent)");
  }
}

}  // namespace relicense::engine
