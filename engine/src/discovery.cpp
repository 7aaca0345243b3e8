// The discovery reads: one listing_mode, as the only phase of a run over a plan with one
// organization and no rows.
#include "relicense/engine/discovery.hpp"

#include "relicense/engine/listing_mode.hpp"

#include "single_phase.hpp"

#include <memory>

namespace relicense::engine {
namespace detail {
namespace {

template <class Record>
listing_result<Record> read_listing(listing_query q, const run_config& config,
                                    std::vector<Record> (listing_mode::*take)()) {
  plan::plan p;
  // The run's one "organization": the scheduler gives the listing its budget.
  p.orgs.push_back(q.what == listing_query::of::licenses ? q.org_id : std::string("organizations"));
  listing_result<Record> r;
  r.error = "not read: the run stopped first";
  run_single<listing_mode>(
      p, config, r,
      [&q](const mode_context& ctx, run_loop& loop) {
        return std::make_unique<listing_mode>(ctx, loop.base(), std::move(q));
      },
      [&](listing_mode& m) {
        r.items = (m.*take)();
        r.error = m.error();
      });
  return r;
}

}  // namespace
}  // namespace detail

listing_result<plan::organization_record> list_organizations(const run_config& config,
                                                             bool keep_raw) {
  listing_query q;
  q.what = listing_query::of::organizations;
  q.keep_raw = keep_raw;
  return detail::read_listing(std::move(q), config, &listing_mode::take_organizations);
}

listing_result<plan::license_record> list_licenses(std::string_view org_id, std::string_view serial,
                                                   const run_config& config, bool keep_raw) {
  listing_query q;
  q.what = listing_query::of::licenses;
  q.org_id = org_id;
  q.serial = serial;
  q.keep_raw = keep_raw;
  return detail::read_listing(std::move(q), config, &listing_mode::take_licenses);
}

}  // namespace relicense::engine
