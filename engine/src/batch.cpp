// Action-batch mode, the pure part: see batch.hpp.
#include "relicense/engine/batch.hpp"

#include "relicense/io/report.hpp"

#include <algorithm>
#include <cmath>

namespace relicense::engine {

nanos poll_delay(const batch_config& c, unsigned polls_done) noexcept {
  const double first = static_cast<double>(c.first_poll.count());
  const double cap = static_cast<double>(c.max_poll.count());
  const double growth = std::max(1.0, c.poll_growth);
  // pow() of a large exponent overflows to inf, which min() then caps: no loop, no UB.
  const double d = std::min(cap, first * std::pow(growth, static_cast<double>(polls_done)));
  return nanos(static_cast<nanos::rep>(std::max(0.0, d)));
}

std::string build_batch_body(std::string_view org_id,
                             const std::vector<batch_action_ref>& actions) {
  std::string out;
  out.reserve(64 + actions.size() * (96 + org_id.size()));
  out += R"({"confirmed":true,"synchronous":false,"actions":[)";
  bool first = true;
  for (const auto& a : actions) {
    if (!first) out += ',';
    first = false;
    std::string resource = "/organizations/";
    resource += org_id;
    resource += "/licenses/";
    resource += a.license_id;
    out += R"({"resource":)";
    io::append_json_string(out, resource);
    out += R"(,"operation":"update","body":{"deviceSerial":)";
    if (a.serial.empty()) {
      out += "null";
    } else {
      io::append_json_string(out, a.serial);
    }
    out += "}}";
  }
  out += "]}";
  return out;
}

bool is_too_many_batches_error(std::string_view api_error) noexcept {
  // The Dashboard's wording: "Too many concurrently executing batches. Please wait for other
  // batches to complete before submitting more." Matched loosely, case-sensitively on its core.
  return api_error.find("concurrently executing batches") != std::string_view::npos ||
         api_error.find("Too many concurrently") != std::string_view::npos;
}

namespace {

bool is_id_char(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
         c == '_';
}

/// `needle` occurs in `text` with no id character right before or after it.
bool contains_token(std::string_view text, std::string_view needle) noexcept {
  if (needle.empty()) return false;
  for (std::size_t pos = text.find(needle); pos != std::string_view::npos;
       pos = text.find(needle, pos + 1)) {
    const bool left_ok = pos == 0 || !is_id_char(text[pos - 1]);
    const std::size_t end = pos + needle.size();
    const bool right_ok = end == text.size() || !is_id_char(text[end]);
    if (left_ok && right_ok) return true;
  }
  return false;
}

}  // namespace

std::vector<std::size_t> suspects_in_errors(const std::vector<batch_action_ref>& actions,
                                            std::string_view errors) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < actions.size(); ++i)
    if (contains_token(errors, actions[i].license_id) || contains_token(errors, actions[i].serial))
      out.push_back(i);
  return out;
}

void org_batches::add_rows(const std::vector<std::size_t>& rows) {
  const std::size_t step = std::max<std::size_t>(1, config_.max_actions);
  for (std::size_t i = 0; i < rows.size(); i += step) {
    batch_job job;
    const std::size_t end = std::min(rows.size(), i + step);
    job.rows.assign(rows.begin() + static_cast<std::ptrdiff_t>(i),
                    rows.begin() + static_cast<std::ptrdiff_t>(end));
    queue_.push_back(std::move(job));
  }
}

void org_batches::add_submitted(std::string id, std::vector<std::size_t> rows) {
  if (rows.empty()) return;
  batch_job job;
  job.id = std::move(id);
  job.rows = std::move(rows);
  submitted_.push_back(std::move(job));
}

std::optional<batch_job> org_batches::take(steady_time now) {
  const unsigned limit = std::max(1u, config_.max_running);
  if (running_ >= limit) return std::nullopt;
  // Batches already submitted only need polls, which the busy holdoff does not concern.
  if (!submitted_.empty()) {
    batch_job job = std::move(submitted_.front());
    submitted_.pop_front();
    ++running_;
    return job;
  }
  if (queue_.empty() || now < hold_until_) return std::nullopt;
  batch_job job = std::move(queue_.front());
  queue_.pop_front();
  ++running_;
  return job;
}

steady_time org_batches::ready_at(steady_time now) const noexcept {
  return std::max(now, hold_until_);
}

void org_batches::release() noexcept {
  if (running_ > 0) --running_;
}

