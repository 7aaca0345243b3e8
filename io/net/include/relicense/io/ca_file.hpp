// A --ca-file checked the way the HTTPS client will load it, so that a file it cannot use is
// found before the first request (exit 2) rather than when the first connection is made.
#pragma once

#include <string>

namespace relicense::io {

/// Why OpenSSL cannot load `path` as a file of trusted CA certificates (PEM), or empty when it
/// can. The file must be readable; the OS error is the caller's to report.
std::string ca_file_problem(const std::string& path);

}  // namespace relicense::io
