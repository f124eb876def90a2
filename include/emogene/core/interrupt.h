// SIGINT/SIGTERM: the first one sets a flag that long loops poll (so outputs and checkpoints are
// left consistent); a second one exits at once with 130.
#pragma once

#include <string>

namespace emogene {

void install_interrupt_handlers();
bool interrupted();
// Throws Error(Interrupted, "<where>: interrupted") when a signal has arrived.
void throw_if_interrupted(const std::string& where);
// For tests: set or clear the flag as a signal would.
void set_interrupted(bool value);

}  // namespace emogene
