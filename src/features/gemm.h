// Matrix products for the HuBERT / wav2vec 2.0 network: oneDNN's sgemm when the process has it
// (Debian's LibTorch links libdnnl.so.2; it picks AVX-512 kernels at run time, about twice the rate
// of the AVX2 OpenBLAS kernels LibTorch's CPU matmul calls here), else LibTorch's own matmul.
// oneDNN runs on the same OpenMP pool as LibTorch, so --threads stays the whole budget.
#pragma once

#include "core/torch_pch.h"

namespace emogene::features {

// y = a b + beta y for 2-D float tensors: a [M, K], b [K, N], y [M, N] with unit column stride.
// a and b may be any strided views with one unit stride (row-major with a leading dimension, or
// transposed); anything else is copied first.
void gemm(const at::Tensor& a, const at::Tensor& b, at::Tensor& y, float beta);

// x w' + bias as nn.Linear ([M, K] x [N, K]' + [N]); residual (if defined, [M, N]) is added too.
at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias,
                  const at::Tensor& residual = at::Tensor());

// Whether oneDNN's sgemm is in use, and its name ("oneDNN 2.7.3 sgemm" or "LibTorch matmul").
bool gemm_uses_onednn();
std::string gemm_name();
// Forces LibTorch's matmul (tests compare the two paths); EMOGENE_GEMM=torch does the same.
void set_gemm_torch_only(bool torch_only);

}  // namespace emogene::features
