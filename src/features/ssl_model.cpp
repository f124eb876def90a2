// HuBERT / wav2vec 2.0 in LibTorch (see ssl_model.h for the conv encoder's layout). Equations follow
// Baevski et al. 2020 (wav2vec 2.0) and Hsu et al. 2021 (HuBERT); module order and norms as in
// torchaudio.models.wav2vec2.components and transformers' modeling_wav2vec2 (facts, not code).
#include "features/ssl_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>

#include "emogene/core/error.h"
#include "emogene/core/interrupt.h"
#include "emogene/core/progress.h"
#include "emogene/core/safetensors.h"
#include "features/gemm.h"
#include "features/ssl_keys.h"

namespace emogene::features {

namespace {

at::Tensor read_tensor(const SafetensorsFile& st, const std::string& name, const std::vector<std::int64_t>& shape) {
  const TensorView& v = st.get(name, shape);
  at::Tensor t = at::empty(shape, at::kFloat);
  if (v.dtype == DType::F32)
    std::memcpy(t.data_ptr<float>(), v.data, v.nbytes);
  else
    convert_to_float(v.dtype, v.data, static_cast<std::size_t>(v.numel()), t.data_ptr<float>());
  return t;
}

// Turns raw tensors (canonical name -> CPU float tensor) into the model's layout.
SslWeights assemble(const SslConfig& c, const std::function<at::Tensor(const std::string&)>& get, const at::Device& dev) {
  SslWeights w;
  auto to = [&](const at::Tensor& t) { return t.defined() ? t.contiguous().to(dev) : t; };
  std::int64_t cin = 1;
  for (std::size_t i = 0; i < c.conv.size(); ++i) {
    const std::string p = "feature_extractor.conv_layers." + std::to_string(i) + ".";
    SslWeights::Conv L;
    L.cin = cin;
    L.cout = c.conv[i].channels;
    L.k = c.conv[i].kernel;
    L.s = c.conv[i].stride;
    at::Tensor raw = get(p + "conv.weight");  // [cout, cin, k]
    L.taps = to(raw.permute({2, 1, 0}).reshape({L.k * L.cin, L.cout}));
    if (c.conv_bias) L.bias = get(p + "conv.bias");
    if (c.conv_norm == ConvNorm::Layer || i == 0) {
      L.norm_w = get(p + "layer_norm.weight");
      L.norm_b = get(p + "layer_norm.bias");
    }
    if (i == 0) {
      w.conv0_w64 = raw.reshape({L.cout, L.k}).to(at::kDouble).contiguous();
      w.conv0_b64 = L.bias.defined() ? L.bias.to(at::kDouble) : at::zeros({L.cout}, at::kDouble);
      if (c.conv_norm == ConvNorm::Group) {
        w.conv0_g64 = L.norm_w.to(at::kDouble);
        w.conv0_beta64 = L.norm_b.to(at::kDouble);
      } else {
        w.conv0_ext = to(at::cat({raw.reshape({L.cout, L.k}).t(), (L.bias.defined() ? L.bias : at::zeros({L.cout})).unsqueeze(0)}, 0));
      }
    }
    L.bias = to(L.bias);
    L.norm_w = to(L.norm_w);
    L.norm_b = to(L.norm_b);
    w.conv.push_back(std::move(L));
    cin = c.conv[i].channels;
  }
  if (c.projection_norm) {
    w.proj_ln_w = to(get("feature_projection.layer_norm.weight"));
    w.proj_ln_b = to(get("feature_projection.layer_norm.bias"));
  }
  w.proj_w = to(get("feature_projection.projection.weight"));
  w.proj_b = to(get("feature_projection.projection.bias"));
  const std::string pc = "encoder.pos_conv_embed.conv.";
  switch (c.pos_form) {
    case PosConvForm::WeightNorm:  // w = g v / ||v||, the norm over all dims but the kernel's (dim=2)
      w.pos_w = to(at::_weight_norm(get(pc + "weight_v"), get(pc + "weight_g"), 2));
      break;
    case PosConvForm::Parametrizations:
      w.pos_w = to(at::_weight_norm(get(pc + "parametrizations.weight.original1"),
                                    get(pc + "parametrizations.weight.original0"), 2));
      break;
    case PosConvForm::Plain:
      w.pos_w = to(get(pc + "weight"));
      break;
  }
  w.pos_b = to(get(pc + "bias"));
  w.enc_ln_w = to(get("encoder.layer_norm.weight"));
  w.enc_ln_b = to(get("encoder.layer_norm.bias"));
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.hidden / c.heads));
  for (std::int64_t l = 0; l < c.layers; ++l) {
    const std::string p = "encoder.layers." + std::to_string(l) + ".";
    SslWeights::Layer L;
    const std::string a = p + "attention.";
    L.qkv_w = to(at::cat({get(a + "q_proj.weight") * scale, get(a + "k_proj.weight"), get(a + "v_proj.weight")}, 0));
    L.qkv_b = to(at::cat({get(a + "q_proj.bias") * scale, get(a + "k_proj.bias"), get(a + "v_proj.bias")}, 0));
    L.out_w = to(get(a + "out_proj.weight"));
    L.out_b = to(get(a + "out_proj.bias"));
    L.ln1_w = to(get(p + "layer_norm.weight"));
    L.ln1_b = to(get(p + "layer_norm.bias"));
    L.ff1_w = to(get(p + "feed_forward.intermediate_dense.weight"));
    L.ff1_b = to(get(p + "feed_forward.intermediate_dense.bias"));
    L.ff2_w = to(get(p + "feed_forward.output_dense.weight"));
    L.ff2_b = to(get(p + "feed_forward.output_dense.bias"));
    L.ln2_w = to(get(p + "final_layer_norm.weight"));
    L.ln2_b = to(get(p + "final_layer_norm.bias"));
    w.layers.push_back(std::move(L));
  }
  return w;
}

}  // namespace

