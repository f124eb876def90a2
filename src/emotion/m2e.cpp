// The motion-to-emotion networks (m2e.h).
#include "emogene/emotion/m2e.h"

#include <cmath>
#include <set>

#include "emogene/core/error.h"

namespace emogene::emotion {

namespace F = torch::nn::functional;
using torch::indexing::Slice;

M2EConfig M2EConfig::from_json(const nlohmann::json& j, const std::string& where) {
  M2EConfig c;
  if (j.is_null()) return c;
  if (!j.is_object()) throw bad_input(where, "model must be an object");
  static const std::set<std::string> known = {"kind", "hidden", "heads", "layers", "ff", "window", "dropout", "edges", "condition", "mlp_hidden", "mlp_embed"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key())) throw bad_input(where, "unknown setting model." + it.key());
  try {
    c.kind = j.value("kind", c.kind);
    c.hidden = j.value("hidden", c.hidden);
    c.heads = j.value("heads", c.heads);
    c.layers = j.value("layers", c.layers);
    c.ff = j.value("ff", c.ff);
    c.window = j.value("window", c.window);
    c.dropout = j.value("dropout", c.dropout);
    c.edges = j.value("edges", c.edges);
    c.condition = j.value("condition", c.condition);
    c.mlp_hidden = j.value("mlp_hidden", c.mlp_hidden);
    c.mlp_embed = j.value("mlp_embed", c.mlp_embed);
  } catch (const nlohmann::json::exception& e) {
    throw bad_input(where, std::string("a model setting has the wrong type (") + e.what() + ")");
  }
  if (c.kind != "transformer" && c.kind != "mlp")
    throw bad_input(where, "model.kind must be \"transformer\" or \"mlp\", not \"" + c.kind + "\"");
  if (c.hidden < 4 || c.heads < 1 || c.layers < 1 || c.ff < 1 || c.mlp_hidden < 1 || c.mlp_embed < 1)
    throw bad_input(where, "model sizes must be positive");
  if (c.hidden % c.heads) throw bad_input(where, "model.hidden must be a multiple of model.heads");
  if (c.condition != "clip" && c.condition != "track")
    throw bad_input(where, "model.condition must be \"clip\" or \"track\", not \"" + c.condition + "\"");
  if (c.window < 1) throw bad_input(where, "model.window must be at least 1 frame");
  if (!(c.dropout >= 0 && c.dropout < 1)) throw bad_input(where, "model.dropout must lie in [0, 1)");
  return c;
}

nlohmann::json M2EConfig::to_json() const {
  return {{"kind", kind}, {"hidden", hidden}, {"heads", heads}, {"layers", layers}, {"ff", ff}, {"window", window},
          {"dropout", dropout}, {"edges", edges}, {"condition", condition}, {"mlp_hidden", mlp_hidden}, {"mlp_embed", mlp_embed}};
}

torch::Tensor gen_dropout(const torch::Tensor& x, double p, at::Generator* gen, bool training) {
  if (!training || gen == nullptr || p <= 0) return x;
  torch::Tensor keep = torch::bernoulli(torch::full(x.sizes(), 1.0 - p, x.options().device(torch::kCPU)), *gen).to(x.device());
  return x * keep / (1.0 - p);
}

// ---- banded attention -----------------------------------------------------------------------------

BandAttentionImpl::BandAttentionImpl(std::int64_t d, std::int64_t h, std::int64_t w, bool e) : dim(d), heads(h), window(w), edges(e) {
  qkv = register_module("qkv", torch::nn::Linear(d, 3 * d));
  proj = register_module("proj", torch::nn::Linear(d, d));
  rel_bias = register_parameter("rel_bias", torch::zeros({h, 2 * w + 1}));
  if (edges) pad = register_parameter("pad", torch::randn({d}) * 0.1);
}

