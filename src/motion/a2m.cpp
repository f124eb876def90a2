// The audio-to-motion VAE (a2m.h).
#include "emogene/motion/a2m.h"

#include <cmath>
#include <set>

#include "emogene/core/error.h"

namespace emogene::motion {

namespace F = torch::nn::functional;
using torch::indexing::Slice;

A2MConfig A2MConfig::from_json(const nlohmann::json& j, const std::string& where) {
  A2MConfig c;
  if (j.is_null()) return c;
  static const std::set<std::string> known = {"audio_dim", "hidden", "latent", "down", "kernel", "layers", "flow_layers", "dropout"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key())) throw bad_input(where, "unknown setting model." + it.key());
  try {
    c.audio_dim = j.value("audio_dim", c.audio_dim);
    c.hidden = j.value("hidden", c.hidden);
    c.latent = j.value("latent", c.latent);
    c.down = j.value("down", c.down);
    c.kernel = j.value("kernel", c.kernel);
    c.layers = j.value("layers", c.layers);
    c.flow_layers = j.value("flow_layers", c.flow_layers);
    c.dropout = j.value("dropout", c.dropout);
  } catch (const nlohmann::json::exception& e) {
    throw bad_input(where, std::string("a model setting has the wrong type (") + e.what() + ")");
  }
  if (c.latent < 2 || c.latent % 2) throw bad_input(where, "model.latent must be even and at least 2");
  if (c.kernel % 2 == 0) throw bad_input(where, "model.kernel must be odd");
  if (c.hidden < 8 || c.down < 1 || c.layers < 1 || c.flow_layers < 0 || c.audio_dim < 1)
    throw bad_input(where, "model sizes must be positive");
  return c;
}

nlohmann::json A2MConfig::to_json() const {
  return {{"audio_dim", audio_dim}, {"hidden", hidden}, {"latent", latent}, {"down", down}, {"kernel", kernel},
          {"layers", layers}, {"flow_layers", flow_layers}, {"dropout", dropout}};
}

std::int64_t padded_length(std::int64_t T, std::int64_t down) { return (T + down - 1) / down * down; }

// ---- WaveNet --------------------------------------------------------------------------------------

WaveNetImpl::WaveNetImpl(std::int64_t c, std::int64_t cc, std::int64_t kernel, std::int64_t n, double dropout)
    : channels(c), layers(n) {
  in_layers = register_module("in_layers", torch::nn::ModuleList());
  res_skip = register_module("res_skip", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t d = std::int64_t{1} << std::min<std::int64_t>(i, 5);
    in_layers->push_back(torch::nn::Conv1d(torch::nn::Conv1dOptions(c, 2 * c, kernel).dilation(d).padding(d * (kernel - 1) / 2)));
    res_skip->push_back(torch::nn::Conv1d(torch::nn::Conv1dOptions(c, i + 1 < n ? 2 * c : c, 1)));
  }
  if (cc > 0) cond_layer = register_module("cond", torch::nn::Conv1d(torch::nn::Conv1dOptions(cc, 2 * c * n, 1)));
  drop = register_module("drop", torch::nn::Dropout(dropout));
}

torch::Tensor WaveNetImpl::forward(torch::Tensor x, torch::Tensor cond, torch::Tensor mask) {
  torch::Tensor skip = torch::zeros_like(x);
  torch::Tensor g;
  if (cond_layer && cond.defined()) g = cond_layer->forward(cond);
  for (std::int64_t i = 0; i < layers; ++i) {
    torch::Tensor a = in_layers[static_cast<std::size_t>(i)]->as<torch::nn::Conv1d>()->forward(x);
    if (g.defined()) a = a + g.index({Slice(), Slice(2 * channels * i, 2 * channels * (i + 1))});
    torch::Tensor acts = torch::tanh(a.index({Slice(), Slice(0, channels)})) * torch::sigmoid(a.index({Slice(), Slice(channels, 2 * channels)}));
    acts = drop->forward(acts);
    torch::Tensor rs = res_skip[static_cast<std::size_t>(i)]->as<torch::nn::Conv1d>()->forward(acts);
    if (i + 1 < layers) {
      x = (x + rs.index({Slice(), Slice(0, channels)})) * mask;
      skip = skip + rs.index({Slice(), Slice(channels, 2 * channels)});
    } else {
      skip = skip + rs;
    }
  }
  return skip * mask;
}

// ---- flow coupling --------------------------------------------------------------------------------

CouplingImpl::CouplingImpl(std::int64_t channels, std::int64_t hidden, std::int64_t kernel, bool sw) : half(channels / 2), swap(sw) {
  pre = register_module("pre", torch::nn::Conv1d(torch::nn::Conv1dOptions(half, hidden, 1)));
  net = register_module("net", WaveNet(hidden, hidden, kernel, 2, 0.0));
  post = register_module("post", torch::nn::Conv1d(torch::nn::Conv1dOptions(hidden, 2 * half, 1)));
  // Starts as the identity map.
  torch::NoGradGuard ng;
  post->weight.zero_();
  post->bias.zero_();
}

