// The configuration of the subject NeRF (configs/nerf/*.json): the facts of RAD-NeRF (Tang et al.
// 2022, "Real-time Neural Radiance Talking Portrait Synthesis via Audio-spatial Decomposition") as
// GeneFace++ and EmoGene use it, with the numbers' sources cited where they are set
// (src/render/nerf_config.cpp). Every section refuses unknown keys (bad_input naming the key).
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "emogene/render/hash_grid.h"

namespace emogene::render {

constexpr int kLandmarkPoints = 68;

// A RAD-NeRF grid (16 levels, base 16, 2^16 rows) of `dims` inputs, F features, finest resolution.
inline HashGridConfig nerf_grid(std::int64_t dims, std::int64_t features, std::int64_t finest) {
  HashGridConfig g;
  g.input_dims = dims;
  g.levels = 16;
  g.features_per_level = features;
  g.log2_table_size = 16;
  g.base_resolution = 16;
  g.finest_resolution = finest;
  return g;
}

// The landmark condition (DESIGN §4: frontal x, y of the canonical landmarks, 136 numbers per frame).
struct ConditionConfig {
  std::int64_t hidden = 128;  // per-frame net 136 → hidden → hidden → dims (AD-NeRF AudioNet's widths)
  std::int64_t dims = 64;     // GeneFace++ cond_out_dim = 64
  std::int64_t window = 5;    // frames smoothed by attention (odd; GeneFace++ smo_win_size = 5); 1 = none
  // The centre frame's eye openness (each eye's aspect ratio) added through its own linear map,
  // outside the smoothing window: blinks last 2-10 frames and are a few of the 136 inputs, so the
  // landmark condition alone let the field ignore them (RAD-NeRF's exp_eye feeds an eye-area
  // scalar to its field for the same reason). Off in checkpoints from before it existed.
  bool eyes = false;
};

// The head field in canonical head space.
struct HeadConfig {
  HashGridConfig grid = nerf_grid(3, 2, 512);          // 3D position encoding
  std::int64_t ambient_dims = 2;  // RAD-NeRF ambient_dim = 2
  HashGridConfig ambient_grid = nerf_grid(2, 1, 512);  // 2D encoding of the ambient coordinates (RAD-NeRF: F = 1)
  std::int64_t ambient_hidden = 64, ambient_layers = 3;  // RAD-NeRF ambient_net: 3 layers of 64
  std::int64_t sigma_hidden = 64, sigma_layers = 3;      // RAD-NeRF sigma_net: 3 layers of 64
  std::int64_t geo_features = 64;                        // RAD-NeRF geo_feat_dim = 64
  std::int64_t color_hidden = 64, color_layers = 2;      // RAD-NeRF color_net: 2 layers of 64
  std::int64_t sh_degree = 4;                            // view direction: SH degree 4 (16 coefficients)
  std::int64_t latent_dims = 4;                          // RAD-NeRF individual_dim = 4 (0 = none)
};

// The torso: a 2D field over image coordinates, deformed by the head pose (RAD-NeRF's torso).
struct TorsoConfig {
  bool enabled = true;
  HashGridConfig grid = nerf_grid(2, 2, 512);  // 2D encoding of the deformed image coordinates
  std::int64_t coord_freqs = 8;           // RAD-NeRF torso_deform_encoder: frequency, multires 8
  std::int64_t pose_freqs = 4;            // RAD-NeRF pose_encoder: frequency, multires 4
  std::int64_t deform_hidden = 64, deform_layers = 3;  // RAD-NeRF torso_deform_net: 3 layers of 64
  std::int64_t hidden = 32, layers = 3;                // RAD-NeRF torso_net: 3 layers of 32
  std::int64_t latent_dims = 8;                        // RAD-NeRF individual_dim_torso = 8
  // Points of the head (canonical space) projected by the pose: their image positions (6 numbers)
  // tell the torso where the head is (RAD-NeRF anchor_points, moved to our canonical units).
  std::vector<std::array<double, 3>> anchors = {{0.0, -2.0, -0.5}, {-1.0, -1.0, -0.5}, {1.0, -1.0, -0.5}};
};

struct OccupancyConfig {
  std::int64_t resolution = 128;       // RAD-NeRF / instant-ngp: 128³
  double decay = 0.8;                  // EMA decay per update (instant-ngp 0.95 over ~30k steps; faster for our ~6k)
  double min_optical_thickness = 0.01; // instant-ngp NERF_MIN_OPTICAL_THICKNESS: occupied when σ·step ≥ this
  std::int64_t update_every = 16;      // RAD-NeRF update_extra_interval = 16 steps
  std::int64_t update_cells = 262144;  // cells evaluated per update (instant-ngp samples a subset)
};

struct MarchConfig {
  std::int64_t samples_per_ray = 16;  // RAD-NeRF max_steps = 16: the step is the box diagonal / 16
  double min_transmittance = 1e-4;    // instant-ngp / RAD-NeRF T_thresh = 1e-4: early termination
};

struct NerfConfig {
  // The head box in canonical head space (DESIGN §4 units: outer eye-corner distance); the head
  // field's positions are mapped from it to [0,1]³.
  std::array<double, 3> box_min = {-1.6, -2.6, -1.8};
  std::array<double, 3> box_max = {1.6, 1.4, 1.4};
  ConditionConfig condition;
  HeadConfig head;
  TorsoConfig torso;
  OccupancyConfig occupancy;
  MarchConfig march;
  std::int64_t frames = 1;  // per-frame latent codes (the trainer sets the number of training frames)

  // Defaults overridden by `j` (any subset of keys); unknown keys, wrong types and out-of-range
  // values are bad_input naming `where` and the key.
  static NerfConfig from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;
  // The ray-marching step in canonical units: |box_max − box_min| / samples_per_ray.
  double step() const;
};

}  // namespace emogene::render