SslWeights load_ssl_weights(const SslConfig& c, const std::string& path, const at::Device& device) {
  SafetensorsFile st(path);  // unmapped when loading is done: only the tensors stay resident
  std::map<std::string, std::vector<std::int64_t>> shapes;
  for (const auto& e : expected_tensors(c)) shapes[e.canonical] = e.shape;
  return assemble(
      c,
      [&](const std::string& canonical) {
        auto it = shapes.find(canonical);
        if (it == shapes.end()) throw internal_error(path, "no expected shape for '" + canonical + "'");
        return read_tensor(st, c.key(canonical), it->second);
      },
      device);
}

SslWeights random_ssl_weights(const SslConfig& c, std::uint64_t seed, const at::Device& device) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  std::map<std::string, std::vector<std::int64_t>> shapes;
  for (const auto& e : expected_tensors(c)) shapes[e.canonical] = e.shape;
  return assemble(
      c,
      [&](const std::string& name) {
        const auto& shape = shapes.at(name);
        auto ends = [&](const char* s) {
          std::size_t n = std::strlen(s);
          return name.size() >= n && name.compare(name.size() - n, n, s) == 0;
        };
        if (ends("norm.weight")) return at::ones(shape);
        if (ends("bias")) return at::zeros(shape);
        if (ends("weight_g") || ends("original0")) return at::ones(shape);
        const std::int64_t fan_in = shape.size() == 3 ? shape[1] * shape[2] : shape.back();
        const double sd = shape.size() == 3 ? std::sqrt(2.0 / static_cast<double>(fan_in)) : 0.02;
        return at::randn(shape, gen) * sd;
      },
      device);
}

SslModel::SslModel(SslConfig cfg, SslWeights w, at::Device device)
    : cfg_(std::move(cfg)), w_(std::move(w)), device_(device), opts_(at::TensorOptions().dtype(at::kFloat).device(device)) {}

at::Tensor SslModel::scratch(std::vector<at::Tensor>& pool, std::size_t slot, std::int64_t numel) {
  if (pool.size() <= slot) pool.resize(slot + 1);
  if (!pool[slot].defined() || pool[slot].numel() < numel) {
    pool[slot] = at::Tensor();  // free before allocating the larger one
    pool[slot] = at::empty({numel}, opts_);
  }
  return pool[slot].narrow(0, 0, numel);
}

at::Tensor SslModel::layer_norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const {
  return at::layer_norm(x, {x.size(-1)}, w, b, cfg_.eps);
}

