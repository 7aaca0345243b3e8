// The organization checks `relicense apply` makes before it sends anything: one
// GET /organizations/{id} per organization with rows to send, so an id the key cannot see stops
// the run before its first PUT, and an organization without per-device licensing fails its rows
// unsent (run_config::refused_orgs). A mode of the run loop (preflight_mode), run on its own.
#pragma once

#include "relicense/engine/mode.hpp"
#include "relicense/engine/runner.hpp"

#include <map>
#include <string>
#include <vector>

namespace relicense::engine {

/// What the API said about one organization.
struct org_check {
  bool visible = true;          ///< false: 404 or 403, the key cannot see it
  unsigned status = 0;          ///< HTTP status of the last answer (0: none)
  std::string licensing_model;  ///< licensing.model when read ("per-device", "co-term", ...)
  std::string error;            ///< the organization could not be read (not fatal): why
};

/// The checks of every organization asked about.
struct preflight_result {
  std::map<std::string, org_check> orgs;      ///< by org id
  run_status status = run_status::completed;  ///< aborted: 401, TLS, unreachable; interrupted
  std::string abort_reason;                   ///< never contains the key
  run_counters counters;                      ///< the GETs sent
};

/// Reads each organization of `orgs` once, inside `config`'s budgets, following redirects and
/// retrying 5xx/429 as any call; SIGINT/SIGTERM interrupt it. Throws std::runtime_error on setup
/// failures (bad base URL, unreadable CA file).
preflight_result preflight_organizations(const std::vector<std::string>& orgs,
                                         const run_config& config);

/// Why an organization's rows cannot be sent: "" when they can (per-device, or the model could not
/// be read and the run will find out), else the explanation its rows fail with.
std::string licensing_refusal(const std::string& org_id, const org_check& check);

/// The pre-flight as a mode: one task per organization of the context's plan.
class preflight_mode final : public mode {
public:
  explicit preflight_mode(const mode_context& ctx);

  void start(steady_time now) override;
  unsigned workers() const override;
  request request_for(std::size_t org, task_id t, steady_time now) override;
  void on_answer(std::size_t org, task_id t, const answer& a, io::response_parser& parser,
                 steady_time now) override;
  void finish_remaining() override;

  std::map<std::string, org_check> take_checks() { return std::move(checks_); }

private:
  mode_context ctx_;
  std::vector<unsigned> attempts_;
  std::map<std::string, org_check> checks_;
};

}  // namespace relicense::engine