std::pair<torch::Tensor, torch::Tensor> CouplingImpl::forward(torch::Tensor z, torch::Tensor cond, torch::Tensor mask) {
  torch::Tensor a = z.index({Slice(), Slice(0, half)}), b = z.index({Slice(), Slice(half, 2 * half)});
  if (swap) std::swap(a, b);
  torch::Tensor st = post->forward(net->forward(pre->forward(a) * mask, cond, mask)) * mask;
  torch::Tensor m = st.index({Slice(), Slice(0, half)}), logs = torch::tanh(st.index({Slice(), Slice(half, 2 * half)}));
  torch::Tensor b2 = (b * torch::exp(logs) + m) * mask;
  torch::Tensor y = swap ? torch::cat({b2, a}, 1) : torch::cat({a, b2}, 1);
  torch::Tensor logs_full = swap ? torch::cat({logs, torch::zeros_like(a)}, 1) : torch::cat({torch::zeros_like(a), logs}, 1);
  return {y, logs_full * mask};  // per-channel log-det contributions [B, L, T]
}

torch::Tensor CouplingImpl::inverse(torch::Tensor y, torch::Tensor cond, torch::Tensor mask) {
  torch::Tensor a = y.index({Slice(), Slice(0, half)}), b = y.index({Slice(), Slice(half, 2 * half)});
  if (swap) std::swap(a, b);
  torch::Tensor st = post->forward(net->forward(pre->forward(a) * mask, cond, mask)) * mask;
  torch::Tensor m = st.index({Slice(), Slice(0, half)}), logs = torch::tanh(st.index({Slice(), Slice(half, 2 * half)}));
  torch::Tensor b0 = (b - m) * torch::exp(-logs) * mask;
  return swap ? torch::cat({b0, a}, 1) : torch::cat({a, b0}, 1);
}

// ---- the VAE --------------------------------------------------------------------------------------

AudioToMotionImpl::AudioToMotionImpl(const A2MConfig& c) : cfg(c) {
  const std::int64_t H = c.hidden, L = c.latent, K = c.kernel;
  audio_in = register_module("audio_in", torch::nn::Conv1d(torch::nn::Conv1dOptions(c.audio_dim, H, 3).padding(1)));
  audio_net = register_module("audio_net", WaveNet(H, 0, K, c.layers, c.dropout));
  target_in = register_module("target_in", torch::nn::Conv1d(torch::nn::Conv1dOptions(204, H, 1)));
  post_net = register_module("post_net", WaveNet(H, H, K, c.layers, c.dropout));
  post_down = register_module("post_down", torch::nn::Conv1d(torch::nn::Conv1dOptions(H, H, c.down).stride(c.down)));
  post_out = register_module("post_out", torch::nn::Conv1d(torch::nn::Conv1dOptions(H, 2 * L, 1)));
  prior_down = register_module("prior_down", torch::nn::Conv1d(torch::nn::Conv1dOptions(H, H, c.down).stride(c.down)));
  prior_net = register_module("prior_net", WaveNet(H, 0, K, c.layers, c.dropout));
  prior_out = register_module("prior_out", torch::nn::Conv1d(torch::nn::Conv1dOptions(H, 2 * L, 1)));
  flows = register_module("flows", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < c.flow_layers; ++i) flows->push_back(Coupling(L, H, K, i % 2 == 1));
  z_up = register_module("z_up", torch::nn::ConvTranspose1d(torch::nn::ConvTranspose1dOptions(L, H, c.down).stride(c.down)));
  dec_net = register_module("dec_net", WaveNet(H, H, K, c.layers, c.dropout));
  out = register_module("out", torch::nn::Conv1d(torch::nn::Conv1dOptions(H, 204, 1)));
  motion_scale = register_buffer("motion_scale", torch::ones({1}));
}

torch::Tensor AudioToMotionImpl::encode_audio(torch::Tensor audio, torch::Tensor mask) {
  torch::Tensor x = audio_in->forward(audio.transpose(1, 2) * mask) * mask;
  return audio_net->forward(x, {}, mask) + x;
}

std::pair<torch::Tensor, torch::Tensor> AudioToMotionImpl::prior(torch::Tensor h_down, torch::Tensor mask_down) {
  torch::Tensor s = prior_out->forward(prior_net->forward(h_down, {}, mask_down) + h_down) * mask_down;
  return {s.index({Slice(), Slice(0, cfg.latent)}), s.index({Slice(), Slice(cfg.latent, 2 * cfg.latent)})};
}

torch::Tensor AudioToMotionImpl::decode(torch::Tensor z, torch::Tensor h, torch::Tensor mask) {
  torch::Tensor x = z_up->forward(z) * mask;
  return (out->forward(dec_net->forward(x, h, mask)) * mask).transpose(1, 2) * motion_scale;
}

