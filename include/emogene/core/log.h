// Logging through spdlog, set up once by the CLI: messages go to stderr; -v shows debug lines
// (including the full command line and library versions), -q only errors.
#pragma once

#include <string>

namespace emogene {

// verbosity: -1 quiet (errors only), 0 normal (info), 1 verbose (debug), 2 trace.
void setup_logging(int verbosity);
int log_verbosity();

}  // namespace emogene
