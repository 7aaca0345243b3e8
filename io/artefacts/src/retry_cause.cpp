#include "relicense/io/retry_cause.hpp"

namespace relicense::io {

const char* to_string(retry_cause c) noexcept {
  switch (c) {
    case retry_cause::server_error: return "server_error";
    case retry_cause::throttled: return "throttled";
    case retry_cause::throttled_ip: return "throttled_ip";
    case retry_cause::timeout: return "timeout";
    case retry_cause::reset: return "reset";
    case retry_cause::truncated: return "truncated";
    case retry_cause::connect: return "connect";
    case retry_cause::count: break;
  }
  return "?";
}

}  // namespace relicense::io
