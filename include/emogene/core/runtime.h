// The process-wide compute runtime: the one thread budget (LibTorch's intra-op pool, OpenMP and
// OpenBLAS follow it), which BLAS is live behind Debian's LibTorch, CPU SIMD features, versions.
#pragma once

#include <string>

namespace emogene {

// Sets the whole compute budget (LibTorch intra-op threads, OpenMP, OpenBLAS); n <= 0: all cores.
// Returns the count in force.
int set_threads(int n);
int threads();
int hardware_threads();

struct BlasInfo {
  std::string path;     // the shared object that provides BLAS in this process
  std::string name;     // "OpenBLAS (openmp)", "reference BLAS (netlib)", "MKL", ...
  std::string details;  // e.g. OpenBLAS's own config string
  bool reference = false;  // the slow netlib reference implementation
};

// Inspects the libraries mapped into this process (after LibTorch is loaded).
BlasInfo live_blas();

// Measured matrix multiply rate of LibTorch's CPU path (torch::mm n×n×n, best of a few), GFLOP/s.
double measure_matmul_gflops(int n = 512);

std::string torch_version();
std::string cpu_features();  // "avx2 fma avx512f avx512bw ..."
bool cuda_available();

}  // namespace emogene
