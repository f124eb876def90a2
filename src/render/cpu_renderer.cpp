// The hand-written CPU renderer (frame_renderer.h): packs the network for nerf_kernels.h once, folds
// each frame's constants into biases, and runs the kernels over tiles taken dynamically by the
// threads of at::parallel_for (a head's rays are far from uniform in cost, so a static split of the
// image would leave one core idle).
#include <c10/util/Half.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <vector>

#include "emogene/core/error.h"
#include "emogene/render/frame_renderer.h"
#include "emogene/render/nerf_kernels.h"

namespace emogene::render {

namespace {

constexpr const char* kWhere = "cpu renderer";
constexpr std::int64_t kHeadTile = 2048;   // rays per task
constexpr std::int64_t kTorsoTile = 2048;  // pixels per task

// Runs f(begin, end) over [0, n) in tiles, each thread taking the next tile when it is free.
template <typename F>
void dynamic_tiles(std::int64_t n, std::int64_t tile, const F& f) {
  const std::int64_t tiles = (n + tile - 1) / tile;
  std::atomic<std::int64_t> next{0};
  at::parallel_for(0, std::max<std::int64_t>(1, std::min<std::int64_t>(tiles, at::get_num_threads())), 1,
                   [&](std::int64_t, std::int64_t) {
                     for (std::int64_t t = next++; t < tiles; t = next++)
                       f(t * tile, std::min(n, (t + 1) * tile));
                   });
}

torch::Tensor f32(const torch::Tensor& t) { return t.detach().to(torch::kCPU, torch::kFloat).contiguous(); }

}  // namespace

// The network's weights in the kernels' layout (f32 copies; tables f32 even when stored f16).
struct CpuRenderer::Packed {
  struct Layer {
    std::vector<float> w;
    std::vector<std::uint16_t> w16;  // the same as IEEE halves
    int in = 0, out = 0, out_pad = 0;
  };
  struct Net {
    std::vector<Layer> layers;
    torch::Tensor first_full;  // layer 0's whole weight [out, in_total] (for the folded bias)
    int fold_col = 0;          // layer 0 columns from here on are folded into its bias
  };
  Net ambient, sigma, color, deform, torso_net;
  std::mutex mutex;  // guards the occupancy cache and the phase times
  std::shared_ptr<const std::vector<std::uint32_t>> occupancy;  // the grid's bits, 32 cells a word
  const void* occupancy_of = nullptr;     // the bits tensor they were packed from, and its version
  std::uint32_t occupancy_version = 0;
  torch::Tensor table, ambient_table, torso_table;

  static Net pack(const Mlp& m, int cols, int fold_col) {
    Net n;
    n.fold_col = fold_col;
    for (std::size_t l = 0; l < m->linears.size(); ++l) {
      const torch::Tensor W = f32(m->linears[l]->weight);
      const int out = static_cast<int>(W.size(0)), in_total = static_cast<int>(W.size(1));
      const int in = l == 0 ? cols : in_total;
      check_input(in <= kNerfMaxWidth && out <= kNerfMaxWidth, kWhere,
                  "layer " + std::to_string(l) + " of " + std::to_string(in) + " → " + std::to_string(out) +
                      " is wider than the kernels take (" + std::to_string(kNerfMaxWidth) + "); use --renderer plain");
      Layer L;
      L.in = in;
      L.out = out;
      L.out_pad = pack_layer_weights(W.data_ptr<float>(), out, in_total, 0, in, L.w);
      L.w16.resize(L.w.size());
      for (std::size_t i = 0; i < L.w.size(); ++i) L.w16[i] = c10::Half(L.w[i]).x;
      if (l == 0) n.first_full = W;
      n.layers.push_back(std::move(L));
    }
    return n;
  }

  // The layer-0 bias W[:, fold_col:] · c for the frame's constant inputs c ([out_pad], the
  // caller's own: frames may render concurrently, as in batch --jobs).
  static std::vector<float> fold(const Net& n, const torch::Tensor& c) {
    const Layer& L = n.layers.front();
    std::vector<float> bias(static_cast<std::size_t>(L.out_pad), 0.0f);
    const std::int64_t k = n.first_full.size(1) - n.fold_col;
    if (k == 0) return bias;
    check_input(c.numel() == k, kWhere, "internal: folded input of " + std::to_string(c.numel()) + " values, expected " +
                                            std::to_string(k));
    const torch::Tensor b = torch::matmul(n.first_full.narrow(1, n.fold_col, k), f32(c).reshape({k})).contiguous();
    std::copy(b.data_ptr<float>(), b.data_ptr<float>() + L.out, bias.begin());
    return bias;
  }

