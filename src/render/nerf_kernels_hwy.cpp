// The NeRF inference kernels (nerf_kernels.h), written once with Highway and compiled for each
// SIMD target (foreach_target re-includes this file once per target); the dispatch table at the
// end lists the targets this CPU supports, best first.
//
// Compiled with -ffp-contract=off (src/render/CMakeLists.txt): the sample positions must come out
// of the same float operations as the plain path's (t = near + (k + ½)·δ, x = o + t·d, box
// mapping, occupancy cell), or a sample on a cell boundary could fall on the other side.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "render/nerf_kernels_hwy.cpp"
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS HWY_SSSE3  // SSE4 covers the pre-AVX2 machines
#endif
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "emogene/render/nerf_kernels.h"

HWY_BEFORE_NAMESPACE();
namespace emogene::render {
namespace HWY_NAMESPACE {
namespace {

namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;
using DI = hn::RebindToSigned<DF>;
using DU = hn::RebindToUnsigned<DF>;
using VF = hn::Vec<DF>;
using VI = hn::Vec<DI>;
using VU = hn::Vec<DU>;

constexpr int kN = static_cast<int>(HWY_LANES(float));  // lanes (x86: fixed per target)
constexpr int kB = 2 * kN;                              // samples per block: two vectors
constexpr int kRows = kNerfMaxRows;                     // rows of a block buffer (nerf_kernels.h)
constexpr int kTile = 2048;                             // rays marched together

// A block buffer: rows × kB floats, aligned for Load/Store.
struct alignas(64) Rows {
  float v[kRows * kB];
  float* row(int r) { return v + static_cast<std::ptrdiff_t>(r) * kB; }
};

// ---- one layer and one MLP over a block ---------------------------------------------------------

// Outputs h .. h + kO − 1 of group g: out[o][s] = Σ_i W[o][i]·in[i][s] (+ bias[o]), ReLU when
// `relu`. kO = 8 on AVX-512 (8 outputs × 2 vectors = 16 accumulators of 32 registers), 4 on
// narrower targets (8 accumulators of 16 registers).
template <int kO>
HWY_INLINE void dense_part(const PackedLayer& L, const float* HWY_RESTRICT in, float* HWY_RESTRICT out, bool relu,
                           int g, int h) {
  const DF d;
  const VF zero = hn::Zero(d);
  const float* HWY_RESTRICT w = L.w + static_cast<std::ptrdiff_t>(g) * L.in * kNerfOutGroup + h;
  VF a0[kO], a1[kO];
  HWY_UNROLL(8)
  for (int o = 0; o < kO; ++o) a0[o] = a1[o] = zero;
  for (int i = 0; i < L.in; ++i) {
    const VF x0 = hn::Load(d, in + i * kB), x1 = hn::Load(d, in + i * kB + kN);
    const float* HWY_RESTRICT wi = w + i * kNerfOutGroup;
    HWY_UNROLL(8)
    for (int o = 0; o < kO; ++o) {
      const VF wv = hn::Set(d, wi[o]);
      a0[o] = hn::MulAdd(wv, x0, a0[o]);
      a1[o] = hn::MulAdd(wv, x1, a1[o]);
    }
  }
  HWY_UNROLL(8)
  for (int o = 0; o < kO; ++o) {
    const int r = g * kNerfOutGroup + h + o;
    VF y0 = a0[o], y1 = a1[o];
    if (L.bias) {
      const VF b = hn::Set(d, L.bias[r]);
      y0 = hn::Add(y0, b);
      y1 = hn::Add(y1, b);
    }
    if (relu) {
      y0 = hn::Max(y0, zero);
      y1 = hn::Max(y1, zero);
    }
    hn::Store(y0, d, out + r * kB);
    hn::Store(y1, d, out + r * kB + kN);
  }
}

// One layer over a block: in [in][kB] → out rows [0, out) (a group's padding rows past `out` may
// be left unwritten when the group's real outputs fit in half of it).
HWY_NOINLINE void dense(const PackedLayer& L, const float* HWY_RESTRICT in, float* HWY_RESTRICT out, bool relu) {
  const int groups = L.out_pad / kNerfOutGroup;
  for (int g = 0; g < groups; ++g) {
    const int real = std::min(kNerfOutGroup, L.out - g * kNerfOutGroup);
    if constexpr (kN >= 16) {
      if (real > 4) dense_part<8>(L, in, out, relu, g, 0);
      else dense_part<4>(L, in, out, relu, g, 0);
    } else {
      dense_part<4>(L, in, out, relu, g, 0);
      if (real > 4) dense_part<4>(L, in, out, relu, g, 4);
    }
  }
}

#if HWY_TARGET == HWY_AVX3
// The half-precision layer (AVX512-FP16, variant "AVX3_FP16"): the block's 32 samples fill one
// vector of halves, so each FMA does twice the work of an f32 one. Inputs and weights are rounded
// to f16, products are summed in f16 and the bias is added in f32 (error bounded by its test).
#define EMOGENE_FP16_ATTR __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512fp16")))
template <int kO>
EMOGENE_FP16_ATTR HWY_INLINE void f16_part(const PackedLayer& L, const _Float16* HWY_RESTRICT x16, float* HWY_RESTRICT out,
                                           bool relu, int g) {
  const _Float16* HWY_RESTRICT wa = reinterpret_cast<const _Float16*>(L.w16) + static_cast<std::ptrdiff_t>(g) * L.in * kNerfOutGroup;
  const _Float16* HWY_RESTRICT wb = wa + static_cast<std::ptrdiff_t>(L.in) * kNerfOutGroup;
  __m512h acc[kO];
  HWY_UNROLL(16)
  for (int o = 0; o < kO; ++o) acc[o] = _mm512_setzero_ph();
  for (int i = 0; i < L.in; ++i) {
    const __m512h x = _mm512_load_ph(x16 + i * 32);
    const _Float16* HWY_RESTRICT a = wa + i * kNerfOutGroup;
    const _Float16* HWY_RESTRICT b = wb + i * kNerfOutGroup;
    HWY_UNROLL(16)
    for (int o = 0; o < kO; ++o) acc[o] = _mm512_fmadd_ph(_mm512_set1_ph(o < 8 ? a[o] : b[o - 8]), x, acc[o]);
  }
  const __m512 zero = _mm512_setzero_ps();
  HWY_UNROLL(16)
  for (int o = 0; o < kO; ++o) {
    const int r = g * kNerfOutGroup + o;
    __m512 y0 = _mm512_cvtxph_ps(_mm512_castph512_ph256(acc[o]));
    __m512 y1 = _mm512_cvtxph_ps(_mm256_castpd_ph(_mm512_extractf64x4_pd(_mm512_castph_pd(acc[o]), 1)));
    if (L.bias) {
      const __m512 b = _mm512_set1_ps(L.bias[r]);
      y0 = _mm512_add_ps(y0, b);
      y1 = _mm512_add_ps(y1, b);
    }
    if (relu) {
      y0 = _mm512_max_ps(y0, zero);
      y1 = _mm512_max_ps(y1, zero);
    }
    _mm512_store_ps(out + r * 32, y0);
    _mm512_store_ps(out + r * 32 + 16, y1);
  }
}

EMOGENE_FP16_ATTR HWY_NOINLINE void dense_f16(const PackedLayer& L, const float* HWY_RESTRICT in, float* HWY_RESTRICT out,
                                              bool relu) {
  alignas(64) _Float16 x16[kRows * 32];
  for (int i = 0; i < L.in; ++i) {
    _mm256_store_ph(x16 + i * 32, _mm512_cvtxps_ph(_mm512_load_ps(in + i * 32)));
    _mm256_store_ph(x16 + i * 32 + 16, _mm512_cvtxps_ph(_mm512_load_ps(in + i * 32 + 16)));
  }
  const int groups = L.out_pad / kNerfOutGroup;
  for (int g = 0; g < groups; g += 2) {
    if (g + 1 < groups) f16_part<16>(L, x16, out, relu, g);
    else f16_part<8>(L, x16, out, relu, g);
  }
}
#endif

// The MLP from `in` to `out` through two scratch buffers (hidden layers alternate between them).
// kHalf: the f16 layers where the target has them and the layer carries f16 weights.
template <bool kHalf = false>
HWY_INLINE void mlp(const PackedMlp& m, const float* in, float* out, Rows& s0, Rows& s1) {
  const float* src = in;
  for (int l = 0; l < m.layers; ++l) {
    const bool last = l + 1 == m.layers;
    float* dst = last ? out : (l % 2 ? s1.v : s0.v);
#if HWY_TARGET == HWY_AVX3
    if (kHalf && m.layer[l].w16) dense_f16(m.layer[l], src, dst, !last);
    else
#endif
      dense(m.layer[l], src, dst, !last);
    src = dst;
  }
}

// ---- hash-grid encoding over a block (the function of hash_grid.h) ------------------------------

// Per level: each axis's cell and fraction once; a corner's row is then the cell's base row plus a
// constant (dense levels: base + Σ bit_i·side^i) or the XOR of per-axis products with the corner's
// choice on each axis ((c + 1)·π = c·π + π in uint32, as instant-ngp hashes); the d-linear weight
// is built up axis by axis, in the plain kernel's order (axis 0 first). F = 2 reads each corner's
// pair of features with one 64-bit gather per half vector and splits them with ConcatEven/Odd.
template <int D, int F>
HWY_INLINE void encode(const HashGridLayout& g, const float* HWY_RESTRICT table, const float* HWY_RESTRICT x,
                       float* HWY_RESTRICT out) {
  const DF df;
  const DI di;
  const DU du;
  constexpr int kC = 1 << D;
  const VF zero = hn::Zero(df), one = hn::Set(df, 1.0f);
  const VU mask = hn::Set(du, g.table_size - 1u);
  for (int l = 0; l < g.levels; ++l) {
    const std::uint32_t R = g.resolution[static_cast<std::size_t>(l)];
    const bool dense_level = g.dense[static_cast<std::size_t>(l)];
    const float* HWY_RESTRICT tl = table + static_cast<std::ptrdiff_t>(l) * g.table_size * F;
    const VF Rf = hn::Set(df, static_cast<float>(R));
    const VI Rm1 = hn::Set(di, static_cast<std::int32_t>(R - 1));
    const std::uint32_t side = R + 1;
    for (int v = 0; v < kB; v += kN) {
      VF frac[D];
      VU cell[D];
      for (int i = 0; i < D; ++i) {
        const VF xc = hn::Min(hn::Max(hn::Load(df, x + i * kB + v), zero), one);
        const VF p = hn::Mul(xc, Rf);
        const VI c = hn::Min(hn::ConvertTo(di, p), Rm1);  // p ≥ 0: truncation is floor
        frac[i] = hn::Sub(p, hn::ConvertTo(df, c));
        cell[i] = hn::BitCast(du, c);
      }
      // The rows of the 2^D corners (bit i of the corner = +1 along axis i).
      VU row[kC];
      if (dense_level) {
        VU base = cell[D - 1];
        for (int i = D - 2; i >= 0; --i) base = hn::Add(hn::Mul(base, hn::Set(du, side)), cell[i]);
        HWY_UNROLL(8)
        for (int c = 0; c < kC; ++c) {
          std::uint32_t off = 0, stride = 1;
          for (int i = 0; i < D; ++i, stride *= side) off += ((c >> i) & 1) ? stride : 0u;
          row[c] = hn::Add(base, hn::Set(du, off));
        }
      } else {
        VU h[D][2];
        for (int i = 0; i < D; ++i) {
          const std::uint32_t prime = kHashGridPrimes[static_cast<std::size_t>(i)];
          h[i][0] = i == 0 ? cell[0] : hn::Mul(cell[i], hn::Set(du, prime));
          h[i][1] = hn::Add(h[i][0], hn::Set(du, prime));
        }
        HWY_UNROLL(8)
        for (int c = 0; c < kC; ++c) {
          VU r = h[0][c & 1];
          for (int i = 1; i < D; ++i) r = hn::Xor(r, h[i][(c >> i) & 1]);
          row[c] = hn::And(r, mask);
        }
      }
      // Weights: w_c = Π_i (bit ? frac_i : 1 − frac_i), axis 0 first.
      VF w[kC];
      const VF f0 = frac[0], g0 = hn::Sub(one, frac[0]);
      w[0] = g0;
      w[1] = f0;
      for (int i = 1; i < D; ++i) {
        const VF fi = frac[i], gi = hn::Sub(one, frac[i]);
        const int n = 1 << i;
        for (int c = n - 1; c >= 0; --c) {
          w[c + n] = hn::Mul(w[c], fi);
          w[c] = hn::Mul(w[c], gi);
        }
      }
      VF acc[F];
      for (int f = 0; f < F; ++f) acc[f] = zero;
#if HWY_TARGET != HWY_SCALAR
      if constexpr (F == 2) {
        const hn::Repartition<double, DF> dd;
        const hn::RebindToSigned<decltype(dd)> di64;
        const hn::Half<DI> dih;
        const double* HWY_RESTRICT pairs = reinterpret_cast<const double*>(tl);
        HWY_UNROLL(8)
        for (int c = 0; c < kC; ++c) {
          const VI r = hn::BitCast(di, row[c]);
          const auto lo = hn::GatherIndex(dd, pairs, hn::PromoteTo(di64, hn::LowerHalf(dih, r)));
          const auto hi = hn::GatherIndex(dd, pairs, hn::PromoteTo(di64, hn::UpperHalf(dih, r)));
          const VF a = hn::BitCast(df, lo), b = hn::BitCast(df, hi);
          acc[0] = hn::MulAdd(w[c], hn::ConcatEven(df, b, a), acc[0]);
          acc[1] = hn::MulAdd(w[c], hn::ConcatOdd(df, b, a), acc[1]);
        }
      } else
#endif
      {
        HWY_UNROLL(8)
        for (int c = 0; c < kC; ++c) {
          const VI r = hn::BitCast(di, F > 1 ? hn::Mul(row[c], hn::Set(du, static_cast<std::uint32_t>(F))) : row[c]);
          for (int f = 0; f < F; ++f) acc[f] = hn::MulAdd(w[c], hn::GatherIndex(df, tl + f, r), acc[f]);
        }
      }
      for (int f = 0; f < F; ++f) hn::Store(acc[f], df, out + (l * F + f) * kB + v);
    }
  }
}

template <int D>
HWY_INLINE void encode_any(const HashGridLayout& g, const float* table, const float* x, float* out) {
  switch (g.features) {
    case 1: return encode<D, 1>(g, table, x, out);
    case 2: return encode<D, 2>(g, table, x, out);
    case 4: return encode<D, 4>(g, table, x, out);
    default: return encode<D, 8>(g, table, x, out);
  }
}

// ---- activations --------------------------------------------------------------------------------

HWY_INLINE VF sigmoid(DF d, VF x) {
  const VF one = hn::Set(d, 1.0f);
  return hn::Div(one, hn::Add(one, hn::Exp(d, hn::Neg(x))));
}

// Real SH of degree 1..4 of the unit directions in rows d[0..2] into rows out[0..deg²) (the
// constants of nerf.cpp's sh_encode, tiny-cuda-nn's).
HWY_INLINE void sh_rows(int degree, const float* dir, float* out) {
  const DF d;
  for (int v = 0; v < kB; v += kN) {
    const VF x = hn::Load(d, dir + v), y = hn::Load(d, dir + kB + v), z = hn::Load(d, dir + 2 * kB + v);
    int r = 0;
    auto put = [&](VF val) { hn::Store(val, d, out + (r++) * kB + v); };
    auto c = [&](double k) { return hn::Set(d, static_cast<float>(k)); };
    put(c(0.28209479177387814));
    if (degree > 1) {
      put(hn::Mul(c(-0.48860251190291987), y));
      put(hn::Mul(c(0.48860251190291987), z));
      put(hn::Mul(c(-0.48860251190291987), x));
    }
    if (degree > 2) {
      const VF x2 = hn::Mul(x, x), y2 = hn::Mul(y, y), z2 = hn::Mul(z, z);
      put(hn::Mul(hn::Mul(c(1.0925484305920792), x), y));
      put(hn::Mul(hn::Mul(c(-1.0925484305920792), y), z));
      put(hn::Sub(hn::Mul(c(0.94617469575755997), z2), c(0.31539156525251999)));
      put(hn::Mul(hn::Mul(c(-1.0925484305920792), x), z));
      put(hn::Sub(hn::Mul(c(0.54627421529603959), x2), hn::Mul(c(0.54627421529603959), y2)));
      if (degree > 3) {
        put(hn::Mul(hn::Mul(c(0.59004358992664352), y), hn::Add(hn::Mul(c(-3.0), x2), y2)));
        put(hn::Mul(hn::Mul(hn::Mul(c(2.8906114426405538), x), y), z));
        put(hn::Mul(hn::Mul(c(0.45704579946446572), y), hn::Sub(c(1.0), hn::Mul(c(5.0), z2))));
        put(hn::Mul(hn::Mul(c(0.3731763325901154), z), hn::Sub(hn::Mul(c(5.0), z2), c(3.0))));
        put(hn::Mul(hn::Mul(c(0.45704579946446572), x), hn::Sub(c(1.0), hn::Mul(c(5.0), z2))));
        put(hn::Mul(hn::Mul(c(1.4453057213202769), z), hn::Sub(x2, y2)));
        put(hn::Mul(hn::Mul(c(0.59004358992664352), x), hn::Add(hn::Neg(x2), hn::Mul(c(3.0), y2))));
      }
    }
  }
}

// ---- the head field over one block --------------------------------------------------------------

struct HeadScratch {
  Rows pos, dir;        // rows 0..2: box positions, head-space directions
  Rows sig_in;          // [e_x (L·F) | e_a] the σ MLP's input (the ambient MLP reads its e_x rows)
  Rows col_in;          // [SH | geo]: the σ MLP writes its output from row deg² − 1 on
  Rows s0, s1, small;   // hidden layers; the ambient and colour outputs
  float sigma[kB], e[kB];
};

// σ and rgb of the block's kB samples (positions and directions in hs.pos / hs.dir).
template <bool kHalf>
HWY_INLINE void head_block(const NerfHeadProblem& p, HeadScratch& hs, float* HWY_RESTRICT rgb_rows) {
  const DF d;
  const int ex = p.grid.output_dims();
  const int sh = p.sh_degree * p.sh_degree;
  encode_any<3>(p.grid, p.table, hs.pos.v, hs.sig_in.v);
  // ambient a = tanh(MLP(e_x, cond)) → (a + 1)·½ → the 2D ambient grid → rows after e_x.
  mlp<kHalf>(p.ambient, hs.sig_in.v, hs.small.v, hs.s0, hs.s1);
  const VF half = hn::Set(d, 0.5f), one = hn::Set(d, 1.0f);
  for (int k = 0; k < p.ambient_dims; ++k)
    for (int v = 0; v < kB; v += kN) {
      const VF a = hn::Tanh(d, hn::Load(d, hs.small.row(k) + v));
      hn::Store(hn::Mul(hn::Add(a, one), half), d, hs.small.row(k) + v);
    }
  encode_any<2>(p.ambient_grid, p.ambient_table, hs.small.v, hs.sig_in.row(ex));
  // [σ_raw, geo] lands at col_in rows sh−1 .. sh−1+G, so geo sits right after the SH rows.
  mlp<kHalf>(p.sigma, hs.sig_in.v, hs.col_in.row(sh - 1), hs.s0, hs.s1);
  const VF lo = hn::Set(d, -15.0f), hi = hn::Set(d, 15.0f);
  for (int v = 0; v < kB; v += kN) {
    const VF raw = hn::Load(d, hs.col_in.row(sh - 1) + v);
    hn::Store(hn::Exp(d, hn::Min(hn::Max(raw, lo), hi)), d, hs.sigma + v);  // trunc_exp
  }
  sh_rows(p.sh_degree, hs.dir.v, hs.col_in.v);
  mlp<kHalf>(p.color, hs.col_in.v, rgb_rows, hs.s0, hs.s1);
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < kB; v += kN)
      hn::Store(sigmoid(d, hn::Load(d, rgb_rows + c * kB + v)), d, rgb_rows + c * kB + v);
}

// ---- marching -----------------------------------------------------------------------------------

struct TileState {
  float T[kTile], rgb[kTile][3], depth[kTile];
  int k[kTile];
  std::uint64_t mask[kTile];  // bit k: sample k is inside the box and in an occupied cell
  float near[kTile], far[kTile];
  int live[kTile], next[kTile];
  // the round's samples
  int ray[kTile];
  float t[kTile];
};

// The samples of ray g that the march evaluates when nothing terminates it: bit k set when
// t_k = near + (k + ½)·δ < far and x = o + t_k·d falls in an occupied cell, computed kN steps at a
// time in the plain path's float operations (IEEE add, mul, div and floor are exact per lane).
HWY_INLINE std::uint64_t sample_mask(const NerfHeadProblem& p, std::int64_t g, float near_t, float far_t) {
  const DF df;
  const DI di;
  const DU du;
  const float* o = p.origins + 3 * g;
  const float* dir = p.dirs + 3 * g;
  const VF near = hn::Set(df, near_t), far = hn::Set(df, far_t), step = hn::Set(df, p.step);
  const VF half = hn::Set(df, 0.5f), zero = hn::Zero(df);
  const int G = p.occupancy_resolution;
  const VF Gf = hn::Set(df, static_cast<float>(G)), Gm1 = hn::Set(df, static_cast<float>(G - 1));
  std::uint64_t mask = 0;
  for (int k0 = 0; k0 < p.samples_per_ray; k0 += kN) {
    const VF t = hn::Add(near, hn::Mul(hn::Add(half, hn::Iota(df, static_cast<float>(k0))), step));
    auto take = hn::And(hn::Lt(t, far), hn::RebindMask(df, hn::Lt(hn::Iota(di, k0), hn::Set(di, p.samples_per_ray))));
    if (hn::AllFalse(df, take)) break;  // t grows with k
    if (p.occupancy) {
      VI c[3];
      for (int i = 0; i < 3; ++i) {
        const VF x = hn::Add(hn::Set(df, o[i]), hn::Mul(t, hn::Set(df, dir[i])));
        const VF xb = hn::Div(hn::Sub(x, hn::Set(df, p.box_min[i])), hn::Set(df, p.box_size[i]));
        c[i] = hn::ConvertTo(di, hn::Min(hn::Max(hn::Floor(hn::Mul(xb, Gf)), zero), Gm1));
      }
      const VI Gi = hn::Set(di, G);
      const VI cell = hn::Add(hn::Mul(hn::Add(hn::Mul(c[0], Gi), c[1]), Gi), c[2]);
      const VI word = hn::GatherIndex(di, reinterpret_cast<const std::int32_t*>(p.occupancy), hn::ShiftRight<5>(cell));
      const VI bit = hn::And(hn::BitCast(di, hn::Shr(hn::BitCast(du, word), hn::BitCast(du, hn::And(cell, hn::Set(di, 31))))),
                             hn::Set(di, 1));
      take = hn::And(take, hn::RebindMask(df, hn::Eq(bit, hn::Set(di, 1))));
    }
    std::uint8_t bits[8] = {};
    hn::StoreMaskBits(df, take, bits);
    std::uint64_t m = 0;
    std::memcpy(&m, bits, (kN + 7) / 8);
    mask |= m << k0;
  }
  return mask;
}

// volume.cpp's intersect_box for one ray: slabs with near-zero components nudged to 1e-12, near
// clamped at 0; false when the ray misses the box.
HWY_INLINE bool box_hit(const NerfHeadProblem& p, std::int64_t g, float& near_t, float& far_t) {
  const float* o = p.origins + 3 * g;
  const float* d = p.dirs + 3 * g;
  float tmin = -HUGE_VALF, tmax = HUGE_VALF;
  for (int i = 0; i < 3; ++i) {
    const float dd = std::fabs(d[i]) < 1e-12f ? 1e-12f : d[i];
    const float t1 = (p.box_min[i] - o[i]) / dd, t2 = (p.box_max[i] - o[i]) / dd;
    tmin = std::max(tmin, std::min(t1, t2));
    tmax = std::min(tmax, std::max(t1, t2));
  }
  near_t = std::max(tmin, 0.0f);
  far_t = tmax;
  return far_t > near_t;
}

HWY_INLINE void composite_block(const NerfHeadProblem& p, HeadScratch& hs, const Rows& rgb_rows, TileState& ts, int b0,
                                int count) {
  const DF d;
  for (int v = 0; v < kB; v += kN)
    hn::Store(hn::Exp(d, hn::Neg(hn::Mul(hn::Load(d, hs.sigma + v), hn::Set(d, p.step)))), d, hs.e + v);
  for (int b = 0; b < count; ++b) {
    const int rr = ts.ray[b0 + b];
    const float e = hs.e[b], Ti = ts.T[rr], w = Ti * (1.0f - e);
    for (int c = 0; c < 3; ++c) ts.rgb[rr][c] += w * rgb_rows.v[c * kB + b];
    ts.depth[rr] += w * ts.t[b0 + b];
    ts.T[rr] = Ti * e;
  }
}

template <bool kHalf>
std::int64_t RenderHead(const NerfHeadProblem& p, std::int64_t begin, std::int64_t end) {
  auto hs = std::make_unique<HeadScratch>();
  auto ts = std::make_unique<TileState>();
  auto rgb_rows = std::make_unique<Rows>();
  std::int64_t samples = 0;
  for (std::int64_t tb = begin; tb < end; tb += kTile) {
    const int n = static_cast<int>(std::min<std::int64_t>(kTile, end - tb));
    int live = 0;
    for (int r = 0; r < n; ++r) {
      ts->T[r] = 1.0f;
      ts->rgb[r][0] = ts->rgb[r][1] = ts->rgb[r][2] = 0.0f;
      ts->depth[r] = 0.0f;
      ts->k[r] = 0;
      if (!box_hit(p, tb + r, ts->near[r], ts->far[r])) continue;
      ts->mask[r] = sample_mask(p, tb + r, ts->near[r], ts->far[r]);
      if (ts->mask[r]) ts->live[live++] = r;
    }
    while (live > 0) {
      // Each live ray takes its next sample; a full block is evaluated and composited at once (its
      // rays are all distinct).
      int m = 0;
      for (int j = 0; j < live; ++j) {
        const int r = ts->live[j];
        const std::uint64_t rest = ts->mask[r] >> ts->k[r];
        if (rest == 0) continue;
        const int k = ts->k[r] + static_cast<int>(hwy::Num0BitsBelowLS1Bit_Nonzero64(rest));
        ts->k[r] = k + 1;
        const std::int64_t g = tb + r;
        const float* o = p.origins + 3 * g;
        const float* dir = p.dirs + 3 * g;
        const float t = ts->near[r] + (0.5f + static_cast<float>(k)) * p.step;
        const int b = m % kB;
        for (int i = 0; i < 3; ++i) {
          hs->pos.row(i)[b] = ((o[i] + t * dir[i]) - p.box_min[i]) / p.box_size[i];
          hs->dir.row(i)[b] = dir[i];
        }
        ts->ray[m] = r;
        ts->t[m] = t;
        if (++m % kB == 0) {
          head_block<kHalf>(p, *hs, rgb_rows->v);
          composite_block(p, *hs, *rgb_rows, *ts, m - kB, kB);
        }
      }
      const int rest = m % kB;
      if (rest > 0) {
        for (int b = rest; b < kB; ++b)  // padding lanes: any position, results unused
          for (int i = 0; i < 3; ++i) {
            hs->pos.row(i)[b] = 0.5f;
            hs->dir.row(i)[b] = i == 2 ? 1.0f : 0.0f;
          }
        head_block<kHalf>(p, *hs, rgb_rows->v);
        composite_block(p, *hs, *rgb_rows, *ts, m - rest, rest);
      }
      samples += m;
      // Rays that took a sample stay live while T ≥ the threshold and samples remain.
      int nl = 0;
      for (int j = 0; j < m; ++j) {
        const int r = ts->ray[j];
        if ((ts->mask[r] >> ts->k[r]) != 0 && (p.min_transmittance <= 0.0f || ts->T[r] >= p.min_transmittance))
          ts->next[nl++] = r;
      }
      std::memcpy(ts->live, ts->next, sizeof(int) * static_cast<std::size_t>(nl));
      live = nl;
    }
    for (int r = 0; r < n; ++r) {
      const std::int64_t g = tb + r;
      for (int c = 0; c < 3; ++c) p.rgb[3 * g + c] = ts->rgb[r][c];
      p.alpha[g] = 1.0f - ts->T[r];
      p.depth[g] = ts->depth[r];
    }
  }
  return samples;
}

// ---- the torso ----------------------------------------------------------------------------------

template <bool kHalf>
void RenderTorso(const NerfTorsoProblem& p, std::int64_t begin, std::int64_t end) {
  const DF d;
  auto in = std::make_unique<Rows>();   // [grid((q+1)/2) | freq(p)]
  auto pt = std::make_unique<Rows>();   // rows 0, 1: p; then q
  auto out = std::make_unique<Rows>();
  auto s0 = std::make_unique<Rows>(), s1 = std::make_unique<Rows>();
  const int eg = p.grid.output_dims();
  const float sx = static_cast<float>(2.0 / static_cast<double>(p.width));
  const float sy = static_cast<float>(2.0 / static_cast<double>(p.height));
  const VF one = hn::Set(d, 1.0f), neg1 = hn::Set(d, -1.0f), half = hn::Set(d, 0.5f);
  for (std::int64_t b0 = begin; b0 < end; b0 += kB) {
    const int n = static_cast<int>(std::min<std::int64_t>(kB, end - b0));
    std::int64_t px[kB];
    for (int b = 0; b < kB; ++b) {
      const std::int64_t j = b0 + std::min(b, n - 1);
      const std::int64_t g = p.pixels ? p.pixels[j] : j;
      px[b] = g;
      pt->row(0)[b] = p.uv[2 * g] * sx - 1.0f;
      pt->row(1)[b] = p.uv[2 * g + 1] * sy - 1.0f;
    }
    // frequency_encode (nerf.cpp): [p, sin(2^0 p), cos(2^0 p), sin(2^1 p), ...], each a pair.
    float* fr = in->row(eg);
    for (int v = 0; v < kB; v += kN) {
      const VF p0 = hn::Load(d, pt->row(0) + v), p1 = hn::Load(d, pt->row(1) + v);
      hn::Store(p0, d, fr + v);
      hn::Store(p1, d, fr + kB + v);
      for (int k = 0; k < p.coord_freqs; ++k) {
        const VF f = hn::Set(d, std::ldexp(1.0f, k));
        const VF a0 = hn::Mul(p0, f), a1 = hn::Mul(p1, f);
        float* base = fr + (2 + 4 * k) * kB + v;
        hn::Store(hn::Sin(d, a0), d, base);
        hn::Store(hn::Sin(d, a1), d, base + kB);
        hn::Store(hn::Cos(d, a0), d, base + 2 * kB);
        hn::Store(hn::Cos(d, a1), d, base + 3 * kB);
      }
    }
    mlp<kHalf>(p.deform, fr, out->v, *s0, *s1);
    for (int i = 0; i < 2; ++i)
      for (int v = 0; v < kB; v += kN) {
        const VF q = hn::Min(hn::Max(hn::Add(hn::Load(d, pt->row(i) + v), hn::Load(d, out->row(i) + v)), neg1), one);
        hn::Store(hn::Mul(hn::Add(q, one), half), d, pt->row(2 + i) + v);
      }
    encode_any<2>(p.grid, p.table, pt->row(2), in->v);
    mlp<kHalf>(p.net, in->v, out->v, *s0, *s1);
    const VF scale = hn::Set(d, 1.002f), shift = hn::Set(d, 0.001f);
    for (int c = 0; c < 4; ++c)
      for (int v = 0; v < kB; v += kN)
        hn::Store(hn::Sub(hn::Mul(sigmoid(d, hn::Load(d, out->row(c) + v)), scale), shift), d, out->row(c) + v);
    for (int b = 0; b < n; ++b) {
      const std::int64_t g = px[b];
      p.alpha[g] = out->row(0)[b];
      for (int c = 0; c < 3; ++c) p.rgb[3 * g + c] = out->row(1 + c)[b];
    }
  }
}

// ---- benchmark helpers --------------------------------------------------------------------------

template <bool kHalf>
void Mlp(const PackedMlp& m, const float* in, float* out, std::int64_t n) {
  auto a = std::make_unique<Rows>(), o = std::make_unique<Rows>();
  auto s0 = std::make_unique<Rows>(), s1 = std::make_unique<Rows>();
  const int I = m.layer[0].in, O = m.layer[m.layers - 1].out;
  for (std::int64_t b0 = 0; b0 < n; b0 += kB) {
    const int cnt = static_cast<int>(std::min<std::int64_t>(kB, n - b0));
    for (int b = 0; b < kB; ++b)
      for (int i = 0; i < I; ++i) a->row(i)[b] = b < cnt ? in[(b0 + b) * I + i] : 0.0f;
    mlp<kHalf>(m, a->v, o->v, *s0, *s1);
    for (int b = 0; b < cnt; ++b)
      for (int j = 0; j < O; ++j) out[(b0 + b) * O + j] = o->row(j)[b];
  }
}

float Gather(const float* table, const std::uint32_t* idx, std::int64_t n) {
  const DF df;
  const DI di;
  VF acc = hn::Zero(df);
  std::int64_t i = 0;
  for (; i + kN <= n; i += kN)
    acc = hn::Add(acc, hn::GatherIndex(df, table, hn::BitCast(di, hn::LoadU(DU(), idx + i))));
  float s = hn::GetLane(hn::SumOfLanes(df, acc));
  for (; i < n; ++i) s += table[idx[i]];
  return s;
}

void HashForward(const HashGridLayout& g, const float* table, const float* x, float* out, std::int64_t n) {
  auto in = std::make_unique<Rows>(), enc = std::make_unique<Rows>();
  const int D = g.dims, O = g.output_dims();
  for (std::int64_t b0 = 0; b0 < n; b0 += kB) {
    const int cnt = static_cast<int>(std::min<std::int64_t>(kB, n - b0));
    for (int b = 0; b < kB; ++b)
      for (int i = 0; i < D; ++i) in->row(i)[b] = x[(b0 + std::min(b, cnt - 1)) * D + i];
    if (D == 3) encode_any<3>(g, table, in->v, enc->v);
    else encode_any<2>(g, table, in->v, enc->v);
    for (int b = 0; b < cnt; ++b)
      for (int j = 0; j < O; ++j) out[(b0 + b) * O + j] = enc->row(j)[b];
  }
}

bool Supported() { return (hwy::SupportedTargets() & HWY_TARGET) != 0; }

}  // namespace

const NerfKernels* Table() {
  static const NerfKernels k{hwy::TargetName(HWY_TARGET), true, &Supported, &RenderHead<false>, &RenderTorso<false>,
                             &Mlp<false>, &Gather, &HashForward};
  return &k;
}

#if HWY_TARGET == HWY_AVX3
bool SupportedFp16() { return Supported() && __builtin_cpu_supports("avx512fp16"); }
const NerfKernels* TableFp16() {
  static const NerfKernels k{"AVX3_FP16", false, &SupportedFp16, &RenderHead<true>, &RenderTorso<true>, &Mlp<true>,
                             &Gather, &HashForward};
  return &k;
}
#endif

}  // namespace HWY_NAMESPACE
}  // namespace emogene::render
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <atomic>
#include <cctype>

