#include "commands.hpp"

namespace relicense::cli {

int run_rollback(const rollback_options&) { return not_yet("relicense rollback", 6); }

} // namespace relicense::cli
