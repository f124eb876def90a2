// `emogene bench render`: the whole job of DESIGN §6 — a render of S seconds of speech (the demo
// clip repeated to length) with the bundled (or given) models at 256×256, in this process: the
// real-time factor (median of the runs), each stage's share of it, the time to load the models,
// and the process's peak resident memory (the streaming encoder keeps it flat in the length).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "cli/commands.h"
#include "emogene/audio/audio.h"
#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/core/runtime.h"
#include "emogene/pipeline/render.h"
#include "emogene/render/nerf_kernels.h"

namespace emogene::cli {

namespace {

namespace fs = std::filesystem;

struct BenchRenderOptions {
  double seconds = 10;
  int repeats = 3;
  int size = 256;
  std::string audio;
  std::string emotion = "0s:neutral,2s:happy@0.9,6s:surprised:0.5+happy:0.5";
  pipeline::ModelOptions models;
};

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux: KiB
}

void bench_render(const BenchRenderOptions& o) {
  check_input(o.seconds > 0 && o.seconds <= 24 * 3600, "--seconds", "must be in (0, 86400]");
  check_input(o.repeats >= 1, "--repeats", "must be at least 1");
  const std::string src = o.audio.empty() ? resource_dir("data") + "/demo/demo.wav" : o.audio;
  const audio::Waveform clip = audio::load_audio(src);
  // The clip repeated to the length asked for.
  audio::Waveform w;
  w.sample_rate = clip.sample_rate;
  w.channels = clip.channels;
  const std::size_t want = static_cast<std::size_t>(o.seconds * clip.sample_rate) * static_cast<std::size_t>(clip.channels);
  w.samples.reserve(want);
  while (w.samples.size() < want)
    w.samples.insert(w.samples.end(), clip.samples.begin(),
                     clip.samples.begin() + static_cast<std::ptrdiff_t>(std::min(clip.samples.size(), want - w.samples.size())));
  const fs::path dir = fs::temp_directory_path() / ("emogene-bench-render-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  struct Cleanup {
    fs::path d;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  } cleanup{dir};
  const std::string wav = (dir / "audio.wav").string(), mp4 = (dir / "out.mp4").string();
  audio::write_wav(wav, w);

  std::printf("bench render: %.1f s of %s at %d px, %d runs, %d threads, BLAS %s (%s core), nerf kernels %s\n",
              o.seconds, src.c_str(), o.size, o.repeats, threads(), live_blas().name.c_str(), blas_core().c_str(),
              render::nerf_kernels().name);
  std::fflush(stdout);
  const auto t0 = std::chrono::steady_clock::now();
  const pipeline::Models models(o.models);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  pipeline::RenderJob job;
  job.audio = wav;
  job.out = mp4;
  job.emotion = o.emotion;
  job.emotion_given = true;
  job.size = o.size;
  std::vector<double> rtf;
  std::map<std::string, std::vector<double>> stages;
  std::vector<std::string> order;
  std::int64_t frames = 0;
  for (int r = 0; r < o.repeats; ++r) {
    const pipeline::RenderReport rep = pipeline::render(models, job);
    frames = rep.frames;
    rtf.push_back(rep.rtf());
    for (const auto& [name, s] : rep.stages) {
      if (!stages.count(name)) order.push_back(name);
      stages[name].push_back(s / rep.audio_seconds);
    }
  }
  std::printf("models loaded in %.2f s; %lld frames a run\n", load_s, static_cast<long long>(frames));
  std::printf("stages (RTF share, median):");
  for (const auto& n : order) std::printf(" %s %.3f", n.c_str(), median(stages[n]));
  std::printf("\n");
  std::printf("peak memory: %.0f MiB (resident, whole process)\n", peak_rss_mib());
  std::printf("rtf: %.3f\n", median(rtf));
}

}  // namespace

void add_bench_render(CLI::App& bench, RunFn& run) {
  auto opt = std::make_shared<BenchRenderOptions>();
  CLI::App* sub = bench.add_subcommand(
      "render",
      "The whole render (audio to MP4) of --seconds of speech (the demo clip repeated) with the bundled models, "
      "in this process: prints 'rtf: X' (median of --repeats runs), each stage's share of it, the model load time "
      "and the peak resident memory");
  sub->add_option("--seconds", opt->seconds, "Length of the input audio")->capture_default_str();
  sub->add_option("--repeats", opt->repeats, "Runs (the median RTF is reported)")->capture_default_str();
  sub->add_option("--size", opt->size, "Output width in pixels")->check(CLI::Range(32, 4096))->capture_default_str();
  sub->add_option("--audio", opt->audio, "Speech to repeat to length (default: data/demo/demo.wav)");
  sub->add_option("--emotion", opt->emotion, "Emotion SPEC (grammar: docs/architecture.md §8)")->capture_default_str();
  sub->add_option("--subject", opt->models.subject, "Subject checkpoint (default: data/models/subject.ckpt)");
  sub->add_option("--renderer", opt->models.renderer, "NeRF renderer: auto, cpu, plain")->capture_default_str();
  sub->callback([opt, &run] { run = [opt] { bench_render(*opt); }; });
}

}  // namespace emogene::cli
