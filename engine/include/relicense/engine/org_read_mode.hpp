// What the modes that read whole organizations share (the inventory read, the live read): the
// organizations read, why the others could not be, and how many go side by side. Sans-I/O: see
// mode.hpp.
#pragma once

#include "relicense/engine/mode.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

namespace relicense::engine {

class org_read_mode : public mode {
public:
  unsigned workers() const override {
    // Each org's calls go one after another; orgs go side by side, up to a few at once.
    return static_cast<unsigned>(std::min<std::size_t>(ctx_.sched.pending(), 8));
  }

  /// Organizations read whole.
  plan::inventories take_inventories() { return std::move(read_); }
  /// Org id -> why it could not be read.
  std::map<std::string, std::string> take_errors() { return std::move(errors_); }

protected:
  /// `base`: the run's API origin (where a next page may point, as a redirect may).
  org_read_mode(const mode_context& ctx, io::origin base) : ctx_(ctx), base_(std::move(base)) {}

  /// Records why `org` could not be read; `fallback` when no reason is known.
  void note_error(std::size_t org, std::string why, const char* fallback) {
    errors_[ctx_.plan.orgs[org]] = why.empty() ? std::string(fallback) : std::move(why);
  }

  mode_context ctx_;
  io::origin base_;
  plan::inventories read_;
  std::map<std::string, std::string> errors_;
};

}  // namespace relicense::engine
