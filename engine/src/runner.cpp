// The public entry points: each composes the phases of a run (an inventory read when the rows'
// mode needs the live state, then the rows' mode) and hands them to the one run loop.
#include "relicense/engine/runner.hpp"

#include "relicense/engine/batch_mode.hpp"
#include "relicense/engine/batch_runner.hpp"
#include "relicense/engine/hybrid_mode.hpp"
#include "relicense/engine/inventory_mode.hpp"
#include "relicense/engine/preflight.hpp"
#include "relicense/engine/put_mode.hpp"

#include "run_loop.hpp"
#include "single_phase.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

namespace relicense::engine {

void run_counters::count(io::outcome o) noexcept {
  switch (o) {
    case io::outcome::applied: ++applied; break;
    case io::outcome::unchanged: ++unchanged; break;
    case io::outcome::failed: ++failed; break;
    case io::outcome::skipped: ++skipped; break;
    case io::outcome::not_attempted: ++not_attempted; break;
  }
}

std::uint64_t run_counters::retries_total() const noexcept {
  std::uint64_t n = 0;
  for (auto r : retries) n += r;
  return n;
}

const char* to_string(run_status s) noexcept {
  switch (s) {
    case run_status::completed: return "completed";
    case run_status::aborted: return "aborted";
    case run_status::interrupted: return "interrupted";
  }
  return "?";
}

unsigned default_concurrency(std::size_t orgs, std::size_t rows, double rate, double ip_rate) {
  constexpr double assumed_latency_s = 2.0;
  double budget = std::numeric_limits<double>::infinity();
  if (rate > 0) budget = rate * static_cast<double>(std::max<std::size_t>(orgs, 1));
  if (ip_rate > 0) budget = std::min(budget, ip_rate);
  double n =
      std::isinf(budget) ? 64.0 : std::clamp(std::ceil(budget * assumed_latency_s), 8.0, 64.0);
  n = std::min(n, static_cast<double>(std::max<std::size_t>(rows, 1)));
  return static_cast<unsigned>(n);
}

namespace detail {
namespace {

/// An inventory read when the rows' mode needs the live state (--skip-unchanged), then the
/// rows' mode, built from what the read learnt.
class apply_phases final : public phase_source {
public:
  using make_mode = std::unique_ptr<mode> (*)(const mode_context&, const void* options);

  apply_phases(const plan::plan& p, const run_config& c, make_mode make, const void* options)
      : plan_(p), config_(c), make_(make), options_(options), refused_(p.orgs.size()) {
    for (std::size_t o = 0; o < p.orgs.size(); ++o) {
      if (auto it = c.refused_orgs.find(p.orgs[o]); it != c.refused_orgs.end())
        refused_[o] = it->second;
    }
  }

  mode* next(run_loop& loop) override {
    if (step_ == 0) {
      step_ = 1;
      if (config_.preflight) {
        preflight_ = std::make_unique<preflight_mode>(context(loop));
        return preflight_.get();
      }
    }
    if (step_ == 1) {
      step_ = 2;
      if (preflight_) learn_from_preflight(loop);
      if (config_.skip_unchanged &&
          config_.inventories) {  // read before the run (apply's question)
        const auto& pre = config_.inventories->refused;
        for (std::size_t o = 0; o < refused_.size() && o < pre.size(); ++o) {
          if (refused_[o].empty()) refused_[o] = pre[o];
        }
        diff_ = plan::diff(plan_, config_.inventories->inventories);
      } else if (config_.skip_unchanged) {
        inventory_ = std::make_unique<inventory_mode>(context(loop), loop.base());
        return inventory_.get();
      }
    }
    if (step_ == 2) {
      step_ = 3;
      if (inventory_) {
        for (std::size_t o = 0; o < refused_.size(); ++o) {
          if (refused_[o].empty()) refused_[o] = inventory_->refused()[o];
        }
        diff_ = plan::diff(plan_, inventory_->take_inventories());
      }
      rows_ = make_(context(loop), options_);
      return rows_.get();
    }
    return nullptr;
  }

