// Keeps the API key out of anything a human or a file may see: every error message that quotes
// a URL, a header or a server's answer goes through redact() first.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace relicense::io {

/// What replaces a removed secret.
inline constexpr std::string_view redacted_marker = "[REDACTED]";

/// Returns `text` with:
/// - every occurrence of `secret` (when non-empty) replaced,
/// - the values of `Authorization:` and `X-Cisco-Meraki-API-Key:` header lines replaced,
/// - the token after `Bearer ` replaced,
/// - URL user-info (`scheme://user:pass@`) and key-like query parameters (key, api_key, apikey,
///   token, access_token, password) replaced.
std::string redact(std::string_view text, std::string_view secret = {});

/// Replaces every occurrence of `secret` (when non-empty) in `text` with the marker, in place.
/// Costs one memmem scan and allocates nothing when `secret` is absent. True when it replaced.
bool redact_in_place(std::string& text, std::string_view secret);

/// The exact texts a run must never write anywhere: the API key, its "Bearer <key>" header value,
/// proxy credentials. The transport holds one list per run and scrubs every piece of text a
/// response brings (body, headers it keeps, error detail) before anyone reads it, so no caller
/// has to remember to redact what a server or a proxy echoes back.
class secret_list {
public:
  /// Adds a secret; empty strings and duplicates are ignored, and so is a secret containing one
  /// already listed ("Bearer <key>" after the key: the key's replacement covers it). Text around
  /// a secret stays ("Bearer [REDACTED]").
  void add(std::string_view secret);

  bool empty() const noexcept { return items_.empty(); }
  /// Whether `secret` is one of the listed texts.
  bool contains(std::string_view secret) const noexcept;
  const std::vector<std::string>& items() const noexcept { return items_; }

  /// Replaces every secret in `text`, in place; allocates nothing when none is there. True when
  /// it replaced something.
  bool scrub(std::string& text) const;

  /// A scrubbed copy of `text`.
  std::string scrubbed(std::string_view text) const;

private:
  std::vector<std::string> items_;
};

}  // namespace relicense::io