// GroupNorm(C groups) of layer 0 folded into the layer's GEMM: the statistics of each channel over
// the utterance's T0 windows follow from the windows' mean and covariance (two passes, double).
at::Tensor SslModel::group_norm_folded_conv0(const float* x, std::int64_t n) const {
  const auto& L = w_.conv[0];
  const std::int64_t k = L.k, s = L.s, T0 = (n - k) / s + 1;
  constexpr std::int64_t kBlock = 8192;
  const std::int64_t blocks = (T0 + kBlock - 1) / kBlock;
  // Pass 1: mean of each tap. Blocks are summed in order, so the result does not depend on threads.
  std::vector<double> part(static_cast<std::size_t>(blocks * k), 0.0);
  at::parallel_for(0, blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      double* acc = part.data() + b * k;
      for (std::int64_t t = b * kBlock; t < std::min(T0, (b + 1) * kBlock); ++t)
        for (std::int64_t i = 0; i < k; ++i) acc[i] += x[t * s + i];
    }
  });
  std::vector<double> mean(static_cast<std::size_t>(k), 0.0);
  for (std::int64_t b = 0; b < blocks; ++b)
    for (std::int64_t i = 0; i < k; ++i) mean[static_cast<std::size_t>(i)] += part[static_cast<std::size_t>(b * k + i)];
  for (double& m : mean) m /= static_cast<double>(T0);
  // Pass 2: covariance of the centred windows.
  std::vector<double> cpart(static_cast<std::size_t>(blocks * k * k), 0.0);
  at::parallel_for(0, blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
    std::vector<double> d(static_cast<std::size_t>(k));
    for (std::int64_t b = b0; b < b1; ++b) {
      double* acc = cpart.data() + b * k * k;
      for (std::int64_t t = b * kBlock; t < std::min(T0, (b + 1) * kBlock); ++t) {
        for (std::int64_t i = 0; i < k; ++i) d[static_cast<std::size_t>(i)] = x[t * s + i] - mean[static_cast<std::size_t>(i)];
        for (std::int64_t i = 0; i < k; ++i)
          for (std::int64_t j = 0; j <= i; ++j) acc[i * k + j] += d[static_cast<std::size_t>(i)] * d[static_cast<std::size_t>(j)];
      }
    }
  });
  std::vector<double> cov(static_cast<std::size_t>(k * k), 0.0);
  for (std::int64_t b = 0; b < blocks; ++b)
    for (std::int64_t i = 0; i < k * k; ++i) cov[static_cast<std::size_t>(i)] += cpart[static_cast<std::size_t>(b * k * k + i)];
  for (std::int64_t i = 0; i < k; ++i)
    for (std::int64_t j = 0; j <= i; ++j) {
      const double v = cov[static_cast<std::size_t>(i * k + j)] / static_cast<double>(T0);
      cov[static_cast<std::size_t>(i * k + j)] = cov[static_cast<std::size_t>(j * k + i)] = v;
    }
  const std::int64_t C = L.cout;
  at::Tensor ext = at::empty({k + 1, C}, at::kDouble);
  auto E = ext.accessor<double, 2>();
  auto W = w_.conv0_w64.accessor<double, 2>();
  auto B = w_.conv0_b64.accessor<double, 1>();
  auto G = w_.conv0_g64.accessor<double, 1>();
  auto Be = w_.conv0_beta64.accessor<double, 1>();
  constexpr double kGroupNormEps = 1e-5;  // torch.nn.GroupNorm's default
  for (std::int64_t c = 0; c < C; ++c) {
    double mu = B[c], var = 0.0;
    for (std::int64_t i = 0; i < k; ++i) {
      mu += W[c][i] * mean[static_cast<std::size_t>(i)];
      double row = 0.0;
      for (std::int64_t j = 0; j < k; ++j) row += cov[static_cast<std::size_t>(i * k + j)] * W[c][j];
      var += W[c][i] * row;
    }
    const double r = G[c] / std::sqrt(std::max(var, 0.0) + kGroupNormEps);
    for (std::int64_t i = 0; i < k; ++i) E[i][c] = W[c][i] * r;
    E[k][c] = (B[c] - mu) * r + Be[c];
  }
  return ext.to(at::kFloat).to(device_);
}

at::Tensor SslModel::conv_layer(std::size_t i, const at::Tensor& in) {
  const auto& L = w_.conv[i];
  const std::int64_t lin = in.size(0), lout = (lin - L.k) / L.s + 1;
  at::Tensor y = scratch(conv_buffers_, i, lout * L.cout).view({lout, L.cout});
  // out[t] = sum over taps i of in[s t + i] W_i: taps grouped by stride into strided views of `in`.
  const std::int64_t groups = (L.k + L.s - 1) / L.s;
  for (std::int64_t g = 0; g < groups; ++g) {
    const std::int64_t taps = std::min(L.s, L.k - g * L.s);
    at::Tensor a = in.as_strided({lout, taps * L.cin}, {L.s * L.cin, 1}, in.storage_offset() + g * L.s * L.cin);
    at::Tensor wg = L.taps.narrow(0, g * L.s * L.cin, taps * L.cin);
    gemm(a, wg, y, g == 0 ? 0.0f : 1.0f);
  }
  if (L.bias.defined()) y.add_(L.bias);
  if (cfg_.conv_norm == ConvNorm::Layer) y = at::layer_norm(y, {L.cout}, L.norm_w, L.norm_b, 1e-5);
  at::gelu_(y);
  return y;
}

