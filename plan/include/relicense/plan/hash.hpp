// FNV-1a, 64-bit: the one hash relicense uses where a value must be reproducible by anyone
// (plan fingerprints, --shard). Chosen over std::hash because std::hash differs between standard
// libraries and versions; FNV-1a is a few lines any runner (shell, Python, Go) can re-implement:
//   h = 0xcbf29ce484222325; for each byte b: h ^= b; h *= 0x100000001b3 (mod 2^64).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace relicense::plan {

/// Incremental FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
class fnv1a64 {
public:
  static constexpr std::uint64_t offset_basis = 0xcbf29ce484222325ULL;
  static constexpr std::uint64_t prime = 0x100000001b3ULL;

  constexpr void update(std::string_view bytes) noexcept {
    for (unsigned char c : bytes) update_byte(c);
  }
  constexpr void update_byte(unsigned char c) noexcept {
    h_ ^= c;
    h_ *= prime;
  }
  constexpr std::uint64_t value() const noexcept { return h_; }

private:
  std::uint64_t h_ = offset_basis;
};

/// FNV-1a 64 of `bytes`.
constexpr std::uint64_t fnv1a64_of(std::string_view bytes) noexcept {
  fnv1a64 h;
  h.update(bytes);
  return h.value();
}

/// 16 lower-case hex digits, most significant first.
std::string to_hex(std::uint64_t v);

}  // namespace relicense::plan
