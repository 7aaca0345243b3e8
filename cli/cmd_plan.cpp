#include "commands.hpp"

namespace relicense::cli {

int run_plan(const plan_options&) { return not_yet("relicense plan", 3); }

} // namespace relicense::cli
