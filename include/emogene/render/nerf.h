// The subject NeRF's networks (RAD-NeRF, Tang et al. 2022, as GeneFace++ / EmoGene use it; see
// nerf_config.h): the landmark condition, the head field in canonical head space and the torso
// field over image coordinates. Stock LibTorch ops (plus the hash-grid encoding), any device.
//
// Head field (RAD-NeRF nerf/network.py, `density` and `forward`):
//   x ∈ [0,1]³ (canonical position mapped by the box) ─hash grid─▶ e_x
//   ambient a = tanh(MLP_amb([e_x, cond]))  ∈ [−1,1]^k ─(a+1)/2─▶ 2D hash grid ─▶ e_a
//   [σ_raw, geo] = MLP_σ([e_x, e_a]);  σ = exp(σ_raw) (trunc_exp: the exponent is clamped)
//   rgb = sigmoid(MLP_c([SH(d), geo, latent]))
// Torso field (RAD-NeRF `forward_torso`): image point p ∈ [−1,1]² and the image positions of a few
// head anchor points under the pose (6 numbers) ─frequency encodings─▶ h; p' = clamp(p + MLP_def(h));
// [α, rgb] = sigmoid(MLP_t([grid2d((p'+1)/2), h])) widened by 0.001 on each side as in RAD-NeRF.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "emogene/render/hash_grid.h"
#include "emogene/render/nerf_config.h"

namespace emogene::render {

// A bias-free MLP with ReLU between layers (tiny-cuda-nn's FullyFusedMLP; RAD-NeRF MLP(bias=False)).
// layers ≥ 1 linear maps: in → hidden → … → out.
struct MlpImpl : torch::nn::Module {
  MlpImpl(std::int64_t in, std::int64_t out, std::int64_t hidden, std::int64_t layers);
  torch::Tensor forward(torch::Tensor x);  // [N, in] → [N, out]
  std::vector<torch::nn::Linear> linears;
};
TORCH_MODULE(Mlp);

// Real spherical harmonics of unit directions, degree 1..4 (tiny-cuda-nn's SphericalHarmonics
// encoding, the same constants): [N, 3] → [N, degree²].
torch::Tensor sh_encode(const torch::Tensor& dirs, std::int64_t degree);

// NeRF's frequency encoding: [N, D] → [N, D·(1 + 2·freqs)] = [x, sin(2^k x), cos(2^k x)] for
// k = 0..freqs−1 (RAD-NeRF's FreqEncoder with include_input).
torch::Tensor frequency_encode(const torch::Tensor& x, std::int64_t freqs);

// The landmark condition: the frontal (x, y) of each frame's canonical landmarks, normalised by the
// subject's statistics (buffers "mean", "std", [136], set by the trainer), through a per-frame net
// to `dims` (AD-NeRF's AudioNet role), then attention over the window of frames (AD-NeRF's
// AudioAttNet: 1D convolutions 64→16→8→4→2→1 and a linear map over the window, softmax).
struct ConditionNetImpl : torch::nn::Module {
  explicit ConditionNetImpl(const ConditionConfig& cfg);
  // landmarks [B, W, 68, 3] (or [W, 68, 3]) with W = cfg.window, the frame at the centre → [B, dims]
  torch::Tensor forward(const torch::Tensor& landmarks);
  // The normalised frontal coordinates: [..., 68, 3] → [..., 136]
  torch::Tensor features(const torch::Tensor& landmarks) const;

