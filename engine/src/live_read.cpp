// The live read composed for the run loop: the live_read_mode as the only phase of a run over a
// plan that has the organizations and no rows.
#include "relicense/engine/live_read.hpp"

#include "relicense/engine/live_read_mode.hpp"

#include "single_phase.hpp"

#include <memory>

namespace relicense::engine {

live_read_result read_live(const std::vector<std::string>& orgs, const run_config& config) {
  plan::plan p;
  p.orgs = orgs;
  live_read_result r;
  detail::run_single<live_read_mode>(
      p, config, r,
      [](const mode_context& ctx, detail::run_loop& loop) {
        return std::make_unique<live_read_mode>(ctx, loop.base());
      },
      [&r](live_read_mode& m) {
        r.inventories = m.take_inventories();
        r.errors = m.take_errors();
      });
  return r;
}

}  // namespace relicense::engine
