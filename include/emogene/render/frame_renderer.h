// Rendering one frame of the subject (render() may be called from several threads at once): the interface every renderer implements (the plain LibTorch
// path here; the hand-written CPU path of issue 9 behind the same interface), and the pieces they
// share so that both march the same samples (volume.h) with the same occupancy grid and threshold.
//
// A frame is: head over torso over the static background (RAD-NeRF's composition),
//   rgb = head_rgb + (1 − head_alpha)·(torso_alpha·torso_rgb + (1 − torso_alpha)·background),
// with head_rgb premultiplied (volume.h). The torso is evaluated only at pixels whose head
// transmittance 1 − head_alpha is at least the march's min_transmittance (the termination rule of
// volume.h carried on to the layer behind the head: elsewhere the torso's weight in the pixel is
// below the threshold); torso_alpha is 0 at the others.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "emogene/render/nerf.h"
#include "emogene/render/volume.h"

namespace emogene::render {

struct FrameRequest {
  // Absolute canonical landmarks of the frame and its neighbours, the frame at the centre:
  // [W, 68, 3] with W = the model's condition window, or [68, 3] (repeated over the window).
  torch::Tensor landmarks;
  torch::Tensor pose;          // [4, 4] head → camera (DESIGN §4)
  std::int64_t latent = -1;    // a training frame's latent code, or −1: the fixed test latent
  torch::Tensor background;    // [H, W, 3] f32 in [0, 1]
  Intrinsics intrinsics;       // at width × height
  std::int64_t width = 0, height = 0;
};

struct FrameResult {
  torch::Tensor rgb;          // [H, W, 3] in [0, 1]
  torch::Tensor alpha;        // [H, W] coverage of head and torso: 1 − (1 − head α)(1 − torso α)
  torch::Tensor head_alpha;   // [H, W]
  torch::Tensor torso_alpha;  // [H, W] (0 without a torso)
  torch::Tensor depth;        // [H, W] expected distance of the head from the camera (0: no head)
  std::int64_t samples = 0;   // head-field evaluations
};

// What a frame needs of the network before marching, computed once per frame (plain ops).
struct FrameSetup {
  torch::Tensor cond;          // [1, C] the smoothed landmark condition
  torch::Tensor head_latent;   // [1, Lh]
  torch::Tensor torso_latent;  // [1, Lt]
  torch::Tensor anchors;       // [1, 2·A] torso anchors under the pose
  torch::Tensor uv;            // [H·W, 2] pixel centres
  Rays rays;                   // [H·W] in canonical head space
};
// The pixel centres and camera directions of the last frame size and intrinsics a renderer drew
// (they are the same for every frame of a video).
struct CameraCache {
  std::mutex mutex;  // renderers may draw frames concurrently (batch --jobs)
  std::int64_t width = 0, height = 0;
  Intrinsics k;
  torch::Device device = torch::kCPU;
  torch::Tensor uv, dirs;  // [H·W, 2], [H·W, 3]
};

// Checks the request against the network (bad_input naming the problem) and prepares it on
// `device`; `cache` (may be null) keeps the camera directions between calls.
FrameSetup setup_frame(NerfNetworkImpl& net, const FrameRequest& req, const torch::Device& device,
                       CameraCache* cache = nullptr);

// The head field bound to one frame's condition and latent, as the marcher's FieldFn.
FieldFn head_field_fn(NerfNetworkImpl& net, const torch::Tensor& cond, const torch::Tensor& latent);

// The torso over image points uv [N, 2] (pixels of width × height): rgb [N, 3], alpha [N] (zeros
// without a torso).
// The pixels (indices into head_alpha [N]) where the torso shows through the head: 1 − α ≥
// min_transmittance (every pixel when it is 0).
torch::Tensor torso_pixels(const torch::Tensor& head_alpha, double min_transmittance);
TorsoSamples render_torso(NerfNetworkImpl& net, const torch::Tensor& uv, const torch::Tensor& anchors,
                          const torch::Tensor& latent, std::int64_t width, std::int64_t height);

class FrameRenderer {
 public:
  virtual ~FrameRenderer() = default;
  virtual std::string name() const = 0;
  virtual FrameResult render(const FrameRequest& req) = 0;
};

// The plain path: stock LibTorch ops on the network's device (CPU or CUDA), under InferenceMode,
// rays in chunks; march_rays with the grid and the config's samples and threshold.
class PlainRenderer : public FrameRenderer {
 public:
  // grid may be null (every cell occupied). The network is put in eval mode.
  PlainRenderer(NerfNetwork net, std::shared_ptr<const OccupancyGrid> grid);
  std::string name() const override { return "plain"; }
  FrameResult render(const FrameRequest& req) override;

