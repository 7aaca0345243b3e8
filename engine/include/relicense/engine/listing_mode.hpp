// A listing: one collection of the API read whole, page by page (ops/listing.hpp), for
// `relicense orgs` and `relicense licenses`. The run's one "organization" is the listing: an
// organization's id for its licenses, a stand-in for GET /organizations. Sans-I/O: see mode.hpp.
#pragma once

#include "relicense/engine/mode.hpp"
#include "relicense/plan/records.hpp"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace relicense::engine {

/// What a listing reads.
struct listing_query {
  enum class of : std::uint8_t { organizations, licenses };
  of what = of::organizations;
  std::string org_id;     ///< licenses: the organization
  std::string serial;     ///< licenses: only that device's ("": all)
  bool keep_raw = false;  ///< keep each object's text as sent (--json)
};

class listing_mode final : public mode {
public:
  /// `ctx.plan` has one organization (the listing's); `base` is the run's API origin (where a
  /// next page may point, as a redirect may).
  listing_mode(const mode_context& ctx, io::origin base, listing_query q);

  void start(steady_time now) override;
  unsigned workers() const override { return 1; }
  request request_for(std::size_t org, task_id t, steady_time now) override;
  void on_answer(std::size_t org, task_id t, const answer& a, io::response_parser& parser,
                 steady_time now) override;
  void finish_remaining() override;

  /// True once every page was read.
  bool complete() const noexcept { return complete_; }
  /// Why the listing is not complete ("" when it is).
  const std::string& error() const noexcept { return error_; }
  /// The records read (empty unless complete).
  std::vector<plan::organization_record> take_organizations() { return std::move(orgs_); }
  std::vector<plan::license_record> take_licenses() { return std::move(licenses_); }

private:
  /// Acts on a page's verdict; its records go to `into`.
  template <class Verdict, class Record>
  void settle(std::size_t org, task_id t, const answer& a, steady_time now, Verdict v,
              std::vector<Record>& into);

  void fail(std::string why);
  /// The abort's text: for an organization's licenses, with what to check about the key.
  std::string abort_text(std::string message, const answer& a) const;

  mode_context ctx_;
  io::origin base_;
  listing_query q_;
  std::optional<url_target> next_;
  std::set<std::string> seen_;  ///< next pages already read: a link back to one ends the listing
  unsigned attempts_ = 0;
  bool finished_ = false;
  bool complete_ = false;
  std::string error_;
  std::vector<plan::organization_record> orgs_;
  std::vector<plan::license_record> licenses_;
};

}  // namespace relicense::engine
