// render/nerf: config files, the volume-rendering equation by hand, early termination and
// occupancy skipping against the full render, rays and poses (DESIGN §4), module shapes and bad
// input, and a tiny head field that learns a coloured sphere from a few views.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdlib>

#include "emogene/core/config.h"
#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/landmarks/landmarks.h"
#include "emogene/render/frame_renderer.h"
#include "emogene/render/nerf.h"
#include "emogene/render/nerf_config.h"
#include "emogene/render/nerf_state.h"
#include "emogene/render/volume.h"
#include "testutil.h"

using namespace emogene::render;
using emogene::test::bad_input_message;

namespace {

torch::Tensor rot_y(double deg) {
  const double a = deg * M_PI / 180.0, c = std::cos(a), s = std::sin(a);
  return torch::tensor({c, 0.0, s, 0.0, 1.0, 0.0, -s, 0.0, c}, torch::kFloat).view({3, 3});
}
torch::Tensor rot_x(double deg) {
  const double a = deg * M_PI / 180.0, c = std::cos(a), s = std::sin(a);
  return torch::tensor({1.0, 0.0, 0.0, 0.0, c, -s, 0.0, s, c}, torch::kFloat).view({3, 3});
}

torch::Tensor make_pose(const torch::Tensor& R, double tx, double ty, double tz) {
  torch::Tensor P = torch::eye(4, torch::kFloat);
  P.narrow(0, 0, 3).narrow(1, 0, 3).copy_(R);
  P[0][3] = tx;
  P[1][3] = ty;
  P[2][3] = tz;
  return P;
}

// A single ray from (0, 0, 5) along −z through the box [−1,1]³.
Rays down_z_ray() { return {torch::tensor({{0.0f, 0.0f, 5.0f}}), torch::tensor({{0.0f, 0.0f, -1.0f}})}; }

MarchSettings unit_box(std::int64_t samples, double step, double min_t) {
  MarchSettings s;
  s.box_min = {-1, -1, -1};
  s.box_max = {1, 1, 1};
  s.samples_per_ray = samples;
  s.step = step;
  s.min_transmittance = min_t;
  return s;
}

// Two slabs along z (box coordinates → canonical z = 2·xb − 1): (0.5, 0.9) with σ1 and colour c1,
// (−0.3, 0.1) with σ2 and colour c2.
FieldFn two_slabs(double s1, std::array<float, 3> c1, double s2, std::array<float, 3> c2) {
  return [=](const torch::Tensor& x, const torch::Tensor&, const torch::Tensor&) {
    const torch::Tensor z = x.select(1, 2) * 2 - 1;
    const torch::Tensor in1 = (z > 0.5) & (z < 0.9), in2 = (z > -0.3) & (z < 0.1);
    const torch::Tensor sigma = in1.to(torch::kFloat) * s1 + in2.to(torch::kFloat) * s2;
    const torch::Tensor a = torch::tensor({c1[0], c1[1], c1[2]}), b = torch::tensor({c2[0], c2[1], c2[2]});
    const torch::Tensor rgb = torch::where(in1.unsqueeze(1), a.expand({x.size(0), 3}), b.expand({x.size(0), 3}));
    return FieldValues{sigma, rgb};
  };
}

// A dense sphere (canonical centre c, radius r, density σ) coloured by its position, in the box
// [−1,1]³.
struct SphereField {
  double cx = 0.1, cy = -0.1, cz = 0.0, r = 0.6, sigma = 60;
  FieldValues operator()(const torch::Tensor& xb, const torch::Tensor&, const torch::Tensor&) const {
    const torch::Tensor p = xb * 2 - 1;
    const torch::Tensor q = p - torch::tensor({static_cast<float>(cx), static_cast<float>(cy), static_cast<float>(cz)});
    const torch::Tensor inside = q.norm(2, 1) < r;
    return {inside.to(torch::kFloat) * sigma, (0.5 + 0.5 * torch::tanh(3 * p)).contiguous()};
  }
};

Rays frame_rays(std::int64_t size, const Intrinsics& k, const torch::Tensor& pose) {
  return head_rays(pixel_centres(size, size, torch::kFloat), k, pose);
}

double psnr(const torch::Tensor& a, const torch::Tensor& b) {
  const double mse = (a - b).pow(2).mean().item<double>();
  return 10 * std::log10(1.0 / std::max(mse, 1e-12));
}

}  // namespace

