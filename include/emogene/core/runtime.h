// The process-wide compute runtime: the one thread budget (LibTorch's intra-op pool, OpenMP and
// OpenBLAS follow it), which BLAS is live behind Debian's LibTorch, CPU SIMD features, versions.
#pragma once

#include <string>

namespace emogene {

// OpenBLAS 0.3.21 (Debian 12) does not know recent Xeons (Sapphire Rapids) and falls back to its
// SSE3 "Prescott" kernels, several times slower than its AVX-512 ones. The kernels are chosen when
// the library loads, before main, from cpuid or $OPENBLAS_CORETYPE; so when the live OpenBLAS runs
// a generic core on a CPU with AVX-512 (or AVX2), this sets OPENBLAS_CORETYPE to SkylakeX (or
// Haswell) and re-executes the program once (argv unchanged). Returns only when nothing is to be
// done (or the exec failed); set EMOGENE_KEEP_BLAS_CORE=1 to skip it.
void select_blas_core(int argc, char** argv);
// The OpenBLAS core in use ("" for another BLAS).
std::string blas_core();

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
