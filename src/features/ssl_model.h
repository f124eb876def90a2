// The HuBERT / wav2vec 2.0 network in LibTorch (inference only): weights by name from a checkpoint,
// a conv feature encoder written for speed, and the transformer encoder.
//
// The conv feature encoder works channel-last ([time, channels]) so that each conv is one or two
// GEMMs on strided views of its input, with no im2col copy and no transposes:
//   - layer 0 (1 -> 512 channels, kernel 10, stride 5) is a [T0, 11] x [11, 512] GEMM on the
//     framed samples plus a ones column for the bias; in group-norm models the GroupNorm (one group
//     per channel, statistics over the whole utterance) is folded into that GEMM's weights and bias:
//     a channel's conv output is w_c . window + b_c, so its mean and variance over the utterance are
//     w_c . mean(window) + b_c and w_c' Cov(window) w_c, computed exactly from the 10 x 10 covariance
//     of the input windows (in double);
//   - layers with kernel k and stride s: out = sum_g X_g W_g, X_g the [T_out, taps * C] view of the
//     input starting at tap g*s with row stride s*C (k=3, s=2: two GEMMs; k=2, s=2: one);
//   - GELU in place; buffers reused from call to call (no page faults on fresh memory).
// Because frame j depends only on samples [320 j, 320 j + 400), the encoder runs on pieces of the
// audio and is identical to a whole pass; only GroupNorm's statistics span the utterance, and they
// come from the pre-pass above.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/torch_pch.h"
#include "emogene/features/ssl.h"

namespace emogene::features {

struct SslWeights {
  struct Conv {
    std::int64_t cin = 0, cout = 0, k = 0, s = 0;
    at::Tensor taps;             // [k * cin, cout], row (i * cin + c) = tap i, input channel c
    at::Tensor bias;             // [cout] or undefined
    at::Tensor norm_w, norm_b;   // LayerNorm (layer mode) or GroupNorm (layer 0, group mode)
  };
  struct Layer {
    at::Tensor qkv_w, qkv_b;     // [3H, H], [3H]: q rows scaled by 1/sqrt(head_dim)
    at::Tensor out_w, out_b;     // [H, H], [H]
    at::Tensor ln1_w, ln1_b;     // layer_norm
    at::Tensor ff1_w, ff1_b;     // [F, H], [F]
    at::Tensor ff2_w, ff2_b;     // [H, F], [H]
    at::Tensor ln2_w, ln2_b;     // final_layer_norm
  };
  std::vector<Conv> conv;
  // Layer 0 for the GroupNorm fold, on the CPU in double: weights [cout, k], bias, norm gain and shift.
  at::Tensor conv0_w64, conv0_b64, conv0_g64, conv0_beta64;
  at::Tensor conv0_ext;          // layer mode: [k + 1, cout], the taps and a bias row
  at::Tensor proj_ln_w, proj_ln_b, proj_w, proj_b;
  at::Tensor pos_w, pos_b;       // [H, H / G, K] (weight norm applied), [H]
  at::Tensor enc_ln_w, enc_ln_b;
  std::vector<Layer> layers;
};

// Loads and checks every tensor (names and shapes from cfg, see inspect_ssl_checkpoint).
SslWeights load_ssl_weights(const SslConfig& cfg, const std::string& path, const at::Device& device);
// Random weights of the architecture (for timing only).
SslWeights random_ssl_weights(const SslConfig& cfg, std::uint64_t seed, const at::Device& device);

class SslModel {
 public:
  SslModel(SslConfig cfg, SslWeights w, at::Device device);

  const SslConfig& config() const { return cfg_; }
  const at::Device& device() const { return device_; }

  // The conv feature encoder on x[0..n) (input normalisation already applied), in pieces of
  // chunk_frames output frames. [frames, conv_dim] on the device.
  at::Tensor conv_features(const float* x, std::int64_t n, std::int64_t chunk_frames);
  // Feature projection: [T, conv_dim] -> [T, H].
  at::Tensor project(const at::Tensor& feats);
  // hidden_states[layer] for the projected features [T, H]: windows of `window` frames with
  // `overlap` frames of context on each side (window <= 0: one pass). [T, H]
  at::Tensor transformer(const at::Tensor& x, int layer, std::int64_t window, std::int64_t overlap,
                         std::int64_t* windows_run = nullptr);

 private:
  at::Tensor group_norm_folded_conv0(const float* x, std::int64_t n) const;  // [k + 1, cout]
  at::Tensor conv_layer(std::size_t i, const at::Tensor& in);
  at::Tensor run_window(const at::Tensor& x, int layer);
  at::Tensor attention(const SslWeights::Layer& L, const at::Tensor& xn, const at::Tensor& residual);
  at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const;
  at::Tensor scratch(std::vector<at::Tensor>& pool, std::size_t slot, std::int64_t numel);

  SslConfig cfg_;
  SslWeights w_;
  at::Device device_;
  at::TensorOptions opts_;
  std::vector<at::Tensor> conv_buffers_;  // per conv layer output, reused
  std::vector<at::Tensor> misc_buffers_;  // framed input of layer 0, attention scores
};

}  // namespace emogene::features
