// A plan over the twin's generated organizations, shared by the tests that drive the engine
// against it. Header-only: only targets that link relicense::sim include it.
#pragma once

#include "relicense/plan/plan.hpp"
#include "relicense/sim/server.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace relicense::test {

/// A plan moving the first `per_org` licenses of every org to another of its devices (every 5th
/// unassigned), lines numbered from 2 as under a CSV header.
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
      if (i % 5 != 4 && !o.devices.empty()) {
        r.serial = o.devices[(i * 7 + 3) % o.devices.size()];
        if (o.licenses[i].device_serial == r.serial)
          r.serial = o.devices[(i * 7 + 4) % o.devices.size()];
      }
      p.rows.push_back(std::move(r));
    }
  }
  return p;
}

}  // namespace relicense::test
