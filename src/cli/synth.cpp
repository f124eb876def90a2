// `emogene synth`: makes a dataset of the synthetic world.
#include "cli/commands.h"
#include "emogene/synth/synth.h"

namespace emogene::cli {

void setup_synth(CLI::App& app, RunFn& run) {
  auto opt = std::make_shared<synth::SynthOptions>();
  CLI::App* sub = app.add_subcommand(
      "synth", "Make a dataset of the synthetic world (docs/architecture.md §3, §5): espeak-ng speech with phoneme timings, "
               "visemes with coarticulation, the 8 emotions with dynamics, identities, head motion, idle and blinks");
  sub->add_option("--out,-o", opt->out, "Output dataset folder (must not exist or be empty, unless --force)")->required();
  sub->add_option("--kind", opt->kind,
                  "corpus: many identities and voices, landmarks and audio, no pixels; subject: one identity in a "
                  "take of consecutive clips with rendered frames, masks and a background (needs dlib's model and "
                  "astronaut.png, both installed by tools/setup)")
      ->check(CLI::IsMember({"corpus", "subject"}))->capture_default_str();
  sub->add_option("--seconds", opt->seconds, "Total audio to generate, in seconds (subject: the take's length)")->capture_default_str();
  sub->add_option("--identities", opt->identities, "Number of identities (at least 3: splits share none)")->capture_default_str();
  sub->add_option("--emotions", opt->emotions, "all, or a comma-separated list of emotion names")->capture_default_str();
  sub->add_option("--size", opt->size, "Frame size in pixels, square and even (subject: at least 96; the face is ~0.4 of it)")->capture_default_str();
  sub->add_option("--fps", opt->fps, "Frame rate of the landmark tracks")->capture_default_str();
  sub->add_option("--seed", opt->seed, "Random seed: same seed, same bytes")->capture_default_str();
  sub->add_flag("--preview", opt->preview, "Also write preview.png: corpus: landmark drawings across emotions and visemes; subject: a "
                "contact sheet of rendered frames (every emotion, visemes, eyes shut, yaw -25/0/+25, pitch)");
  sub->add_flag("--force", opt->force, "Replace an existing non-empty output folder");
  sub->callback([opt, &run] { run = [opt] { synth::run_synth(*opt); }; });
}

}  // namespace emogene::cli
