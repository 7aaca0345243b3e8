// RFC 8288 (formerly RFC 5988) Link header parsing, for the Dashboard API's pagination: the next
// page is the link whose rel contains "next"; its URL is opaque and followed as given.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relicense::io {

/// One link-value of a Link header.
struct link_value {
  std::string uri;  ///< the target, as written between < and >
  std::string rel;  ///< the rel parameter, unquoted (may hold several space-separated types)
};

/// Every well-formed link-value of a header; malformed ones are skipped, never fatal.
std::vector<link_value> parse_link_header(std::string_view header);

/// The URI of the link with relation type "next" (case-insensitive), if any.
std::optional<std::string> next_link(std::string_view header);

}  // namespace relicense::io
