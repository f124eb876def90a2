// The scalar (plain C++) CPU kernels of the hash-grid encoding (hash_grid_kernels.h).
// Specialised at compile time for the dimension D (2, 3) and features per level F (1, 2, 4, 8), as
// tiny-cuda-nn's GridEncodingTemplated is; the arithmetic follows hash_grid_reference step by step
// (same clamping, same order of the weight products) so the two agree to rounding.
#include <c10/util/Half.h>

#include <algorithm>
#include <cstdint>

#include "core/torch_pch.h"  // at::parallel_for: the one threading layer (DESIGN §2)
#include "emogene/core/error.h"
#include "emogene/render/hash_grid_kernels.h"

namespace emogene::render {
namespace {

constexpr std::int64_t kPointGrain = 256;  // points per parallel task, forward and input gradient

template <typename T, typename A>
inline A widen(T v) {
  return static_cast<A>(v);
}
template <>
inline float widen<c10::Half, float>(c10::Half v) {
  return static_cast<float>(v);
}

// Clamp to [0,1]; NaN → 0 (comparisons with NaN are false). inside: x was in [0,1] (gradient passes).
template <typename A>
inline A clamp01(A x, bool& inside) {
  inside = x >= A(0) && x <= A(1);
  return x > A(0) ? (x < A(1) ? x : A(1)) : A(0);
}

// The cell of x (already clamped) at a level of R cells, and the fraction inside it:
// p = x·R, cell = min(floor(p), R−1), frac = p − cell (so x = 1 lies in the last cell, frac 1).
template <typename A, int D>
inline void locate(const A* xc, std::uint32_t R, std::uint32_t* cell, A* frac) {
  for (int i = 0; i < D; ++i) {
    const A p = xc[i] * static_cast<A>(R);
    std::uint32_t c = static_cast<std::uint32_t>(p);  // p ≥ 0: truncation is floor
    if (c > R - 1) c = R - 1;
    cell[i] = c;
    frac[i] = p - static_cast<A>(c);
  }
}

// Row of vertex cell + corner bits (bit i of `corner` = +1 along axis i).
template <int D>
inline std::uint32_t vertex_row(const HashGridLayout& g, int level, const std::uint32_t* cell, int corner) {
  std::uint32_t v[D];
  for (int i = 0; i < D; ++i) v[i] = cell[i] + ((corner >> i) & 1u);
  if (g.dense[static_cast<std::size_t>(level)]) {
    const std::uint32_t side = g.resolution[static_cast<std::size_t>(level)] + 1;
    std::uint32_t idx = v[D - 1];
    for (int i = D - 2; i >= 0; --i) idx = idx * side + v[i];  // v_0 + side·(v_1 + side·v_2)
    return idx;
  }
  std::uint32_t h = 0;
  for (int i = 0; i < D; ++i) h ^= v[i] * kHashGridPrimes[static_cast<std::size_t>(i)];
  return h & (g.table_size - 1u);
}

// d-linear weight of a corner: the product over axes of frac (bit set) or 1 − frac, axis 0 first.
template <typename A, int D>
inline A corner_weight(const A* frac, int corner) {
  A w = ((corner & 1) ? frac[0] : A(1) - frac[0]);
  for (int i = 1; i < D; ++i) w *= ((corner >> i) & 1) ? frac[i] : A(1) - frac[i];
  return w;
}

template <typename T, typename A, int D, int F>
void forward_impl(const HashGridProblem& p) {
  const HashGridLayout& g = p.layout;
  const A* x = static_cast<const A*>(p.x);
  const T* table = static_cast<const T*>(p.table);
  A* out = static_cast<A*>(p.out);
  const int L = g.levels;
  const std::int64_t T_rows = g.table_size;
  at::parallel_for(0, p.n, kPointGrain, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t n = b; n < e; ++n) {
      A xc[D];
      for (int i = 0; i < D; ++i) {
        bool inside;
        xc[i] = clamp01(x[n * D + i], inside);
      }
      A* o = out + n * L * F;
      for (int l = 0; l < L; ++l) {
        std::uint32_t cell[D];
        A frac[D];
        locate<A, D>(xc, g.resolution[static_cast<std::size_t>(l)], cell, frac);
        const T* level_table = table + l * T_rows * F;
        A acc[F] = {};
        for (int c = 0; c < (1 << D); ++c) {
          const A w = corner_weight<A, D>(frac, c);
          const T* row = level_table + static_cast<std::int64_t>(vertex_row<D>(g, l, cell, c)) * F;
          for (int f = 0; f < F; ++f) acc[f] += w * widen<T, A>(row[f]);
        }
        for (int f = 0; f < F; ++f) o[l * F + f] = acc[f];
      }
    }
  });
}

// Table gradient: one task per level; each level's rows are written by that task alone, over the
// points in order, so the sums do not depend on the thread count.
template <typename T, typename A, int D, int F>
void backward_table_impl(const HashGridProblem& p) {
  const HashGridLayout& g = p.layout;
  const A* x = static_cast<const A*>(p.x);
  const A* grad_out = static_cast<const A*>(p.grad_out);
  A* grad_table = static_cast<A*>(p.grad_table);
  const int L = g.levels;
  const std::int64_t T_rows = g.table_size;
  at::parallel_for(0, L, 1, [&](std::int64_t lb, std::int64_t le) {
    for (std::int64_t l = lb; l < le; ++l) {
      A* gt = grad_table + l * T_rows * F;
      std::fill(gt, gt + T_rows * F, A(0));
      const std::uint32_t R = g.resolution[static_cast<std::size_t>(l)];
      for (std::int64_t n = 0; n < p.n; ++n) {
        A xc[D];
        for (int i = 0; i < D; ++i) {
          bool inside;
          xc[i] = clamp01(x[n * D + i], inside);
        }
        std::uint32_t cell[D];
        A frac[D];
        locate<A, D>(xc, R, cell, frac);
        const A* go = grad_out + (n * L + l) * F;
        for (int c = 0; c < (1 << D); ++c) {
          const A w = corner_weight<A, D>(frac, c);
          A* row = gt + static_cast<std::int64_t>(vertex_row<D>(g, static_cast<int>(l), cell, c)) * F;
          for (int f = 0; f < F; ++f) row[f] += go[f] * w;
        }
      }
    }
  });
}

