#include "emogene/core/interrupt.h"

#include <unistd.h>

#include <atomic>
#include <csignal>

#include "emogene/core/error.h"

namespace emogene {

static std::atomic<int> g_signals{0};

extern "C" void emogene_on_signal(int) {
  if (g_signals.fetch_add(1) >= 1) _exit(130);  // second signal: give up now
}

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = emogene_on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() { return g_signals.load(std::memory_order_relaxed) > 0; }

void throw_if_interrupted(const std::string& where) {
  if (interrupted()) throw Error(ErrorKind::Interrupted, where.empty() ? "interrupted" : where + ": interrupted");
}

void set_interrupted(bool value) { g_signals.store(value ? 1 : 0); }

}  // namespace emogene
