// What the benchmarks against the twin share: a sink that counts, the tests' plan of license
// moves, and a median with its range.
#pragma once

#include "relicense/engine/runner.hpp"
#include "relicense/sim/server.hpp"
#include "relicense/test/twin_plan.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace relicense::bench {

/// Counts the rows applied (and of those, by an action batch) and the others.
class counting_sink final : public engine::result_sink {
public:
  std::size_t applied = 0, by_batch = 0, other = 0;
  void on_result(const io::row_result& r) override {
    (r.result == io::outcome::applied ? applied : other) += 1;
    if (!r.batch_id.empty()) ++by_batch;
  }
};

/// The tests' plan of moves over the twin's organizations (relicense/test/twin_plan.hpp).
using test::make_plan;

/// The same for one organization.
inline plan::plan make_plan(const sim::org_info& o, std::size_t n) {
  return make_plan(std::vector<sim::org_info>{o}, n);
}

struct stats3 {
  double median = 0, min = 0, max = 0;
};

/// The median of `v` (the upper one of an even count) with its min and max.
inline stats3 summarize(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

}  // namespace relicense::bench
