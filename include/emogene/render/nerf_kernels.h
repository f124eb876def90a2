// The hand-written CPU kernels of the subject NeRF's inference (issue 9, DESIGN §6): one frame's
// head (march + fused hash encoding + MLPs + compositing) and torso (fused encodings + MLPs), over
// plain buffers (no LibTorch types), behind one dispatch point like hash_grid_kernels.h.
//
// Variants are the SIMD targets Highway compiles the one source for (AVX-512 "AVX3", "AVX2",
// "SSE4", and the portable "SCALAR" or "EMU128"), picked at run time by what the CPU supports,
// and "AVX3_FP16": AVX3 with the MLP layers in half precision (AVX512-FP16, twice the FMA rate;
// not exact, its error is bounded by its test; chosen only by name, `--kernels AVX3_FP16`). They compute
// exactly what the plain LibTorch path (frame_renderer.h, volume.h) computes — the same samples
// (positions in the same float operations, no contraction), the same occupancy test and the same
// termination rule — so their pixels agree to rounding (tests/render/test_cpu_renderer.cpp).
//
// Work layout (tiny-cuda-nn's fully fused MLP, instant-ngp's compacted marching, on a CPU): rays
// are taken in tiles; each round every live ray of a tile advances to its next occupied sample
// (unoccupied samples cost one bit test), the round's samples are evaluated in blocks of 2 vectors
// of samples held in L1 (samples in lanes, features in rows: hash gathers, MLP layers and
// activations are all lane-parallel), and composited; rays stop at the box exit or when their
// transmittance drops below the threshold.
//
// Per-frame constants are folded before the call (cpu_renderer.cpp): the landmark condition's
// share of the ambient MLP's first layer and the latent's share of the colour MLP's first layer
// become biases, as do the pose anchors' and latent's shares of the torso's first layers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "emogene/render/hash_grid_layout.h"

namespace emogene::render {

// Output groups of a packed layer: weights of 8 outputs are interleaved per input.
constexpr int kNerfOutGroup = 8;
constexpr int kNerfMaxWidth = 256;  // widest layer input or output the kernels take
constexpr int kNerfMaxLayers = 8;
// Rows of the kernels' block buffers: the widest layer (its outputs padded to a whole group) plus
// the 15 spherical-harmonic rows that sit in front of the σ MLP's output in the colour input. Every
// width the renderer accepts (≤ kNerfMaxWidth, checked when it packs a net) fits by construction.
constexpr int kNerfMaxRows = kNerfMaxWidth + 16;
static_assert((kNerfMaxWidth + kNerfOutGroup - 1) / kNerfOutGroup * kNerfOutGroup + 15 <= kNerfMaxRows,
              "a padded layer plus the SH rows must fit a block buffer");

// One bias-free linear map with an optional bias, packed for the kernels:
// w[g][i][o] = W[g·8 + o][i] (zero for outputs ≥ out), g < out_pad / 8; bias [out_pad] or null.
struct PackedLayer {
  const float* w = nullptr;
  const float* bias = nullptr;
  int in = 0, out = 0, out_pad = 0;
  const std::uint16_t* w16 = nullptr;  // the same weights as IEEE halves (the FP16 variant), or null
};
// ReLU between layers, none after the last (the caller's activation follows).
struct PackedMlp {
  int layers = 0;
  PackedLayer layer[kNerfMaxLayers];
};

// The head field of one frame, and its march.
struct NerfHeadProblem {
  HashGridLayout grid, ambient_grid;  // 3D (F = 2 or 1, 2, 4, 8) and 2D
  const float* table = nullptr;       // [L, T, F] f32
  const float* ambient_table = nullptr;
  int ambient_dims = 2;               // k: the ambient MLP's outputs = the ambient grid's inputs
  int sh_degree = 4;
  int geo_features = 64;
  PackedMlp ambient;  // in: e_x (cond folded into layer 0's bias); out: k, tanh
  PackedMlp sigma;    // in: [e_x, e_a]; out: [σ_raw, geo]
  PackedMlp color;    // in: [SH(d), geo] (latent folded into layer 0's bias); out: 3, sigmoid

