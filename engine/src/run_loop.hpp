// The run loop: the one driver of every mode (put, batch, inventory read). It owns what a run
// does around its modes: the io_context, signals, stop and drain, the workers and their
// keep-alive connections, sending each request inside the budget and following allowed redirects,
// result emission, sink flushing and the run's result. A mode only decides (mode.hpp). Asio lives
// in run_loop.cpp alone; see docs/coroutines.md for the rules its coroutines follow.
#pragma once

#include "relicense/engine/mode.hpp"
#include "relicense/engine/runner.hpp"
#include "relicense/engine/scheduler.hpp"

#include <memory>

namespace relicense::engine::detail {

class run_loop;

/// The modes of one run, in order (an inventory read, then the rows' mode, ...). next() is called
/// on the loop's thread after the previous mode finished; nullptr ends the run.
class phase_source {
public:
  virtual ~phase_source() = default;
  virtual mode* next(run_loop& loop) = 0;
};

class run_loop final : public run_effects {
public:
  /// Throws std::runtime_error for an invalid base URL, a proxy that cannot be used, or an
  /// unreadable CA file.
  run_loop(const plan::plan& p, const run_config& c, result_sink& sink);
  ~run_loop() override;

  scheduler& sched() noexcept;
  /// The run's API origin.
  const io::origin& base() const noexcept;

  /// Runs every phase on the calling thread until each has finished or the run stopped; then
  /// flushes the sink. Rethrows the sink's first failure once every row has its result.
  void run(phase_source& phases);
  run_result result();

  void emit(const io::row_result& r) override;
  void event(const run_event& e) override;
  void abort(std::string reason) override;
  void output_failed(std::exception_ptr e) override;
  bool stopping() const override;
  run_counters& counters() override;
  double jitter() override;
  wall_time wall_now() const override;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace relicense::engine::detail
