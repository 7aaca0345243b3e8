#include "commands.hpp"

namespace relicense::cli {

int run_demo() { return not_yet("relicense demo", 5); }

} // namespace relicense::cli
