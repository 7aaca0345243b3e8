// The inventory read: every organization's licenses, page by page (ops/license_list.hpp), each
// org's pages one after another, the orgs side by side. Rows are not touched. Sans-I/O: see
// mode.hpp.
#pragma once

#include "relicense/engine/org_read_mode.hpp"

#include <optional>
#include <string>
#include <vector>

namespace relicense::engine {

class inventory_mode final : public org_read_mode {
public:
  inventory_mode(const mode_context& ctx, io::origin base);

  void start(steady_time now) override;
  request request_for(std::size_t org, task_id t, steady_time now) override;
  void on_answer(std::size_t org, task_id t, const answer& a, io::response_parser& parser,
                 steady_time now) override;
  void finish_remaining() override;

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

  std::vector<cursor> cursors_;
  std::vector<std::string> refused_;
};

}  // namespace relicense::engine
