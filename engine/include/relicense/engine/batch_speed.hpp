// What the polls of an organization's action batches say about their speed, the pure part of
// hybrid mode's learning. A poll that finds a batch of n actions still running t after its POST
// says an action takes more than t / n; one that finds it done says at most t / n. The class
// keeps the tightest of both bounds, sizes batches from the upper one (a batch too long for the
// speed locks rows the put channel would have moved) and times polls between the two, so that
// each poll of a running batch halves the unknown range on a log scale.
#pragma once

#include "relicense/engine/token_bucket.hpp"

#include <chrono>
#include <cstddef>
#include <limits>

namespace relicense::engine {

struct speed_config {
  /// The first poll of the probe (the first batch of an org, while nothing is known): soon, so
  /// that a fast org is known after one poll; each later poll of it multiplies the elapsed time
  /// by `growth`.
  nanos probe_poll = std::chrono::milliseconds(100);
  /// The fastest speed assumed per action (the low end of the range before a poll bounded it).
  double floor_s = 0.001;
  /// The shortest and longest wait between two polls of one batch (each poll costs a call).
  nanos min_gap = std::chrono::milliseconds(50);
  nanos max_gap = std::chrono::seconds(8);
  /// Growth of the elapsed time between polls of a batch when no upper bound helps: for the probe
  /// (at most probe_actions), the bounds it leaves are this far apart; for longer batches, whose
  /// polls cost more than the probe's information is worth, `growth`.
  double probe_growth = 1.5;
  std::size_t probe_actions = 4;
  double growth = 2;
};

class batch_speed {
public:
  static constexpr double unknown = std::numeric_limits<double>::infinity();

  explicit batch_speed(speed_config c = {}) : config_(c) {}

  /// A poll found a batch of `actions` actions still running `elapsed` after its POST.
  void running(nanos elapsed, std::size_t actions) noexcept;
  /// A poll found it done (completed or failed).
  void done(nanos elapsed, std::size_t actions) noexcept;

  /// Seconds per action: more than lower(), at most upper() (unknown: no batch seen done).
  double lower() const noexcept { return lo_; }
  double upper() const noexcept { return hi_; }
  bool bounded() const noexcept { return hi_ < unknown; }
  /// Nothing learnt yet.
  bool blank() const noexcept { return lo_ == 0 && hi_ == unknown; }

  /// The per-action time to size a batch by: between the bounds (geometric mean), the upper one
  /// when nothing ran long enough to bound it from below; 0 while unbounded.
  double sizing() const noexcept;
  /// From the POST to the first poll of a batch of `actions`: probe_poll while blank, else the
  /// geometric mean of the range the batch's duration lies in.
  nanos first_poll(std::size_t actions) const noexcept;
  /// After a poll that found the batch still running `elapsed` after its POST (running() was
  /// told): the wait for the next poll, at the batch's expected end (sizing()) while that is
  /// ahead, else the middle of the range left (or doubling the elapsed time while nothing bounds
  /// it from above), within [min_gap, max_gap].
  nanos next_poll(std::size_t actions, nanos elapsed) const noexcept;

private:
  double guess() const noexcept;

  speed_config config_;
  double lo_ = 0;
  double hi_ = unknown;
};

}  // namespace relicense::engine