A2MOutput AudioToMotionImpl::forward(torch::Tensor audio, torch::Tensor target, torch::Tensor mask2, at::Generator& gen) {
  const std::int64_t B = audio.size(0), T = audio.size(1), D = cfg.down;
  if (T % D) throw internal_error("a2m", "sequence length must be a multiple of the latent downsampling");
  torch::Tensor mask = mask2.unsqueeze(1);                                   // [B, 1, T]
  torch::Tensor mask_d = mask.view({B, 1, T / D, D}).amax(-1);             // [B, 1, T/D]
  torch::Tensor h = encode_audio(audio, mask);
  torch::Tensor t = target_in->forward(target.transpose(1, 2) / motion_scale) * mask;
  torch::Tensor q = post_out->forward(post_down->forward(post_net->forward(t, h, mask) + t)) * mask_d;
  torch::Tensor mu_q = q.index({Slice(), Slice(0, cfg.latent)}), logs_q = q.index({Slice(), Slice(cfg.latent, 2 * cfg.latent)});
  torch::Tensor eps = torch::randn(mu_q.sizes(), gen, mu_q.options().device(torch::kCPU)).to(mu_q.device());
  torch::Tensor z = (mu_q + torch::exp(logs_q) * eps) * mask_d;
  // KL by one sample: log q(z) − log p(z), with p a Gaussian (from the audio) behind the flow.
  torch::Tensor h_d = prior_down->forward(h) * mask_d;
  auto [mu_p, logs_p] = prior(h_d, mask_d);
  torch::Tensor y = z, logdet = torch::zeros_like(z);
  for (const auto& m : *flows) {
    auto [y2, ld] = m->as<Coupling>()->forward(y, h_d, mask_d);
    y = y2;
    logdet = logdet + ld;
  }
  torch::Tensor log_q = (-logs_q - 0.5 * eps.pow(2)) * mask_d;
  torch::Tensor log_p = (-logs_p - 0.5 * ((y - mu_p) * torch::exp(-logs_p)).pow(2) + logdet) * mask_d;
  torch::Tensor kl_map = log_q - log_p;                                    // [B, L, T/D]
  torch::Tensor count = mask_d.sum().clamp_min(1);
  A2MOutput o;
  o.kl = kl_map.sum() / (count * cfg.latent);
  o.kl_per_dim = kl_map.sum(std::vector<std::int64_t>{0, 2}) / count;
  o.recon = decode(z, h, mask);
  (void)B;
  return o;
}

torch::Tensor AudioToMotionImpl::infer(torch::Tensor audio, torch::Tensor mask2, double temperature, at::Generator& gen) {
  const std::int64_t B = audio.size(0), T = audio.size(1), D = cfg.down;
  torch::Tensor noise;
  if (temperature > 0) noise = torch::randn({B, cfg.latent, T / D}, gen, audio.options().device(torch::kCPU)).to(audio.device());
  return infer_with_noise(audio, mask2, temperature, noise);
}

torch::Tensor AudioToMotionImpl::infer_with_noise(torch::Tensor audio, torch::Tensor mask2, double temperature, torch::Tensor noise) {
  const std::int64_t B = audio.size(0), T = audio.size(1), D = cfg.down;
  if (T % D) throw internal_error("a2m", "sequence length must be a multiple of the latent downsampling");
  torch::Tensor mask = mask2.unsqueeze(1);
  torch::Tensor mask_d = mask.view({B, 1, T / D, D}).amax(-1);
  torch::Tensor h = encode_audio(audio, mask);
  torch::Tensor h_d = prior_down->forward(h) * mask_d;
  auto [mu_p, logs_p] = prior(h_d, mask_d);
  torch::Tensor y = mu_p;
  if (temperature > 0) y = y + torch::exp(logs_p) * noise * temperature;
  y = y * mask_d;
  const auto couplings = flows->children();
  for (auto it = couplings.rbegin(); it != couplings.rend(); ++it) y = (*it)->as<Coupling>()->inverse(y, h_d, mask_d);
  return decode(y, h, mask);
}

std::int64_t AudioToMotionImpl::receptive_field() const {
  const std::int64_t D = cfg.down;
  std::int64_t dil = 0;
  for (std::int64_t i = 0; i < cfg.layers; ++i) dil += std::int64_t{1} << std::min<std::int64_t>(i, 5);
  const std::int64_t wn = (cfg.kernel - 1) / 2 * dil;       // one WaveNet stack, in its own steps
  const std::int64_t rf_h = 1 + wn;                          // audio encoding (internal steps)
  const std::int64_t rf_hd = (rf_h + D) / D + 1;             // its downsampled copy (latent steps)
  const std::int64_t rf_y = rf_hd + (cfg.flow_layers + 1) * wn + cfg.flow_layers;  // prior and flow (latent)
  const std::int64_t rf = D * (rf_y + 1) + wn + rf_h + D;    // decoder (internal)
  return (rf + D - 1) / D * D;
}

}  // namespace emogene::motion
