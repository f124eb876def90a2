// Google Benchmark of the NeRF CPU kernels (issue 9; not a ctest test): each SIMD variant this CPU
// runs on the network's MLP shapes, random hash-table gathers, and whole frames of a random
// network (default config, 128×128) through the CPU renderer against the plain LibTorch path.
//   bench_nerf_kernels [--benchmark_filter=...] [--threads=N]   (threads default: all cores)
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <c10/util/Half.h>

#include <cstring>
#include <string>
#include <vector>

#include "emogene/core/config.h"
#include "emogene/core/fileio.h"
#include "emogene/core/runtime.h"
#include "emogene/render/frame_renderer.h"
#include "emogene/render/nerf.h"
#include "emogene/render/nerf_kernels.h"

using namespace emogene::render;

namespace {

struct Shape {
  const char* name;
  std::vector<int> dims;  // in, hidden..., out
};

// The default config's MLPs as the kernels see them (folded columns removed).
const std::vector<Shape> kShapes = {
    {"head_ambient_32-64-64-2", {32, 64, 64, 2}},
    {"head_sigma_48-64-64-65", {48, 64, 64, 65}},
    {"head_color_80-64-3", {80, 64, 3}},
    {"torso_deform_34-64-64-2", {34, 64, 64, 2}},
    {"torso_net_66-32-32-4", {66, 32, 32, 4}},
};

struct PackedNet {
  std::vector<std::vector<float>> w;
  std::vector<std::vector<std::uint16_t>> w16;
  PackedMlp m;
  double flops = 0;
};

PackedNet pack(const Shape& s) {
  PackedNet p;
  p.m.layers = static_cast<int>(s.dims.size()) - 1;
  p.w.resize(static_cast<std::size_t>(p.m.layers));
  p.w16.resize(static_cast<std::size_t>(p.m.layers));
  for (int l = 0; l < p.m.layers; ++l) {
    const int in = s.dims[static_cast<std::size_t>(l)], out = s.dims[static_cast<std::size_t>(l) + 1];
    const torch::Tensor W = torch::randn({out, in}) / std::sqrt(static_cast<double>(in));
    const int pad = pack_layer_weights(W.data_ptr<float>(), out, in, 0, in, p.w[static_cast<std::size_t>(l)]);
    auto& h = p.w16[static_cast<std::size_t>(l)];
    for (float v : p.w[static_cast<std::size_t>(l)]) h.push_back(c10::Half(v).x);
    p.m.layer[l] = {p.w[static_cast<std::size_t>(l)].data(), nullptr, in, out, pad, h.data()};
    p.flops += 2.0 * in * out;
  }
  return p;
}

void BM_Mlp(benchmark::State& st, const NerfKernels* k, Shape s) {
  const PackedNet p = pack(s);
  const std::int64_t n = 4096;
  const torch::Tensor x = torch::rand({n, s.dims.front()}), y = torch::empty({n, s.dims.back()});
  for (auto _ : st) {
    k->mlp(p.m, x.data_ptr<float>(), y.data_ptr<float>(), n);
    benchmark::DoNotOptimize(y.data_ptr<float>());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(p.flops * static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate,
                                               benchmark::Counter::kIs1000);
}

void BM_Gather(benchmark::State& st, const NerfKernels* k) {
  const std::int64_t rows = std::int64_t{16} << 17, n = 1 << 20;  // the head grid's 16 × 2^16 × 2 floats
  const torch::Tensor table = torch::rand({rows}), idx = torch::randint(0, rows, {n}, torch::kInt);
  for (auto _ : st)
    benchmark::DoNotOptimize(k->gather(table.data_ptr<float>(), reinterpret_cast<const std::uint32_t*>(idx.data_ptr<int>()), n));
  st.counters["ns/gather"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate |
                                                                            benchmark::Counter::kInvert);
}

struct Frame {
  NerfNetwork net{nullptr};
  std::shared_ptr<OccupancyGrid> grid;
  FrameRequest req;
};

Frame& frame() {
  static Frame f = [] {
    Frame r;
    torch::manual_seed(4);
    const nlohmann::json j = emogene::load_config(emogene::resource_dir("configs") + "/nerf/default.json");
    NerfConfig cfg = NerfConfig::from_json(j.at("model"), "default");
    cfg.frames = 2;
    r.net = NerfNetwork(cfg);
    {
      torch::NoGradGuard ng;
      r.net->head->grid->table.uniform_(-1, 1);
      r.net->head->ambient_grid->table.uniform_(-1, 1);
      r.net->torso->grid->table.uniform_(-1, 1);
    }
    r.grid = std::make_shared<OccupancyGrid>(cfg.occupancy, cfg.step());
    const std::int64_t G = cfg.occupancy.resolution;
    // A head-sized blob of occupied cells in the box.
    const torch::Tensor c = (torch::arange(G).to(torch::kFloat) + 0.5) / static_cast<double>(G) - 0.5;
    const auto g = torch::meshgrid({c, c, c}, "ij");
    r.grid->set_bits(g[0] * g[0] + g[1] * g[1] + g[2] * g[2] < 0.12);
    r.req.landmarks = torch::randn({68, 3}) * 0.3;
    torch::Tensor P = torch::eye(4);
    P[2][3] = -9.0;
    r.req.pose = P;
    r.req.width = r.req.height = 128;
    r.req.intrinsics = {500, 500, 64, 64};
    r.req.background = torch::zeros({128, 128, 3});
    return r;
  }();
  return f;
}

void BM_FramePlain(benchmark::State& st) {
  Frame& f = frame();
  PlainRenderer r(f.net, f.grid);
  std::int64_t samples = 0;
  for (auto _ : st) samples = r.render(f.req).samples;
  st.counters["samples"] = static_cast<double>(samples);
}

void BM_FrameCpu(benchmark::State& st, const NerfKernels* k) {
  Frame& f = frame();
  set_nerf_kernels(k->name);
  CpuRenderer r(f.net, f.grid);
  std::int64_t samples = 0;
  for (auto _ : st) samples = r.render(f.req).samples;
  st.counters["samples"] = static_cast<double>(samples);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) threads = std::atoi(argv[i] + 10);
    else rest.push_back(argv[i]);
  }
  emogene::select_blas_core(argc, argv);
  threads = emogene::set_threads(threads);
  int rc = static_cast<int>(rest.size());
  benchmark::Initialize(&rc, rest.data());
  benchmark::AddCustomContext("threads", std::to_string(threads));
  benchmark::AddCustomContext("blas", emogene::live_blas().name);
  for (const NerfKernels* k : nerf_kernel_variants()) {
    for (const Shape& s : kShapes)
      benchmark::RegisterBenchmark((std::string("Mlp/") + k->name + "/" + s.name).c_str(), BM_Mlp, k, s);
    benchmark::RegisterBenchmark((std::string("Gather/") + k->name).c_str(), BM_Gather, k);
  }
  benchmark::RegisterBenchmark("Frame128/plain", BM_FramePlain)->Unit(benchmark::kMillisecond);
  for (const NerfKernels* k : nerf_kernel_variants())
    benchmark::RegisterBenchmark((std::string("Frame128/cpu/") + k->name).c_str(), BM_FrameCpu, k)
        ->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