// ---- config ---------------------------------------------------------------------------------------

TEST(NerfConfig, FilesLoadAndRoundTrip) {
  const std::string dir = emogene::resource_dir("configs") + "/nerf/";
  for (const char* name : {"default.json", "small.json"}) {
    const nlohmann::json j = emogene::load_config(dir + name);
    const NerfConfig c = NerfConfig::from_json(j.at("model"), name);
    EXPECT_EQ(NerfConfig::from_json(c.to_json(), "round trip").to_json(), c.to_json()) << name;
  }
  const NerfConfig d = NerfConfig::from_json(emogene::load_config(dir + "default.json").at("model"), "default");
  // RAD-NeRF's facts (issue 8).
  EXPECT_EQ(d.head.grid.levels, 16);
  EXPECT_EQ(d.head.grid.features_per_level, 2);
  EXPECT_EQ(d.head.grid.base_resolution, 16);
  EXPECT_EQ(d.head.grid.log2_table_size, 16);
  EXPECT_EQ(d.head.grid.finest_resolution, 512);
  EXPECT_EQ(d.condition.dims, 64);
  EXPECT_EQ(d.occupancy.resolution, 128);
  EXPECT_EQ(d.occupancy.update_every, 16);
  EXPECT_EQ(d.march.samples_per_ray, 16);
  EXPECT_TRUE(d.torso.enabled);
  // The defaults of the struct equal the default file, but for the eye condition: on in the file,
  // off in the struct so that checkpoints from before it load as they were trained.
  NerfConfig e = NerfConfig::from_json(nlohmann::json::object(), "x");
  EXPECT_FALSE(e.condition.eyes);
  EXPECT_TRUE(d.condition.eyes);
  e.condition.eyes = true;
  EXPECT_EQ(e.to_json(), d.to_json());
}

TEST(NerfConfig, RefusesUnknownAndBadValues) {
  EXPECT_NE(bad_input_message([] { NerfConfig::from_json({{"colour", 1}}, "f.json"); }).find("colour"), std::string::npos);
  EXPECT_NE(bad_input_message([] { NerfConfig::from_json({{"head", {{"sigma_widht", 3}}}}, "f.json"); }).find("head.sigma_widht"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { NerfConfig::from_json({{"head", {{"grid", {{"levelz", 3}}}}}}, "f.json"); }).find("levelz"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { NerfConfig::from_json({{"condition", {{"window", 4}}}}, "f.json"); }).find("window"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { NerfConfig::from_json({{"march", {{"samples_per_ray", "many"}}}}, "f.json"); })
                .find("wrong type"),
            std::string::npos);
  EXPECT_NE(bad_input_message([] { NerfConfig::from_json({{"box_min", {2, 2, 2}}}, "f.json"); }).find("box_max"),
            std::string::npos);
}

// ---- the volume-rendering equation ----------------------------------------------------------------

TEST(Volume, CompositeSlabKnownAnswers) {
  // A slab of constant density σ crossed over a length d gives alpha 1 − exp(−σ·d).
  const double sigma = 3.0, step = 0.05;
  const std::int64_t n = 8;
  torch::Tensor s = torch::zeros({1, 20});
  s.narrow(1, 5, n).fill_(sigma);
  const torch::Tensor t = (torch::arange(20, torch::kFloat) * step).unsqueeze(0);
  const torch::Tensor rgb = torch::full({1, 20, 3}, 0.5f);
  const RayColours c = composite(s, rgb, t, step);
  EXPECT_NEAR(c.alpha.item<double>(), 1 - std::exp(-sigma * n * step), 1e-6);
  EXPECT_NEAR(c.rgb[0][1].item<double>(), 0.5 * (1 - std::exp(-sigma * n * step)), 1e-6);
}

