// The CPU kernels of the hash-grid encoding (hash_grid.h) behind one dispatch point.
//
// A variant is a table of function pointers over plain buffers (no LibTorch types), so SIMD
// variants (AVX2, AVX-512, ...) can be added beside the scalar one and picked at run time by what
// the CPU supports. Every variant computes the function hash_grid.h defines and must match the
// LibTorch reference (tests/render/test_hash_grid.cpp holds each registered variant to it).
//
// Threads: variants run on at::parallel_for (DESIGN §2: one threading layer). Determinism: the
// table gradient of a level is accumulated by exactly one task, over the points in index order, so
// it is bit-identical under any thread count (levels are the unit of parallel work of the scatter;
// no per-thread buffers, no atomics, no reduction). Forward and input gradient are per point.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "emogene/render/hash_grid_layout.h"

namespace emogene::render {

// Element types of one call: positions, outputs and gradients are of the compute type; the table
// is stored in the table type.
enum class HashGridPrecision {
  F32,      // x, out, grads f32; table f32
  F32_F16,  // x, out, grads f32; table f16 (read and widened to f32); grad_table is f32
  F64,      // everything f64 (tests: finite differences)
};

// One call. Pointers are to contiguous row-major buffers.
struct HashGridProblem {
  HashGridLayout layout;
  HashGridPrecision precision = HashGridPrecision::F32;
  std::int64_t n = 0;                // points
  const void* x = nullptr;           // [n, dims]
  const void* table = nullptr;       // [levels, T, F]
  void* out = nullptr;               // forward: [n, levels·F]
  const void* grad_out = nullptr;    // backward: [n, levels·F]
  void* grad_table = nullptr;        // backward: [levels, T, F] in the compute type, overwritten; may be null
  void* grad_x = nullptr;            // backward: [n, dims], overwritten; may be null
};

struct HashGridKernels {
  const char* name;                                  // "scalar", "simd" (kernel_name_is matches it)
  bool (*supported)();                               // can this CPU run it?
  void (*forward)(const HashGridProblem& p);         // fills p.out
  void (*backward)(const HashGridProblem& p);        // fills p.grad_table and/or p.grad_x
};

// The plain C++ variant: always supported, the baseline of the SIMD ones.
const HashGridKernels& hash_grid_kernels_scalar();
// "simd": the forward of f32 tables through the NeRF renderer's block encoder (nerf_kernels.h,
// the SIMD target nerf_kernels() picks), the scalar variant's backward; other precisions fall
// back to the scalar variant. Supported when a SIMD target (not the portable one) runs here.
const HashGridKernels& hash_grid_kernels_simd();

// Every variant compiled in and supported by this CPU, best first.
std::vector<const HashGridKernels*> hash_grid_kernel_variants();

// The variant in use: the best supported one unless set_hash_grid_kernels chose another.
const HashGridKernels& hash_grid_kernels();
// Chooses a variant by name (tests, benchmarks); bad_input for an unknown or unsupported name.
void set_hash_grid_kernels(const std::string& name);

}  // namespace emogene::render