#include "emogene/core/error.h"

namespace emogene::render {
namespace {

// Best first: the targets this file was compiled for.
std::vector<const NerfKernels*> compiled() {
  std::vector<const NerfKernels*> v;
#if HWY_TARGETS & HWY_AVX3
  v.push_back(N_AVX3::Table());
#endif
#if HWY_TARGETS & HWY_AVX2
  v.push_back(N_AVX2::Table());
#endif
#if HWY_TARGETS & HWY_SSE4
  v.push_back(N_SSE4::Table());
#endif
#if HWY_TARGETS & HWY_EMU128
  v.push_back(N_EMU128::Table());
#endif
#if HWY_TARGETS & HWY_SCALAR
  v.push_back(N_SCALAR::Table());
#endif
#if HWY_TARGETS & HWY_AVX3
  v.push_back(N_AVX3::TableFp16());  // not exact: only when asked for by name
#endif
  return v;
}

std::atomic<const NerfKernels*>& chosen() {
  static std::atomic<const NerfKernels*> k{nullptr};
  return k;
}

}  // namespace

std::vector<const NerfKernels*> nerf_kernel_variants() {
  std::vector<const NerfKernels*> out;
  for (const NerfKernels* k : compiled())
    if (k->supported()) out.push_back(k);
  return out;
}

const NerfKernels& nerf_kernels() {
  const NerfKernels* k = chosen().load(std::memory_order_acquire);
  if (!k) {
    for (const NerfKernels* c : nerf_kernel_variants())
      if (c->exact) {
        k = c;
        break;
      }
    check_input(k != nullptr, "nerf kernels", "no kernel variant runs on this CPU");
    chosen().store(k, std::memory_order_release);
  }
  return *k;
}

bool kernel_name_is(const std::string& asked, const char* variant) {
  const std::size_t n = std::strlen(variant);
  if (asked.size() != n) return false;
  for (std::size_t i = 0; i < n; ++i)
    if (std::tolower(static_cast<unsigned char>(asked[i])) != std::tolower(static_cast<unsigned char>(variant[i]))) return false;
  return true;
}

void set_nerf_kernels(const std::string& name) {
  std::string names;
  for (const NerfKernels* k : nerf_kernel_variants()) {
    if (kernel_name_is(name, k->name)) {
      chosen().store(k, std::memory_order_release);
      return;
    }
    names += std::string(names.empty() ? "" : ", ") + k->name;
  }
  throw bad_input("nerf kernels", "no variant '" + name + "' on this CPU (available: " + names + ")");
}

int pack_layer_weights(const float* W, int out, int in_total, int col, int in, std::vector<float>& dst) {
  const int pad = (out + kNerfOutGroup - 1) / kNerfOutGroup * kNerfOutGroup;
  dst.assign(static_cast<std::size_t>(pad) * static_cast<std::size_t>(in), 0.0f);
  for (int o = 0; o < out; ++o)
    for (int i = 0; i < in; ++i)
      dst[(static_cast<std::size_t>(o / kNerfOutGroup) * in + i) * kNerfOutGroup + o % kNerfOutGroup] =
          W[static_cast<std::size_t>(o) * in_total + col + i];
  return pad;
}

}  // namespace emogene::render
#endif  // HWY_ONCE
