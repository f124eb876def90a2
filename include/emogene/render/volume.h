// Rays, the occupancy grid, ray marching and volume rendering of the subject NeRF: stock LibTorch
// ops on any device. The plain path of issue 8 and the definition the fast CPU path (issue 9) must
// reproduce: same samples, same occupancy test, same termination rule.
//
// Camera and pose (DESIGN §4): the camera sits at the origin looking down −z (+x right, +y up); the
// ray of image point (u, v) (pixel centres at integer + 0.5) has direction
// normalize((u − cx)/fx, −(v − cy)/fy, −1). The head pose P = [R t] maps canonical head coordinates
// to camera coordinates, so in head space the ray starts at −Rᵀt with direction Rᵀd (the head
// moves, the camera is fixed). Distances are canonical units in both spaces (P is rigid).
//
// Samples (RAD-NeRF / instant-ngp marching with a fixed step): a ray meets the head box on
// [near, far]; with step δ = |box diagonal| / samples_per_ray (nerf_config.h), sample k sits at
// t_k = near + (k + j)·δ, k = 0, 1, … while t_k < far (so at most samples_per_ray), j = 0.5 when
// rendering, j ~ U[0,1) per ray when training. A sample in an unoccupied cell of the occupancy
// grid is skipped (σ = 0, never evaluated).
//
// Compositing: α_k = 1 − exp(−σ_k δ), T_k = exp(−Σ_{i<k} σ_i δ), w_k = T_k α_k;
// rgb = Σ w_k c_k (premultiplied), alpha = 1 − T_end, depth = Σ w_k t_k (distance from the camera
// along the ray; 0 where nothing is hit). Early termination (rendering): sample k is evaluated only
// while T_k ≥ min_transmittance, so a skipped sample's weight is below the threshold; the ray keeps
// its remaining T, which the background (or torso) fills.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <functional>

#include "emogene/render/nerf_config.h"

namespace emogene::render {

struct Intrinsics {
  double fx = 1, fy = 1, cx = 0, cy = 0;  // pixels (DESIGN §4)
};

// Intrinsics for an image of another size (the pixel grid scaled: fx·W'/W, cx·W'/W, ...).
Intrinsics scale_intrinsics(const Intrinsics& k, std::int64_t from_w, std::int64_t from_h, std::int64_t to_w,
                            std::int64_t to_h);

struct Rays {
  torch::Tensor origins;  // [R, 3]
  torch::Tensor dirs;     // [R, 3] unit
};

// Camera-space unit directions through image points uv [R, 2] (pixels): [R, 3].
torch::Tensor camera_directions(const torch::Tensor& uv, const Intrinsics& k);
// The pixel centres of a width × height image, row-major: [H·W, 2] of (u, v) = (x + 0.5, y + 0.5).
torch::Tensor pixel_centres(std::int64_t width, std::int64_t height, const torch::TensorOptions& opts);
// Camera rays through uv [R, 2] carried into canonical head space by pose [4, 4] (head → camera).
Rays head_rays(const torch::Tensor& uv, const Intrinsics& k, const torch::Tensor& pose);
// The same from the camera-space directions [R, 3] of camera_directions (which depend only on the
// image points and intrinsics, so renderers may keep them from frame to frame).
Rays head_rays_from_directions(const torch::Tensor& camera_dirs, const torch::Tensor& pose);
// Head space → camera space of points [N, 3] (P·x) and back (P⁻¹·x): for tests and previews.
torch::Tensor head_to_camera(const torch::Tensor& x, const torch::Tensor& pose);
torch::Tensor camera_to_head(const torch::Tensor& x, const torch::Tensor& pose);

// Where rays meet an axis-aligned box (slab method).
struct BoxHits {
  torch::Tensor near;  // [R] ≥ 0
  torch::Tensor far;   // [R]
  torch::Tensor hit;   // [R] bool: far > near
};
BoxHits intersect_box(const Rays& rays, const std::array<double, 3>& box_min, const std::array<double, 3>& box_max);

// The occupancy grid over the box (box coordinates [0,1]³): an EMA of sampled density per cell and
// a bitfield of cells whose density reaches the threshold. Cell (i, j, k) covers
// [i, i+1)/G × [j, j+1)/G × [k, k+1)/G; positions outside [0,1] use the nearest cell.
class OccupancyGrid {
 public:
  // step: the marching step δ in canonical units (the threshold is an optical thickness per step).
  OccupancyGrid(const OccupancyConfig& cfg, double step, const torch::TensorOptions& opts = {});

