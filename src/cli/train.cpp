// `emogene train <module>`: the trainers (DESIGN §8). Each reads a JSON config (configs/<module>/),
// applies --set overrides, and trains with the shared machinery of train/ (checkpoints, --resume).
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "emogene/core/config.h"
#include "emogene/core/fileio.h"
#include "emogene/motion/a2m_io.h"
#include "emogene/motion/sync.h"

namespace emogene::cli {

namespace {

struct TrainArgs {
  std::string data, out, config, sync;
  std::vector<std::string> sets;
  std::int64_t steps = 0;
  bool resume = false, force = false;
};

void add_common(CLI::App* sub, TrainArgs& a, const std::string& module) {
  sub->add_option("--data", a.data, "Dataset folder (DESIGN §3), e.g. from `emogene synth`")->required();
  sub->add_option("--out,-o", a.out, "Checkpoint to write (also writes OUT.train, OUT.losses.csv, OUT.previews/)")->required();
  sub->add_option("--config", a.config, "JSON config (default: configs/" + module + "/default.json; small.json for a quick run)");
  sub->add_option("--set", a.sets, "Override a config value, e.g. --set train.lr=0.001 (repeatable; V parsed as JSON)");
  sub->add_option("--steps", a.steps, "Training steps (overrides train.steps)")->check(CLI::PositiveNumber);
  sub->add_flag("--resume", a.resume, "Continue an interrupted run from OUT.train (same config and --set)");
  sub->add_flag("--force", a.force, "Start over even if OUT.train of an unfinished run exists");
}

nlohmann::json resolve_config(const TrainArgs& a, const std::string& module, std::string& name) {
  name = a.config.empty() ? resource_dir("configs") + "/" + module + "/default.json" : a.config;
  nlohmann::json cfg = load_config(name);
  apply_overrides(cfg, a.sets);
  return cfg;
}

}  // namespace

void setup_train(CLI::App& app, RunFn& run) {
  CLI::App* train = app.add_subcommand("train", "Train a module: a2m (audio-to-motion VAE), sync (landmark-audio sync expert)");
  train->require_subcommand(1);
  auto a = std::make_shared<TrainArgs>();
  CLI::App* a2m = train->add_subcommand(
      "a2m", "Train the audio-to-motion VAE on a synthetic corpus (landmarks_neutral.npy targets); the audio front end "
             "is the config's features.extractor (mel by default) and is recorded in the checkpoint");
  add_common(a2m, *a, "a2m");
  a2m->add_option("--sync", a->sync, "A sync expert checkpoint (`train sync`) for the lip-sync loss (sets sync.checkpoint; "
                                     "weight sync.weight, default 0.1)");
  a2m->callback([a, &run] {
    run = [a] {
      motion::TrainA2MOptions o;
      o.data = a->data;
      o.out = a->out;
      o.config = resolve_config(*a, "a2m", o.config_name);
      if (!a->sync.empty()) o.config["sync"]["checkpoint"] = a->sync;
      o.steps = a->steps;
      o.resume = a->resume;
      o.force = a->force;
      motion::TrainA2MReport r = motion::train_a2m(o);
      spdlog::info("train a2m: {} steps in {:.0f} s, recon {:.4g}, kl {:.4g} → {}", r.steps, r.seconds, r.final_recon,
                   r.final_kl, a->out);
    };
  });

  auto s = std::make_shared<TrainArgs>();
  CLI::App* sync = train->add_subcommand(
      "sync", "Train the landmark-audio sync expert on a synthetic corpus: two encoders (a 0.32 s window of audio "
              "features, the same window of mouth motion) and a cosine-similarity logit, binary cross-entropy against "
              "windows shifted in time or from other clips. Used by `train a2m --sync` as a loss and by `eval --sync`");
  add_common(sync, *s, "sync");
  sync->callback([s, &run] {
    run = [s] {
      motion::TrainSyncOptions o;
      o.data = s->data;
      o.out = s->out;
      o.config = resolve_config(*s, "sync", o.config_name);
      o.steps = s->steps;
      o.resume = s->resume;
      o.force = s->force;
      motion::TrainSyncReport r = motion::train_sync(o);
      spdlog::info("train sync: {} steps in {:.0f} s → {}", r.steps, r.seconds, s->out);
    };
  });
}

}  // namespace emogene::cli
