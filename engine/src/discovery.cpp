// The discovery reads: one listing_mode, as the only phase of a run over a plan with one
// organization and no rows.
#include "relicense/engine/discovery.hpp"

#include "relicense/engine/listing_mode.hpp"

#include "run_loop.hpp"

#include <memory>

namespace relicense::engine {
namespace detail {
namespace {

class listing_phase final : public phase_source {
public:
  listing_phase(const plan::plan& p, const run_config& c, listing_query q)
      : plan_(p), config_(c), query_(std::move(q)), refused_(p.orgs.size()) {}

  mode* next(run_loop& loop) override {
    if (mode_) return nullptr;
    mode_ = std::make_unique<listing_mode>(
        mode_context{plan_, config_, loop.sched(), loop, diff_, refused_}, loop.base(),
        std::move(query_));
    return mode_.get();
  }
  /// Null when the loop stopped before the phase began.
  listing_mode* mode_used() { return mode_.get(); }

private:
  const plan::plan& plan_;
  const run_config& config_;
  listing_query query_;
  plan::plan_diff diff_;
  std::vector<std::string> refused_;
  std::unique_ptr<listing_mode> mode_;
};

class no_rows final : public result_sink {
public:
  void on_result(const io::row_result&) override {}
};

template <class Record>
listing_result<Record> read_listing(listing_query q, const run_config& config,
                                    std::vector<Record> (listing_mode::*take)()) {
  plan::plan p;
  // The run's one "organization": the scheduler gives the listing its budget.
  p.orgs.push_back(q.what == listing_query::of::licenses ? q.org_id : std::string("organizations"));
  no_rows sink;
  run_loop loop(p, config, sink);
  listing_phase phase(p, config, std::move(q));
  loop.run(phase);
  auto done = loop.result();
  listing_result<Record> r;
  if (auto* m = phase.mode_used()) {
    r.items = (m->*take)();
    r.error = m->error();
  } else {
    r.error = "not read: the run stopped first";
  }
  r.status = done.status;
  r.abort_reason = std::move(done.abort_reason);
  r.counters = std::move(done.counters);
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
