// Training the subject NeRF on a subject dataset (DESIGN §3: `synth --kind subject` or `prepare`),
// and its held-out quality (DESIGN §7).
//
// Data: every frame of the `train` clips (frames, masks, landmarks, poses), the static background,
// the intrinsics. Each step draws `data.frames` training frames and `data.rays` rays among them:
// a share inside the face box, a share inside the mouth box (eval/image_metrics.h) and the rest
// anywhere in the frame, so the face and the mouth get most of the rays. A ray's colour is the head
// (volume rendering of the head field under the frame's pose, conditioned on the frame's landmark
// window and its latent code) over the torso (2D field deformed by the pose) over the background:
//   loss = rgb·MSE(colour, pixel) + head_mask·MSE(head α, [mask = head])
//        + torso_mask·MSE(torso α, [mask = torso]) over non-head pixels
//        + ambient·mean|ambient| (RAD-NeRF's λ_amb) + latent·mean(code²)
// The occupancy grid is updated every occupancy.update_every steps with the density under a
// random training frame's condition (max with the decayed grid: the union over frames).
// Optimiser: AdamW with the hash tables in their own group (lr × optim.grid_lr_scale, no decay;
// instant-ngp/RAD-NeRF train grids at 10× the MLPs' rate).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "emogene/core/image.h"

namespace emogene::render {

class SubjectModel;

struct TrainNerfOptions {
  std::string subject;         // subject dataset folder
  std::string out;             // checkpoint path
  nlohmann::json config;       // resolved config (configs/nerf/*.json with --set applied)
  std::string config_name;     // for provenance
  std::int64_t steps = 0;      // > 0 overrides train.steps
  bool resume = false, force = false;
};

// Held-out quality: frames rendered from their true landmarks and poses with the fixed test latent,
// compared with the dataset's frames. PSNR in dB (of the mean MSE over frames), SSIM on luma.
struct NerfEval {
  std::int64_t frames = 0;
  double psnr_face = 0, psnr_mouth = 0, psnr_frame = 0;
  double ssim_face = 0, ssim_frame = 0;
  double samples_per_frame = 0;
  double seconds_per_frame = 0;
};

struct TrainNerfReport {
  std::int64_t steps = 0;
  double seconds = 0;
  double steps_per_second = 0;
  NerfEval val;  // on the `val` split at the end (frames == 0 when there is none)
};

TrainNerfReport train_nerf(const TrainNerfOptions& opt);

// Called for every rendered frame: the render, the driving canonical landmarks of the frame
// [68 × 3, row-major] and their pixel positions under the frame's pose [68 × 2].
using NerfFrameHook = std::function<void(const Image& rendered, const float* landmarks, const float* pixels)>;

struct NerfEvalOptions {
  std::string split = "test";
  std::string renderer = "auto";
  std::int64_t stride = 1, max_frames = 0;
  std::string write_dir;    // writes truth | render PNGs there
  // Drive the split's poses with the landmarks of another split (its frames in take order, repeated
  // as needed): mouths and eyes the subject never made in those frames. PSNR then compares with
  // frames that show other expressions: only the hook's measurements mean something.
  std::string drive_split;
  NerfFrameHook hook;
};

// Renders every `stride`-th frame of the split of the dataset at `data` (the split's frames in take
// order; at most max_frames when > 0) from its landmarks and poses, and measures them.
NerfEval evaluate_nerf(const SubjectModel& model, const std::string& data, const NerfEvalOptions& opt);

}  // namespace emogene::render