TEST(Volume, TwoSlabsByHandInEveryPath) {
  // Ray from z = 5 down −z: near 4; samples at z = 1 − (k + 0.5)·0.1 → 4 samples in each slab.
  const double s1 = 2.0, s2 = 5.0, d = 0.4;
  const std::array<float, 3> c1 = {1.0f, 0.2f, 0.0f}, c2 = {0.0f, 0.5f, 1.0f};
  const FieldFn f = two_slabs(s1, c1, s2, c2);
  const double a1 = 1 - std::exp(-s1 * d), a2 = 1 - std::exp(-s2 * d);
  const MarchSettings ms = unit_box(20, 0.1, 0.0);
  for (int path = 0; path < 2; ++path) {
    const RayColours c = path == 0 ? march_rays(down_z_ray(), f, nullptr, ms) : render_rays(down_z_ray(), f, nullptr, ms);
    for (int ch = 0; ch < 3; ++ch) {
      const double expect = a1 * c1[static_cast<std::size_t>(ch)] + (1 - a1) * a2 * c2[static_cast<std::size_t>(ch)];
      EXPECT_NEAR(c.rgb[0][ch].item<double>(), expect, 1e-5) << "path " << path << " channel " << ch;
    }
    EXPECT_NEAR(c.alpha.item<double>(), 1 - (1 - a1) * (1 - a2), 1e-5);
    EXPECT_EQ(c.samples, path == 0 ? 20 : 20);  // every sample inside the box, no grid
    // depth: Σ w t with t = 4 + (k + 0.5)·0.1
    double depth = 0, T = 1;
    for (int k = 0; k < 20; ++k) {
      const double z = 1 - (k + 0.5) * 0.1;
      const double sg = (z > 0.5 && z < 0.9) ? s1 : (z > -0.3 && z < 0.1) ? s2 : 0.0;
      const double a = 1 - std::exp(-sg * 0.1);
      depth += T * a * (4 + (k + 0.5) * 0.1);
      T *= 1 - a;
    }
    EXPECT_NEAR(c.depth.item<double>(), depth, 1e-4);
  }
}

TEST(Volume, EarlyTerminationSkipsOnlyNegligibleSamples) {
  torch::manual_seed(3);
  const SphereField sphere;
  const FieldFn f = [&](const torch::Tensor& x, const torch::Tensor& d, const torch::Tensor& r) { return sphere(x, d, r); };
  const Intrinsics k{40, 40, 16, 16};
  const Rays rays = frame_rays(32, k, make_pose(torch::mm(rot_y(25), rot_x(-10)), 0.05, 0.0, -4.0));
  const RayColours full = march_rays(rays, f, nullptr, unit_box(64, 0, 0.0));
  const RayColours term = march_rays(rays, f, nullptr, unit_box(64, 0, 1e-4));
  const torch::Tensor bg = torch::full({1, 3}, 0.3f);
  const torch::Tensor pf = full.rgb + (1 - full.alpha).unsqueeze(1) * bg, pt = term.rgb + (1 - term.alpha).unsqueeze(1) * bg;
  EXPECT_LE((pf - pt).abs().max().item<double>(), 1e-4);
  // Every opaque ray stops a few samples after the surface instead of running through the box.
  const std::int64_t opaque = (full.alpha > 0.9999).sum().item<std::int64_t>();
  EXPECT_GT(opaque, 50);
  EXPECT_LT(term.samples, full.samples - 5 * opaque) << "termination should skip the samples behind the surface";
  EXPECT_GT(full.alpha.max().item<double>(), 0.9999);
}

TEST(Volume, OccupancySkippingKeepsPixelsWhereTheGridCoversTheDensity) {
  const SphereField sphere;
  const FieldFn f = [&](const torch::Tensor& x, const torch::Tensor& d, const torch::Tensor& r) { return sphere(x, d, r); };
  OccupancyConfig oc;
  oc.resolution = 32;
  const MarchSettings ms = unit_box(48, 0, 1e-4);
  OccupancyGrid grid(oc, ms.step_size());
  // A cell is occupied when it meets the sphere (closest point of the cell within r).
  const std::int64_t G = oc.resolution;
  const torch::Tensor i = torch::arange(G, torch::kFloat);
  const auto m = torch::meshgrid({i, i, i}, "ij");
  const torch::Tensor lo = torch::stack({m[0], m[1], m[2]}, -1) / G * 2 - 1, hi = lo + 2.0 / G;
  const torch::Tensor c = torch::tensor({static_cast<float>(sphere.cx), static_cast<float>(sphere.cy), static_cast<float>(sphere.cz)});
  const torch::Tensor closest = torch::maximum(lo, torch::minimum(c, hi));
  grid.set_bits((closest - c).norm(2, -1) < sphere.r);
  EXPECT_LT(grid.occupied_fraction(), 0.25);

  const Intrinsics k{40, 40, 16, 16};
  const Rays rays = frame_rays(32, k, make_pose(rot_y(-30), 0.0, 0.1, -4.0));
  const RayColours all = march_rays(rays, f, nullptr, ms);
  const RayColours skip = march_rays(rays, f, &grid, ms);
  EXPECT_LE((all.rgb - skip.rgb).abs().max().item<double>(), 1e-6);
  EXPECT_LE((all.alpha - skip.alpha).abs().max().item<double>(), 1e-6);
  EXPECT_LT(skip.samples, all.samples / 2);
  // The training pass skips the same samples and gives the same pixels.
  const RayColours tr = render_rays(rays, f, &grid, unit_box(48, 0, 0));
  const RayColours tr_all = render_rays(rays, f, nullptr, unit_box(48, 0, 0));
  EXPECT_LE((tr.rgb - tr_all.rgb).abs().max().item<double>(), 1e-5);

  // update() from the true density marks the sphere's centre and clears far corners.
  OccupancyGrid learned(oc, ms.step_size());
  learned.update([&](const torch::Tensor& x) { return sphere(x, x, x).sigma; }, G * G * G);
  EXPECT_TRUE(learned.occupied(torch::tensor({{0.55f, 0.45f, 0.5f}})).item<bool>());
  EXPECT_FALSE(learned.occupied(torch::tensor({{0.02f, 0.98f, 0.02f}})).item<bool>());
  EXPECT_LT(learned.occupied_fraction(), 0.25);
}