  /// Organizations the pre-flight found invisible to the key, with the HTTP status.
  std::vector<std::pair<std::string, unsigned>> invisible;
  /// Organizations it found without per-device licensing, with why.
  std::vector<std::pair<std::string, std::string>> refused;

private:
  mode_context context(run_loop& loop) {
    return {plan_, config_, loop.sched(), loop, diff_, refused_};
  }

  /// An org the key cannot see stops the run before any row is sent; one without per-device
  /// licensing has its rows failed unsent by the modes that follow.
  void learn_from_preflight(run_loop& loop) {
    auto checks = preflight_->take_checks();
    for (std::size_t o = 0; o < plan_.orgs.size(); ++o) {
      auto it = checks.find(plan_.orgs[o]);
      if (it == checks.end()) continue;
      if (!it->second.visible) invisible.emplace_back(it->first, it->second.status);
      else if (auto why = licensing_refusal(it->first, it->second);
               !why.empty() && refused_[o].empty()) {
        refused.emplace_back(it->first, why);
        refused_[o] = std::move(why);
      }
    }
    if (invisible.empty()) return;
    std::string why = "organization " + invisible.front().first + " is not visible to this API key";
    if (invisible.size() > 1) why += " (and " + std::to_string(invisible.size() - 1) + " more)";
    loop.abort(std::move(why));
  }

  const plan::plan& plan_;
  const run_config& config_;
  make_mode make_;
  const void* options_;
  int step_ = 0;
  plan::plan_diff diff_;
  std::vector<std::string> refused_;
  std::unique_ptr<preflight_mode> preflight_;
  std::unique_ptr<inventory_mode> inventory_;
  std::unique_ptr<mode> rows_;
};

std::unique_ptr<mode> make_put(const mode_context& ctx, const void*) {
  return std::make_unique<put_mode>(ctx);
}

std::unique_ptr<mode> make_batch(const mode_context& ctx, const void* options) {
  return std::make_unique<batch_mode>(ctx, *static_cast<const batch_run_options*>(options));
}

std::unique_ptr<mode> make_hybrid(const mode_context& ctx, const void* options) {
  return std::make_unique<hybrid_mode>(ctx, *static_cast<const batch_run_options*>(options));
}

run_result run_rows(const plan::plan& p, const run_config& config, apply_phases::make_mode make,
                    const void* options, result_sink& sink) {
  run_loop loop(p, config, sink);
  apply_phases phases(p, config, make, options);
  loop.run(phases);
  auto r = loop.result();
  r.invisible_orgs = std::move(phases.invisible);
  r.refused_orgs = std::move(phases.refused);
  return r;
}

}  // namespace
}  // namespace detail

run_result run(const plan::plan& p, const run_config& config, result_sink& sink) {
  return detail::run_rows(p, config, detail::make_put, nullptr, sink);
}

run_result run_batches(const plan::plan& p, const run_config& config,
                       const batch_run_options& options, result_sink& sink) {
  return detail::run_rows(p, config, detail::make_batch, &options, sink);
}

run_result run_hybrid(const plan::plan& p, const run_config& config,
                      const batch_run_options& options, result_sink& sink) {
  return detail::run_rows(p, config, detail::make_hybrid, &options, sink);
}

inventory_result fetch_inventories(const plan::plan& p, const run_config& config) {
  inventory_result r;
  detail::run_single<inventory_mode>(
      p, config, r,
      [](const mode_context& ctx, detail::run_loop& loop) {
        return std::make_unique<inventory_mode>(ctx, loop.base());
      },
      [&r](inventory_mode& m) {
        r.inventories = m.take_inventories();
        r.errors = m.take_errors();
        r.refused = m.refused();
      });
  return r;
}

preflight_result preflight_organizations(const std::vector<std::string>& orgs,
                                         const run_config& config) {
  plan::plan p;
  p.orgs = orgs;
  preflight_result r;
  detail::run_single<preflight_mode>(
      p, config, r,
      [](const mode_context& ctx, detail::run_loop&) {
        return std::make_unique<preflight_mode>(ctx);
      },
      [&r](preflight_mode& m) { r.orgs = m.take_checks(); });
  return r;
}

}  // namespace relicense::engine
