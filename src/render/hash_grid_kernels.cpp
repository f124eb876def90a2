// Run-time choice of the hash-grid kernel variant (hash_grid_kernels.h).
#include "emogene/render/hash_grid_kernels.h"

#include <atomic>
#include <string>

#include "core/torch_pch.h"  // at::parallel_for
#include "emogene/core/error.h"
#include "emogene/render/nerf_kernels.h"

namespace emogene::render {
namespace {

bool simd_supported() {
  const auto v = nerf_kernel_variants();
  return !v.empty() && std::string(v.front()->name) != "SCALAR" && std::string(v.front()->name) != "EMU128";
}

void simd_forward(const HashGridProblem& p) {
  const HashGridLayout& g = p.layout;
  if (p.precision != HashGridPrecision::F32 || g.output_dims() > kNerfMaxEncoding || (g.dims != 2 && g.dims != 3))
    return hash_grid_kernels_scalar().forward(p);
  const NerfKernels& K = nerf_kernels();
  const float* x = static_cast<const float*>(p.x);
  float* out = static_cast<float*>(p.out);
  const std::int64_t D = g.dims, O = g.output_dims();
  at::parallel_for(0, p.n, 2048, [&](std::int64_t b, std::int64_t e) {
    K.hash_forward(g, static_cast<const float*>(p.table), x + b * D, out + b * O, e - b);
  });
}

void simd_backward(const HashGridProblem& p) { hash_grid_kernels_scalar().backward(p); }

// Best first, each answering supported().
std::vector<const HashGridKernels*> compiled_variants() { return {&hash_grid_kernels_simd(), &hash_grid_kernels_scalar()}; }

std::atomic<const HashGridKernels*>& chosen() {
  static std::atomic<const HashGridKernels*> k{nullptr};
  return k;
}

}  // namespace

const HashGridKernels& hash_grid_kernels_simd() {
  static const HashGridKernels k{"simd", &simd_supported, &simd_forward, &simd_backward};
  return k;
}

std::vector<const HashGridKernels*> hash_grid_kernel_variants() {
  std::vector<const HashGridKernels*> out;
  for (const HashGridKernels* k : compiled_variants())
    if (k->supported()) out.push_back(k);
  return out;
}

const HashGridKernels& hash_grid_kernels() {
  const HashGridKernels* k = chosen().load(std::memory_order_acquire);
  if (!k) {
    k = hash_grid_kernel_variants().front();  // the scalar variant is always supported
    chosen().store(k, std::memory_order_release);
  }
  return *k;
}

void set_hash_grid_kernels(const std::string& name) {
  std::string names;
  for (const HashGridKernels* k : hash_grid_kernel_variants()) {
    if (kernel_name_is(name, k->name)) {
      chosen().store(k, std::memory_order_release);
      return;
    }
    names += std::string(names.empty() ? "" : ", ") + k->name;
  }
  throw bad_input("hash grid kernels", "no variant '" + name + "' on this CPU (available: " + names + ")");
}

}  // namespace emogene::render