// ---- rays and poses (DESIGN §4) -------------------------------------------------------------------

TEST(Rays, PrincipalPointLooksDownMinusZ) {
  const Intrinsics k{300, 280, 120.5, 130.5};
  const torch::Tensor d = camera_directions(torch::tensor({{120.5f, 130.5f}}), k);
  EXPECT_NEAR(d[0][0].item<double>(), 0, 1e-7);
  EXPECT_NEAR(d[0][1].item<double>(), 0, 1e-7);
  EXPECT_NEAR(d[0][2].item<double>(), -1, 1e-7);
  // Right of and above the principal point: +x and +y (v grows downwards).
  const torch::Tensor e = camera_directions(torch::tensor({{200.0f, 50.0f}}), k);
  EXPECT_GT(e[0][0].item<double>(), 0);
  EXPECT_GT(e[0][1].item<double>(), 0);
  // Pixel centres are at integer + 0.5, row-major.
  const torch::Tensor uv = pixel_centres(3, 2, torch::kFloat);
  EXPECT_TRUE(torch::equal(uv[4], torch::tensor({1.5f, 1.5f})));
  // A frontal head at distance d: the ray of the principal point starts at (0, 0, d) in head space.
  const Rays r = head_rays(torch::tensor({{120.5f, 130.5f}}), k, make_pose(torch::eye(3), 0, 0, -4));
  EXPECT_NEAR((r.origins[0] - torch::tensor({0.f, 0.f, 4.f})).abs().max().item<double>(), 0, 1e-6);
  EXPECT_NEAR((r.dirs[0] - torch::tensor({0.f, 0.f, -1.f})).abs().max().item<double>(), 0, 1e-6);
  const Intrinsics half = scale_intrinsics(k, 256, 256, 128, 128);
  EXPECT_DOUBLE_EQ(half.fx, 150);
  EXPECT_DOUBLE_EQ(half.cx, 60.25);
}

TEST(Rays, KnownPoseMovesAKnownPoint) {
  // R = 90° about +y, t = (0.5, −0.2, −5): the head's +x axis points to the camera's −z.
  const torch::Tensor P = make_pose(rot_y(90), 0.5, -0.2, -5);
  const torch::Tensor xh = torch::tensor({{1.0f, 0.0f, 0.0f}});
  const torch::Tensor xc = head_to_camera(xh, P);
  EXPECT_NEAR((xc - torch::tensor({{0.5f, -0.2f, -6.0f}})).abs().max().item<double>(), 0, 1e-6);
  EXPECT_NEAR((camera_to_head(xc, P) - xh).abs().max().item<double>(), 0, 1e-6);
  // Its pixel (DESIGN §4 projection) has a head-space ray through it, at the camera distance.
  const Intrinsics k{200, 200, 128, 128};
  const double u = 128 + 200 * 0.5 / 6.0, v = 128 - 200 * (-0.2) / 6.0;
  const Rays r = head_rays(torch::tensor({{static_cast<float>(u), static_cast<float>(v)}}), k, P);
  const double dist = xc.norm().item<double>();
  EXPECT_NEAR((r.origins + dist * r.dirs - xh).abs().max().item<double>(), 0, 1e-5);
  // Box hits: the ray enters a box around the point before it and leaves after.
  const BoxHits h = intersect_box(r, {0.9, -0.1, -0.1}, {1.1, 0.1, 0.1});
  EXPECT_TRUE(h.hit.item<bool>());
  EXPECT_LT(h.near.item<double>(), dist);
  EXPECT_GT(h.far.item<double>(), dist);
}