  MarchSettings settings;          // from the network's config; tests may change them
  std::int64_t chunk_rays = 65536;  // rays per march (memory bound)

 private:
  CameraCache camera_;
  NerfNetwork net_;
  std::shared_ptr<const OccupancyGrid> grid_;
};

// The hand-written CPU path (issue 9): the same samples, occupancy grid and threshold as the plain
// path, through the fused SIMD kernels of nerf_kernels.h (the variant nerf_kernels() picks) over
// at::parallel_for with tiles taken dynamically. CPU networks only (bad_input otherwise); the
// layer widths must fit the kernels (kNerfMaxWidth). The frame's set-up (condition, rays, box
// hits) is the plain path's own code.
struct NerfRoofline;
struct NerfKernels;

class CpuRenderer : public FrameRenderer {
 public:
  // kernels: a variant's name (nerf_kernels.h), or "" for the one nerf_kernels() gives at each frame.
  CpuRenderer(NerfNetwork net, std::shared_ptr<const OccupancyGrid> grid, const std::string& kernels = "");
  ~CpuRenderer() override;
  std::string name() const override;  // "cpu", or "cpu-fp16" for the half-precision variant
  FrameResult render(const FrameRequest& req) override;
  // measure_nerf_roofline (below) for this renderer's network.
  NerfRoofline roofline(std::int64_t points) const;

  MarchSettings settings;  // from the network's config; tests may change them

  // Wall time of each phase summed over the frames rendered (bench nerf prints the split).
  struct Phases {
    double setup = 0, head = 0, torso = 0, compose = 0;
    std::int64_t frames = 0;
  };
  const Phases& phases() const { return phases_; }

 private:
  // The grid's bits for the kernels (packed again only when they changed; thread-safe).
  std::shared_ptr<const std::vector<std::uint32_t>> pack_occupancy();
  const NerfKernels* kernels_ = nullptr;
  CameraCache camera_;
  Phases phases_;
  struct Packed;
  NerfNetwork net_;
  std::shared_ptr<const OccupancyGrid> grid_;
  std::unique_ptr<Packed> packed_;
};

// The roofline of the CPU path at a network's shapes (issue 9, `emogene bench nerf`), measured on
// this machine with the kernel variant in use and the threads in force: the MLPs at their own
// shapes with their weights and activations in cache (the best of a few runs over `points`
// samples), and random gathers from a table the size of the head grid's.
struct NerfRoofline {
  double head_flops = 0, torso_flops = 0;      // MLP FLOPs per head sample / per torso pixel (2·in·out)
  double head_gathers = 0, torso_gathers = 0;  // table reads per head sample / per torso pixel
  double head_mlp_ns = 0, torso_mlp_ns = 0;    // measured MLP time per sample / pixel (all threads)
  double gather_ns = 0;                        // measured time per random gather (all threads)
  double gflops() const { return (head_flops + torso_flops) / (head_mlp_ns + torso_mlp_ns); }
  // The bound on one frame's time: samples·(MLP + gathers) + pixels·(MLP + gathers), seconds.
  double frame_seconds(double samples, double pixels) const {
    return 1e-9 * (samples * (head_mlp_ns + head_gathers * gather_ns) + pixels * (torso_mlp_ns + torso_gathers * gather_ns));
  }
};
NerfRoofline measure_nerf_roofline(NerfNetwork net, std::int64_t points = 1 << 16);

// The frame from its head and torso layers (both renderers): rgb = head + (1 − head α)·(torso α·torso
// + (1 − torso α)·background), clamped to [0, 1]. Inputs [N, 3] / [N] with N = width·height.
FrameResult compose_frame(const torch::Tensor& head_rgb, const torch::Tensor& head_alpha, const torch::Tensor& depth,
                          const torch::Tensor& torso_rgb, const torch::Tensor& torso_alpha,
                          const torch::Tensor& background, std::int64_t width, std::int64_t height,
                          std::int64_t samples);

// "plain", "cpu", "cpu-fp16" (the CPU path with half-precision MLPs, AVX512-FP16 CPUs: about twice
// as fast, not the same pixels), or "auto" (cpu for a CPU network, plain otherwise): bad_input for
// an unknown kind.
std::unique_ptr<FrameRenderer> make_frame_renderer(const std::string& kind, NerfNetwork net,
                                                   std::shared_ptr<const OccupancyGrid> grid);

}  // namespace emogene::render
