// The live read composed for the run loop: one phase, the live_read_mode, over a plan that has
// the organizations and no rows.
#include "relicense/engine/live_read.hpp"

#include "relicense/engine/live_read_mode.hpp"

#include "run_loop.hpp"

#include <memory>

namespace relicense::engine {

namespace {

class live_read_phase final : public detail::phase_source {
public:
  live_read_phase(const plan::plan& p, const run_config& c)
      : plan_(p), config_(c), refused_(p.orgs.size()) {}

  mode* next(detail::run_loop& loop) override {
    if (mode_) return nullptr;
    mode_ = std::make_unique<live_read_mode>(
        mode_context{plan_, config_, loop.sched(), loop, diff_, refused_}, loop.base());
    return mode_.get();
  }
  live_read_mode& read() { return *mode_; }

private:
  const plan::plan& plan_;
  const run_config& config_;
  plan::plan_diff diff_;
  std::vector<std::string> refused_;
  std::unique_ptr<live_read_mode> mode_;
};

class no_rows final : public result_sink {
public:
  void on_result(const io::row_result&) override {}
};

}  // namespace

live_read_result read_live(const std::vector<std::string>& orgs, const run_config& config) {
  plan::plan p;
  p.orgs = orgs;
  no_rows sink;
  detail::run_loop loop(p, config, sink);
  live_read_phase phase(p, config);
  loop.run(phase);
  auto done = loop.result();
  live_read_result r;
  if (!orgs.empty()) {
    r.inventories = phase.read().take_inventories();
    r.errors = phase.read().take_errors();
  }
  r.status = done.status;
  r.abort_reason = std::move(done.abort_reason);
  r.counters = std::move(done.counters);
  return r;
}

}  // namespace relicense::engine
