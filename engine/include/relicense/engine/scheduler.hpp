// Which organization's work goes out next: a pure queue per organization (fresh work in order,
// delayed work by due time) and the budgets it is sent under (each organization's token bucket
// and the source IP's). Time comes in as an argument; no I/O, no Asio. The run loop's workers ask
// next(now) and either get a task, with its tokens already taken, or learn when to ask again.
// Tasks are numbers that only the mode driving the run interprets (a row, a batch, a page).
// See docs/budget.md for the budget model.
#pragma once

#include "relicense/engine/token_bucket.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace relicense::engine {

using task_id = std::uint32_t;

/// Our bucket holds a little less than the server's. The server counts a request when it
/// arrives, we when we send it: a request that travels faster than the run's first one did
/// reaches a bucket that has refilled less than ours (a server's full bucket cannot bank refill),
/// and with buckets mirrored exactly that is a 429 costing a whole Retry-After second for every
/// worker. Connections are opened before tokens are taken, which removes the big difference
/// (set-up of the first connections); the rest is latency jitter, tolerated up to 50 ms:
/// max(1, ⌈rate × 50 ms⌉) tokens (1 of the real API's 10), i.e. 50-100 ms of one run.
double burst_with_headroom(double rate, double burst);

/// The budgets of a run.
struct budget_config {
  double rate = 10;      ///< per-organization requests/s (0: unlimited)
  double burst = 10;     ///< per-organization bucket capacity
  double ip_rate = 100;  ///< per-source-IP requests/s (0: unlimited)
};

class scheduler {
public:
  scheduler(std::size_t orgs, const budget_config& budget, steady_time now);

  /// Work to send as soon as the budget allows, after the org's earlier fresh work.
  void push(std::size_t org, task_id t);
  /// Work to send at `when` or later (a retry, a poll). Due delayed work goes before fresh work.
  void push_at(std::size_t org, task_id t, steady_time when);

  /// What next(now) found.
  struct pick {
    enum class kind : std::uint8_t {
      task,  ///< send `task` of `org` now: its org and IP tokens are taken
      wait,  ///< nothing may go before `at` (a token, or delayed work, becomes due)
      idle   ///< nothing queued
    };
    kind what = kind::idle;
    std::size_t org = 0;
    task_id task = 0;
    steady_time at{};
  };

  /// The next task any organization may send at `now`. Organizations are served round-robin from
  /// the one after the last served, so one org's empty bucket never holds back another's work;
  /// a task goes only when both its org's bucket and the IP's have a token, taken together, so
  /// nothing holds an IP token while it waits for its org.
  pick next(steady_time now);

  /// One more call for a task already held (a redirect hop): takes a token of `org` and of the
  /// IP when both have one at `now` (true); else says when both will (in `at`).
  bool try_take(std::size_t org, steady_time now, steady_time& at);

  /// A 429 with Retry-After for `org`: its budget is spent (maybe by other applications), so no
  /// request of the org leaves for `pause`, and its rate drops until successes restore it.
  void throttled(std::size_t org, steady_time now, nanos pause);
  /// An answer that went through for `org`.
  void succeeded(std::size_t org, steady_time now);

  /// Removes and returns every task queued for `org`: fresh ones in order, then delayed ones.
  std::vector<task_id> drain(std::size_t org);
  /// The same for the tasks t with (t & mask) == tag only (one channel of a mode that runs two);
  /// the others stay queued in their order.
  std::vector<task_id> drain(std::size_t org, task_id mask, task_id tag);
  /// True when `org` has work that may go at `now` (fresh, or delayed and due), budget aside.
  bool has_due(std::size_t org, steady_time now) const noexcept;

  std::size_t orgs() const noexcept { return orgs_.size(); }
  /// Tasks queued (fresh and delayed) in every org.
  std::size_t pending() const noexcept { return pending_; }
  std::size_t pending(std::size_t org) const noexcept;
  const token_bucket& bucket(std::size_t org) const { return orgs_[org].bucket; }
  const token_bucket& ip_bucket() const noexcept { return ip_; }

private:
  struct delayed {
    steady_time due;
    std::uint64_t seq;  ///< FIFO among equal due times
    task_id task;
  };
  struct later_first {
    bool operator()(const delayed& a, const delayed& b) const noexcept {
      return a.due != b.due ? a.due > b.due : a.seq > b.seq;
    }
  };
  struct org_queue {
    token_bucket bucket;
    std::vector<task_id> fresh;
    std::size_t head = 0;
    std::vector<delayed> later;  ///< min-heap on (due, seq)
    bool has_fresh() const noexcept { return head < fresh.size(); }
    bool has_work() const noexcept { return has_fresh() || !later.empty(); }
  };

  std::vector<org_queue> orgs_;
  token_bucket ip_;
  std::size_t rr_ = 0;
  std::size_t pending_ = 0;
  std::uint64_t seq_ = 0;
};

}  // namespace relicense::engine
