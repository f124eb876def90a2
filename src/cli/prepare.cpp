// `emogene prepare`: a subject video to a subject dataset (DESIGN §3, §8).
#include "cli/commands.h"
#include "emogene/subject/prepare.h"

namespace emogene::cli {

void setup_prepare(CLI::App& app, RunFn& run) {
  auto opt = std::make_shared<subject::PrepareOptions>();
  CLI::App* sub = app.add_subcommand(
      "prepare", "Turn a video of your subject (a few minutes, one speaking face, static camera) into a training set: "
                 "landmarks, head poses, crop, frames, masks, background, idle stretches (format: docs/architecture.md §3)");
  sub->add_option("--video", opt->video, "The subject video (any format FFmpeg reads, with its audio track)")->required();
  sub->add_option("--out,-o", opt->out, "Output dataset folder (must not exist or be empty, unless --force)")->required();
  sub->add_option("--size", opt->size, "Output frame size in pixels, square and even")->capture_default_str();
  sub->add_option("--fps", opt->fps, "Frame rate of the dataset (the video is resampled in time)")->capture_default_str();
  sub->add_option("--detect-every", opt->detect_every,
                  "Run the face detector on every n-th frame and track landmarks in between")
      ->check(CLI::Range(1, 250))->capture_default_str();
  sub->add_flag("--force", opt->force, "Replace an existing non-empty output folder");
  sub->callback([opt, &run] { run = [opt] { subject::prepare(*opt); }; });
}

}  // namespace emogene::cli
