#include "commands.hpp"

namespace relicense::cli {

int run_sim(const sim_options&) { return not_yet("relicense sim", 4); }

} // namespace relicense::cli