// ---- modules --------------------------------------------------------------------------------------

namespace {
NerfConfig small_config() {
  const nlohmann::json j = emogene::load_config(emogene::resource_dir("configs") + "/nerf/small.json");
  NerfConfig c = NerfConfig::from_json(j.at("model"), "small");
  c.frames = 7;
  return c;
}
}  // namespace

TEST(NerfModules, ShapesAndDeviceAgnosticForward) {
  torch::manual_seed(1);
  const NerfConfig cfg = small_config();
  NerfNetwork net(cfg);
  const std::int64_t W = cfg.condition.window;
  const torch::Tensor lm = torch::randn({2, W, 68, 3});
  const torch::Tensor cond = net->condition->forward(lm);
  EXPECT_EQ(cond.sizes(), (std::vector<std::int64_t>{2, cfg.condition.dims}));
  const torch::Tensor x = torch::rand({100, 3}), d = torch::nn::functional::normalize(torch::randn({100, 3}));
  const HeadSamples h = net->head->forward(x, d, cond.narrow(0, 0, 1), net->head_latent(3));
  EXPECT_EQ(h.sigma.sizes(), (std::vector<std::int64_t>{100}));
  EXPECT_EQ(h.rgb.sizes(), (std::vector<std::int64_t>{100, 3}));
  EXPECT_EQ(h.ambient.sizes(), (std::vector<std::int64_t>{100, cfg.head.ambient_dims}));
  EXPECT_TRUE((h.sigma > 0).all().item<bool>());
  EXPECT_EQ(net->head_latent(-1).sizes(), (std::vector<std::int64_t>{1, cfg.head.latent_dims}));
  const torch::Tensor anchors = net->torso_anchors(make_pose(torch::eye(3), 0, 0, -6), 100, 100, 32, 32, 64, 64);
  EXPECT_EQ(anchors.size(1), 2 * static_cast<std::int64_t>(cfg.torso.anchors.size()));
  // The chin anchor (0, −2, ·) of a frontal head projects below the image centre (+v, +p_y).
  EXPECT_GT(anchors[0][1].item<double>(), 0);
  const TorsoSamples t = net->torso->forward(torch::rand({50, 2}) * 2 - 1, anchors, net->torso_latent(0));
  EXPECT_EQ(t.rgb.sizes(), (std::vector<std::int64_t>{50, 3}));
  EXPECT_EQ(t.alpha.sizes(), (std::vector<std::int64_t>{50}));
  // Gradients reach every parameter group through the head.
  (h.rgb.sum() + h.sigma.sum()).backward();
  EXPECT_TRUE(net->head->grid->table.grad().defined());
  EXPECT_TRUE(net->head->ambient_grid->table.grad().defined());
  EXPECT_TRUE(net->head_latents.grad().defined());
  EXPECT_GT(net->condition->frame_net->linears[0]->weight.grad().abs().sum().item<double>(), 0);
}

