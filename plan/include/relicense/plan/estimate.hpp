// How long a plan takes at a given API budget, before sending anything (`relicense plan`'s
// summary; the engine and the batch mode may show it too).
//
// Model, put mode: each org has a token bucket (rate r/s, `burst` tokens available at start, so
// at most burst + 2r calls in the first 2 s, as the Dashboard documents), orgs run in parallel,
// and all calls share the per-IP rate. One call per row, so the run lasts at least
//   max( max over orgs (n_org - burst) / r ,  total / ip_rate ).
// A scheduler that never idles an org with work reaches that bound, up to latency; retries
// (429s from other applications sharing the org, 5xx) and inventory GETs come on top.
//
// Batch mode: rows are packed into action batches of 100 actions; each batch costs one POST and
// a few status polls, and an org runs at most 5 batches at a time, each taking the dashboard a
// few seconds. The estimate is the larger of the call bound above (with those calls) and the
// batch-concurrency bound ceil(batches / 5) * seconds_per_batch.
//
// Auto mode: both at once (estimate_auto).
#pragma once

#include "relicense/plan/plan.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace relicense::plan {

/// The API call budget (defaults: Dashboard API v1).
struct budget {
  double org_rate = 10;   ///< calls per second per organization
  double org_burst = 10;  ///< calls available at once at the start, per organization
  double ip_rate = 100;   ///< calls per second for the whole run (one source IP)
};

/// Assumptions of batch mode.
struct batch_model {
  std::uint32_t actions_per_batch = 100;         ///< API maximum for asynchronous batches
  double polls_per_batch = 2;                    ///< status GETs until completed/failed
  double seconds_per_batch = 3;                  ///< dashboard-side processing of one batch
  std::uint32_t concurrent_batches_per_org = 5;  ///< API maximum of running batches per org
};

/// An estimate.
struct estimate {
  double seconds = 0;          ///< lower bound of the wall time
  std::uint64_t requests = 0;  ///< API calls it takes (no retries)
  bool ip_bound = false;       ///< true if the per-IP rate, not the per-org buckets, sets the pace
};

/// Rows per organization, indexed like plan::orgs.
std::vector<std::uint64_t> rows_per_org(const plan& p);

/// Put mode: one PUT per row.
estimate estimate_put(const std::vector<std::uint64_t>& rows_per_org, const budget& b = {});

/// Batch mode: action batches of m.actions_per_batch rows.
estimate estimate_batch(const std::vector<std::uint64_t>& rows_per_org, const budget& b = {},
                        const batch_model& m = {});

/// Auto mode: batches and PUTs at once in each org's budget. Batches take what their calls leave
/// of the org's rate, PUTs the rest, and both end together: an org of n rows lasts
/// n / (put rows/s + batch rows/s), never more than put or batch mode alone, nor less than the
/// per-IP bound of the calls it makes.
estimate estimate_auto(const std::vector<std::uint64_t>& rows_per_org, const budget& b = {},
                       const batch_model& m = {});

/// "0s", "<1s", "42s", "3m 05s", "2h 07m 00s", "3d 04h 10m".
std::string format_duration(double seconds);

}  // namespace relicense::plan