  // March (volume.h): box, samples, step, threshold; the occupancy grid's cells (i, j, k row-major)
  // as bits, cell c at bit c % 32 of word c / 32 (G³ / 32 words, L2-resident), or null.
  float box_min[3] = {0, 0, 0}, box_max[3] = {1, 1, 1}, box_size[3] = {1, 1, 1};
  int samples_per_ray = 16;
  float step = 0;
  float min_transmittance = 1e-4f;
  const std::uint32_t* occupancy = nullptr;
  int occupancy_resolution = 0;

  // Rays in head space [R, 3]; the kernels meet them with the box as volume.h's intersect_box
  // does, in the same float operations.
  std::int64_t rays = 0;
  const float* origins = nullptr;
  const float* dirs = nullptr;

  // Outputs [R, 3], [R], [R]: premultiplied rgb, 1 − T, Σ w·t.
  float* rgb = nullptr;
  float* alpha = nullptr;
  float* depth = nullptr;
};

// The torso field over image pixels.
struct NerfTorsoProblem {
  HashGridLayout grid;  // 2D
  const float* table = nullptr;
  int coord_freqs = 8;
  PackedMlp deform;  // in: freq(p) (anchors and latent folded); out: 2
  PackedMlp net;     // in: [grid((q+1)/2), freq(p)] (anchors and latent folded); out: [α, rgb]
  std::int64_t width = 0, height = 0;
  std::int64_t points = 0;          // pixels to evaluate
  const std::int32_t* pixels = nullptr;  // [points] their indices into uv / rgb / alpha (null: 0..points−1)
  const float* uv = nullptr;  // [pixels, 2] pixel positions
  float* rgb = nullptr;       // [pixels, 3]
  float* alpha = nullptr;     // [pixels]
};

struct NerfKernels {
  const char* name;                 // Highway's target name: "AVX3", "AVX2", "SSE4", "SCALAR"; "AVX3_FP16"
  bool exact;                       // the plain path's pixels to rounding (false: AVX3_FP16's f16 MLPs)
  bool (*supported)();
  // Rays [begin, end) of the problem (disjoint ranges may run in parallel); returns the number of
  // head-field evaluations.
  std::int64_t (*render_head)(const NerfHeadProblem& p, std::int64_t begin, std::int64_t end);
  // Points [begin, end) of the pixel list.
  void (*render_torso)(const NerfTorsoProblem& p, std::int64_t begin, std::int64_t end);
  // One packed MLP over n samples in the kernels' block layout (benchmarks: FLOP rate at the
  // network's shapes): in [n][in] row-major → out [n][out] (no final activation).
  void (*mlp)(const PackedMlp& m, const float* in, float* out, std::int64_t n);
  // The hash-table gather rate (benchmarks): sums n random rows' first feature of `table`
  // ([rows] f32) at the given indices, lane-parallel.
  float (*gather)(const float* table, const std::uint32_t* idx, std::int64_t n);
  // The hash-grid encoding (hash_grid.h) of n points x [n, dims] with an f32 table into out
  // [n, levels·F], the same block code the renderer runs; training's forward pass uses it
  // (hash_grid_kernels.h, variant "simd"). Needs levels·F ≤ kNerfMaxEncoding.
  void (*hash_forward)(const HashGridLayout& g, const float* table, const float* x, float* out, std::int64_t n);
};

constexpr int kNerfMaxEncoding = 160;  // widest encoding hash_forward takes

// Every variant compiled in and supported by this CPU, best exact one first; inexact ones last.
std::vector<const NerfKernels*> nerf_kernel_variants();
// Kernel variants of both registries (this one and hash_grid_kernels.h) are named
// case-insensitively: "avx3" chooses "AVX3".
bool kernel_name_is(const std::string& asked, const char* variant);

// The variant in use: the best exact one unless set_nerf_kernels chose another.
const NerfKernels& nerf_kernels();
// Chooses a variant by name (tests, benchmarks); bad_input for an unknown or unsupported name.
void set_nerf_kernels(const std::string& name);

// Packs W [out, in] (row-major, f32) restricted to input columns [col, col + in) into `dst`
// (resized) in the PackedLayer layout; returns out_pad.
int pack_layer_weights(const float* W, int out, int in_total, int col, int in, std::vector<float>& dst);

}  // namespace emogene::render
