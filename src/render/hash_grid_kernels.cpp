// Run-time choice of the hash-grid kernel variant (hash_grid_kernels.h).
#include "emogene/render/hash_grid_kernels.h"

#include <atomic>

#include "emogene/core/error.h"

namespace emogene::render {
namespace {

// Best first. SIMD variants (issue 9) go before the scalar one, each answering supported().
std::vector<const HashGridKernels*> compiled_variants() { return {&hash_grid_kernels_scalar()}; }

std::atomic<const HashGridKernels*>& chosen() {
  static std::atomic<const HashGridKernels*> k{nullptr};
  return k;
}

}  // namespace

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
    if (name == k->name) {
      chosen().store(k, std::memory_order_release);
      return;
    }
    names += std::string(names.empty() ? "" : ", ") + k->name;
  }
  throw bad_input("hash grid kernels", "no variant '" + name + "' on this CPU (available: " + names + ")");
}

}  // namespace emogene::render