at::Tensor SslModel::conv_features(const float* x, std::int64_t n, std::int64_t chunk_frames) {
  const std::int64_t T = cfg_.frames(n), C = cfg_.conv_dim();
  at::Tensor out = at::empty({T, C}, opts_);
  if (T == 0) return out;
  const auto& L0 = w_.conv[0];
  const at::Tensor w0 = cfg_.conv_norm == ConvNorm::Group ? group_norm_folded_conv0(x, n) : w_.conv0_ext;
  const std::int64_t R = cfg_.receptive_field(), S = cfg_.hop();
  const std::int64_t F = chunk_frames > 0 ? chunk_frames : T;
  for (std::int64_t a = 0; a < T; a += F) {
    const std::int64_t f = std::min(F, T - a), len = (f - 1) * S + R;
    at::Tensor xs = at::from_blob(const_cast<float*>(x) + a * S, {len}, at::kFloat);
    if (!device_.is_cpu()) xs = xs.to(device_);
    // Layer 0: frames of k samples every s, and a ones column for the (folded) bias.
    const std::int64_t l0 = (len - L0.k) / L0.s + 1;
    at::Tensor framed = scratch(misc_buffers_, 0, l0 * (L0.k + 1)).view({l0, L0.k + 1});
    framed.narrow(1, 0, L0.k).copy_(xs.as_strided({l0, L0.k}, {L0.s, 1}));
    framed.select(1, L0.k).fill_(1.0f);
    at::Tensor h = scratch(conv_buffers_, 0, l0 * L0.cout).view({l0, L0.cout});
    gemm(framed, w0, h, 0.0f);
    if (cfg_.conv_norm == ConvNorm::Layer) h = at::layer_norm(h, {L0.cout}, L0.norm_w, L0.norm_b, 1e-5);
    at::gelu_(h);
    for (std::size_t i = 1; i < w_.conv.size(); ++i) h = conv_layer(i, h);
    if (h.size(0) != f) throw internal_error("features", "conv stack gave " + std::to_string(h.size(0)) + " frames, expected " + std::to_string(f));
    out.narrow(0, a, f).copy_(h);
    throw_if_interrupted("features");
  }
  return out;
}

at::Tensor SslModel::project(const at::Tensor& feats) {
  at::Tensor x = feats;
  if (cfg_.projection_norm) x = layer_norm(x, w_.proj_ln_w, w_.proj_ln_b);
  return linear(x, w_.proj_w, w_.proj_b);
}

