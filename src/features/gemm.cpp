// oneDNN's sgemm found at run time (no link dependency, no header: its C entry points are
// dnnl_sgemm(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc), row-major, and
// dnnl_version()), with LibTorch's matmul as the fallback.
#include "features/gemm.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "emogene/core/error.h"
#include "emogene/features/ssl.h"

namespace emogene::features {

namespace {

using SgemmFn = int (*)(char, char, std::int64_t, std::int64_t, std::int64_t, float, const float*, std::int64_t,
                        const float*, std::int64_t, float, float*, std::int64_t);
struct DnnlVersion {
  int major, minor, patch;
  const char* hash;
  unsigned cpu_runtime, gpu_runtime;
};
using VersionFn = const DnnlVersion* (*)();

struct Onednn {
  SgemmFn sgemm = nullptr;
  std::string name = "LibTorch matmul";
  Onednn() {
    const char* env = std::getenv("EMOGENE_GEMM");
    if (env && std::strcmp(env, "torch") == 0) return;
    void* sym = ::dlsym(RTLD_DEFAULT, "dnnl_sgemm");
    void* handle = nullptr;
    if (!sym) {  // LibTorch may carry oneDNN without exporting it: try the system library
      handle = ::dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
      if (handle) sym = ::dlsym(handle, "dnnl_sgemm");
    }
    if (!sym) return;
    sgemm = reinterpret_cast<SgemmFn>(sym);
    void* vsym = handle ? ::dlsym(handle, "dnnl_version") : ::dlsym(RTLD_DEFAULT, "dnnl_version");
    name = "oneDNN sgemm";
    if (vsym)
      if (const DnnlVersion* v = reinterpret_cast<VersionFn>(vsym)())
        name = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) + " sgemm";
  }
};

const Onednn& onednn() {
  static const Onednn o;
  return o;
}

std::atomic<bool> g_torch_only{false};

// A 2-D float view as a row-major operand: transposed or not, and its leading dimension.
bool as_operand(const at::Tensor& t, char& trans, std::int64_t& ld) {
  const std::int64_t r = t.size(0), c = t.size(1), s0 = t.stride(0), s1 = t.stride(1);
  if (s1 == 1 && s0 >= std::max<std::int64_t>(1, c)) {
    trans = 'N';
    ld = s0;
    return true;
  }
  if (s0 == 1 && s1 >= std::max<std::int64_t>(1, r)) {
    trans = 'T';
    ld = s1;
    return true;
  }
  return false;
}

}  // namespace

bool gemm_uses_onednn() { return onednn().sgemm && !g_torch_only.load(); }
std::string gemm_name() { return gemm_uses_onednn() ? onednn().name : std::string("LibTorch matmul"); }
void set_gemm_torch_only(bool torch_only) { g_torch_only = torch_only; }
std::string matmul_backend() { return gemm_name(); }
void force_torch_matmul(bool on) { set_gemm_torch_only(on); }

void gemm(const at::Tensor& a, const at::Tensor& b, at::Tensor& y, float beta) {
  const std::int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  if (b.size(0) != K || y.size(0) != M || y.size(1) != N)
    throw internal_error("features", "gemm: shapes do not match");
  if (M == 0 || N == 0) return;
  char ta = 'N', tb = 'N';
  std::int64_t lda = 0, ldb = 0;
  const bool fast = gemm_uses_onednn() && a.device().is_cpu() && a.scalar_type() == at::kFloat &&
                    b.scalar_type() == at::kFloat && y.scalar_type() == at::kFloat && y.stride(1) == 1 &&
                    y.stride(0) >= N && K > 0;
  if (fast) {
    at::Tensor ac = a, bc = b;
    if (!as_operand(ac, ta, lda)) ac = a.contiguous(), ta = 'N', lda = K;
    if (!as_operand(bc, tb, ldb)) bc = b.contiguous(), tb = 'N', ldb = N;
    const int status = onednn().sgemm(ta, tb, M, N, K, 1.0f, ac.data_ptr<float>(), lda, bc.data_ptr<float>(), ldb, beta,
                                      y.data_ptr<float>(), y.stride(0));
    if (status != 0) throw internal_error("features", "dnnl_sgemm failed with status " + std::to_string(status));
    return;
  }
  if (beta == 0.0f)
    at::mm_out(y, a, b);
  else
    y.addmm_(a, b, beta, 1.0f);
}

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias, const at::Tensor& residual) {
  at::Tensor y = at::empty({x.size(0), w.size(0)}, x.options());
  if (residual.defined())
    at::add_out(y, residual, bias);
  else
    y.copy_(bias.expand({x.size(0), w.size(0)}));
  gemm(x, w.t(), y, 1.0f);
  return y;
}

}  // namespace emogene::features
