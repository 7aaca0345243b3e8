// What the benchmarks against the twin share: a sink that counts, a plan of license moves, and a
// median with its range.
#pragma once

#include "relicense/engine/runner.hpp"
#include "relicense/sim/server.hpp"

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

/// Up to `per_org` licenses of each org, each moved to another device (every 5th unassigned).
inline plan::plan make_plan(const std::vector<sim::org_info>& orgs, std::size_t per_org) {
  plan::plan p;
  std::uint32_t line = 2;
  for (std::uint32_t oi = 0; oi < orgs.size(); ++oi) {
    const auto& o = orgs[oi];
    p.orgs.push_back(o.id);
    for (std::size_t i = 0; i < per_org && i < o.licenses.size(); ++i) {
      plan::row r;
      r.line = line++;
      r.org = oi;
      r.license_id = o.licenses[i].id;
      if (i % 5 != 4) {
        r.serial = o.devices[(i * 7 + 3) % o.devices.size()];
        if (o.licenses[i].device_serial == r.serial)
          r.serial = o.devices[(i * 7 + 4) % o.devices.size()];
      }
      p.rows.push_back(std::move(r));
    }
  }
  return p;
}

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
