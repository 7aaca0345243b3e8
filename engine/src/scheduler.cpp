#include "relicense/engine/scheduler.hpp"

#include <algorithm>
#include <cmath>

namespace relicense::engine {

double burst_with_headroom(double rate, double burst) {
  if (burst < 2 || rate <= 0) return burst;
  const double headroom = std::max(1.0, std::ceil(rate * 0.05));
  return std::max(1.0, burst - headroom);
}

scheduler::scheduler(std::size_t orgs, const budget_config& budget, steady_time now)
    : ip_(budget.ip_rate, burst_with_headroom(budget.ip_rate, budget.ip_rate), now) {
  orgs_.reserve(orgs);
  for (std::size_t i = 0; i < orgs; ++i)
    orgs_.push_back({token_bucket(budget.rate, burst_with_headroom(budget.rate, budget.burst), now),
                     {},
                     0,
                     {}});
}

void scheduler::push(std::size_t org, task_id t) {
  auto& q = orgs_[org];
  if (q.head == q.fresh.size()) {
    q.fresh.clear();  // reuse the storage once everything queued went out
    q.head = 0;
  }
  q.fresh.push_back(t);
  ++pending_;
}

void scheduler::push_at(std::size_t org, task_id t, steady_time when) {
  auto& q = orgs_[org];
  q.later.push_back({when, seq_++, t});
  std::push_heap(q.later.begin(), q.later.end(), later_first{});
  ++pending_;
}

scheduler::pick scheduler::next(steady_time now) {
  pick p;
  if (pending_ == 0) return p;
  auto earliest = steady_time::max();
  const std::size_t n = orgs_.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t o = (rr_ + k) % n;
    auto& q = orgs_[o];
    if (!q.has_work()) continue;
    const bool delayed_due = !q.later.empty() && q.later.front().due <= now;
    steady_time due = now;
    if (!delayed_due && !q.has_fresh()) due = q.later.front().due;
    const auto at = std::max({due, q.bucket.available_at(now), ip_.available_at(now)});
    if (at > now) {
      earliest = std::min(earliest, at);
      continue;
    }
    q.bucket.try_take(now);
    ip_.try_take(now);
    rr_ = o + 1;
    --pending_;
    p.what = pick::kind::task;
    p.org = o;
    if (delayed_due) {
      std::pop_heap(q.later.begin(), q.later.end(), later_first{});
      p.task = q.later.back().task;
      q.later.pop_back();
    } else {
      p.task = q.fresh[q.head++];
    }
    return p;
  }
  p.what = pick::kind::wait;
  p.at = earliest;
  return p;
}

bool scheduler::try_take(std::size_t org, steady_time now, steady_time& at) {
  auto& b = orgs_[org].bucket;
  at = std::max(b.available_at(now), ip_.available_at(now));
  if (at > now) return false;
  b.try_take(now);
  ip_.try_take(now);
  return true;
}

void scheduler::throttled(std::size_t org, steady_time now, nanos pause) {
  auto& b = orgs_[org].bucket;
  b.pause_until(now, now + pause);
  b.on_throttled(now);
}

void scheduler::succeeded(std::size_t org, steady_time now) { orgs_[org].bucket.on_success(now); }

std::vector<task_id> scheduler::drain(std::size_t org) {
  auto& q = orgs_[org];
  std::vector<task_id> out(q.fresh.begin() + static_cast<std::ptrdiff_t>(q.head), q.fresh.end());
  std::sort_heap(q.later.begin(), q.later.end(), later_first{});
  // sort_heap with a "greater" order leaves the latest first; report the earliest first.
  for (auto it = q.later.rbegin(); it != q.later.rend(); ++it) out.push_back(it->task);
  pending_ -= out.size();
  q.fresh.clear();
  q.head = 0;
  q.later.clear();
  return out;
}

std::vector<task_id> scheduler::drain(std::size_t org, task_id mask, task_id tag) {
  if (mask == 0) return drain(org);
  auto& q = orgs_[org];
  std::vector<task_id> out;
  std::vector<task_id> kept;
  for (std::size_t i = q.head; i < q.fresh.size(); ++i)
    ((q.fresh[i] & mask) == tag ? out : kept).push_back(q.fresh[i]);
  q.fresh = std::move(kept);
  q.head = 0;
  std::sort_heap(q.later.begin(), q.later.end(), later_first{});
  std::vector<delayed> later;
  for (auto it = q.later.rbegin(); it != q.later.rend(); ++it) {
    if ((it->task & mask) == tag) out.push_back(it->task);
    else later.push_back(*it);
  }
  std::make_heap(later.begin(), later.end(), later_first{});
  q.later = std::move(later);
  pending_ -= out.size();
  return out;
}

bool scheduler::has_due(std::size_t org, steady_time now) const noexcept {
  const auto& q = orgs_[org];
  return q.has_fresh() || (!q.later.empty() && q.later.front().due <= now);
}

std::size_t scheduler::pending(std::size_t org) const noexcept {
  const auto& q = orgs_[org];
  return q.fresh.size() - q.head + q.later.size();
}

}  // namespace relicense::engine
