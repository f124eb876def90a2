// `emogene synth`: writes a dataset of the synthetic world (DESIGN §3, §5).
#pragma once

#include <cstdint>
#include <string>

namespace emogene::synth {

struct SynthOptions {
  std::string out;
  std::string kind = "corpus";     // "corpus" (landmarks, no pixels) | "subject" (one identity, rendered frames)
  double seconds = 600;            // total audio
  int identities = 12;
  std::string emotions = "all";
  int size = 256;
  double fps = 25;
  std::uint64_t seed = 1;
  bool preview = false;
  bool force = false;
};

struct SynthSummary {
  int clips = 0;
  double audio_seconds = 0;
  double wall_seconds = 0;
};

// Validates the options (bad_input naming the option), generates, writes atomically.
SynthSummary run_synth(const SynthOptions& opt);

}  // namespace emogene::synth