torch::Tensor BandAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const std::int64_t B = x.size(0), T = x.size(1), dh = dim / heads, W = window;
  torch::Tensor t = qkv->forward(x).view({B, T, 3, heads, dh}).permute({2, 0, 3, 1, 4});  // [3, B, H, T, dh]
  torch::Tensor q = t[0] * (1.0 / std::sqrt(static_cast<double>(dh))), k = t[1], v = t[2];
  torch::Tensor keymask = mask.view({B, 1, 1, T}) > 0.5f;
  // With edges: the learnt outside frame's key and value per head, and for every query the log of
  // the summed exp(bias) over its outside offsets (-1e4 where it has none: the logit vanishes).
  torch::Tensor k_pad, v_pad, pad_lse;
  if (edges) {
    torch::Tensor pkv = qkv->forward(pad.view({1, dim})).view({3, heads, dh});
    k_pad = pkv[1];  // [H, dh]
    v_pad = pkv[2];
    torch::Tensor inside = F::pad((mask > 0.5f).to(x.dtype()), F::PadFuncOptions({W, W})).unfold(1, 2 * W + 1, 1);  // [B, T, 2W+1]
    pad_lse = torch::logsumexp(rel_bias.view({1, heads, 1, 2 * W + 1}) - 1e4 * inside.unsqueeze(1), -1);  // [B, H, T]
  }
  constexpr std::int64_t kChunk = 256;  // queries per block: memory O(T · (chunk + 2 window))
  std::vector<torch::Tensor> outs;
  for (std::int64_t a = 0; a < T; a += kChunk) {
    const std::int64_t b = std::min(T, a + kChunk), k0 = std::max<std::int64_t>(0, a - W), k1 = std::min(T, b + W);
    const std::int64_t Tq = b - a, Tk = k1 - k0;
    torch::Tensor qc = q.narrow(2, a, Tq);
    torch::Tensor s = torch::matmul(qc, k.narrow(2, k0, Tk).transpose(-1, -2));  // [B, H, Tq, Tk]
    torch::Tensor qi = torch::arange(a, b, torch::TensorOptions().dtype(torch::kLong)).view({Tq, 1});
    torch::Tensor kj = torch::arange(k0, k1, torch::TensorOptions().dtype(torch::kLong)).view({1, Tk});
    torch::Tensor rel = kj - qi;                                                          // [Tq, Tk]
    torch::Tensor band = (rel.abs() <= W).to(x.device());
    torch::Tensor idx = (rel.clamp(-W, W) + W).flatten().to(x.device());
    torch::Tensor bias = rel_bias.index_select(1, idx).view({heads, Tq, Tk});
    s = s + bias.unsqueeze(0);
    s = s.masked_fill(band.logical_not().view({1, 1, Tq, Tk}), -1e9);
    s = s.masked_fill(keymask.narrow(3, k0, Tk).logical_not(), -1e9);
    if (!edges) {
      outs.push_back(torch::matmul(torch::softmax(s, -1), v.narrow(2, k0, Tk)));
      continue;
    }
    torch::Tensor sp = (qc * k_pad.view({1, heads, 1, dh})).sum(-1) + pad_lse.narrow(2, a, Tq);  // [B, H, Tq]
    torch::Tensor p = torch::softmax(torch::cat({s, sp.unsqueeze(-1)}, -1), -1);
    outs.push_back(torch::matmul(p.narrow(3, 0, Tk), v.narrow(2, k0, Tk)) + p.narrow(3, Tk, 1) * v_pad.view({1, heads, 1, dh}));
  }
  torch::Tensor o = outs.size() == 1 ? outs[0] : torch::cat(outs, 2);  // [B, H, T, dh]
  return proj->forward(o.permute({0, 2, 1, 3}).reshape({B, T, dim}));
}

EncoderLayerImpl::EncoderLayerImpl(std::int64_t d, std::int64_t h, std::int64_t ffd, std::int64_t w, double p, bool edges) : dropout(p) {
  ln1 = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  ln2 = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  attn = register_module("attn", BandAttention(d, h, w, edges));
  ff1 = register_module("ff1", torch::nn::Linear(d, ffd));
  ff2 = register_module("ff2", torch::nn::Linear(ffd, d));
}

torch::Tensor EncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask, at::Generator* gen) {
  torch::Tensor h = x + gen_dropout(attn->forward(ln1->forward(x), mask), dropout, gen, is_training());
  return h + gen_dropout(ff2->forward(F::gelu(ff1->forward(ln2->forward(h)))), dropout, gen, is_training());
}

// ---- the model ------------------------------------------------------------------------------------

MotionToEmotionImpl::MotionToEmotionImpl(const M2EConfig& c) : cfg(c) {
  torch::NoGradGuard ng;
  if (c.kind == "mlp") {
    mlp_emo = register_module("mlp_emo", torch::nn::Embedding(8, c.mlp_embed));
    fc1 = register_module("fc1", torch::nn::Linear(204 + c.mlp_embed, c.mlp_hidden));
    fc2 = register_module("fc2", torch::nn::Linear(c.mlp_hidden, c.mlp_hidden));
    fc3 = register_module("fc3", torch::nn::Linear(c.mlp_hidden, 204));
    fc3->weight.zero_();
    fc3->bias.zero_();
  } else {
    in = register_module("in", torch::nn::Linear(204, c.hidden));
    emo = register_module("emo", torch::nn::Embedding(8, c.hidden));
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < c.layers; ++i) blocks->push_back(EncoderLayer(c.hidden, c.heads, c.ff, c.window, c.dropout, c.edges));
    ln_out = register_module("ln_out", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden})));
    out = register_module("out", torch::nn::Linear(c.hidden, 204));
    out->weight.zero_();
    out->bias.zero_();
  }
  in_scale = register_buffer("in_scale", torch::ones({1}));
  out_scale = register_buffer("out_scale", torch::ones({1}));
}

torch::Tensor MotionToEmotionImpl::forward(const torch::Tensor& disp, const torch::Tensor& weights, const torch::Tensor& intensity,
                                           const torch::Tensor& mask, at::Generator* gen) {
  const torch::Tensor x = disp / in_scale;
  const torch::Tensor inten = intensity.unsqueeze(-1);
  torch::Tensor o;
  if (cfg.kind == "mlp") {
    torch::Tensor e = torch::matmul(weights, mlp_emo->weight) * inten;  // the embedding mixed by the weights
    torch::Tensor h = torch::relu(fc1->forward(torch::cat({x, e}, -1)));
    h = torch::relu(fc2->forward(h));
    o = fc3->forward(h);
  } else {
    torch::Tensor h = in->forward(x) + torch::matmul(weights, emo->weight) * inten;
    h = gen_dropout(h, cfg.dropout, gen, is_training());
    for (const auto& m : *blocks) h = m->as<EncoderLayer>()->forward(h, mask, gen);
    o = out->forward(ln_out->forward(h));
  }
  return o * out_scale * inten * mask.unsqueeze(-1);
}

}  // namespace emogene::emotion