at::Tensor SslModel::attention(const SslWeights::Layer& L, const at::Tensor& xn, const at::Tensor& residual) {
  const std::int64_t T = xn.size(0), H = cfg_.hidden, h = cfg_.heads, d = H / h;
  at::Tensor qkv = linear(xn, L.qkv_w, L.qkv_b);  // [T, 3H], q pre-scaled by 1/sqrt(d)
  at::Tensor ctx = at::empty({T, H}, opts_);      // heads side by side, as the output projection wants
  // softmax(q k') v per head; heads in groups whose scores fit a bounded scratch buffer (64 MB).
  constexpr std::int64_t kScoreFloats = 16 * 1024 * 1024;
  const std::int64_t per = std::max<std::int64_t>(1, std::min<std::int64_t>(h, kScoreFloats / std::max<std::int64_t>(1, T * T)));
  const bool per_head = gemm_uses_onednn() && device_.is_cpu();
  for (std::int64_t h0 = 0; h0 < h; h0 += per) {
    const std::int64_t hg = std::min(per, h - h0);
    at::Tensor s = scratch(misc_buffers_, 1, hg * T * T).view({hg, T, T});
    if (per_head) {
      // One head per task, single-threaded GEMMs (oneDNN runs serially inside a parallel region) on
      // strided views of qkv: no copies, one fork-join per group of heads.
      at::parallel_for(0, hg, 1, [&](std::int64_t j0, std::int64_t j1) {
        c10::InferenceMode guard;  // thread-local: the pool's threads need it too
        for (std::int64_t j = j0; j < j1; ++j) {
          const std::int64_t hh = h0 + j;
          at::Tensor sj = s.select(0, j);
          gemm(qkv.narrow(1, hh * d, d), qkv.narrow(1, H + hh * d, d).t(), sj, 0.0f);
          at::_softmax_out(sj, sj, -1, false);
          at::Tensor cj = ctx.narrow(1, hh * d, d);
          gemm(sj, qkv.narrow(1, 2 * H + hh * d, d), cj, 0.0f);
        }
      });
    } else {
      at::Tensor q = qkv.narrow(1, h0 * d, hg * d).view({T, hg, d}).transpose(0, 1);      // [hg, T, d]
      at::Tensor k = qkv.narrow(1, H + h0 * d, hg * d).view({T, hg, d}).permute({1, 2, 0});  // [hg, d, T]
      at::Tensor v = qkv.narrow(1, 2 * H + h0 * d, hg * d).view({T, hg, d}).transpose(0, 1);  // [hg, T, d]
      at::Tensor c = ctx.narrow(1, h0 * d, hg * d).view({T, hg, d}).transpose(0, 1);
      at::bmm_out(s, q, k);
      at::_softmax_out(s, s, -1, false);
      at::bmm_out(c, s, v);
    }
  }
  return linear(ctx, L.out_w, L.out_b, residual);  // residual + attention output
}

at::Tensor SslModel::run_window(const at::Tensor& x0, int layer) {
  const std::int64_t T = x0.size(0);
  // Convolutional positional embedding: grouped conv over time, SamePad (drop the last frame for an
  // even kernel), GELU, added to the input.
  at::Tensor p = at::conv1d(x0.t().unsqueeze(0), w_.pos_w, w_.pos_b, {1}, {cfg_.pos_kernel / 2}, {1}, cfg_.pos_groups);
  p = p.narrow(2, 0, T);
  at::gelu_(p);
  at::Tensor x = x0 + p.squeeze(0).t();
  if (!cfg_.pre_norm) x = layer_norm(x, w_.enc_ln_w, w_.enc_ln_b);
  for (int l = 0; l < layer; ++l) {
    const auto& L = w_.layers[static_cast<std::size_t>(l)];
    if (cfg_.pre_norm) {
      at::Tensor a = attention(L, layer_norm(x, L.ln1_w, L.ln1_b), x);
      at::Tensor f = linear(layer_norm(a, L.ln2_w, L.ln2_b), L.ff1_w, L.ff1_b);
      at::gelu_(f);
      x = linear(f, L.ff2_w, L.ff2_b, a);
    } else {
      at::Tensor a = layer_norm(attention(L, x, x), L.ln1_w, L.ln1_b);
      at::Tensor f = linear(a, L.ff1_w, L.ff1_b);
      at::gelu_(f);
      x = layer_norm(linear(f, L.ff2_w, L.ff2_b, a), L.ln2_w, L.ln2_b);
    }
  }
  if (cfg_.pre_norm && layer == cfg_.layers) x = layer_norm(x, w_.enc_ln_w, w_.enc_ln_b);
  return x;
}

at::Tensor SslModel::transformer(const at::Tensor& x, int layer, std::int64_t window, std::int64_t overlap,
                                 std::int64_t* windows_run) {
  const std::int64_t T = x.size(0);
  if (windows_run) *windows_run = 1;
  if (T == 0) return at::empty({0, cfg_.hidden}, opts_);
  if (window <= 0 || T <= window + overlap) return run_window(x, layer);
  at::Tensor out = at::empty({T, cfg_.hidden}, opts_);
  const std::int64_t count = (T + window - 1) / window;
  if (windows_run) *windows_run = count;
  Progress progress("features", count, "windows");
  for (std::int64_t a = 0; a < T; a += window) {
    const std::int64_t b = std::min(T, a + window);
    const std::int64_t c0 = std::max<std::int64_t>(0, a - overlap), c1 = std::min(T, b + overlap);
    at::Tensor y = run_window(x.narrow(0, c0, c1 - c0), layer);
    out.narrow(0, a, b - a).copy_(y.narrow(0, a - c0, b - a));
    progress.add();
    throw_if_interrupted("features");
  }
  progress.finish();
  return out;
}

}  // namespace emogene::features
