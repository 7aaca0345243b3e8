// What `relicense orgs` and `relicense licenses` share: their options' checks, the run's settings,
// and the end of a listing (printed, or why not, as an exit code).
#pragma once

#include "commands.hpp"

#include "relicense/engine/discovery.hpp"

#include <string>

namespace relicense::cli {

/// Checks the connection options and the key (exit 2 problems, before anything is sent) and fills
/// `c`; empty when all is well, else the message.
std::string discovery_config(const discovery_options& o, engine::run_config& c);

/// A listing that did not end with every record: prints why on stderr (`command` names the
/// subcommand) and gives the exit code (3 aborted, 130 interrupted, 1 the API refused the
/// listing); -1 when the listing is whole and should be printed.
int listing_exit(const char* command, engine::run_status status, const std::string& abort_reason,
                 const std::string& error);

/// Writes `text` to standard output: exit 0, or 3 with a message when it cannot be written.
int print_listing(const char* command, const std::string& text);

}  // namespace relicense::cli
