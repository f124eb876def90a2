// `emogene synth`: makes a dataset of the synthetic world.
#include "cli/commands.h"
#include "emogene/synth/synth.h"

namespace emogene::cli {

void setup_synth(CLI::App& app, RunFn& run) {
  auto opt = std::make_shared<synth::SynthOptions>();
  CLI::App* sub = app.add_subcommand(
      "synth", "Make a dataset of the synthetic world (DESIGN §3, §5): espeak-ng speech with phoneme timings, "
               "visemes with coarticulation, the 8 emotions with dynamics, identities, head motion, idle and blinks");
  sub->add_option("--out,-o", opt->out, "Output dataset folder (must not exist or be empty, unless --force)")->required();
  sub->add_option("--kind", opt->kind, "corpus (speech/emotion landmarks, no pixels)")
      ->check(CLI::IsMember({"corpus", "subject"}))->capture_default_str();
  sub->add_option("--seconds", opt->seconds, "Total audio to generate, in seconds")->capture_default_str();
  sub->add_option("--identities", opt->identities, "Number of identities (at least 3: splits share none)")->capture_default_str();
  sub->add_option("--emotions", opt->emotions, "all, or a comma-separated list of emotion names")->capture_default_str();
  sub->add_option("--size", opt->size, "Image size the intrinsics are given for (even)")->capture_default_str();
  sub->add_option("--fps", opt->fps, "Frame rate of the landmark tracks")->capture_default_str();
  sub->add_option("--seed", opt->seed, "Random seed: same seed, same bytes")->capture_default_str();
  sub->add_flag("--preview", opt->preview, "Also write preview.png: landmark drawings across emotions and visemes");
  sub->add_flag("--force", opt->force, "Replace an existing non-empty output folder");
  sub->callback([opt, &run] { run = [opt] { synth::run_synth(*opt); }; });
}

}  // namespace emogene::cli
