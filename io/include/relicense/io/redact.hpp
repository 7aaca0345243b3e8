// Keeps the API key out of anything a human or a file may see: every error message that quotes
// a URL, a header or a server's answer goes through redact() first.
#pragma once

#include <string>
#include <string_view>

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

} // namespace relicense::io
