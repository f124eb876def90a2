// `emogene bench nerf`: the NeRF renderers of DESIGN §6 on a trained subject — frames per second of
// the plain LibTorch path and of the hand-written CPU path, alternated in one process on the same
// frames, their ratio, samples per frame, ns per sample, the two paths' largest pixel difference,
// and the distance of the CPU path to a roofline measured in the same run (MLP FLOPs at the
// network's shapes, random hash-table gathers).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/core/interrupt.h"
#include "emogene/core/runtime.h"
#include "emogene/render/frame_renderer.h"
#include "emogene/render/hash_grid_kernels.h"
#include "emogene/render/nerf.h"
#include "emogene/render/nerf_kernels.h"
#include "emogene/render/condition_window.h"
#include "emogene/render/subject_model.h"

namespace emogene::cli {

namespace {

struct BenchNerfOptions {
  std::string subject;
  int size = 256;
  int frames = 4;
  int repeats = 5;
  std::string variant;
  bool no_plain = false;
};

// The hash-grid encodings of the network: the CPU kernels (Auto) or stock LibTorch ops (Reference).
void set_grid_backend(render::NerfNetworkImpl& net, render::HashGridBackend b) {
  net.head->grid->backend = b;
  net.head->ambient_grid->backend = b;
  if (net.torso) net.torso->grid->backend = b;
}

// Seconds to render every request once; the last frame's sample count into `samples`.
double time_frames(render::FrameRenderer& r, const std::vector<render::FrameRequest>& reqs, std::int64_t& samples) {
  const auto t0 = std::chrono::steady_clock::now();
  samples = 0;
  for (const auto& q : reqs) {
    throw_if_interrupted("bench nerf");
    samples += r.render(q).samples;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void bench_nerf(const BenchNerfOptions& o) {
  check_input(o.repeats >= 1, "--repeats", "must be at least 1");
  check_input(o.frames >= 1, "--frames", "must be at least 1");
  const std::string path = o.subject.empty() ? resource_dir("data") + "/models/subject.ckpt" : o.subject;
  if (!o.variant.empty()) render::set_nerf_kernels(o.variant);
  const render::SubjectModel model(path);
  const render::SubjectInfo& info = model.info();
  const int height = static_cast<int>(std::lround(static_cast<double>(o.size) * info.height / info.width));
  const BlasInfo blas = live_blas();
  std::printf("bench nerf: %s at %dx%d, %d frames x %d alternated runs, %d threads, kernels %s, BLAS %s\n", path.c_str(),
              o.size, height, o.frames, o.repeats, threads(), render::nerf_kernels().name, blas.name.c_str());
  std::printf("cpu: %s\n", cpu_features().c_str());
  std::fflush(stdout);

  // Frames spread over the test split (all frames if the subject has none), their own landmarks.
  torch::Tensor pick = (info.split == 2).nonzero().reshape({-1});
  if (pick.numel() == 0) pick = torch::arange(info.frames());
  const std::int64_t W = model.network()->cfg.condition.window;
  std::vector<render::FrameRequest> reqs;
  for (int i = 0; i < o.frames; ++i) {
    const std::int64_t f = pick[(i * pick.numel()) / o.frames].item<std::int64_t>();
    // The frame's clip (condition_window.h: the window never leaves it).
    const torch::Tensor same = (info.clip == info.clip[f]).nonzero().reshape({-1});
    const std::vector<std::int64_t> idx = render::condition_window_indices(f, W, same.min().item<std::int64_t>(),
                                                                           same.max().item<std::int64_t>());
    reqs.push_back(model.request(info.landmarks.index_select(0, torch::tensor(idx, torch::kLong)), info.poses[f], -1, o.size, height));
  }
  auto cpu = model.renderer("cpu");
  std::unique_ptr<render::FrameRenderer> plain = o.no_plain ? nullptr : model.renderer("plain");

  // Equality on these frames, and a warm-up of both.
  double maxdiff = 0;
  std::int64_t frame_samples = 0;
  for (const auto& q : reqs) {
    const render::FrameResult b = cpu->render(q);
    frame_samples += b.samples;
    if (plain) maxdiff = std::max(maxdiff, (plain->render(q).rgb - b.rgb).abs().max().item<double>());
  }
  const double samples = static_cast<double>(frame_samples) / static_cast<double>(reqs.size());

  std::vector<double> tp, tc, ts, ratio, ratio_stock;
  std::int64_t s = 0;
  render::NerfNetworkImpl& net = *model.network();
  for (int rep = 0; rep < o.repeats; ++rep) {
    // Alternate which path goes first, so drift in the machine's load falls on all.
    double a = 0, b = 0, c = 0;
    auto stock = [&] {
      set_grid_backend(net, render::HashGridBackend::Reference);
      c = time_frames(*plain, reqs, s);
      set_grid_backend(net, render::HashGridBackend::Auto);
    };
    if (plain && rep % 2 == 0) a = time_frames(*plain, reqs, s);
    if (plain && rep % 2 == 1) stock();
    b = time_frames(*cpu, reqs, s);
    if (plain && rep % 2 == 0) stock();
    if (plain && rep % 2 == 1) a = time_frames(*plain, reqs, s);
    tc.push_back(b / static_cast<double>(reqs.size()));
    if (plain) {
      tp.push_back(a / static_cast<double>(reqs.size()));
      ratio.push_back(a / b);
    }
    if (plain) {
      ts.push_back(c / static_cast<double>(reqs.size()));
      ratio_stock.push_back(c / b);
    }
    std::fprintf(stderr, "\rrun %d/%d", rep + 1, o.repeats);
  }
  std::fprintf(stderr, "\r          \r");
  const double cpu_s = median(tc);
  std::printf("samples per frame: %.0f (head-field evaluations)\n", samples);
  if (plain) {
    const double stock_s = median(ts), plain_s = median(tp);
    std::printf("plain: %.3f fps (%.1f ms/frame, %.0f ns/sample; stock LibTorch ops, the hash grid's too)\n", 1 / stock_s,
                1e3 * stock_s, 1e9 * stock_s / samples);
    std::printf("plain + kernel: %.3f fps (%.1f ms/frame, %.0f ns/sample; LibTorch ops, hash grid by the CPU kernel '%s')\n",
                1 / plain_s, 1e3 * plain_s, 1e9 * plain_s / samples, render::hash_grid_kernels().name);
  }
  std::printf("cpu:   %.3f fps (%.1f ms/frame, %.0f ns/sample)\n", 1 / cpu_s, 1e3 * cpu_s, 1e9 * cpu_s / samples);
  if (const auto* cr = dynamic_cast<const render::CpuRenderer*>(cpu.get()); cr && cr->phases().frames > 0) {
    const auto& ph = cr->phases();
    const double n = 1e-3 * static_cast<double>(ph.frames);
    std::printf("cpu phases (ms/frame): set-up %.1f (condition, rays, box hits), head %.1f, torso %.1f, compose %.1f\n",
                ph.setup / n, ph.head / n, ph.torso / n, ph.compose / n);
  }
  if (plain) {
    std::printf("max abs pixel difference cpu vs plain: %.2e\n", maxdiff);
    std::printf("speedup: %.1f\n", median(ratio_stock));
    std::printf("speedup over plain + kernel: %.1f\n", median(ratio));
  }
  const render::NerfRoofline r = render::measure_nerf_roofline(model.network());
  const double pixels = static_cast<double>(o.size) * height;
  const double bound = r.frame_seconds(samples, pixels);
  std::printf("roofline: %.1f ms/frame = %.0f samples x (%.0f MLP FLOPs at %.1f GFLOP/s + %.0f gathers at %.2f ns) + "
              "%.0f pixels x (%.0f FLOPs + %.0f gathers)\n",
              1e3 * bound, samples, r.head_flops, r.head_flops / r.head_mlp_ns, r.head_gathers, r.gather_ns, pixels,
              r.torso_flops, r.torso_gathers);
  const double mlp_only = 1e-9 * (samples * r.head_mlp_ns + pixels * r.torso_mlp_ns);
  std::printf("cpu path at %.2fx the roofline (random gathers are its pessimistic part: the march's are coherent); "
              "at %.2fx its MLP part alone (%.1f ms)\n",
              cpu_s / bound, cpu_s / mlp_only, 1e3 * mlp_only);
}

}  // namespace

void add_bench_nerf(CLI::App& bench, RunFn& run) {
  auto opt = std::make_shared<BenchNerfOptions>();
  CLI::App* sub = bench.add_subcommand(
      "nerf",
      "NeRF rendering: the plain path in stock LibTorch ops (hash grid included), the plain path with the CPU "
      "hash-grid kernel, and the hand-written CPU path on the same frames of a trained subject (same samples, "
      "occupancy grid and threshold), alternating; prints frames per second of each, 'speedup: N' (CPU path "
      "against stock LibTorch, median of the paired ratios) and the speedup over plain + kernel, samples per "
      "frame, ns per sample, the largest pixel "
      "difference, and the CPU path's distance to a roofline measured in the same run (MLP FLOP rate at the "
      "network's shapes and random hash-table gather rate)");
  sub->add_option("--subject", opt->subject, "Subject checkpoint (default: the bundled data/models/subject.ckpt)");
  sub->add_option("--size", opt->size, "Frame width in pixels (height keeps the subject's aspect)")
      ->check(CLI::Range(32, 4096))
      ->capture_default_str();
  sub->add_option("--frames", opt->frames, "Distinct frames per run (spread over the test split)")->capture_default_str();
  sub->add_option("--repeats", opt->repeats, "Alternated runs of each path (medians are reported)")->capture_default_str();
  sub->add_option("--variant", opt->variant, "CPU kernel variant (AVX3, AVX2, SSE4, SCALAR, AVX3_FP16; default: the best exact one this CPU runs)");
  sub->add_flag("--no-plain", opt->no_plain, "Time the CPU path alone");
  sub->callback([opt, &run] { run = [opt] { bench_nerf(*opt); }; });
}

}  // namespace emogene::cli
