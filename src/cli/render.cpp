// `emogene render`: audio to an emotional talking-head MP4 (DESIGN §8).
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "emogene/core/error.h"
#include "emogene/core/runtime.h"
#include "emogene/pipeline/batch.h"
#include "emogene/pipeline/render.h"

namespace emogene::cli {

namespace {

struct RenderArgs {
  pipeline::ModelOptions models;
  pipeline::RenderJob job;
  std::string idle = "auto";
  int layer = -2;
};

// The options render and batch share: models, emotion, sampling, output format.
void add_job_options(CLI::App* sub, RenderArgs& a) {
  sub->add_option("--emotion", a.job.emotion,
                  "Emotion SPEC: happy, happy@0.5, happy:0.6+surprised:0.4@0.8, or a schedule 0s:neutral,2.5s:happy@0.8 "
                  "(emotions: neutral angry contempt disgusted fear happy sad surprised)")
      ->capture_default_str();
  sub->add_option("--subject", a.models.subject, "Subject checkpoint (emogene train nerf); default data/models/subject.ckpt");
  sub->add_option("--a2m", a.models.a2m, "Audio-to-motion checkpoint; default data/models/a2m.ckpt");
  sub->add_option("--m2e", a.models.m2e, "Motion-to-emotion checkpoint; default data/models/m2e.ckpt");
  sub->add_option("--extractor", a.models.extractor, "Audio front end: mel, hubert or wav2vec2 (default: the a2m checkpoint's; it must match)");
  sub->add_option("--weights", a.models.weights, "HuBERT / wav2vec 2.0 weights (.safetensors) for --extractor");
  sub->add_option("--layer", a.layer, "Hidden state K of the front end (default: the a2m checkpoint's)");
  sub->add_option("--normalize", a.models.normalize, "Input normalisation of the front end: auto, on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  sub->add_option("--temperature", a.job.temperature, "Latent temperature of audio-to-motion (0 = the mean)")->capture_default_str();
  sub->add_option("--seed", a.job.seed, "Seed of every random choice (latent, poses, blinks)")->capture_default_str();
  sub->add_option("--fps", a.job.fps, "Output frame rate")->capture_default_str();
  sub->add_option("--size", a.job.size, "Output width in pixels (even; the subject's aspect ratio is kept; default its own size)");
  sub->add_option("--idle", a.idle, "auto: silent stretches (voice activity) get idle motion; off: every frame speaks")
      ->check(CLI::IsMember({"auto", "off"}))
      ->capture_default_str();
  sub->add_option("--device", a.models.device, "cpu, cuda or auto")->check(CLI::IsMember({"cpu", "cuda", "auto"}))->capture_default_str();
  sub->add_option("--renderer", a.models.renderer, "NeRF renderer: auto (cpu on a CPU device, plain on CUDA), cpu (the hand-written SIMD path), cpu-fp16 (the same with half-precision MLPs on AVX512-FP16 CPUs: faster, PSNR ~73 dB against cpu), plain (stock LibTorch ops)")->capture_default_str();
  sub->add_option("--encoder-threads", a.job.encoder_threads, "x264's own thread count (outside --threads)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
}

}  // namespace

void setup_render(CLI::App& app, RunFn& run) {
  auto a = std::make_shared<RenderArgs>();
  CLI::App* sub = app.add_subcommand(
      "render", "Render speech audio to an emotional talking-head MP4 of a subject: audio features → audio-to-motion VAE "
                "→ motion-to-emotion → idle poses, blinks and the subject's own range → the subject NeRF → H.264 + AAC "
                "of the original audio. Without --subject/--a2m/--m2e the bundled demo models in data/models are used");
  sub->add_option("--audio", a->job.audio, "Input speech (any format FFmpeg or libsndfile reads)")->required();
  sub->add_option("--out,-o", a->job.out, "Output MP4 (written to a temporary name and renamed when complete)")->required();
  add_job_options(sub, *a);
  sub->add_option("--dump", a->job.dump, "Write every intermediate (features, landmarks, poses, idle, blink, emotion) as .npy here");
  sub->add_option("--landmarks", a->job.landmarks,
                  "Start from these absolute canonical landmarks [T, 68, 3] (.npy at --fps) instead of the audio; "
                  "motion-to-emotion runs only when --emotion is also given");
  sub->callback([a, sub, &run] {
    a->job.emotion_given = sub->count("--emotion") > 0;
    run = [a] {
      a->job.idle = a->idle == "auto";
      a->models.layer = a->layer;
      const pipeline::Models models(a->models);
      const pipeline::RenderReport r = pipeline::render(models, a->job);
      spdlog::info("render: {} frames, {:.2f} s of audio in {:.1f} s (RTF {:.2f}), {} idle frames → {}", r.frames, r.audio_seconds,
                   r.wall_seconds, r.rtf(), r.idle_frames, a->job.out);
      for (const auto& [name, s] : r.stages) spdlog::debug("  {:<18} {:8.3f} s", name, s);
    };
  });
}

void setup_batch(CLI::App& app, RunFn& run) {
  auto a = std::make_shared<RenderArgs>();
  auto b = std::make_shared<pipeline::BatchOptions>();
  auto shard = std::make_shared<std::string>("0/1");
  CLI::App* sub = app.add_subcommand(
      "batch", "Render a folder of audio (recursive) to a folder of MP4s mirroring its layout, models loaded once. "
               "Finished outputs are skipped on a rerun; a failing file is reported and the rest go on; OUTDIR/report.json "
               "lists every file with its status, reason, duration and time; the exit code is 1 if any file failed");
  sub->add_option("--audio-dir", b->audio_dir, "Folder of audio files (searched recursively)")->required();
  sub->add_option("--out,-o", b->out_dir, "Output folder (the input's layout, .mp4 for each file)")->required();
  sub->add_option("--manifest", b->manifest, "CSV with a header row path,emotion,seed: the files to render and their emotion "
                                             "SPEC and seed (empty: the run's); paths relative to --audio-dir")
      ->check(CLI::ExistingFile);
  sub->add_option("--shard", *shard, "I/N: process only the files with FNV-1a(relative path) mod N = I")->capture_default_str();
  sub->add_option("--jobs", b->jobs, "Files rendered at once (each with --threads / J threads)")->check(CLI::Range(1, 64))->capture_default_str();
  add_job_options(sub, *a);
  sub->callback([a, b, shard, &run] {
    run = [a, b, shard] {
      pipeline::parse_shard(*shard, b->shard_index, b->shard_count);
      a->job.idle = a->idle == "auto";
      a->models.layer = a->layer;
      b->defaults = a->job;
      b->threads = threads();
      const pipeline::Models models(a->models);
      const pipeline::BatchReport r = pipeline::run_batch(models, *b);
      spdlog::info("batch: {} rendered, {} skipped (already done), {} failed → {}", r.done, r.skipped, r.failed, r.report_path);
      if (r.failed > 0) throw emogene::Error(emogene::ErrorKind::Internal, "batch: " + std::to_string(r.failed) + " of " + std::to_string(r.items.size()) +
                                                             " files failed (see " + r.report_path + ")");
    };
  });
}

}  // namespace emogene::cli
