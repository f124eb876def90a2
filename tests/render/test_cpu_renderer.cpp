// The hand-written CPU renderer (issue 9) against the plain LibTorch path: the same pixels to 1e-4
// and the same samples, for every SIMD variant this CPU runs, on random weights (with a random
// occupancy grid and every cell occupied) and on the trained demo subject.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <thread>

#include "emogene/core/config.h"
#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/render/frame_renderer.h"
#include "emogene/render/hash_grid_kernels.h"
#include "emogene/render/nerf.h"
#include "emogene/render/nerf_kernels.h"
#include "emogene/render/subject_model.h"
#include "testutil.h"

using namespace emogene::render;
using emogene::test::bad_input_message;

namespace {

torch::Tensor rotation(double yaw_deg, double pitch_deg) {
  const double a = yaw_deg * M_PI / 180, b = pitch_deg * M_PI / 180;
  const torch::Tensor ry = torch::tensor({std::cos(a), 0.0, std::sin(a), 0.0, 1.0, 0.0, -std::sin(a), 0.0, std::cos(a)},
                                         torch::kDouble).view({3, 3});
  const torch::Tensor rx = torch::tensor({1.0, 0.0, 0.0, 0.0, std::cos(b), -std::sin(b), 0.0, std::sin(b), std::cos(b)},
                                         torch::kDouble).view({3, 3});
  return torch::mm(ry, rx).to(torch::kFloat);
}

torch::Tensor pose(double yaw, double pitch, double tx, double ty, double tz) {
  torch::Tensor P = torch::eye(4);
  P.narrow(0, 0, 3).narrow(1, 0, 3).copy_(rotation(yaw, pitch));
  P[0][3] = tx;
  P[1][3] = ty;
  P[2][3] = tz;
  return P;
}

NerfConfig default_config(int frames) {
  const nlohmann::json j = emogene::load_config(emogene::resource_dir("configs") + "/nerf/default.json");
  NerfConfig c = NerfConfig::from_json(j.at("model"), "default");
  c.frames = frames;
  return c;
}

// Random weights that give a visible head and torso: hash tables U(−1, 1) (instant-ngp's ±1e-4
// would leave every field flat) and a random occupancy grid over half the cells.
NerfNetwork random_network(const NerfConfig& cfg, std::uint64_t seed) {
  torch::manual_seed(seed);
  NerfNetwork net(cfg);
  torch::NoGradGuard ng;
  net->head->grid->table.uniform_(-1, 1);
  net->head->ambient_grid->table.uniform_(-1, 1);
  if (net->torso) net->torso->grid->table.uniform_(-1, 1);
  // Steeper colour and torso MLPs, so colours vary across the frame instead of sitting at ½.
  for (auto& l : net->head->color_net->linears) l->weight.mul_(4);
  if (net->torso)
    for (auto& l : net->torso->net->linears) l->weight.mul_(3);
  return net;
}

struct Diff {
  double rgb, alpha, head_alpha, torso_alpha, depth;
  std::int64_t plain_samples, cpu_samples;
};

Diff compare(FrameRenderer& plain, FrameRenderer& cpu, const FrameRequest& req) {
  const FrameResult a = plain.render(req), b = cpu.render(req);
  // Not a vacuous comparison: the head covers part of the frame and its colours vary.
  const torch::Tensor head = a.head_alpha > 0.5;
  EXPECT_GT(head.to(torch::kFloat).mean().item<double>(), 0.05);
  EXPECT_GT(a.rgb.index({head}).std().item<double>(), 0.02);
  auto m = [](const torch::Tensor& x, const torch::Tensor& y) { return (x - y).abs().max().item<double>(); };
  return {m(a.rgb, b.rgb), m(a.alpha, b.alpha), m(a.head_alpha, b.head_alpha), m(a.torso_alpha, b.torso_alpha),
          m(a.depth, b.depth), a.samples, b.samples};
}

// A frame of random landmarks at a pose, over a random background.
FrameRequest random_request(const NerfConfig& cfg, const torch::Tensor& P, int width, int height, double focal, std::int64_t latent) {
  FrameRequest req;
  req.landmarks = torch::randn({cfg.condition.window, 68, 3}) * 0.3;
  req.pose = P;
  req.width = width;
  req.height = height;
  req.intrinsics = {focal, focal, width / 2.0, height / 2.0};
  req.background = torch::rand({height, width, 3});
  req.latent = latent;
  return req;
}

void expect_same(const Diff& d, const std::string& what) {
  std::printf("%-28s rgb %.2e alpha %.2e depth %.2e samples %lld / %lld\n", what.c_str(), d.rgb, d.alpha, d.depth,
              static_cast<long long>(d.plain_samples), static_cast<long long>(d.cpu_samples));
  EXPECT_LE(d.rgb, 1e-4) << what;
  EXPECT_LE(d.alpha, 1e-4) << what;
  EXPECT_LE(d.head_alpha, 1e-4) << what;
  EXPECT_LE(d.torso_alpha, 1e-4) << what;
  // depth is Σ w·t with t ~ 10 canonical units: the same relative rounding.
  EXPECT_LE(d.depth, 1e-3) << what;
  // The same samples: the counts may differ only where T sits on the termination threshold.
  EXPECT_NEAR(static_cast<double>(d.cpu_samples), static_cast<double>(d.plain_samples),
              std::max(2.0, 1e-4 * static_cast<double>(d.plain_samples)))
      << what;
  EXPECT_GT(d.plain_samples, 0) << what;
}

}  // namespace