  // The kernels' view of a net; bias0 (may be null) replaces layer 0's bias.
  static PackedMlp view(const Net& n, const std::vector<float>* bias0 = nullptr) {
    PackedMlp m;
    check_input(static_cast<int>(n.layers.size()) <= kNerfMaxLayers, kWhere, "too many layers for the kernels");
    m.layers = static_cast<int>(n.layers.size());
    for (int l = 0; l < m.layers; ++l) {
      const Layer& L = n.layers[static_cast<std::size_t>(l)];
      m.layer[l] = {L.w.data(), nullptr, L.in, L.out, L.out_pad, L.w16.data()};
    }
    if (bias0) m.layer[0].bias = bias0->data();
    return m;
  }
};

CpuRenderer::CpuRenderer(NerfNetwork net, std::shared_ptr<const OccupancyGrid> grid, const std::string& kernels)
    : settings(MarchSettings::from_config(net->cfg)), net_(std::move(net)), grid_(std::move(grid)),
      packed_(std::make_unique<Packed>()) {
  if (!kernels.empty()) {
    for (const NerfKernels* k : nerf_kernel_variants())
      if (kernel_name_is(kernels, k->name)) kernels_ = k;
    check_input(kernels_ != nullptr, kWhere, "the kernel variant " + kernels + " does not run on this CPU");
  }
  for (const auto& p : net_->parameters())
    check_input(p.device().is_cpu(), kWhere, "the cpu renderer needs the network on the CPU (use --renderer plain on CUDA)");
  net_->eval();
  const NerfConfig& c = net_->cfg;
  const HeadConfig& h = c.head;
  check_input(c.head.grid.input_dims == 3 && c.head.ambient_grid.input_dims == 2 && h.ambient_dims == 2, kWhere,
              "the kernels take a 3D head grid and a 2D ambient grid");
  Packed& P = *packed_;
  const int ex = static_cast<int>(h.grid.output_dims()), ea = static_cast<int>(h.ambient_grid.output_dims());
  const int sh = static_cast<int>(h.sh_degree * h.sh_degree), geo = static_cast<int>(h.geo_features);
  P.ambient = Packed::pack(net_->head->ambient_net, ex, ex);
  P.sigma = Packed::pack(net_->head->sigma_net, ex + ea, ex + ea);
  P.color = Packed::pack(net_->head->color_net, sh + geo, sh + geo);
  check_input(sh - 1 + P.sigma.layers.back().out_pad <= kNerfMaxRows && ex + ea <= kNerfMaxRows, kWhere,
              "the head's encodings are wider than the kernels take; use --renderer plain");
  P.table = f32(net_->head->grid->table);
  P.ambient_table = f32(net_->head->ambient_grid->table);
  if (net_->torso) {
    const TorsoConfig& t = c.torso;
    const int coord = static_cast<int>(2 * (1 + 2 * t.coord_freqs)), eg = static_cast<int>(t.grid.output_dims());
    check_input(t.grid.input_dims == 2 && coord + eg <= kNerfMaxRows, kWhere, "the torso's encodings are wider than the kernels take");
    P.deform = Packed::pack(net_->torso->deform_net, coord, coord);
    P.torso_net = Packed::pack(net_->torso->net, eg + coord, eg + coord);
    P.torso_table = f32(net_->torso->grid->table);
  }
}

CpuRenderer::~CpuRenderer() = default;

std::string CpuRenderer::name() const { return kernels_ && !kernels_->exact ? "cpu-fp16" : "cpu"; }

std::shared_ptr<const std::vector<std::uint32_t>> CpuRenderer::pack_occupancy() {
  Packed& P = *packed_;
  std::lock_guard<std::mutex> lock(P.mutex);
  const torch::Tensor& bits = grid_->bits();
  const std::uint32_t version = static_cast<std::uint32_t>(bits._version());
  if (P.occupancy && P.occupancy_of == bits.data_ptr() && P.occupancy_version == version) return P.occupancy;
  const torch::Tensor b = bits.to(torch::kCPU, torch::kBool).contiguous();
  const bool* src = b.data_ptr<bool>();
  const std::int64_t n = b.numel();
  auto words = std::make_shared<std::vector<std::uint32_t>>(static_cast<std::size_t>((n + 31) / 32), 0u);
  for (std::int64_t i = 0; i < n; ++i)
    if (src[i]) (*words)[static_cast<std::size_t>(i / 32)] |= 1u << (i % 32);
  P.occupancy = words;
  P.occupancy_of = bits.data_ptr();
  P.occupancy_version = version;
  return P.occupancy;
}

namespace {
double seconds_since(std::chrono::steady_clock::time_point& t) {
  const auto now = std::chrono::steady_clock::now();
  const double s = std::chrono::duration<double>(now - t).count();
  t = now;
  return s;
}
}  // namespace

FrameResult CpuRenderer::render(const FrameRequest& req) {
  c10::InferenceMode guard;
  auto clock = std::chrono::steady_clock::now();
  NerfNetworkImpl& net = *net_;
  const FrameSetup s = setup_frame(net, req, torch::kCPU, &camera_);
  const std::int64_t N = s.uv.size(0);
  const NerfKernels& K = kernels_ ? *kernels_ : nerf_kernels();
  Packed& P = *packed_;
  const NerfConfig& c = net.cfg;

  // Head: fold the condition (ambient layer 0) and the latent (colour layer 0) into biases.
  const std::vector<float> amb_bias = Packed::fold(P.ambient, s.cond), col_bias = Packed::fold(P.color, s.head_latent);
  std::shared_ptr<const std::vector<std::uint32_t>> occupancy;
  if (grid_) occupancy = pack_occupancy();
  NerfHeadProblem hp;
  hp.grid = net.head->grid->layout;
  hp.ambient_grid = net.head->ambient_grid->layout;
  hp.table = P.table.data_ptr<float>();
  hp.ambient_table = P.ambient_table.data_ptr<float>();
  hp.ambient_dims = static_cast<int>(c.head.ambient_dims);
  hp.sh_degree = static_cast<int>(c.head.sh_degree);
  hp.geo_features = static_cast<int>(c.head.geo_features);
  hp.ambient = Packed::view(P.ambient, &amb_bias);
  hp.sigma = Packed::view(P.sigma);
  hp.color = Packed::view(P.color, &col_bias);
  // The plain path's tensors: vec3(box_min) and vec3(box_max − box_min) cast to float (volume.cpp).
  for (int i = 0; i < 3; ++i) {
    hp.box_min[i] = static_cast<float>(settings.box_min[static_cast<std::size_t>(i)]);
    hp.box_size[i] = static_cast<float>(settings.box_max[static_cast<std::size_t>(i)] - settings.box_min[static_cast<std::size_t>(i)]);
  }
  check_input(settings.samples_per_ray >= 1 && settings.samples_per_ray <= 64, kWhere,
              "the kernels march at most 64 samples per ray, the config asks " + std::to_string(settings.samples_per_ray) +
                  "; use --renderer plain");
  hp.samples_per_ray = static_cast<int>(settings.samples_per_ray);
  hp.step = static_cast<float>(settings.step_size());
  hp.min_transmittance = static_cast<float>(settings.min_transmittance);
  if (grid_) {
    hp.occupancy = occupancy->data();
    hp.occupancy_resolution = static_cast<int>(grid_->resolution());
  }
  hp.rays = N;
  const torch::Tensor origins = s.rays.origins.contiguous(), dirs = s.rays.dirs.contiguous();
  hp.origins = origins.data_ptr<float>();
  hp.dirs = dirs.data_ptr<float>();
  for (int i = 0; i < 3; ++i) hp.box_max[i] = static_cast<float>(settings.box_max[static_cast<std::size_t>(i)]);
  const auto fopt = torch::TensorOptions().dtype(torch::kFloat);
  torch::Tensor head_rgb = torch::empty({N, 3}, fopt), head_a = torch::empty({N}, fopt), depth = torch::empty({N}, fopt);
  hp.rgb = head_rgb.data_ptr<float>();
  hp.alpha = head_a.data_ptr<float>();
  hp.depth = depth.data_ptr<float>();
  std::atomic<std::int64_t> samples{0};
  Phases ph;
  ph.setup = seconds_since(clock);
  dynamic_tiles(N, kHeadTile, [&](std::int64_t b, std::int64_t e) { samples += K.render_head(hp, b, e); });
  ph.head = seconds_since(clock);

  torch::Tensor torso_rgb = torch::zeros({N, 3}, fopt), torso_a = torch::zeros({N}, fopt);
  if (net.torso) {
    // Torso: the pose anchors' encoding and the latent are the same for every pixel.
    const torch::Tensor cst = torch::cat({frequency_encode(s.anchors, c.torso.pose_freqs), s.torso_latent}, 1);
    const std::vector<float> def_bias = Packed::fold(P.deform, cst), net_bias = Packed::fold(P.torso_net, cst);
    NerfTorsoProblem tp;
    tp.grid = net.torso->grid->layout;
    tp.table = P.torso_table.data_ptr<float>();
    tp.coord_freqs = static_cast<int>(c.torso.coord_freqs);
    tp.deform = Packed::view(P.deform, &def_bias);
    tp.net = Packed::view(P.torso_net, &net_bias);
    tp.width = req.width;
    tp.height = req.height;
    const torch::Tensor px = torso_pixels(head_a, settings.min_transmittance).to(torch::kInt).contiguous();
    tp.points = px.numel();
    tp.pixels = px.data_ptr<std::int32_t>();
    const torch::Tensor uv = s.uv.contiguous();
    tp.uv = uv.data_ptr<float>();
    tp.rgb = torso_rgb.data_ptr<float>();
    tp.alpha = torso_a.data_ptr<float>();
    if (tp.points > 0)
      dynamic_tiles(tp.points, kTorsoTile, [&](std::int64_t b, std::int64_t e) { K.render_torso(tp, b, e); });
  }
  ph.torso = seconds_since(clock);
  FrameResult out = compose_frame(head_rgb, head_a, depth, torso_rgb, torso_a, req.background, req.width, req.height,
                                  samples.load());
  ph.compose = seconds_since(clock);
  std::lock_guard<std::mutex> lock(P.mutex);
  phases_.setup += ph.setup;
  phases_.head += ph.head;
  phases_.torso += ph.torso;
  phases_.compose += ph.compose;
  ++phases_.frames;
  return out;
}

}  // namespace emogene::render

