// Put mode: one license PUT per row (ops/license_put.hpp), rows queued per organization in plan
// order, retries queued by due time. Sans-I/O: see mode.hpp.
#pragma once

#include "relicense/engine/mode.hpp"
#include "relicense/engine/slot_pool.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace relicense::engine {

class put_mode final : public mode {
public:
  explicit put_mode(const mode_context& ctx, task_channel channel = {});

  void start(steady_time now) override;
  unsigned workers() const override;
  unsigned concurrency() const override { return concurrency_; }
  request request_for(std::size_t org, task_id t, steady_time now) override;
  void on_answer(std::size_t org, task_id t, const answer& a, io::response_parser& parser,
                 steady_time now) override;
  void finish_remaining() override;

  /// Queues row `row` of `org` (a mode that hands rows out itself, instead of start()).
  void send(std::size_t org, std::uint32_t row);
  /// Why `org` takes no more calls ("" while it does).
  const std::string& condemned(std::size_t org) const { return condemned_[org]; }

private:
  /// A row sent at least once: what its requests produced so far.
  struct job {
    std::uint32_t row = 0;
    unsigned attempts = 0;  ///< requests counted by the retry policy
    unsigned requests = 0;  ///< every request sent for the row (report's attempts)
    unsigned last_status = 0;
    double last_latency_ms = 0;
    std::string last_error;
    std::string last_request_id;  ///< of the last answer that did not apply the row
    std::string last_host;        ///< that answered it
  };

  /// Task ids: a row index for a row never sent, or `retry_bit | slot` for a row waiting to be
  /// sent again (its job in slots_). Only retried rows hold a job between requests.
  static constexpr task_id retry_bit = task_id{1} << 31;

  job take_job(task_id t);
  void finish(const job& j, io::outcome o, std::string error = {}, std::string state = {});
  void condemn(std::size_t org, std::string reason);
  void note_answer(job& j, const answer& a);

  mode_context ctx_;
  task_channel channel_;
  unsigned concurrency_ = 1;
  slot_pool<job> slots_;
  std::vector<std::string> condemned_;  ///< per org: why it takes no more calls
};

}  // namespace relicense::engine