// Input gradient, per point: d out_l / d x_i = R_l · Σ_c (∂w_c/∂frac_i) · (grad_out_l · table[row_c]).
// With v_c = grad_out_l · table[row_c], the corners pair up along each axis i:
// Σ_{c: bit i clear} (v_{c+2^i} − v_c) · Π_{j≠i} (frac_j or 1 − frac_j); zero where x_i was clamped.
template <typename T, typename A, int D, int F>
void backward_input_impl(const HashGridProblem& p) {
  const HashGridLayout& g = p.layout;
  const A* x = static_cast<const A*>(p.x);
  const T* table = static_cast<const T*>(p.table);
  const A* grad_out = static_cast<const A*>(p.grad_out);
  A* grad_x = static_cast<A*>(p.grad_x);
  const int L = g.levels;
  const std::int64_t T_rows = g.table_size;
  constexpr int C = 1 << D;
  at::parallel_for(0, p.n, kPointGrain, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t n = b; n < e; ++n) {
      A xc[D];
      bool inside[D];
      for (int i = 0; i < D; ++i) xc[i] = clamp01(x[n * D + i], inside[i]);
      A gx[D] = {};
      for (int l = 0; l < L; ++l) {
        const std::uint32_t R = g.resolution[static_cast<std::size_t>(l)];
        std::uint32_t cell[D];
        A frac[D];
        locate<A, D>(xc, R, cell, frac);
        const T* level_table = table + l * T_rows * F;
        const A* go = grad_out + (n * L + l) * F;
        A v[C];
        for (int c = 0; c < C; ++c) {
          const T* row = level_table + static_cast<std::int64_t>(vertex_row<D>(g, l, cell, c)) * F;
          A s = A(0);
          for (int f = 0; f < F; ++f) s += go[f] * widen<T, A>(row[f]);
          v[c] = s;
        }
        A w0[D], w1[D];
        for (int j = 0; j < D; ++j) w0[j] = A(1) - frac[j], w1[j] = frac[j];
        for (int i = 0; i < D; ++i) {
          A gi = A(0);
          for (int m = 0; m < C / 2; ++m) {
            const int c = ((m >> i) << (i + 1)) | (m & ((1 << i) - 1));  // m with a 0 inserted at bit i
            A w = A(1);
            for (int j = 0; j < D; ++j)
              if (j != i) w *= ((c >> j) & 1) ? w1[j] : w0[j];
            gi += w * (v[c | (1 << i)] - v[c]);
          }
          gx[i] += gi * static_cast<A>(R);
        }
      }
      for (int i = 0; i < D; ++i) grad_x[n * D + i] = inside[i] ? gx[i] : A(0);
    }
  });
}

template <typename T, typename A, int D, int F>
void backward_impl(const HashGridProblem& p) {
  if (p.grad_table) backward_table_impl<T, A, D, F>(p);
  if (p.grad_x) backward_input_impl<T, A, D, F>(p);
}

using KernelFn = void (*)(const HashGridProblem&);

template <typename T, typename A, int D>
KernelFn pick_f(int features, bool backward) {
  switch (features) {
    case 1: return backward ? backward_impl<T, A, D, 1> : forward_impl<T, A, D, 1>;
    case 2: return backward ? backward_impl<T, A, D, 2> : forward_impl<T, A, D, 2>;
    case 4: return backward ? backward_impl<T, A, D, 4> : forward_impl<T, A, D, 4>;
    case 8: return backward ? backward_impl<T, A, D, 8> : forward_impl<T, A, D, 8>;
    default: return nullptr;
  }
}

template <typename T, typename A>
KernelFn pick_d(int dims, int features, bool backward) {
  if (dims == 2) return pick_f<T, A, 2>(features, backward);
  if (dims == 3) return pick_f<T, A, 3>(features, backward);
  return nullptr;
}

KernelFn pick(const HashGridProblem& p, bool backward) {
  KernelFn fn = nullptr;
  switch (p.precision) {
    case HashGridPrecision::F32: fn = pick_d<float, float>(p.layout.dims, p.layout.features, backward); break;
    case HashGridPrecision::F32_F16: fn = pick_d<c10::Half, float>(p.layout.dims, p.layout.features, backward); break;
    case HashGridPrecision::F64: fn = pick_d<double, double>(p.layout.dims, p.layout.features, backward); break;
  }
  if (!fn)
    throw internal_error("hash grid (scalar kernel)", "no kernel for dims " + std::to_string(p.layout.dims) +
                                                          ", features " + std::to_string(p.layout.features));
  return fn;
}

void scalar_forward(const HashGridProblem& p) {
  if (p.n > 0) pick(p, false)(p);
}
void scalar_backward(const HashGridProblem& p) {
  if (p.grad_table || p.grad_x) pick(p, true)(p);
}
bool always() { return true; }

}  // namespace

const HashGridKernels& hash_grid_kernels_scalar() {
  static const HashGridKernels k{"scalar", &always, &scalar_forward, &scalar_backward};
  return k;
}

}  // namespace emogene::render