// ---- the roofline (bench nerf) ------------------------------------------------------------------

namespace emogene::render {

namespace {

double flops_of(const PackedMlp& m) {
  double f = 0;
  for (int l = 0; l < m.layers; ++l) f += 2.0 * m.layer[l].in * m.layer[l].out;
  return f;
}

double gathers_of(const HashGridLayout& g) { return static_cast<double>(g.levels) * (1 << g.dims) * g.features; }

// Best time per point of K.mlp over `points` random inputs, split into tiles over the threads.
double mlp_ns(const NerfKernels& K, const PackedMlp& m, std::int64_t points) {
  const int in = m.layer[0].in, out = m.layer[m.layers - 1].out;
  const torch::Tensor x = torch::rand({points, in}), y = torch::empty({points, out});
  const float* xp = x.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    dynamic_tiles(points, 1024, [&](std::int64_t b, std::int64_t e) { K.mlp(m, xp + b * in, yp + b * out, e - b); });
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return 1e9 * best / static_cast<double>(points);
}

}  // namespace

NerfRoofline measure_nerf_roofline(NerfNetwork net, std::int64_t points) {
  c10::InferenceMode guard;
  CpuRenderer r(net, nullptr);  // packs the weights (biases stay zero: the cost is the same)
  return r.roofline(points);
}

NerfRoofline CpuRenderer::roofline(std::int64_t points) const {
  const NerfKernels& K = kernels_ ? *kernels_ : nerf_kernels();
  const Packed& P = *packed_;
  NerfRoofline f;
  const PackedMlp amb = Packed::view(P.ambient), sig = Packed::view(P.sigma), col = Packed::view(P.color);
  f.head_flops = flops_of(amb) + flops_of(sig) + flops_of(col);
  f.head_mlp_ns = mlp_ns(K, amb, points) + mlp_ns(K, sig, points) + mlp_ns(K, col, points);
  f.head_gathers = gathers_of(net_->head->grid->layout) + gathers_of(net_->head->ambient_grid->layout);
  if (net_->torso) {
    const PackedMlp def = Packed::view(P.deform), tn = Packed::view(P.torso_net);
    f.torso_flops = flops_of(def) + flops_of(tn);
    f.torso_mlp_ns = mlp_ns(K, def, points) + mlp_ns(K, tn, points);
    f.torso_gathers = gathers_of(net_->torso->grid->layout);
  }
  // Random gathers over a table of the head grid's size (every level's rows).
  const std::int64_t rows = P.table.numel(), n = std::int64_t{1} << 23;
  const torch::Tensor idx = torch::randint(0, rows, {n}, torch::kInt);
  const auto* ip = reinterpret_cast<const std::uint32_t*>(idx.data_ptr<int>());
  const float* tp = P.table.data_ptr<float>();
  double best = 1e30;
  std::atomic<int> sink{0};
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    dynamic_tiles(n, 1 << 16, [&](std::int64_t b, std::int64_t e) {
      if (K.gather(tp, ip + b, e - b) == 12345.678f) ++sink;  // keep the sum alive
    });
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  f.gather_ns = 1e9 * best / static_cast<double>(n);
  return f;
}

}  // namespace emogene::render
