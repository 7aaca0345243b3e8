#include "relicense/engine/clock.hpp"

namespace relicense::engine {
namespace {

class system_clocks final : public clock_source {
public:
  steady_time now() const override { return std::chrono::steady_clock::now(); }
  wall_time wall_now() const override { return std::chrono::system_clock::now(); }
};

}  // namespace

const clock_source& real_clock() noexcept {
  static const system_clocks c;
  return c;
}

}  // namespace relicense::engine
