#include "relicense/plan/estimate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace relicense::plan {

std::vector<std::uint64_t> rows_per_org(const plan& p) {
  std::vector<std::uint64_t> n(p.orgs.size(), 0);
  for (const row& r : p.rows)
    if (r.org < n.size()) ++n[r.org];
  return n;
}

namespace {

// The call bound of estimate.hpp's model for `calls[i]` calls in org i.
estimate call_bound(const std::vector<double>& calls, const budget& b) {
  estimate e;
  double total = 0, org_bound = 0;
  for (double n : calls) {
    total += n;
    if (b.org_rate > 0 && n > b.org_burst)
      org_bound = std::max(org_bound, (n - b.org_burst) / b.org_rate);
  }
  double ip_bound = b.ip_rate > 0 ? total / b.ip_rate : 0;
  e.seconds = std::max(org_bound, ip_bound);
  e.ip_bound = ip_bound > org_bound;
  e.requests = static_cast<std::uint64_t>(std::llround(total));
  return e;
}

}  // namespace

estimate estimate_put(const std::vector<std::uint64_t>& rows, const budget& b) {
  std::vector<double> calls(rows.begin(), rows.end());
  return call_bound(calls, b);
}

estimate estimate_batch(const std::vector<std::uint64_t>& rows, const budget& b,
                        const batch_model& m) {
  const std::uint64_t per_batch = std::max<std::uint32_t>(m.actions_per_batch, 1);
  const std::uint64_t parallel = std::max<std::uint32_t>(m.concurrent_batches_per_org, 1);
  std::vector<double> calls;
  calls.reserve(rows.size());
  double concurrency_bound = 0;
  for (std::uint64_t n : rows) {
    const std::uint64_t batches = (n + per_batch - 1) / per_batch;
    calls.push_back(static_cast<double>(batches) * (1 + m.polls_per_batch));
    const std::uint64_t waves = (batches + parallel - 1) / parallel;
    concurrency_bound =
        std::max(concurrency_bound, static_cast<double>(waves) * m.seconds_per_batch);
  }
  estimate e = call_bound(calls, b);
  if (concurrency_bound > e.seconds) {
    e.seconds = concurrency_bound;
    e.ip_bound = false;
  }
  return e;
}

estimate estimate_auto(const std::vector<std::uint64_t>& rows, const budget& b,
                       const batch_model& m) {
  const auto put = estimate_put(rows, b);
  const auto batch = estimate_batch(rows, b, m);
  const double per_batch = std::max<std::uint32_t>(m.actions_per_batch, 1);
  const double parallel = std::max<std::uint32_t>(m.concurrent_batches_per_org, 1);
  const double batch_s = std::max(m.seconds_per_batch, 1e-3);
  estimate e;
  double seconds = 0;
  double calls = 0;
  for (std::uint64_t n : rows) {
    if (n == 0) continue;
    // Batches run `parallel` at a time, as long as the org's rate pays their calls.
    double batch_calls = parallel * (1 + m.polls_per_batch) / batch_s;
    if (b.org_rate > 0) batch_calls = std::min(batch_calls, b.org_rate);
    const double batch_rows = batch_calls / (1 + m.polls_per_batch) * per_batch;
    const double put_rows = b.org_rate > 0 ? b.org_rate - batch_calls : 0;
    const double t = b.org_rate > 0 ? static_cast<double>(n) / (put_rows + batch_rows) : 0;
    seconds = std::max(seconds, t);
    calls += std::min(t * put_rows, static_cast<double>(n));
    calls += std::ceil(std::max(0.0, static_cast<double>(n) - t * put_rows) / per_batch) *
             (1 + m.polls_per_batch);
  }
  if (b.ip_rate > 0) seconds = std::max(seconds, calls / b.ip_rate);
  e.seconds = std::min({seconds, put.seconds, batch.seconds});
  e.requests = static_cast<std::uint64_t>(calls);
  e.ip_bound = b.ip_rate > 0 && calls / b.ip_rate >= e.seconds && e.seconds > 0;
  return e;
}

std::string format_duration(double seconds) {
  if (!(seconds > 0)) return "0s";
  if (seconds < 1) return "<1s";
  auto s = static_cast<std::uint64_t>(std::ceil(seconds));
  char buf[64];
  const std::uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
  if (d > 0)
    std::snprintf(buf, sizeof buf, "%llud %02lluh %02llum", static_cast<unsigned long long>(d),
                  static_cast<unsigned long long>(h), static_cast<unsigned long long>(m));
  else if (h > 0)
    std::snprintf(buf, sizeof buf, "%lluh %02llum %02llus", static_cast<unsigned long long>(h),
                  static_cast<unsigned long long>(m), static_cast<unsigned long long>(sec));
  else if (m > 0)
    std::snprintf(buf, sizeof buf, "%llum %02llus", static_cast<unsigned long long>(m),
                  static_cast<unsigned long long>(sec));
  else std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(sec));
  return buf;
}

}  // namespace relicense::plan
