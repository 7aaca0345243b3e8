// A recording run around a mode, for the fake-clock tests of the modes: the scheduler is real,
// the effects are recorded, and answers are built by hand.
#pragma once

#include "relicense/engine/mode.hpp"
#include "relicense/test/fake_clock.hpp"

#include <string>
#include <vector>

namespace relicense::test {

class recording_effects final : public engine::run_effects {
public:
  void emit(const io::row_result& r) override { results.push_back(r); }
  void event(const engine::run_event& e) override { events.push_back(e.what); }
  void abort(std::string reason) override {
    aborts.push_back(std::move(reason));
    stop = true;
  }
  void output_failed(std::exception_ptr) override { stop = true; }
  bool stopping() const override { return stop; }
  engine::run_counters& counters() override { return counts; }
  double jitter() override { return 0.5; }
  engine::wall_time wall_now() const override {
    return engine::wall_time{} + std::chrono::hours(500000);
  }

  const io::row_result* result_of_line(std::uint32_t line) const {
    for (const auto& r : results)
      if (r.line == line) return &r;
    return nullptr;
  }

  std::vector<io::row_result> results;
  std::vector<engine::run_event::kind> events;
  std::vector<std::string> aborts;
  engine::run_counters counts;
  bool stop = false;
};

inline engine::answer json_answer(unsigned status, std::string body) {
  engine::answer a;
  a.resp.status = status;
  a.resp.content_type = "application/json";
  a.resp.body = std::move(body);
  a.host = "api.test";
  a.resp.request_id = "req-1";
  return a;
}

/// A plan of `rows` rows per organization; row k of org o is license "L<o>-<k>" to "Q<o>-<k>".
inline plan::plan make_plan(std::size_t orgs, std::size_t rows) {
  plan::plan p;
  std::uint32_t line = 2;
  for (std::size_t o = 0; o < orgs; ++o) p.orgs.push_back(std::to_string(100 + o));
  for (std::size_t k = 0; k < rows; ++k)
    for (std::size_t o = 0; o < orgs; ++o) {
      plan::row r;
      r.line = line++;
      r.org = static_cast<std::uint32_t>(o);
      r.license_id = "L" + std::to_string(o) + "-" + std::to_string(k);
      r.serial = "Q" + std::to_string(o) + "-" + std::to_string(k);
      p.rows.push_back(r);
    }
  return p;
}

inline std::string license_json(const plan::row& r) {
  return R"({"id":")" + r.license_id + R"(","deviceSerial":")" + r.serial +
         R"(","state":"active"})";
}

/// An action batch's JSON as the API returns it.
inline std::string batch_json(const std::string& id, bool completed, bool failed,
                              const std::string& errors = "") {
  return R"({"id":")" + id + R"(","confirmed":true,"status":{"completed":)" +
         (completed ? "true" : "false") + R"(,"failed":)" + (failed ? "true" : "false") +
         R"(,"errors":[)" + (errors.empty() ? std::string() : "\"" + errors + "\"") + "]}}";
}

/// Everything a mode needs, with a real scheduler on a fake clock.
struct mode_rig {
  explicit mode_rig(plan::plan p, engine::budget_config budget = {0, 0, 0})
      : plan(std::move(p)), refused(plan.orgs.size()),
        sched(plan.orgs.size(), budget, clock.now()) {}

  engine::mode_context context() { return {plan, config, sched, fx, diff, refused}; }

  plan::plan plan;
  engine::run_config config;
  plan::plan_diff diff;
  std::vector<std::string> refused;
  fake_clock clock;
  engine::scheduler sched;
  recording_effects fx;
  io::response_parser parser;
};

}  // namespace relicense::test
