// CA file check with the same OpenSSL call the client's TLS context makes (load_verify_file is
// X509_STORE_load_locations on the context's store); no Asio here.
#include "relicense/io/ca_file.hpp"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include <memory>

namespace relicense::io {

std::string ca_file_problem(const std::string& path) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), &X509_STORE_free);
  if (!store) return "out of memory";
  ERR_clear_error();
  if (X509_STORE_load_locations(store.get(), path.c_str(), nullptr) == 1) return {};
  const unsigned long e = ERR_peek_last_error();
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return "no usable PEM certificate in it (" + std::string(reason ? reason : "unknown error") + ")";
}

}  // namespace relicense::io
