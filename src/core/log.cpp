#include "emogene/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace emogene {

static int g_verbosity = 0;

void setup_logging(int verbosity) {
  g_verbosity = verbosity;
  auto logger = spdlog::stderr_color_mt("emogene");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern(verbosity >= 1 ? "[%H:%M:%S.%e] [%^%l%$] %v" : "%^%l%$: %v");
  spdlog::set_level(verbosity < 0 ? spdlog::level::err
                    : verbosity == 0 ? spdlog::level::info
                    : verbosity == 1 ? spdlog::level::debug
                                     : spdlog::level::trace);
}

int log_verbosity() { return g_verbosity; }

}  // namespace emogene
