// --shard K/N: split a multi-organization plan between N runners by organization, so that two
// machines never share (and overrun) one organization's 10 req/s budget.
//
// The split is reproducible by anyone: an organization id belongs to shard
//   FNV-1a-64(the id's bytes, as written in the CSV) mod N
// (see hash.hpp for FNV-1a), and runner K (0 <= K < N) keeps exactly the orgs of shard K.
// Example: FNV-1a-64("123456") = 0xf6e3ed7e0e67290a, which is 2 mod 4: with --shard K/4 the org
// "123456" is planned by the runner with K = 2 only. In Python:
//   h = 0xcbf29ce484222325
//   for b in org_id.encode(): h = ((h ^ b) * 0x100000001b3) % 2**64
//   shard = h % N
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relicense::plan {

/// This runner's part of the split: keep orgs whose hash mod `count` equals `index`.
struct shard_spec {
  std::uint32_t index = 0;  ///< K, 0-based, < count
  std::uint32_t count = 1;  ///< N, >= 1
};

/// Parses "K/N" (decimal, 0 <= K < N, 1 <= N <= 1'000'000, no spaces); nullopt if malformed.
std::optional<shard_spec> parse_shard(std::string_view text) noexcept;

/// The documented shard hash of an organization id: FNV-1a 64 of its bytes.
std::uint64_t shard_hash(std::string_view org_id) noexcept;

/// True if `org_id` belongs to `spec` (shard_hash(org_id) % N == K).
bool in_shard(std::string_view org_id, const shard_spec& spec) noexcept;

/// "K/N".
std::string to_string(const shard_spec& spec);

}  // namespace relicense::plan