TEST(NerfModules, EyeConditionStartsSilentAndReadsTheCentreFramesEyes) {
  // Eye aspect ratios in torch equal landmarks::eye_openness (the mean of the two).
  torch::manual_seed(3);
  const torch::Tensor lm0 = torch::from_blob(const_cast<float*>(emogene::landmarks::mean_face().data()), {68, 3}, torch::kFloat).clone();
  const torch::Tensor ear = eye_aspect_ratios(lm0);
  emogene::landmarks::Shape flat = emogene::landmarks::mean_face();
  flat.col(2).setZero();  // the frontal (x, y) reading, as the condition sees the landmarks
  EXPECT_NEAR(ear.mean().item<double>(), emogene::landmarks::eye_openness(flat), 1e-5);
  NerfConfig with = small_config(), without = small_config();
  with.condition.eyes = true;
  without.condition.eyes = false;
  torch::manual_seed(4);
  NerfNetwork a(with);
  torch::manual_seed(4);
  NerfNetwork b(without);
  const std::int64_t W = with.condition.window;
  torch::Tensor win = lm0.unsqueeze(0).expand({W, 68, 3}).clone() + torch::randn({W, 68, 3}) * 0.01;
  torch::NoGradGuard ng;
  // A fresh eye map is zero: the condition is the one without eyes.
  EXPECT_LT((a->condition->forward(win) - b->condition->forward(win)).abs().max().item<double>(), 1e-6);
  a->condition->eye_net->weight.normal_(0, 1);
  // Close both eyes of the centre frame (upper lids onto the lower): the eye path moves the condition.
  torch::Tensor shut = win.clone();
  for (auto [up, lo] : {std::pair{37, 41}, std::pair{38, 40}, std::pair{43, 47}, std::pair{44, 46}})
    shut[W / 2][up].narrow(0, 1, 1).copy_(shut[W / 2][lo].narrow(0, 1, 1));
  EXPECT_LT(eye_aspect_ratios(shut[W / 2]).max().item<double>(), 0.05);
  const torch::Tensor ca = a->condition->forward(win), cs = a->condition->forward(shut);
  const torch::Tensor eye_part = a->condition->eye_net->forward((eye_aspect_ratios(shut[W / 2]) - eye_aspect_ratios(win[W / 2])) / 0.3) -
                                 a->condition->eye_net->bias;
  const torch::Tensor rest = b->condition->forward(shut) - b->condition->forward(win);  // the landmark path's share
  EXPECT_LT((cs - ca - eye_part.unsqueeze(0) - rest).abs().max().item<double>(), 1e-4);
  EXPECT_GT(eye_part.abs().max().item<double>(), 0.1);
  // Checkpoints from before the eye path load with it off; new configs turn it on.
  EXPECT_FALSE(NerfConfig::from_json(nlohmann::json::object(), "x").condition.eyes);
}

TEST(NerfModules, PlainRendererFrame) {
  torch::manual_seed(2);
  const NerfConfig cfg = small_config();
  NerfNetwork net(cfg);
  auto grid = std::make_shared<OccupancyGrid>(cfg.occupancy, cfg.step());
  auto r = make_frame_renderer("plain", net, grid);
  EXPECT_EQ(r->name(), "plain");
  FrameRequest req;
  req.landmarks = torch::randn({68, 3});
  req.pose = make_pose(rot_y(10), 0, 0, -8);
  req.width = 24;
  req.height = 20;
  req.intrinsics = {30, 30, 12, 10};
  req.background = torch::full({20, 24, 3}, 0.25f);
  const FrameResult f = r->render(req);
  EXPECT_EQ(f.rgb.sizes(), (std::vector<std::int64_t>{20, 24, 3}));
  EXPECT_EQ(f.alpha.sizes(), (std::vector<std::int64_t>{20, 24}));
  EXPECT_EQ(f.depth.sizes(), (std::vector<std::int64_t>{20, 24}));
  EXPECT_GT(f.samples, 0);
  EXPECT_GE(f.rgb.min().item<double>(), 0);
  EXPECT_LE(f.rgb.max().item<double>(), 1);
  // With the head and torso transparent (grid empty, torso alpha 0), the frame is the background.
  grid->fill(false);
  FrameResult g = r->render(req);
  EXPECT_EQ(g.samples, 0);
  EXPECT_LE((g.head_alpha).abs().max().item<double>(), 0);
  // The frame is torso over background: it differs from the background by at most the torso's alpha.
  EXPECT_TRUE(((g.rgb - req.background).abs() <= g.torso_alpha.unsqueeze(-1) + 1e-6).all().item<bool>());
  // A window of landmarks is accepted; a wrong shape, bad latent or background is one clear error.
  req.landmarks = torch::randn({cfg.condition.window, 68, 3});
  EXPECT_NO_THROW(r->render(req));
  req.landmarks = torch::randn({68, 2});
  EXPECT_NE(bad_input_message([&] { r->render(req); }).find("landmarks"), std::string::npos);
  req.landmarks = torch::randn({68, 3});
  req.latent = 7;
  EXPECT_NE(bad_input_message([&] { r->render(req); }).find("latent"), std::string::npos);
  req.latent = 0;
  req.background = torch::zeros({24, 20, 3});
  EXPECT_NE(bad_input_message([&] { r->render(req); }).find("background"), std::string::npos);
  EXPECT_NE(bad_input_message([&] { make_frame_renderer("fast", net, grid); }).find("fast"), std::string::npos);
}

