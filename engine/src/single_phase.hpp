// A run of one mode alone, over a plan of organizations without rows: verify's inventory read,
// the pre-flight, the live read and the discovery listings. The run loop drives it as it drives
// apply's phases (runner.cpp).
#pragma once

#include "run_loop.hpp"

#include <memory>
#include <utility>

namespace relicense::engine::detail {

/// The sink of a run without rows: it never sees a result.
class no_rows final : public result_sink {
public:
  void on_result(const io::row_result&) override {}
};

/// One phase: the mode `make(context, loop)` builds when the loop asks for it.
template <class Mode, class Make>
class single_phase final : public phase_source {
public:
  single_phase(const plan::plan& p, const run_config& c, Make& make)
      : plan_(p), config_(c), make_(make), refused_(p.orgs.size()) {}

  mode* next(run_loop& loop) override {
    if (mode_) return nullptr;
    mode_ = make_(mode_context{plan_, config_, loop.sched(), loop, diff_, refused_}, loop);
    return mode_.get();
  }
  /// Null when the loop stopped before the phase began.
  Mode* mode_used() { return mode_.get(); }

private:
  const plan::plan& plan_;
  const run_config& config_;
  Make& make_;
  plan::plan_diff diff_;
  std::vector<std::string> refused_;
  std::unique_ptr<Mode> mode_;
};

/// Runs the mode `make` builds as the only phase of a run over `p`. `take(mode)` reads what it
/// learnt while the mode is alive (not called when the run stopped before it began); the run's
/// status, abort reason and counters go to `out`.
template <class Mode, class Result, class Make, class Take>
void run_single(const plan::plan& p, const run_config& c, Result& out, Make make, Take take) {
  no_rows sink;
  run_loop loop(p, c, sink);
  single_phase<Mode, Make> phase(p, c, make);
  loop.run(phase);
  if (auto* m = phase.mode_used()) take(*m);
  auto done = loop.result();
  out.status = done.status;
  out.abort_reason = std::move(done.abort_reason);
  out.counters = std::move(done.counters);
}

}  // namespace relicense::engine::detail
