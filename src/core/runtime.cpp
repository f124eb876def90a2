#include "emogene/core/runtime.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "core/torch_pch.h"

namespace emogene {

int hardware_threads() {
  long n = static_cast<long>(std::thread::hardware_concurrency());
  if (n <= 0) n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return static_cast<int>(std::max<long>(1, n));
}

std::string blas_core() {
  using CoreFn = char* (*)();
  if (auto fn = reinterpret_cast<CoreFn>(::dlsym(RTLD_DEFAULT, "openblas_get_corename"))) {
    const char* c = fn();
    return c ? c : "";
  }
  return "";
}

void select_blas_core(int argc, char** argv) {
  (void)argc;
  if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("EMOGENE_KEEP_BLAS_CORE")) return;
  const std::string core = blas_core();
  // OpenBLAS's generic x86-64 fallbacks.
  if (core != "Prescott" && core != "Core2" && core != "Penryn" && core != "Nehalem" && core != "Sandybridge") return;
  const char* want = nullptr;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    want = "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    want = "Haswell";
  if (!want) return;
  ::setenv("OPENBLAS_CORETYPE", want, 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: carry on with the slow kernels
  ::unsetenv("OPENBLAS_CORETYPE");
}

int set_threads(int n) {
  if (n <= 0) n = hardware_threads();
  at::set_num_threads(n);  // also sets OpenMP's count in an OpenMP build of LibTorch
  // OpenBLAS keeps its own count (the pthreads build ignores OpenMP): set it when present.
  using SetFn = void (*)(int);
  if (auto fn = reinterpret_cast<SetFn>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(n);
  return at::get_num_threads();
}

int threads() { return at::get_num_threads(); }

BlasInfo live_blas() {
  BlasInfo info;
  // Make sure LibTorch (and so its BLAS) is loaded and initialised.
  (void)at::get_num_threads();
  std::ifstream maps("/proc/self/maps");
  std::string line, found;
  while (std::getline(maps, line)) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    std::string base = path.substr(path.find_last_of('/') + 1);
    if (base.rfind("libblas.so", 0) == 0 || base.rfind("libopenblas", 0) == 0 || base.rfind("libmkl_rt", 0) == 0 ||
        base.rfind("libblis", 0) == 0) {
      found = path;
      if (base.rfind("libblas.so", 0) != 0) break;  // a named implementation beats the generic soname
    }
  }
  if (found.empty()) {
    info.name = "none found (LibTorch may carry its own BLAS)";
    return info;
  }
  char real[4096];
  info.path = ::realpath(found.c_str(), real) ? std::string(real) : found;
  using ConfigFn = char* (*)();
  auto openblas_config = reinterpret_cast<ConfigFn>(::dlsym(RTLD_DEFAULT, "openblas_get_config"));
  if (openblas_config || info.path.find("openblas") != std::string::npos) {
    info.name = info.path.find("openmp") != std::string::npos     ? "OpenBLAS (openmp)"
                : info.path.find("pthread") != std::string::npos ? "OpenBLAS (pthreads)"
                                                                  : "OpenBLAS";
    if (openblas_config) info.details = openblas_config();
  } else if (info.path.find("mkl") != std::string::npos) {
    info.name = "MKL";
  } else if (info.path.find("blis") != std::string::npos) {
    info.name = "BLIS";
  } else if (info.path.find("atlas") != std::string::npos) {
    info.name = "ATLAS";
  } else {
    info.name = "reference BLAS (netlib)";
    info.reference = true;
  }
  return info;
}

double measure_matmul_gflops(int n) {
  at::InferenceMode guard;
  auto a = torch::randn({n, n});
  auto b = torch::randn({n, n});
  auto c = torch::mm(a, b);  // warm-up
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    c = torch::mm(a, b);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
  }
  return 2.0 * n * n * static_cast<double>(n) / best / 1e9;
}

std::string torch_version() {
#ifdef TORCH_VERSION
  return TORCH_VERSION;
#else
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
#endif
}

std::string cpu_features() {
  std::string out;
  auto add = [&](bool has, const char* name) {
    if (has) out += (out.empty() ? "" : " ") + std::string(name);
  };
  __builtin_cpu_init();
  add(__builtin_cpu_supports("sse4.2"), "sse4.2");
  add(__builtin_cpu_supports("avx"), "avx");
  add(__builtin_cpu_supports("avx2"), "avx2");
  add(__builtin_cpu_supports("fma"), "fma");
  add(__builtin_cpu_supports("avx512f"), "avx512f");
  add(__builtin_cpu_supports("avx512bw"), "avx512bw");
  add(__builtin_cpu_supports("avx512vl"), "avx512vl");
  add(__builtin_cpu_supports("avx512vnni"), "avx512vnni");
  add(__builtin_cpu_supports("avx512bf16"), "avx512bf16");
  // AMX is not known to GCC 12's __builtin_cpu_supports: read it from /proc/cpuinfo.
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) == 0) {
      add(line.find(" amx_bf16") != std::string::npos, "amx_bf16");
      add(line.find(" amx_tile") != std::string::npos, "amx_tile");
      break;
    }
  }
  return out.empty() ? "baseline x86-64" : out;
}

bool cuda_available() { return torch::cuda::is_available(); }

}  // namespace emogene
