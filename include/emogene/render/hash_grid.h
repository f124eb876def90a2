// The multi-resolution hash-grid encoding of the subject NeRF (Müller et al. 2022, "Instant Neural
// Graphics Primitives"; the encoding RAD-NeRF, GeneFace++ and EmoGene use for their fields).
//
// A point x in [0,1]^d (d = 2 or 3) is encoded by `levels` grids of growing resolution. Level l has
// R_l cells per axis, R_l = floor(base · b^l) with b = exp((ln finest − ln base)/(levels − 1))
// (instant-ngp's geometric growth), so R_0 = base and R_{L-1} = finest. Its vertices sit at the
// integer points 0..R_l of the scaled position p = x · R_l ("align corners": the vertex grid covers
// [0,1] exactly, x = 0 and x = 1 are vertices). A vertex v owns one row of F features in the level's
// table of T = 2^log2_table_size rows: by dense row-major index when (R_l+1)^d ≤ T (coarse levels),
// else by instant-ngp's spatial hash (XOR of v_i · π_i with π = 1, 2654435761, 805459861, mod T).
// The level's output is the d-linear interpolation (bilinear / trilinear) of the 2^d vertices of
// x's cell; the encoding is the concatenation over levels: [N, levels · F], level-major.
//
// Inputs outside [0,1] are clamped to it (their input gradient is then 0; on the boundary itself
// the gradient is the one-sided one of the cell inside). NaN inputs: the CPU kernel maps them to 0,
// the reference path propagates NaN; callers keep inputs finite.
//
// Two implementations compute the same function:
//  - the CPU kernels (hash_grid_kernels.h): hand-written forward and backward behind one dispatch
//    point, run through HashGridFunction (a custom autograd function);
//  - the reference (hash_grid_reference): stock LibTorch ops, autograd does the backward. It serves
//    the tests and every device the kernels do not cover (CUDA).
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "emogene/render/hash_grid_layout.h"

namespace emogene::render {

// Which implementation encodes: Auto = the CPU kernels for CPU tensors of a supported dtype
// combination (x f32 with table f32 or f16; x f64 with table f64), the reference otherwise.
enum class HashGridBackend { Auto, Kernel, Reference };

// x [N, d] in [0,1]^d (clamped), table [levels, T, F] → [N, levels·F] of x's dtype.
// Differentiable in table and x (first order). Kernel on a CPU-unsupported combination: bad_input.
torch::Tensor hash_grid_encode(const torch::Tensor& x, const torch::Tensor& table, const HashGridLayout& layout,
                               HashGridBackend backend = HashGridBackend::Auto);

// The reference: stock LibTorch ops (floor, clamp, index_select, products), any device, autograd
// backward. The table is converted to x's dtype first.
torch::Tensor hash_grid_reference(const torch::Tensor& x, const torch::Tensor& table, const HashGridLayout& layout);

// The custom autograd function around the CPU kernels. x [N, d] (f32 or f64), table [L, T, F]
// contiguous CPU tensors; backward gives the table gradient (always) and the input gradient (when
// x requires it). First order only: a backward that builds a graph (create_graph) is refused.
// The table gradient is deterministic for any thread count (see hash_grid_kernels.h).
struct HashGridFunction : torch::autograd::Function<HashGridFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x, torch::Tensor table,
                               const HashGridLayout& layout);
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs);
};

// The encoding as a module: the table is the parameter "table" [levels, T, F], initialised
// U(−1e-4, 1e-4) as in instant-ngp (kept f16 when cfg.table_dtype is "f16": for inference; train
// in f32).
struct HashGridImpl : torch::nn::Module {
  explicit HashGridImpl(const HashGridConfig& cfg);
  // x [..., d] → [..., levels·F]
  torch::Tensor forward(const torch::Tensor& x);
  std::int64_t output_dims() const { return cfg.output_dims(); }

  HashGridConfig cfg;
  HashGridLayout layout;
  HashGridBackend backend = HashGridBackend::Auto;  // tests and benchmarks may force one
  torch::Tensor table;                              // [levels, T, F]
};
TORCH_MODULE(HashGrid);

}  // namespace emogene::render
