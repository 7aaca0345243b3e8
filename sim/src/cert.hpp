// Generates, at start, a throw-away CA and a server certificate it signs, so `--tls` needs no
// files from the user: they pass the CA PEM to --ca-file.
#pragma once

#include <string>

namespace relicense::sim::detail {

struct cert_bundle {
  std::string ca_pem;    ///< the CA certificate (what clients trust)
  std::string cert_pem;  ///< server certificate, signed by the CA
  std::string key_pem;   ///< server private key (PKCS#8)
};

/// A P-256 CA and leaf for `host` (empty: DNS:localhost and IP:127.0.0.1), valid for a week.
/// Throws std::runtime_error when OpenSSL fails.
cert_bundle make_certificates(const std::string& host);

}  // namespace relicense::sim::detail
