#include "commands.hpp"

namespace relicense::cli {

int run_apply(const apply_options&) { return not_yet("relicense apply", 5); }

} // namespace relicense::cli
