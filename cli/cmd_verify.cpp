#include "commands.hpp"

namespace relicense::cli {

int run_verify(const apply_options&) { return not_yet("relicense verify", 6); }

} // namespace relicense::cli