TEST(NerfKernels, VariantsAreListedAndChosenByName) {
  const auto v = nerf_kernel_variants();
  ASSERT_FALSE(v.empty());
  std::printf("nerf kernel variants:");
  for (const NerfKernels* k : v) std::printf(" %s", k->name);
  std::printf("\n");
  // The portable one always runs.
  bool emu = false;
  for (const NerfKernels* k : v) emu = emu || std::string(k->name) == "EMU128" || std::string(k->name) == "SCALAR";
  EXPECT_TRUE(emu);
  EXPECT_NE(bad_input_message([] { set_nerf_kernels("avx9000"); }).find("avx9000"), std::string::npos);
  set_nerf_kernels(v.front()->name);
  EXPECT_EQ(std::string(nerf_kernels().name), v.front()->name);
  // One naming rule for both registries: case does not matter.
  std::string lower = v.back()->name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  set_nerf_kernels(lower);
  EXPECT_EQ(std::string(nerf_kernels().name), v.back()->name);
  set_nerf_kernels(v.front()->name);
  EXPECT_TRUE(kernel_name_is("avx3_fp16", "AVX3_FP16"));
  EXPECT_FALSE(kernel_name_is("avx3", "AVX3_FP16"));
  const std::string hg = hash_grid_kernels().name;
  std::string hg_lower = hg;
  for (char& c : hg_lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  set_hash_grid_kernels(hg_lower);
  EXPECT_EQ(std::string(hash_grid_kernels().name), hg);
}

TEST(NerfKernels, MlpMatchesLibTorchForEveryVariant) {
  torch::manual_seed(3);
  Mlp m(48, 65, 64, 3);
  const torch::Tensor x = torch::randn({77, 48});
  const torch::Tensor ref = m->forward(x).detach();
  PackedMlp pm;
  pm.layers = 3;
  std::vector<std::vector<float>> w(3);
  for (int l = 0; l < 3; ++l) {
    const torch::Tensor W = m->linears[static_cast<std::size_t>(l)]->weight.detach().contiguous();
    const int out = static_cast<int>(W.size(0)), in = static_cast<int>(W.size(1));
    const int pad = pack_layer_weights(W.data_ptr<float>(), out, in, 0, in, w[static_cast<std::size_t>(l)]);
    pm.layer[l] = {w[static_cast<std::size_t>(l)].data(), nullptr, in, out, pad};
  }
  for (const NerfKernels* k : nerf_kernel_variants()) {
    torch::Tensor out = torch::zeros({77, 65});
    k->mlp(pm, x.data_ptr<float>(), out.data_ptr<float>(), 77);
    EXPECT_LE((out - ref).abs().max().item<double>(), 1e-4 * (1 + ref.abs().max().item<double>())) << k->name;
  }
}

TEST(CpuRenderer, SamePixelsAsPlainOnRandomWeights) {
  at::set_num_threads(2);
  const NerfConfig cfg = default_config(5);
  NerfNetwork net = random_network(cfg, 11);
  // Half the cells occupied at random, and (second pass) every cell.
  auto grid = std::make_shared<OccupancyGrid>(cfg.occupancy, cfg.step());
  const std::int64_t G = cfg.occupancy.resolution;
  grid->set_bits(torch::rand({G, G, G}) < 0.5);
  PlainRenderer plain(net, grid);
  CpuRenderer cpu(net, grid);
  EXPECT_EQ(cpu.name(), "cpu");
  FrameRequest req = random_request(cfg, pose(12, -6, 0.1, -0.4, -9), 56, 48, 220, 2);
  for (const NerfKernels* k : nerf_kernel_variants()) {
    if (!k->exact) continue;
    set_nerf_kernels(k->name);
    expect_same(compare(plain, cpu, req), std::string(k->name) + ", half occupied");
  }
  grid->fill(true);
  req.latent = -1;
  req.pose = pose(-20, 8, -0.2, 0.3, -8);
  for (const NerfKernels* k : nerf_kernel_variants()) {
    if (!k->exact) continue;
    set_nerf_kernels(k->name);
    expect_same(compare(plain, cpu, req), std::string(k->name) + ", all occupied");
  }
  // Without early termination and without a grid.
  PlainRenderer plain_all(net, nullptr);
  CpuRenderer cpu_all(net, nullptr);
  plain_all.settings.min_transmittance = 0;
  cpu_all.settings.min_transmittance = 0;
  set_nerf_kernels(nerf_kernel_variants().front()->name);
  expect_same(compare(plain_all, cpu_all, req), "no grid, no termination");
}

// Widths up to kNerfMaxWidth used to write past the kernels' block buffers (160 rows; issue 26):
// a σ net of 192 and 256 hidden units, 256-wide colour and ambient nets and 200 geometry features
// (the colour input then needs 15 + 200 rows). Every variant, the half-precision one included,
// must give the plain path's pixels; under -DEMOGENE_SANITIZE=ON an overflow fails here.
TEST(CpuRenderer, WidestLayersTheKernelsTake) {
  at::set_num_threads(2);
  for (int width : {192, kNerfMaxWidth}) {
    NerfConfig cfg = default_config(2);
    cfg.head.sigma_hidden = width;
    cfg.head.color_hidden = kNerfMaxWidth;
    cfg.head.ambient_hidden = kNerfMaxWidth;
    cfg.head.geo_features = 200;
    cfg.torso.hidden = kNerfMaxWidth;
    cfg.torso.deform_hidden = width;
    NerfNetwork net = random_network(cfg, 17);
    auto grid = std::make_shared<OccupancyGrid>(cfg.occupancy, cfg.step());
    grid->fill(true);
    PlainRenderer plain(net, grid);
    CpuRenderer cpu(net, grid);
    const FrameRequest req = random_request(cfg, pose(8, -4, 0.0, -0.3, -9), 40, 40, 160, 1);
    for (const NerfKernels* k : nerf_kernel_variants()) {
      set_nerf_kernels(k->name);
      const Diff d = compare(plain, cpu, req);
      const std::string what = std::string(k->name) + ", width " + std::to_string(width);
      if (k->exact) {
        expect_same(d, what);
      } else {
        // Half precision through 256-wide layers: close, not exact (its own test bounds the PSNR).
        EXPECT_LE(d.rgb, 0.1) << what;
        EXPECT_GT(d.plain_samples, 0) << what;
      }
    }
    set_nerf_kernels(nerf_kernel_variants().front()->name);
  }
  // One past the limit is refused, naming the way out.
  NerfConfig wide = default_config(2);
  wide.head.color_hidden = kNerfMaxWidth + 1;
  NerfNetwork wnet(wide);
  auto grid = std::make_shared<OccupancyGrid>(wide.occupancy, wide.step());
  EXPECT_NE(bad_input_message([&] { CpuRenderer r(wnet, grid); }).find("--renderer plain"), std::string::npos);
}

TEST(CpuRenderer, SamePixelsAsPlainOnTheTrainedSubject) {
  at::set_num_threads(2);
  const std::string path = emogene::resource_dir("data") + "/models/subject.ckpt";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  const SubjectModel model(path);
  auto plain = model.renderer("plain");
  auto cpu = model.renderer("cpu");
  const SubjectInfo& info = model.info();
  const std::int64_t W = model.network()->cfg.condition.window;
  // Frames from the test split and a training frame with its own latent, at a reduced size (the
  // same rays, fewer of them).
  const torch::Tensor test_idx = (info.split == 2).nonzero().reshape({-1});
  ASSERT_GT(test_idx.numel(), 0);
  std::vector<std::int64_t> frames = {test_idx[0].item<std::int64_t>(), test_idx[test_idx.numel() / 2].item<std::int64_t>()};
  const torch::Tensor train_idx = (info.split == 0).nonzero().reshape({-1});
  frames.push_back(train_idx[train_idx.numel() / 3].item<std::int64_t>());
  for (std::int64_t f : frames) {
    const std::int64_t a = std::clamp<std::int64_t>(f - W / 2, 0, info.frames() - W);
    const FrameRequest req = model.request(info.landmarks.narrow(0, a, W), info.poses[f],
                                           info.frame_index[f].item<std::int64_t>(), 96, 96);
    for (const NerfKernels* k : nerf_kernel_variants()) {
      if (!k->exact) continue;
      set_nerf_kernels(k->name);
      expect_same(compare(*plain, *cpu, req), std::string(k->name) + ", frame " + std::to_string(f));
    }
  }
  set_nerf_kernels(nerf_kernel_variants().front()->name);
}

// The half-precision variant (AVX512-FP16 CPUs only): not the same pixels, but close — its error
// against the plain path on the trained subject's test frames at 128×128.
TEST(CpuRenderer, Fp16VariantStaysCloseOnTheTrainedSubject) {
  bool have = false;
  for (const NerfKernels* k : nerf_kernel_variants()) have = have || std::string(k->name) == "AVX3_FP16";
  if (!have) GTEST_SKIP() << "this CPU has no AVX512-FP16";
  at::set_num_threads(2);
  const SubjectModel model(emogene::resource_dir("data") + "/models/subject.ckpt");
  auto plain = model.renderer("plain");
  auto half = model.renderer("cpu-fp16");
  EXPECT_EQ(half->name(), "cpu-fp16");
  const SubjectInfo& info = model.info();
  const std::int64_t W = model.network()->cfg.condition.window;
  const torch::Tensor test_idx = (info.split == 2).nonzero().reshape({-1});
  for (int i = 0; i < 3; ++i) {
    const std::int64_t f = test_idx[(i * test_idx.numel()) / 3].item<std::int64_t>();
    const std::int64_t a = std::clamp<std::int64_t>(f - W / 2, 0, info.frames() - W);
    const FrameRequest req = model.request(info.landmarks.narrow(0, a, W), info.poses[f], -1, 128, 128);
    const FrameResult p = plain->render(req), h = half->render(req);
    const torch::Tensor d = (p.rgb - h.rgb).abs();
    const double mse = (p.rgb - h.rgb).pow(2).mean().item<double>();
    const double psnr = 10 * std::log10(1.0 / std::max(mse, 1e-20));
    std::printf("fp16 frame %lld: max abs %.2e, mean abs %.2e, PSNR vs plain %.1f dB, samples %lld / %lld\n",
                static_cast<long long>(f), d.max().item<double>(), d.mean().item<double>(), psnr,
                static_cast<long long>(p.samples), static_cast<long long>(h.samples));
    // Measured here: PSNR 73 dB, mean 9e-5, max 5e-3.
    EXPECT_GE(psnr, 60.0);
    EXPECT_LE(d.mean().item<double>(), 5e-4);
    EXPECT_LE(d.max().item<double>(), 0.03);
    EXPECT_NEAR(static_cast<double>(h.samples), static_cast<double>(p.samples), 0.02 * static_cast<double>(p.samples));
  }
}

// One renderer drawing frames from two threads at once (batch --jobs shares the models) gives the
// frames it gives one at a time: the per-frame folded biases are each call's own.
TEST(CpuRenderer, ConcurrentFramesEqualSerialOnes) {
  const NerfConfig cfg = default_config(4);
  NerfNetwork net = random_network(cfg, 21);
  auto grid = std::make_shared<OccupancyGrid>(cfg.occupancy, cfg.step());
  CpuRenderer cpu(net, grid);
  std::vector<FrameRequest> reqs(2);
  for (int i = 0; i < 2; ++i) {
    FrameRequest& q = reqs[static_cast<std::size_t>(i)];
    q.landmarks = torch::randn({68, 3}) * 0.3;
    q.pose = pose(i ? 15 : -15, 0, 0, 0, -9);
    q.width = q.height = 40;
    q.intrinsics = {160, 160, 20, 20};
    q.background = torch::rand({40, 40, 3});
    q.latent = i;
  }
  const torch::Tensor a = cpu.render(reqs[0]).rgb, b = cpu.render(reqs[1]).rgb;
  ASSERT_GT((a - b).abs().max().item<double>(), 1e-3);  // the two frames differ
  std::vector<double> diff(2, 0.0);
  std::vector<std::thread> th;
  for (int t = 0; t < 2; ++t)
    th.emplace_back([&, t] {
      at::set_num_threads(1);
      for (int rep = 0; rep < 6; ++rep) {
        const torch::Tensor r = cpu.render(reqs[static_cast<std::size_t>(t)]).rgb;
        diff[static_cast<std::size_t>(t)] = std::max(diff[static_cast<std::size_t>(t)], (r - (t ? b : a)).abs().max().item<double>());
      }
    });
  for (auto& x : th) x.join();
  EXPECT_EQ(diff[0], 0.0);
  EXPECT_EQ(diff[1], 0.0);
}

TEST(CpuRenderer, AutoPicksCpuAndBadInputIsClear) {
  const NerfConfig cfg = default_config(3);
  NerfNetwork net = random_network(cfg, 5);
  auto grid = std::make_shared<OccupancyGrid>(cfg.occupancy, cfg.step());
  EXPECT_EQ(make_frame_renderer("auto", net, grid)->name(), "cpu");
  EXPECT_EQ(make_frame_renderer("cpu", net, grid)->name(), "cpu");
  EXPECT_NE(bad_input_message([&] { make_frame_renderer("gpu", net, grid); }).find("auto, cpu, cpu-fp16, plain"), std::string::npos);
  CpuRenderer cpu(net, grid);
  FrameRequest req;
  req.landmarks = torch::randn({68, 2});
  req.pose = pose(0, 0, 0, 0, -9);
  req.width = req.height = 16;
  req.intrinsics = {60, 60, 8, 8};
  req.background = torch::zeros({16, 16, 3});
  EXPECT_NE(bad_input_message([&] { cpu.render(req); }).find("landmarks"), std::string::npos);
  // A layer wider than the kernels take is refused with the way out named.
  NerfConfig wide = cfg;
  wide.head.sigma_hidden = 512;
  NerfNetwork wnet(wide);
  EXPECT_NE(bad_input_message([&] { CpuRenderer r(wnet, grid); }).find("--renderer plain"), std::string::npos);
}