TEST(NerfModules, StateRoundTripThroughSafetensors) {
  torch::manual_seed(4);
  const NerfConfig cfg = small_config();
  NerfNetwork a(cfg);
  OccupancyGrid ga(cfg.occupancy, cfg.step());
  ga.update([&](const torch::Tensor& x) { return a->head->density(x, torch::zeros({1, cfg.condition.dims})); }, 4096);
  a->condition->mean.fill_(0.25);
  const std::string path = emogene::test::temp_dir() + "/state.safetensors";
  emogene::write_tensors(path, nerf_state(*a, ga), {{"emogene.kind", "nerf"}}, nerf_table_names(*a));
  EXPECT_EQ(nerf_table_names(*a).size(), 3u);  // head grid, ambient grid, torso grid

  torch::manual_seed(5);
  NerfNetwork b(cfg);
  OccupancyGrid gb(cfg.occupancy, cfg.step());
  load_nerf_state(emogene::SafetensorsFile(path), *b, gb);
  EXPECT_TRUE(torch::equal(ga.bits(), gb.bits()));
  EXPECT_TRUE(torch::equal(a->condition->mean, b->condition->mean));
  EXPECT_TRUE(torch::equal(a->head_latents, b->head_latents));
  // Tables went through f16: equal to f16 precision.
  EXPECT_LE((a->head->grid->table - b->head->grid->table).abs().max().item<double>(), 1e-7);

  // Another config's state is refused with the tensor's name.
  NerfConfig other = cfg;
  other.frames = 9;
  NerfNetwork c(other);
  EXPECT_NE(bad_input_message([&] { load_nerf_state(emogene::SafetensorsFile(path), *c, gb); }).find("head_latents"),
            std::string::npos);
}

TEST(NerfModules, OccupancyBitsPackEightToAByte) {
  torch::manual_seed(9);
  const torch::Tensor bits = torch::rand({1001}) > 0.6;
  const torch::Tensor packed = pack_bits(bits);
  ASSERT_EQ(packed.numel(), 126);
  EXPECT_TRUE(torch::equal(unpack_bits(packed, 1001), bits));
  // Bit i of the grid is bit i % 8 of byte i / 8.
  torch::Tensor one = torch::zeros({16}, torch::kBool);
  one[10] = true;
  EXPECT_EQ(pack_bits(one)[1].item<int>(), 4);
  EXPECT_EQ(pack_bits(one)[0].item<int>(), 0);
}

// ---- learning -------------------------------------------------------------------------------------

