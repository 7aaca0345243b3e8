#include "relicense/plan/shard.hpp"
#include "relicense/plan/hash.hpp"

#include <charconv>

namespace relicense::plan {

std::string to_hex(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = digits[v & 0xF];
  return out;
}

namespace {

// Strict decimal: from_chars alone would accept a prefix ("1x") and we want "K/N" only.
std::optional<std::uint32_t> parse_u32(std::string_view s) noexcept {
  if (s.empty() || s.size() > 7) return std::nullopt;
  std::uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<shard_spec> parse_shard(std::string_view text) noexcept {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto k = parse_u32(text.substr(0, slash));
  auto n = parse_u32(text.substr(slash + 1));
  if (!k || !n || *n == 0 || *n > 1'000'000 || *k >= *n) return std::nullopt;
  return shard_spec{*k, *n};
}

std::uint64_t shard_hash(std::string_view org_id) noexcept { return fnv1a64_of(org_id); }

bool in_shard(std::string_view org_id, const shard_spec& spec) noexcept {
  return spec.count <= 1 || shard_hash(org_id) % spec.count == spec.index;
}

std::string to_string(const shard_spec& spec) {
  return std::to_string(spec.index) + "/" + std::to_string(spec.count);
}

}  // namespace relicense::plan
