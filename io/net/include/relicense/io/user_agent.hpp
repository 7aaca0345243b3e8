// The User-Agent of every request. Meraki asks each integration to name itself as
// `ApplicationName/Version VendorName` and shows that string in the organization's API request
// history, so an admin can tell one tool's calls from another's. An operator who runs relicense
// from their own tooling adds that tooling's name with --caller, in the form the official Python
// SDK uses for its `caller` setting: `<ours> Caller/(<theirs>)`.
#pragma once

#include <string>
#include <string_view>

namespace relicense::io {

/// This build's version (CMake's project(VERSION)); `relicense --version` prints the same string.
const char* relicense_version() noexcept;

/// The vendor token of relicense's own User-Agent.
inline constexpr std::string_view user_agent_vendor = "relicense-project";

/// Why `caller` is not of the form `Name/Version Vendor` (e.g. "AcmeMigrate/2.0 Acme"), or empty
/// when it is. Name and vendor are letters, digits (and '-' in the vendor); the version is
/// dot-separated letters and digits with an optional "-suffix". The grammar also keeps CR, LF and
/// other bytes that could split a header out of the request.
std::string caller_problem(std::string_view caller);

/// `relicense/<version> relicense-project`, followed by ` Caller/(<caller>)` when `caller` is not
/// empty. Throws std::invalid_argument when `caller` is not valid (callers check it first).
std::string user_agent(std::string_view caller = {});

}  // namespace relicense::io
