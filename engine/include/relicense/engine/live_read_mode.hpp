// The live read: per organization, its licensing model (GET /organizations/{org}), its full
// license records and its device inventory (both page by page), one call after another; the
// orgs side by side. An org whose model is known and is not per-device is not asked for licenses
// (the license endpoints refuse it); one whose license list answers "no per-device licensing"
// keeps what was read. Either way it gets an inventory with its model, so the live plan can say
// why its rows cannot be planned. Rows are not touched. Sans-I/O: see mode.hpp.
#pragma once

#include "relicense/engine/org_read_mode.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace relicense::engine {

class live_read_mode final : public org_read_mode {
public:
  /// Inventories read whole carry their license records, devices and licensing model.
  live_read_mode(const mode_context& ctx, io::origin base);

  void start(steady_time now) override;
  request request_for(std::size_t org, task_id t, steady_time now) override;
  void on_answer(std::size_t org, task_id t, const answer& a, io::response_parser& parser,
                 steady_time now) override;
  void finish_remaining() override;

private:
  enum class step : std::uint8_t { model, licenses, devices, finished };
  struct cursor {
    step at = step::model;
    std::optional<url_target> next;  ///< the current list's next page; empty: its first page
    unsigned attempts = 0;
    plan::inventory read;
  };

  void fail(std::size_t org, std::string why);
  void finish(std::size_t org);
  /// Moves `org` to `s` (its first page) and queues it.
  void advance(std::size_t org, task_id t, step s);

  std::vector<cursor> cursors_;
};

}  // namespace relicense::engine