batch_outcome org_batches::on_completed(const batch_job& job) {
  release();
  batch_outcome out;
  out.applied = job.rows;
  return out;
}

batch_outcome org_batches::on_failed(const batch_job& job, std::string_view errors,
                                     const std::vector<batch_action_ref>& actions) {
  release();
  batch_outcome out;
  if (job.rows.size() <= 1) {
    out.failed = job.rows;
    return out;
  }
  ++splits_;
  std::vector<batch_job> parts;
  std::vector<std::size_t> suspects;
  if (config_.use_error_hints && actions.size() == job.rows.size())
    suspects = suspects_in_errors(actions, errors);
  if (!suspects.empty() && suspects.size() < job.rows.size()) {
    // Named rows alone (each learns its own error), the others together.
    batch_job rest;
    rest.generation = job.generation + 1;
    std::size_t s = 0;
    for (std::size_t i = 0; i < job.rows.size(); ++i) {
      if (s < suspects.size() && suspects[s] == i) {
        batch_job alone;
        alone.generation = job.generation + 1;
        alone.rows.push_back(job.rows[i]);
        parts.push_back(std::move(alone));
        ++s;
      } else {
        rest.rows.push_back(job.rows[i]);
      }
    }
    parts.push_back(std::move(rest));
  } else {
    const auto half = static_cast<std::ptrdiff_t>(job.rows.size() / 2);
    batch_job a, b;
    a.generation = b.generation = job.generation + 1;
    a.rows.assign(job.rows.begin(), job.rows.begin() + half);
    b.rows.assign(job.rows.begin() + half, job.rows.end());
    parts.push_back(std::move(a));
    parts.push_back(std::move(b));
  }
  out.resubmitted = job.rows.size();
  // Front of the queue, keeping their order: the failure is resolved before new work starts.
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) queue_.push_front(std::move(*it));
  return out;
}

void org_batches::on_busy(batch_job job, steady_time now) {
  release();
  job.id.clear();
  queue_.push_front(std::move(job));
  const unsigned shift = std::min(busy_streak_, 20u);
  ++busy_streak_;
  nanos wait = config_.busy_retry * (nanos::rep{1} << shift);
  wait = std::min(wait, std::max(config_.max_poll, config_.busy_retry));
  hold_until_ = now + wait;
}

void org_batches::on_abandoned(const batch_job&) noexcept { release(); }

void org_batches::on_lost(batch_job job) {
  release();
  job.id.clear();
  queue_.push_front(std::move(job));
}

void org_batches::observe(nanos elapsed, std::size_t actions, bool first_poll) noexcept {
  if (!config_.learn_duration || actions == 0 || elapsed.count() <= 0) return;
  // Seen at the first poll, the batch may have been done long before: aim earlier next time
  // (first_poll_aim), so the estimate walks down to the real duration instead of sticking to a
  // late guess.
  const double sample = static_cast<double>(elapsed.count()) *
                        (first_poll ? config_.first_poll_aim : 1.0) / static_cast<double>(actions);
  per_action_ns_ = per_action_ns_ == 0 ? sample : 0.5 * per_action_ns_ + 0.5 * sample;
}

nanos org_batches::first_poll_delay(std::size_t actions) const noexcept {
  if (per_action_ns_ == 0 || !config_.learn_duration) return config_.first_poll;
  const double lo = static_cast<double>(config_.first_poll.count()) / 4;
  const double hi = 4 * static_cast<double>(std::max(config_.max_poll, config_.first_poll).count());
  const double d = std::clamp(per_action_ns_ * static_cast<double>(actions), lo, hi);
  return nanos(static_cast<nanos::rep>(d));
}

nanos org_batches::repoll_delay(std::size_t actions, unsigned polls_done) const noexcept {
  batch_config c = config_;
  if (per_action_ns_ != 0 && config_.learn_duration) {
    const double lo = static_cast<double>(config_.first_poll.count()) / 4;
    const double hi = static_cast<double>(config_.first_poll.count());
    c.first_poll = nanos(static_cast<nanos::rep>(
        std::clamp(per_action_ns_ * static_cast<double>(actions) / 4, lo, std::max(lo, hi))));
  }
  return poll_delay(c, polls_done > 0 ? polls_done - 1 : 0);
}

std::vector<std::size_t> org_batches::drain() {
  std::vector<std::size_t> rows;
  for (auto* q : {&submitted_, &queue_}) {
    for (auto& job : *q) rows.insert(rows.end(), job.rows.begin(), job.rows.end());
    q->clear();
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

}  // namespace relicense::engine
