// The inventory read: every organization's licenses, page by page (ops/license_list.hpp), each
// org's pages one after another, the orgs side by side. Rows are not touched. Sans-I/O: see
// mode.hpp.
#pragma once

#include "relicense/engine/mode.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace relicense::engine {

class inventory_mode final : public mode {
public:
  /// `base`: the run's API origin (where a next page may point, as a redirect may).
  inventory_mode(const mode_context& ctx, io::origin base);

  void start(steady_time now) override;
  unsigned workers() const override;
  request request_for(std::size_t org, task_id t, steady_time now) override;
  void on_answer(std::size_t org, task_id t, const answer& a, io::response_parser& parser,
                 steady_time now) override;
  void finish_remaining() override;

  /// Organizations read whole.
  plan::inventories take_inventories() { return std::move(read_); }
  /// Org id -> why it could not be read.
  std::map<std::string, std::string> take_errors() { return std::move(errors_); }
  /// Per org: why it takes no calls (a co-term org's 400), for the modes that follow.
  const std::vector<std::string>& refused() const noexcept { return refused_; }

private:
  struct cursor {
    std::optional<url_target> next;  ///< the next page's URL; empty: the first page
    unsigned attempts = 0;
    bool finished = false;
    plan::inventory pages;
  };

  void fail(std::size_t org, std::string why);

  mode_context ctx_;
  io::origin base_;
  std::vector<cursor> cursors_;
  plan::inventories read_;
  std::map<std::string, std::string> errors_;
  std::vector<std::string> refused_;
};

}  // namespace relicense::engine
