// A trained subject: the "nerf" checkpoint (DESIGN §3) holds the network, its occupancy grid and
// everything rendering needs — the static background, the intrinsics, fps and size, the subject's
// neutral landmark shape, the landmarks and poses of its whole take (its landmark database and its
// pose bank, with idle frames, clip boundaries and splits marked).
//
// Tensor names: "net.*" and "occupancy.*" (nerf_state.h), and
//   subject.background     [H, W, 3] u8
//   subject.neutral_shape  [68, 3] f32, canonical space
//   subject.landmarks      [T, 68, 3] f16, the take's canonical landmarks in order (all clips)
//   subject.poses          [T, 4, 4] f32, head → camera (DESIGN §4)
//   subject.idle           [T] u8, 1 = idle
//   subject.clip           [T] i32, index of the clip (pose runs never cross clips)
//   subject.split          [T] u8, 0 train, 1 val, 2 test
//   subject.frame_index    [T] i64, the training frame's latent code, or −1 (val/test frames)
// Metadata: emogene.kind "nerf", emogene.format, emogene.landmark_space, emogene.config (the nerf
// config: model, train, loss, data), emogene.subject (JSON: fps, size, intrinsics, source dataset).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "emogene/core/image.h"
#include "emogene/render/frame_renderer.h"
#include "emogene/render/nerf.h"
#include "emogene/render/volume.h"

namespace emogene::render {

constexpr int kNerfFormat = 1;

struct SubjectInfo {
  int width = 0, height = 0;  // the size it was trained at
  double fps = 25;
  Intrinsics intrinsics;      // at width × height
  std::string source;         // the dataset it was trained on
  torch::Tensor background;   // [H, W, 3] u8
  torch::Tensor neutral_shape;  // [68, 3] f32
  torch::Tensor landmarks;      // [T, 68, 3] f32
  torch::Tensor poses;          // [T, 4, 4] f32
  torch::Tensor idle;           // [T] u8
  torch::Tensor clip;           // [T] i32
  torch::Tensor split;          // [T] u8
  torch::Tensor frame_index;    // [T] i64
  std::int64_t frames() const { return poses.defined() ? poses.size(0) : 0; }
};

// Writes a nerf checkpoint atomically. Hash-grid tables are stored as F16 when `f16_tables`.
void save_subject(const std::string& path, NerfNetworkImpl& net, const OccupancyGrid& grid, const SubjectInfo& info,
                  const nlohmann::json& config, const std::string& provenance, bool f16_tables);

class SubjectModel {
 public:
  // Loads a nerf checkpoint: bad_input naming the file for another kind, format or landmark space,
  // a missing or mis-shaped tensor. device: "cpu", "cuda" or "auto".
  explicit SubjectModel(const std::string& path, const std::string& device = "cpu");

  const std::string& path() const { return path_; }
  const SubjectInfo& info() const { return info_; }
  const nlohmann::json& config() const { return config_; }
  NerfNetwork network() const { return net_; }
  std::shared_ptr<const OccupancyGrid> grid() const { return grid_; }
  torch::Device device() const { return device_; }

  // A renderer of the given kind ("auto", "cpu" or "plain"; frame_renderer.h) over this model.
  std::unique_ptr<FrameRenderer> renderer(const std::string& kind = "auto") const;

  // A request for one frame: landmarks [W, 68, 3] or [68, 3], pose [4, 4], at width × height
  // (0 = the trained size). bad_input when the size is not the trained aspect ratio (within one
  // pixel) or outside 32..4096.
  FrameRequest request(const torch::Tensor& landmarks, const torch::Tensor& pose, std::int64_t latent = -1,
                       int width = 0, int height = 0) const;

 private:
  std::string path_;
  SubjectInfo info_;
  nlohmann::json config_;
  NerfNetwork net_{nullptr};
  std::shared_ptr<OccupancyGrid> grid_;
  torch::Device device_ = torch::kCPU;
};

// Pixel positions (DESIGN §4 projection) of canonical points [N, 3] under a pose [4, 4]:
// [N, 2] of (u, v).
torch::Tensor project_points(const torch::Tensor& points, const torch::Tensor& pose, const Intrinsics& k);

// An RGB frame [H, W, 3] in [0, 1] (any device) to an 8-bit image (rounded).
Image to_image(const torch::Tensor& rgb);
// An 8-bit RGB image to [H, W, 3] f32 in [0, 1].
torch::Tensor from_image(const Image& img);

}  // namespace emogene::render
