// Rays, occupancy grid, marching and compositing (volume.h).
#include "emogene/render/volume.h"

#include <cmath>
#include <sstream>

#include "emogene/core/error.h"
#include "emogene/core/tensor_io.h"

namespace emogene::render {

namespace {

constexpr const char* kWhere = "nerf renderer";


void check_pose(const torch::Tensor& pose) {
  check_input(pose.defined() && pose.dim() == 2 && pose.size(0) == 4 && pose.size(1) == 4, kWhere,
              "a head pose must be [4, 4], got " + shape_text(pose));
}

torch::Tensor vec3(const std::array<double, 3>& v, const torch::TensorOptions& o) {
  return torch::tensor({v[0], v[1], v[2]}, torch::kDouble).to(o);
}

}  // namespace

// ---- camera and rays ----------------------------------------------------------------------------

Intrinsics scale_intrinsics(const Intrinsics& k, std::int64_t from_w, std::int64_t from_h, std::int64_t to_w,
                            std::int64_t to_h) {
  check_input(from_w > 0 && from_h > 0 && to_w > 0 && to_h > 0, kWhere, "image sizes must be positive");
  const double sx = static_cast<double>(to_w) / static_cast<double>(from_w);
  const double sy = static_cast<double>(to_h) / static_cast<double>(from_h);
  return {k.fx * sx, k.fy * sy, k.cx * sx, k.cy * sy};
}

torch::Tensor camera_directions(const torch::Tensor& uv, const Intrinsics& k) {
  check_input(uv.dim() == 2 && uv.size(1) == 2, kWhere, "image points must be [R, 2], got " + shape_text(uv));
  // DESIGN §4: u = cx + fx·x/(−z), v = cy − fy·y/(−z); on the plane z = −1.
  const torch::Tensor x = (uv.select(1, 0) - k.cx) / k.fx;
  const torch::Tensor y = -(uv.select(1, 1) - k.cy) / k.fy;
  const torch::Tensor d = torch::stack({x, y, -torch::ones_like(x)}, 1);
  return d / d.norm(2, 1, true);
}

torch::Tensor pixel_centres(std::int64_t width, std::int64_t height, const torch::TensorOptions& opts) {
  check_input(width > 0 && height > 0, kWhere, "image sizes must be positive");
  const torch::Tensor u = torch::arange(width, opts) + 0.5, v = torch::arange(height, opts) + 0.5;
  const auto vu = torch::meshgrid({v, u}, "ij");
  return torch::stack({vu[1].reshape({-1}), vu[0].reshape({-1})}, 1);
}

Rays head_rays(const torch::Tensor& uv, const Intrinsics& k, const torch::Tensor& pose) {
  return head_rays_from_directions(camera_directions(uv, k), pose);
}

Rays head_rays_from_directions(const torch::Tensor& dc, const torch::Tensor& pose) {
  check_pose(pose);
  const torch::Tensor P = pose.to(dc.options());
  const torch::Tensor R = P.narrow(0, 0, 3).narrow(1, 0, 3), t = P.narrow(0, 0, 3).select(1, 3);
  // Row vectors: (Rᵀ d)ᵀ = dᵀ R; the camera centre 0 maps to −Rᵀ t.
  const torch::Tensor d = torch::matmul(dc, R);
  const torch::Tensor o = -torch::matmul(t.unsqueeze(0), R).expand({dc.size(0), 3});
  return {o.contiguous(), (d / d.norm(2, 1, true)).contiguous()};
}

torch::Tensor head_to_camera(const torch::Tensor& x, const torch::Tensor& pose) {
  check_pose(pose);
  const torch::Tensor P = pose.to(x.options());
  return torch::matmul(x, P.narrow(0, 0, 3).narrow(1, 0, 3).t()) + P.narrow(0, 0, 3).select(1, 3);
}

torch::Tensor camera_to_head(const torch::Tensor& x, const torch::Tensor& pose) {
  check_pose(pose);
  const torch::Tensor P = pose.to(x.options());
  return torch::matmul(x - P.narrow(0, 0, 3).select(1, 3), P.narrow(0, 0, 3).narrow(1, 0, 3));
}

BoxHits intersect_box(const Rays& rays, const std::array<double, 3>& box_min, const std::array<double, 3>& box_max) {
  const auto o = rays.origins, d = rays.dirs;
  // Slab method; a zero component is nudged so the slab test stays finite.
  const torch::Tensor dd = torch::where(d.abs() < 1e-12, torch::full_like(d, 1e-12), d);
  const torch::Tensor t1 = (vec3(box_min, o.options()) - o) / dd, t2 = (vec3(box_max, o.options()) - o) / dd;
  const torch::Tensor tmin = torch::minimum(t1, t2).amax(1), tmax = torch::maximum(t1, t2).amin(1);
  const torch::Tensor near = tmin.clamp_min(0.0);
  return {near, tmax, tmax > near};
}

// ---- occupancy grid -----------------------------------------------------------------------------

OccupancyGrid::OccupancyGrid(const OccupancyConfig& cfg, double step, const torch::TensorOptions& opts)
    : cfg_(cfg), step_(step) {
  check_input(step > 0, kWhere, "the marching step must be positive");
  const std::int64_t G = cfg_.resolution;
  const auto o = opts.dtype(torch::kFloat);
  density_ = torch::zeros({G, G, G}, o);
  bits_ = torch::ones({G, G, G}, o.dtype(torch::kBool));  // everything occupied until the first update
}

double OccupancyGrid::threshold() const {
  const double mean = density_.mean().item<double>();
  return std::min(mean, cfg_.min_optical_thickness / step_);
}

double OccupancyGrid::occupied_fraction() const { return bits_.to(torch::kFloat).mean().item<double>(); }

void OccupancyGrid::fill(bool occupied) { bits_.fill_(occupied); }

void OccupancyGrid::set_bits(const torch::Tensor& bits) {
  check_input(bits.sizes() == bits_.sizes(), kWhere, "occupancy bits must be [G, G, G], got " + shape_text(bits));
  bits_ = bits.to(bits_.options()).contiguous();
}

void OccupancyGrid::set_density(const torch::Tensor& density) {
  check_input(density.sizes() == density_.sizes(), kWhere,
              "occupancy density must be [G, G, G], got " + shape_text(density));
  density_ = density.to(density_.options()).contiguous();
  const double thr = threshold();
  bits_ = (density_ >= thr) & (density_ > 0);
}

void OccupancyGrid::update(const std::function<torch::Tensor(const torch::Tensor&)>& density_fn, std::int64_t cells,
                           std::int64_t chunk) {
  torch::NoGradGuard no_grad;
  const std::int64_t G = cfg_.resolution, total = G * G * G;
  const auto opts = density_.options();
  torch::Tensor idx = cells >= total ? torch::arange(total, opts.dtype(torch::kLong))
                                     : torch::randint(0, total, {cells}, opts.dtype(torch::kLong));
  const torch::Tensor ijk = torch::stack({idx.div(G * G, "floor"), idx.div(G, "floor").remainder(G), idx.remainder(G)}, 1);
  const torch::Tensor x = (ijk.to(torch::kFloat) + torch::rand({idx.size(0), 3}, opts)) / static_cast<double>(G);
  std::vector<torch::Tensor> sig;
  for (std::int64_t s = 0; s < x.size(0); s += chunk)
    sig.push_back(density_fn(x.narrow(0, s, std::min(chunk, x.size(0) - s))).reshape({-1}).to(torch::kFloat));
  const torch::Tensor sigma = torch::cat(sig).nan_to_num(0.0, 0.0, 0.0);
  torch::Tensor flat = density_.view({-1});
  flat.mul_(cfg_.decay);
  flat.scatter_reduce_(0, idx, sigma, "amax", /*include_self=*/true);
  const double thr = threshold();
  bits_ = (density_ >= thr) & (density_ > 0);
}

torch::Tensor OccupancyGrid::occupied(const torch::Tensor& x) const {
  const std::int64_t G = cfg_.resolution;
  const torch::Tensor c = (x * static_cast<double>(G)).floor().clamp(0, static_cast<double>(G - 1)).to(torch::kLong);
  const torch::Tensor flat = (c.select(1, 0) * G + c.select(1, 1)) * G + c.select(1, 2);
  return bits_.view({-1}).index_select(0, flat.to(bits_.device()));
}

void OccupancyGrid::to(const torch::Device& device) {
  density_ = density_.to(device);
  bits_ = bits_.to(device);
}

// ---- marching and compositing -------------------------------------------------------------------

MarchSettings MarchSettings::from_config(const NerfConfig& cfg) {
  MarchSettings s;
  s.box_min = cfg.box_min;
  s.box_max = cfg.box_max;
  s.samples_per_ray = cfg.march.samples_per_ray;
  s.step = cfg.step();
  s.min_transmittance = cfg.march.min_transmittance;
  return s;
}

double MarchSettings::step_size() const {
  if (step > 0) return step;
  double d2 = 0;
  for (std::size_t i = 0; i < 3; ++i) d2 += (box_max[i] - box_min[i]) * (box_max[i] - box_min[i]);
  return std::sqrt(d2) / static_cast<double>(samples_per_ray);
}

namespace {

torch::Tensor to_box(const torch::Tensor& x, const MarchSettings& s) {
  const torch::Tensor lo = vec3(s.box_min, x.options());
  std::array<double, 3> size{};
  for (std::size_t i = 0; i < 3; ++i) size[i] = s.box_max[i] - s.box_min[i];
  return (x - lo) / vec3(size, x.options());
}

torch::Tensor ray_offsets(std::int64_t R, const MarchSettings& s, const torch::TensorOptions& o) {
  return s.jitter ? torch::rand({R}, o) : torch::full({R}, 0.5, o);
}

}  // namespace

RayColours composite(const torch::Tensor& sigma, const torch::Tensor& rgb, const torch::Tensor& t, double step) {
  check_input(sigma.dim() == 2 && rgb.dim() == 3 && rgb.size(2) == 3 && rgb.size(0) == sigma.size(0) &&
                  rgb.size(1) == sigma.size(1) && t.sizes() == sigma.sizes(),
              kWhere, "composite takes sigma [R, S], rgb [R, S, 3], t [R, S]");
  const torch::Tensor od = sigma * step;             // optical thickness of each sample
  const torch::Tensor cum = torch::cumsum(od, 1);    // Σ_{i≤k}
  const torch::Tensor T = torch::exp(od - cum);      // T_k = exp(−Σ_{i<k})
  const torch::Tensor w = T * (1 - torch::exp(-od));  // w_k = T_k α_k
  RayColours out;
  out.rgb = (w.unsqueeze(-1) * rgb).sum(1);
  out.alpha = sigma.size(1) > 0 ? 1 - torch::exp(-cum.select(1, sigma.size(1) - 1)) : torch::zeros({sigma.size(0)}, sigma.options());
  out.depth = (w * t).sum(1);
  return out;
}

RayColours march_rays(const Rays& rays, const FieldFn& field, const OccupancyGrid* grid, const MarchSettings& s) {
  const torch::Tensor& o = rays.origins;
  const torch::Tensor& d = rays.dirs;
  check_input(o.dim() == 2 && o.size(1) == 3 && d.sizes() == o.sizes(), kWhere,
              "rays must be origins [R, 3] and directions [R, 3], got " + shape_text(o) + " and " + shape_text(d));
  const std::int64_t R = o.size(0);
  const double step = s.step_size();
  const auto opts = o.options();
  const BoxHits hits = intersect_box(rays, s.box_min, s.box_max);
  const torch::Tensor offs = ray_offsets(R, s, opts);

  torch::Tensor T = torch::ones({R}, opts), rgb = torch::zeros({R, 3}, opts), depth = torch::zeros({R}, opts);
  torch::Tensor live = hits.hit.nonzero().reshape({-1});  // ray ids, ascending
  std::int64_t samples = 0;
  for (std::int64_t k = 0; k < s.samples_per_ray && live.numel() > 0; ++k) {
    torch::Tensor t = hits.near.index_select(0, live) + (offs.index_select(0, live) + static_cast<double>(k)) * step;
    const torch::Tensor inside = t < hits.far.index_select(0, live);  // t grows: a ray past far is done
    live = live.masked_select(inside);
    t = t.masked_select(inside);
    if (live.numel() == 0) break;
    const torch::Tensor x = o.index_select(0, live) + t.unsqueeze(1) * d.index_select(0, live);
    torch::Tensor xb = to_box(x, s);
    torch::Tensor ids = live, ts = t;
    if (grid) {
      const torch::Tensor occ = grid->occupied(xb).to(o.device());
      const torch::Tensor sel = occ.nonzero().reshape({-1});
      ids = live.index_select(0, sel);
      ts = t.index_select(0, sel);
      xb = xb.index_select(0, sel);
    }
    if (ids.numel() > 0) {
      const FieldValues f = field(xb, d.index_select(0, ids), ids);
      samples += ids.numel();
      const torch::Tensor od = f.sigma.reshape({-1}).to(opts.dtype()) * step;
      const torch::Tensor Ti = T.index_select(0, ids);
      const torch::Tensor w = Ti * (1 - torch::exp(-od));
      rgb.index_add_(0, ids, w.unsqueeze(1) * f.rgb.to(opts.dtype()));
      depth.index_add_(0, ids, w * ts);
      T.index_copy_(0, ids, Ti * torch::exp(-od));
    }
    // Early termination: the next sample is evaluated only while T ≥ min_transmittance.
    if (s.min_transmittance > 0) live = live.masked_select(T.index_select(0, live) >= s.min_transmittance);
  }
  return {rgb, 1 - T, depth, samples};
}

RayColours render_rays(const Rays& rays, const FieldFn& field, const OccupancyGrid* grid, const MarchSettings& s) {
  const torch::Tensor& o = rays.origins;
  const torch::Tensor& d = rays.dirs;
  check_input(o.dim() == 2 && o.size(1) == 3 && d.sizes() == o.sizes(), kWhere,
              "rays must be origins [R, 3] and directions [R, 3], got " + shape_text(o) + " and " + shape_text(d));
  const std::int64_t R = o.size(0), S = s.samples_per_ray;
  const double step = s.step_size();
  const auto opts = o.options();
  const BoxHits hits = intersect_box(rays, s.box_min, s.box_max);
  const torch::Tensor offs = ray_offsets(R, s, opts);
  const torch::Tensor k = torch::arange(S, opts);
  const torch::Tensor t = hits.near.unsqueeze(1) + (offs.unsqueeze(1) + k.unsqueeze(0)) * step;  // [R, S]
  torch::Tensor valid = hits.hit.unsqueeze(1) & (t < hits.far.unsqueeze(1));
  const torch::Tensor x = o.unsqueeze(1) + t.unsqueeze(2) * d.unsqueeze(1);  // [R, S, 3]
  const torch::Tensor xb = to_box(x, s).reshape({R * S, 3});
  if (grid) valid = valid & grid->occupied(xb).to(o.device()).view({R, S});
  const torch::Tensor sel = valid.reshape({-1}).nonzero().reshape({-1});
  const torch::Tensor ray_of = sel.div(S, "floor");
  torch::Tensor sigma = torch::zeros({R * S}, opts), rgb = torch::zeros({R * S, 3}, opts);
  if (sel.numel() > 0) {
    const FieldValues f = field(xb.index_select(0, sel), d.index_select(0, ray_of), ray_of);
    sigma = sigma.index_put({sel}, f.sigma.reshape({-1}).to(opts.dtype()));
    rgb = rgb.index_put({sel}, f.rgb.to(opts.dtype()));
  }
  RayColours out = composite(sigma.view({R, S}), rgb.view({R, S, 3}), t, step);
  out.samples = sel.numel();
  return out;
}

}  // namespace emogene::render