TEST(NerfLearning, TinyHeadFieldLearnsAColouredSphere) {
  torch::manual_seed(7);
  const auto t0 = std::chrono::steady_clock::now();
  NerfConfig cfg;
  cfg.box_min = {-1, -1, -1};
  cfg.box_max = {1, 1, 1};
  cfg.condition.dims = 4;
  cfg.head.grid.levels = 8;
  cfg.head.grid.log2_table_size = 14;
  cfg.head.grid.finest_resolution = 128;
  cfg.head.ambient_grid.levels = 2;  // the sphere does not change: the ambient grid is idle
  cfg.head.ambient_grid.log2_table_size = 8;
  cfg.head.ambient_grid.finest_resolution = 16;
  cfg.head.ambient_hidden = 8;
  cfg.head.ambient_layers = 1;
  cfg.head.sigma_hidden = 32;
  cfg.head.sigma_layers = 2;
  cfg.head.geo_features = 15;
  cfg.head.color_hidden = 32;
  cfg.head.sh_degree = 2;
  cfg.head.latent_dims = 0;
  HeadField head(cfg);
  const torch::Tensor cond = torch::zeros({1, cfg.condition.dims});
  const torch::Tensor no_latent;
  const FieldFn field = [&](const torch::Tensor& x, const torch::Tensor& d, const torch::Tensor&) {
    const HeadSamples h = head->forward(x, d, cond, no_latent);
    return FieldValues{h.sigma, h.rgb};
  };
  MarchSettings ms = unit_box(32, 0, 0);

  // Ground truth: an opaque sphere of radius 0.7 at the origin, coloured by its normal, white
  // background; the head turns in front of a fixed camera.
  const std::int64_t S = 32;
  const Intrinsics k{44, 44, 16, 16};
  const double bgv = 1.0;
  auto truth = [&](const Rays& r) {
    const torch::Tensor b = (r.origins * r.dirs).sum(1), c = (r.origins * r.origins).sum(1) - 0.49;
    const torch::Tensor disc = b * b - c;
    const torch::Tensor hit = disc > 0;
    const torch::Tensor t = -b - torch::sqrt(disc.clamp_min(0));
    const torch::Tensor p = r.origins + t.unsqueeze(1) * r.dirs;
    const torch::Tensor col = 0.5 + 0.5 * p / 0.7;
    return torch::where(hit.unsqueeze(1), col, torch::full_like(col, bgv));
  };
  auto view = [&](double yaw, double pitch) { return frame_rays(S, k, make_pose(torch::mm(rot_x(pitch), rot_y(yaw)), 0, 0, -3.2)); };
  std::vector<torch::Tensor> o, d, y;
  for (int i = 0; i < 12; ++i) {
    const Rays r = view(i * 30.0, (i % 3 - 1) * 20.0);
    o.push_back(r.origins);
    d.push_back(r.dirs);
    y.push_back(truth(r));
  }
  const torch::Tensor O = torch::cat(o), D = torch::cat(d), Y = torch::cat(y);

  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{head->grid->table, head->ambient_grid->table},
                      std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(2e-2).eps(1e-15)));
  std::vector<torch::Tensor> mlp;
  for (const auto& p : head->named_parameters())
    if (p.key().find("table") == std::string::npos) mlp.push_back(p.value());
  groups.emplace_back(mlp, std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(5e-3)));
  torch::optim::Adam opt(std::move(groups), torch::optim::AdamOptions(1e-2));
  ms.jitter = true;
  const std::int64_t steps = 300, batch = 512;
  for (std::int64_t s = 0; s < steps; ++s) {
    const torch::Tensor idx = torch::randint(0, O.size(0), {batch}, torch::kLong);
    const RayColours c = render_rays({O.index_select(0, idx), D.index_select(0, idx)}, field, nullptr, ms);
    const torch::Tensor pred = c.rgb + (1 - c.alpha).unsqueeze(1) * bgv;
    const torch::Tensor loss = (pred - Y.index_select(0, idx)).pow(2).mean();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  // Held-out views between the training ones, rendered by the plain marcher (midpoints, termination).
  head->eval();
  ms.jitter = false;
  ms.min_transmittance = 1e-4;
  torch::NoGradGuard ng;
  for (const auto& [yaw, pitch] : std::vector<std::pair<double, double>>{{45, 10}, {200, -10}}) {
    const Rays r = view(yaw, pitch);
    const RayColours c = march_rays(r, field, nullptr, ms);
    const double p = psnr(c.rgb + (1 - c.alpha).unsqueeze(1) * bgv, truth(r));
    EXPECT_GT(p, 25.0) << "yaw " << yaw;
    std::printf("sphere held-out view yaw %.0f: PSNR %.2f dB\n", yaw, p);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("sphere: %lld steps in %.1f s\n", static_cast<long long>(steps), secs);
}

// A timing of the plain path at 256×256 with the default config and random weights (every cell
// occupied, so every in-box sample is evaluated): run with --gtest_also_run_disabled_tests.
TEST(NerfTiming, DISABLED_PlainRenderer256) {
  torch::manual_seed(1);
  const NerfConfig cfg = NerfConfig::from_json(
      emogene::load_config(emogene::resource_dir("configs") + "/nerf/default.json").at("model"), "default");
  NerfNetwork net(cfg);
  auto grid = std::make_shared<OccupancyGrid>(cfg.occupancy, cfg.step());
  PlainRenderer r(net, grid);
  FrameRequest req;
  req.landmarks = torch::randn({68, 3});
  req.pose = make_pose(torch::eye(3), 0, -0.5, -9);
  req.width = req.height = 256;
  req.intrinsics = {1000, 1000, 128, 128};
  req.background = torch::zeros({256, 256, 3});
  for (int i = 0; i < 2; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const FrameResult f = r.render(req);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("plain 256x256: %.3f s, %lld samples, %.0f ns/sample\n", s, static_cast<long long>(f.samples),
                1e9 * s / static_cast<double>(std::max<std::int64_t>(1, f.samples)));
  }
}
