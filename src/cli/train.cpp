// `emogene train <module>`: the trainers (DESIGN §8). Each reads a JSON config (configs/<module>/),
// applies --set overrides, and trains with the shared machinery of train/ (checkpoints, --resume).
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "emogene/core/config.h"
#include "emogene/core/fileio.h"
#include "emogene/emotion/emoclf.h"
#include "emogene/emotion/m2e_io.h"
#include "emogene/motion/a2m_io.h"
#include "emogene/motion/sync.h"
#include "emogene/render/nerf_train.h"

namespace emogene::cli {

namespace {

struct TrainArgs {
  std::string data, out, config, sync;
  std::vector<std::string> sets;
  std::int64_t steps = 0;
  bool resume = false, force = false;
};

// The options every trainer takes; `data_flag` names the dataset option (--data, or --subject for
// a subject's NeRF).
void add_common(CLI::App* sub, TrainArgs& a, const std::string& module, const std::string& data_flag = "--data") {
  sub->add_option(data_flag, a.data, "Dataset folder (format: docs/architecture.md §3), e.g. from `emogene synth`" +
                                         std::string(data_flag == "--subject" ? " --kind subject or `emogene prepare`" : ""))
      ->required();
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
  CLI::App* train = app.add_subcommand("train", "Train a module: a2m (audio-to-motion VAE), sync (landmark-audio sync expert), m2e (motion-to-emotion), emoclf (landmark emotion classifier, the measure of emotion accuracy), nerf (a subject's renderer)");
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

  auto m = std::make_shared<TrainArgs>();
  CLI::App* m2e = train->add_subcommand(
      "m2e", "Train motion-to-emotion on a synthetic corpus: landmarks_neutral.npy → landmarks_emotional.npy of the same "
             "clip, conditioned on the clip's nominal emotion and level (model.condition clip, as a SPEC gives it) or on "
             "its emotion.npy and intensity.npy (track). model.kind transformer (local-window attention, "
             "configs/m2e/default.json) or mlp (the seed's per-frame baseline, configs/m2e/mlp.json); reports the val "
             "split's figures at the end for tuning");
  add_common(m2e, *m, "m2e");
  m2e->callback([m, &run] {
    run = [m] {
      emotion::TrainM2EOptions o;
      o.data = m->data;
      o.out = m->out;
      o.config = resolve_config(*m, "m2e", o.config_name);
      o.steps = m->steps;
      o.resume = m->resume;
      o.force = m->force;
      emotion::TrainM2EReport r = emotion::train_m2e(o);
      spdlog::info("train m2e: {} steps in {:.0f} s, loss {:.4g} → {}", r.steps, r.seconds, r.final_loss, m->out);
      if (r.val.clips > 0)
        spdlog::info("m2e val split ({} clips): F-LMD {:.5f} IOD, M-LMD {:.5f} IOD (input unchanged {:.5f}), lip-gap r {:.3f}",
                     r.val.clips, r.val.f_lmd, r.val.m_lmd, r.val.f_lmd_input, r.val.lip_gap_r);
    };
  });

  auto c = std::make_shared<TrainArgs>();
  CLI::App* emoclf = train->add_subcommand(
      "emoclf", "Train the landmark emotion classifier (1 s windows of landmark motion → 8 emotions) with its own seed "
                "on the corpus' train split; it measures emotion accuracy and is never a training loss");
  add_common(emoclf, *c, "emoclf");
  emoclf->callback([c, &run] {
    run = [c] {
      emotion::TrainEmoClfOptions o;
      o.data = c->data;
      o.out = c->out;
      o.config = resolve_config(*c, "emoclf", o.config_name);
      o.steps = c->steps;
      o.resume = c->resume;
      o.force = c->force;
      emotion::TrainEmoClfReport r = emotion::train_emoclf(o);
      spdlog::info("train emoclf: {} steps in {:.0f} s → {}", r.steps, r.seconds, c->out);
      if (r.test.clips > 0)
        spdlog::info("emoclf test split: accuracy {:.1f}% of {} clips, {:.1f}% of {} at intensity >= 2/3", 100 * r.test.accuracy,
                     r.test.clips, 100 * r.test.strong_accuracy, r.test.strong_clips);
    };
  });

  auto n = std::make_shared<TrainArgs>();
  CLI::App* nerf = train->add_subcommand(
      "nerf", "Train a subject NeRF on a subject dataset (synth --kind subject, or prepare): a hash-grid head field in "
              "canonical head space conditioned on the frontal landmarks, a pose-deformed torso field, composited over "
              "the static background; rays weighted to the face and mouth, masks for head and torso, the occupancy "
              "grid updated as it learns. Writes the subject checkpoint render uses (network, occupancy grid, "
              "background, intrinsics, the take's landmarks and poses with idle frames); reports held-out PSNR on "
              "the val split at the end");
  add_common(nerf, *n, "nerf", "--subject");
  nerf->callback([n, &run] {
    run = [n] {
      render::TrainNerfOptions o;
      o.subject = n->data;
      o.out = n->out;
      o.config = resolve_config(*n, "nerf", o.config_name);
      o.steps = n->steps;
      o.resume = n->resume;
      o.force = n->force;
      const render::TrainNerfReport r = render::train_nerf(o);
      spdlog::info("train nerf: {} steps in {:.0f} s ({:.2f} steps/s) → {}", r.steps, r.seconds, r.steps_per_second, n->out);
      if (r.val.frames > 0)
        spdlog::info("nerf val split ({} frames): PSNR face {:.2f} dB, mouth {:.2f} dB, whole frame {:.2f} dB, SSIM face {:.4f}",
                     r.val.frames, r.val.psnr_face, r.val.psnr_mouth, r.val.psnr_frame, r.val.ssim_face);
    };
  });
}

}  // namespace emogene::cli