  ConditionConfig cfg;
  Mlp frame_net{nullptr};
  std::vector<torch::nn::Conv1d> att_convs;
  torch::nn::Linear att_linear{nullptr};
  torch::nn::Linear eye_net{nullptr};  // with cfg.eyes: [right, left] eye openness / 0.3 → dims (starts at zero)
  torch::Tensor mean, stdev;  // [136] (buffers "mean", "std")
};

// Eye aspect ratio of each eye from canonical landmarks [..., 68, 3] (x, y only): [..., 2] as
// (right 36-41, left 42-47), (|p1 - p5| + |p2 - p4|) / (2 |p0 - p3|): landmarks::eye_openness of
// the frontal projection (z set to 0).
torch::Tensor eye_aspect_ratios(const torch::Tensor& landmarks);
TORCH_MODULE(ConditionNet);

struct HeadSamples {
  torch::Tensor sigma;    // [N] density per canonical unit
  torch::Tensor rgb;      // [N, 3] in [0, 1]
  torch::Tensor ambient;  // [N, ambient_dims] in [−1, 1] (for a regulariser)
};

struct HeadFieldImpl : torch::nn::Module {
  explicit HeadFieldImpl(const NerfConfig& cfg);
  // x [N, 3] in [0,1]³, dirs [N, 3] unit (canonical), cond [1 or N, C], latent [1 or N, L] (L may be 0)
  HeadSamples forward(const torch::Tensor& x, const torch::Tensor& dirs, const torch::Tensor& cond,
                      const torch::Tensor& latent);
  // σ only (occupancy updates): x [N, 3], cond [1 or N, C] → [N]
  torch::Tensor density(const torch::Tensor& x, const torch::Tensor& cond);

  HeadConfig cfg;
  std::int64_t cond_dims;
  HashGrid grid{nullptr}, ambient_grid{nullptr};
  Mlp ambient_net{nullptr}, sigma_net{nullptr}, color_net{nullptr};

 private:
  // → (σ [N], geo [N, G], ambient [N, k])
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> density_and_features(const torch::Tensor& x,
                                                                                const torch::Tensor& cond);
};
TORCH_MODULE(HeadField);

struct TorsoSamples {
  torch::Tensor rgb;    // [N, 3]
  torch::Tensor alpha;  // [N]
};

struct TorsoFieldImpl : torch::nn::Module {
  explicit TorsoFieldImpl(const TorsoConfig& cfg);
  // p [N, 2] image points in [−1,1]² (x right, y down: p = 2·(u, v)/(W, H) − 1), anchors [1 or N, 2·A]
  // (the pose's anchor positions, same coordinates), latent [1 or N, L]
  TorsoSamples forward(const torch::Tensor& p, const torch::Tensor& anchors, const torch::Tensor& latent);

  TorsoConfig cfg;
  HashGrid grid{nullptr};
  Mlp deform_net{nullptr}, net{nullptr};
};
TORCH_MODULE(TorsoField);

// The whole subject network. Parameters: condition.*, head.*, torso.* (when enabled),
// head_latents [frames, Lh], torso_latents [frames, Lt] (RAD-NeRF individual codes, N(0, 0.1²)).
struct NerfNetworkImpl : torch::nn::Module {
  explicit NerfNetworkImpl(const NerfConfig& cfg);

  // Canonical head coordinates → box coordinates [0,1]³ (not clamped): [..., 3] → [..., 3]
  torch::Tensor to_box(const torch::Tensor& x) const;
  // The latent of a training frame, or for index −1 the fixed test latent (the mean code): [1, L]
  torch::Tensor head_latent(std::int64_t index) const;
  torch::Tensor torso_latent(std::int64_t index) const;
  // Image positions of the torso anchors under `pose` [4, 4] with intrinsics at a size: [1, 2·A]
  // in the torso's [−1,1]² coordinates.
  torch::Tensor torso_anchors(const torch::Tensor& pose, double fx, double fy, double cx, double cy, std::int64_t width,
                              std::int64_t height) const;

  NerfConfig cfg;
  ConditionNet condition{nullptr};
  HeadField head{nullptr};
  TorsoField torso{nullptr};  // null when cfg.torso.enabled is false
  torch::Tensor head_latents, torso_latents;
  torch::Tensor box_min, box_size;  // buffers [3]
};
TORCH_MODULE(NerfNetwork);

}  // namespace emogene::render