  std::int64_t resolution() const { return cfg_.resolution; }
  const torch::Tensor& density() const { return density_; }  // [G, G, G] f32
  const torch::Tensor& bits() const { return bits_; }        // [G, G, G] bool
  // σ above which a cell is occupied: min(mean density, min_optical_thickness / δ) (RAD-NeRF takes
  // min(mean, threshold); instant-ngp states the threshold as an optical thickness).
  double threshold() const;
  double occupied_fraction() const;

  void fill(bool occupied);                 // every bit (density left as it is)
  void set_bits(const torch::Tensor& bits); // [G, G, G] bool
  void set_density(const torch::Tensor& density);  // [G, G, G]; recomputes the bits
  // One update (instant-ngp): every cell decays by `decay`; `cells` random cells (all when
  // cells ≥ G³) take max(decayed, σ) of the density at a uniform random point inside them;
  // then the bits are recomputed. density_fn: box positions [N, 3] → σ [N].
  void update(const std::function<torch::Tensor(const torch::Tensor&)>& density_fn, std::int64_t cells,
              std::int64_t chunk = 65536);
  // Cell occupancy at box positions [N, 3] → [N] bool.
  torch::Tensor occupied(const torch::Tensor& x) const;
  void to(const torch::Device& device);

 private:
  OccupancyConfig cfg_;
  double step_;
  torch::Tensor density_, bits_;
};

// What the marcher needs of a field: box positions [N, 3], head-space unit directions [N, 3] and
// the ray of each sample [N] (int64) → σ [N] and rgb [N, 3].
struct FieldValues {
  torch::Tensor sigma, rgb;
};
using FieldFn = std::function<FieldValues(const torch::Tensor& x, const torch::Tensor& dirs, const torch::Tensor& ray)>;

struct MarchSettings {
  std::array<double, 3> box_min{}, box_max{};
  std::int64_t samples_per_ray = 16;
  double step = 0;                  // δ; 0 = |box diagonal| / samples_per_ray
  double min_transmittance = 1e-4;  // rendering only; 0 = never terminate
  bool jitter = false;              // training: j ~ U[0,1) per ray instead of 0.5

  static MarchSettings from_config(const NerfConfig& cfg);
  double step_size() const;
};

struct RayColours {
  torch::Tensor rgb;    // [R, 3] premultiplied by alpha (add (1 − alpha)·background)
  torch::Tensor alpha;  // [R] 1 − final transmittance
  torch::Tensor depth;  // [R] Σ w t
  std::int64_t samples = 0;  // field evaluations
};

// Rendering: marches all rays step by step (live rays only, occupied samples only), no autograd
// needed. grid may be null (every cell occupied).
RayColours march_rays(const Rays& rays, const FieldFn& field, const OccupancyGrid* grid, const MarchSettings& s);

// Training: every occupied sample of every ray in one differentiable pass (no early termination;
// jitter as the settings say).
RayColours render_rays(const Rays& rays, const FieldFn& field, const OccupancyGrid* grid, const MarchSettings& s);

// The compositing equation on dense samples: sigma [R, S], rgb [R, S, 3], t [R, S], δ → rgb
// premultiplied [R, 3], alpha [R], depth [R]; differentiable. Samples with σ = 0 add nothing.
RayColours composite(const torch::Tensor& sigma, const torch::Tensor& rgb, const torch::Tensor& t, double step);

}  // namespace emogene::render
