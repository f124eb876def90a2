// The subject NeRF's networks (nerf.h).
#include "emogene/render/nerf.h"

#include <cmath>
#include <sstream>

#include "emogene/core/error.h"
#include "emogene/core/tensor_io.h"

namespace emogene::render {

namespace {

constexpr const char* kWhere = "nerf";


// [1 or N, C] → [N, C]
torch::Tensor rows(const torch::Tensor& t, std::int64_t n) {
  if (t.size(0) == n) return t;
  return t.expand({n, t.size(1)});
}

}  // namespace

// ---- small pieces -------------------------------------------------------------------------------

MlpImpl::MlpImpl(std::int64_t in, std::int64_t out, std::int64_t hidden, std::int64_t layers) {
  for (std::int64_t l = 0; l < layers; ++l) {
    const std::int64_t a = l == 0 ? in : hidden, b = l == layers - 1 ? out : hidden;
    linears.push_back(register_module("l" + std::to_string(l), torch::nn::Linear(torch::nn::LinearOptions(a, b).bias(false))));
  }
}

torch::Tensor MlpImpl::forward(torch::Tensor x) {
  for (std::size_t l = 0; l < linears.size(); ++l) {
    x = linears[l]->forward(x);
    if (l + 1 < linears.size()) x = torch::relu(x);
  }
  return x;
}

torch::Tensor sh_encode(const torch::Tensor& d, std::int64_t degree) {
  check_input(d.dim() == 2 && d.size(1) == 3, kWhere, "directions must be [N, 3], got " + shape_text(d));
  check_input(degree >= 1 && degree <= 4, kWhere, "SH degree must be 1..4");
  // tiny-cuda-nn encodings/spherical_harmonics.h (sh_enc), degrees 1..4.
  const torch::Tensor x = d.select(1, 0), y = d.select(1, 1), z = d.select(1, 2);
  std::vector<torch::Tensor> o;
  o.push_back(torch::full_like(x, 0.28209479177387814));
  if (degree > 1) {
    o.push_back(-0.48860251190291987 * y);
    o.push_back(0.48860251190291987 * z);
    o.push_back(-0.48860251190291987 * x);
  }
  if (degree > 2) {
    const torch::Tensor x2 = x * x, y2 = y * y, z2 = z * z;
    o.push_back(1.0925484305920792 * x * y);
    o.push_back(-1.0925484305920792 * y * z);
    o.push_back(0.94617469575755997 * z2 - 0.31539156525251999);
    o.push_back(-1.0925484305920792 * x * z);
    o.push_back(0.54627421529603959 * x2 - 0.54627421529603959 * y2);
    if (degree > 3) {
      o.push_back(0.59004358992664352 * y * (-3.0 * x2 + y2));
      o.push_back(2.8906114426405538 * x * y * z);
      o.push_back(0.45704579946446572 * y * (1.0 - 5.0 * z2));
      o.push_back(0.3731763325901154 * z * (5.0 * z2 - 3.0));
      o.push_back(0.45704579946446572 * x * (1.0 - 5.0 * z2));
      o.push_back(1.4453057213202769 * z * (x2 - y2));
      o.push_back(0.59004358992664352 * x * (-x2 + 3.0 * y2));
    }
  }
  return torch::stack(o, 1);
}

torch::Tensor frequency_encode(const torch::Tensor& x, std::int64_t freqs) {
  std::vector<torch::Tensor> o = {x};
  for (std::int64_t k = 0; k < freqs; ++k) {
    const double f = std::ldexp(1.0, static_cast<int>(k));
    o.push_back(torch::sin(x * f));
    o.push_back(torch::cos(x * f));
  }
  return torch::cat(o, -1);
}

// ---- condition ----------------------------------------------------------------------------------

ConditionNetImpl::ConditionNetImpl(const ConditionConfig& c) : cfg(c) {
  frame_net = register_module("frame_net", Mlp(2 * kLandmarkPoints, cfg.dims, cfg.hidden, 3));
  if (cfg.window > 1) {
    // AD-NeRF AudioAttNet: Conv1d(dim_aud→16→8→4→2→1, k 3, pad 1) with LeakyReLU(0.02), then
    // Linear(seq_len, seq_len) and a softmax over the window.
    const std::vector<std::int64_t> ch = {cfg.dims, 16, 8, 4, 2, 1};
    for (std::size_t i = 0; i + 1 < ch.size(); ++i)
      att_convs.push_back(register_module("att_conv" + std::to_string(i),
                                          torch::nn::Conv1d(torch::nn::Conv1dOptions(ch[i], ch[i + 1], 3).padding(1))));
    att_linear = register_module("att_linear", torch::nn::Linear(cfg.window, cfg.window));
  }
  if (cfg.eyes) {
    eye_net = register_module("eye_net", torch::nn::Linear(2, cfg.dims));
    torch::NoGradGuard ng;
    eye_net->weight.zero_();
    eye_net->bias.zero_();
  }
  mean = register_buffer("mean", torch::zeros({2 * kLandmarkPoints}));
  stdev = register_buffer("std", torch::ones({2 * kLandmarkPoints}));
}

torch::Tensor eye_aspect_ratios(const torch::Tensor& lm) {
  const torch::Tensor xy = lm.narrow(-1, 0, 2);
  auto pt = [&](int i) { return xy.select(-2, i); };
  auto d = [&](int a, int b) { return (pt(a) - pt(b)).norm(2, -1); };
  const torch::Tensor r = (d(37, 41) + d(38, 40)) / (2 * d(36, 39) + 1e-6);
  const torch::Tensor l = (d(43, 47) + d(44, 46)) / (2 * d(42, 45) + 1e-6);
  return torch::stack({r, l}, -1);
}

torch::Tensor ConditionNetImpl::features(const torch::Tensor& lm) const {
  check_input(lm.dim() >= 2 && lm.size(-1) == 3 && lm.size(-2) == kLandmarkPoints, kWhere,
              "landmarks must be [..., 68, 3], got " + shape_text(lm));
  std::vector<std::int64_t> shape(lm.sizes().begin(), lm.sizes().end() - 2);
  shape.push_back(2 * kLandmarkPoints);
  // DESIGN §4: the condition is the frontal (x, y) of the canonical landmarks (z unused).
  const torch::Tensor xy = lm.narrow(-1, 0, 2).reshape(shape).to(mean.scalar_type());
  return (xy - mean) / stdev;
}

torch::Tensor ConditionNetImpl::forward(const torch::Tensor& landmarks) {
  torch::Tensor lm = landmarks.dim() == 3 ? landmarks.unsqueeze(0) : landmarks;
  check_input(lm.dim() == 4 && lm.size(1) == cfg.window, kWhere,
              "condition landmarks must be [B, " + std::to_string(cfg.window) + ", 68, 3] (a window of " +
                  std::to_string(cfg.window) + " frames), got " + shape_text(landmarks));
  const std::int64_t B = lm.size(0), W = cfg.window;
  torch::Tensor f = frame_net->forward(features(lm).reshape({B * W, 2 * kLandmarkPoints})).view({B, W, cfg.dims});
  torch::Tensor out;
  if (W == 1) {
    out = f.select(1, 0);
  } else {
    torch::Tensor h = f.transpose(1, 2);  // [B, C, W]
    for (auto& conv : att_convs) h = torch::leaky_relu(conv->forward(h), 0.02);
    const torch::Tensor att = torch::softmax(att_linear->forward(h.view({B, W})), 1);  // [B, W]
    out = (f * att.unsqueeze(-1)).sum(1);                                               // [B, C]
  }
  if (cfg.eyes) out = out + eye_net->forward(eye_aspect_ratios(lm.select(1, W / 2)).to(out.scalar_type()) / 0.3);
  return out;
}

// ---- head ---------------------------------------------------------------------------------------

HeadFieldImpl::HeadFieldImpl(const NerfConfig& c) : cfg(c.head), cond_dims(c.condition.dims) {
  grid = register_module("grid", HashGrid(cfg.grid));
  ambient_grid = register_module("ambient_grid", HashGrid(cfg.ambient_grid));
  const std::int64_t ex = cfg.grid.output_dims(), ea = cfg.ambient_grid.output_dims();
  ambient_net = register_module("ambient_net", Mlp(ex + cond_dims, cfg.ambient_dims, cfg.ambient_hidden, cfg.ambient_layers));
  sigma_net = register_module("sigma_net", Mlp(ex + ea, 1 + cfg.geo_features, cfg.sigma_hidden, cfg.sigma_layers));
  color_net = register_module("color_net", Mlp(cfg.sh_degree * cfg.sh_degree + cfg.geo_features + cfg.latent_dims, 3,
                                               cfg.color_hidden, cfg.color_layers));
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> HeadFieldImpl::density_and_features(const torch::Tensor& x,
                                                                                           const torch::Tensor& cond) {
  check_input(x.dim() == 2 && x.size(1) == 3, kWhere, "head positions must be [N, 3], got " + shape_text(x));
  check_input(cond.dim() == 2 && (cond.size(0) == 1 || cond.size(0) == x.size(0)) && cond.size(1) == cond_dims, kWhere,
              "head condition must be [1 or N, " + std::to_string(cond_dims) + "], got " + shape_text(cond));
  const std::int64_t N = x.size(0);
  const torch::Tensor ex = grid->forward(x);
  // RAD-NeRF: ambient = tanh(ambient_net([enc_x, enc_a])), encoded by the ambient grid with bound 1.
  const torch::Tensor amb = torch::tanh(ambient_net->forward(torch::cat({ex, rows(cond, N).to(ex.scalar_type())}, 1)));
  const torch::Tensor ea = ambient_grid->forward((amb + 1) * 0.5);
  const torch::Tensor h = sigma_net->forward(torch::cat({ex, ea}, 1));
  // trunc_exp (RAD-NeRF): exp with a bounded exponent.
  const torch::Tensor sigma = torch::exp(h.select(1, 0).clamp(-15.0, 15.0));
  return {sigma, h.narrow(1, 1, cfg.geo_features), amb};
}

torch::Tensor HeadFieldImpl::density(const torch::Tensor& x, const torch::Tensor& cond) {
  return std::get<0>(density_and_features(x, cond));
}

HeadSamples HeadFieldImpl::forward(const torch::Tensor& x, const torch::Tensor& dirs, const torch::Tensor& cond,
                                   const torch::Tensor& latent) {
  auto [sigma, geo, amb] = density_and_features(x, cond);
  const std::int64_t N = x.size(0);
  check_input(dirs.dim() == 2 && dirs.size(0) == N && dirs.size(1) == 3, kWhere,
              "head directions must be [N, 3], got " + shape_text(dirs));
  std::vector<torch::Tensor> in = {sh_encode(dirs.to(geo.scalar_type()), cfg.sh_degree), geo};
  if (cfg.latent_dims > 0) {
    check_input(latent.defined() && latent.dim() == 2 && (latent.size(0) == 1 || latent.size(0) == N) &&
                    latent.size(1) == cfg.latent_dims,
                kWhere, "head latent must be [1 or N, " + std::to_string(cfg.latent_dims) + "], got " + shape_text(latent));
    in.push_back(rows(latent, N).to(geo.scalar_type()));
  }
  const torch::Tensor rgb = torch::sigmoid(color_net->forward(torch::cat(in, 1)));
  return {sigma, rgb, amb};
}

// ---- torso --------------------------------------------------------------------------------------

TorsoFieldImpl::TorsoFieldImpl(const TorsoConfig& c) : cfg(c) {
  const std::int64_t A = static_cast<std::int64_t>(cfg.anchors.size());
  const std::int64_t coord_in = 2 * (1 + 2 * cfg.coord_freqs), pose_in = 2 * A * (1 + 2 * cfg.pose_freqs);
  const std::int64_t h_in = coord_in + pose_in + cfg.latent_dims;
  grid = register_module("grid", HashGrid(cfg.grid));
  deform_net = register_module("deform_net", Mlp(h_in, 2, cfg.deform_hidden, cfg.deform_layers));
  net = register_module("net", Mlp(cfg.grid.output_dims() + h_in, 4, cfg.hidden, cfg.layers));
}

TorsoSamples TorsoFieldImpl::forward(const torch::Tensor& p, const torch::Tensor& anchors, const torch::Tensor& latent) {
  check_input(p.dim() == 2 && p.size(1) == 2, kWhere, "torso points must be [N, 2], got " + shape_text(p));
  const std::int64_t N = p.size(0), A2 = 2 * static_cast<std::int64_t>(cfg.anchors.size());
  check_input(anchors.dim() == 2 && (anchors.size(0) == 1 || anchors.size(0) == N) && anchors.size(1) == A2, kWhere,
              "torso anchors must be [1 or N, " + std::to_string(A2) + "], got " + shape_text(anchors));
  std::vector<torch::Tensor> hin = {frequency_encode(p, cfg.coord_freqs),
                                    rows(frequency_encode(anchors.to(p.scalar_type()), cfg.pose_freqs), N)};
  if (cfg.latent_dims > 0) {
    check_input(latent.defined() && latent.dim() == 2 && (latent.size(0) == 1 || latent.size(0) == N) &&
                    latent.size(1) == cfg.latent_dims,
                kWhere, "torso latent must be [1 or N, " + std::to_string(cfg.latent_dims) + "], got " + shape_text(latent));
    hin.push_back(rows(latent, N).to(p.scalar_type()));
  }
  const torch::Tensor h = torch::cat(hin, 1);
  const torch::Tensor q = (p + deform_net->forward(h)).clamp(-1.0, 1.0);
  const torch::Tensor o = net->forward(torch::cat({grid->forward((q + 1) * 0.5), h}, 1));
  // RAD-NeRF: sigmoid(·)·(1 + 2·0.001) − 0.001, so 0 and 1 are reachable.
  const torch::Tensor s = torch::sigmoid(o) * 1.002 - 0.001;
  return {s.narrow(1, 1, 3), s.select(1, 0)};
}

// ---- the network --------------------------------------------------------------------------------

NerfNetworkImpl::NerfNetworkImpl(const NerfConfig& c) : cfg(c) {
  condition = register_module("condition", ConditionNet(cfg.condition));
  head = register_module("head", HeadField(cfg));
  if (cfg.torso.enabled) torso = register_module("torso", TorsoField(cfg.torso));
  // RAD-NeRF: individual_codes = randn(num, dim) · 0.1.
  head_latents = register_parameter("head_latents", torch::randn({cfg.frames, cfg.head.latent_dims}) * 0.1);
  torso_latents = register_parameter("torso_latents", torch::randn({cfg.frames, cfg.torso.latent_dims}) * 0.1);
  box_min = register_buffer("box_min", torch::tensor({cfg.box_min[0], cfg.box_min[1], cfg.box_min[2]}, torch::kFloat));
  box_size = register_buffer("box_size", torch::tensor({cfg.box_max[0] - cfg.box_min[0], cfg.box_max[1] - cfg.box_min[1],
                                                        cfg.box_max[2] - cfg.box_min[2]},
                                                       torch::kFloat));
}

torch::Tensor NerfNetworkImpl::to_box(const torch::Tensor& x) const {
  return (x - box_min.to(x.scalar_type())) / box_size.to(x.scalar_type());
}

namespace {
torch::Tensor latent_row(const torch::Tensor& table, std::int64_t index, const char* what) {
  if (index < 0) return table.mean(0, true);
  check_input(index < table.size(0), kWhere,
              std::string(what) + " latent index " + std::to_string(index) + " is out of range (the model has " +
                  std::to_string(table.size(0)) + " frames)");
  return table.narrow(0, index, 1);
}
}  // namespace

torch::Tensor NerfNetworkImpl::head_latent(std::int64_t index) const { return latent_row(head_latents, index, "head"); }
torch::Tensor NerfNetworkImpl::torso_latent(std::int64_t index) const { return latent_row(torso_latents, index, "torso"); }

torch::Tensor NerfNetworkImpl::torso_anchors(const torch::Tensor& pose, double fx, double fy, double cx, double cy,
                                             std::int64_t width, std::int64_t height) const {
  check_input(pose.dim() == 2 && pose.size(0) == 4 && pose.size(1) == 4, kWhere, "pose must be [4, 4], got " + shape_text(pose));
  const auto& an = cfg.torso.anchors;
  const torch::Tensor P = pose.to(box_min.options());
  torch::Tensor pts = torch::empty({static_cast<std::int64_t>(an.size()), 3}, torch::kFloat);
  for (std::size_t i = 0; i < an.size(); ++i)
    for (std::size_t k = 0; k < 3; ++k) pts[static_cast<std::int64_t>(i)][static_cast<std::int64_t>(k)] = an[i][k];
  pts = pts.to(P.device());
  // DESIGN §4: camera point X = R·x + t; u = cx + fx·X/(−Z), v = cy − fy·Y/(−Z).
  const torch::Tensor X = torch::matmul(pts, P.narrow(0, 0, 3).narrow(1, 0, 3).t()) + P.narrow(0, 0, 3).select(1, 3);
  const torch::Tensor mz = (-X.select(1, 2)).clamp_min(1e-6);
  const torch::Tensor u = cx + fx * X.select(1, 0) / mz, v = cy - fy * X.select(1, 1) / mz;
  const torch::Tensor p = torch::stack({u * (2.0 / static_cast<double>(width)) - 1, v * (2.0 / static_cast<double>(height)) - 1}, 1);
  return p.reshape({1, -1});
}

}  // namespace emogene::render
