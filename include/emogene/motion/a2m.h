// Audio-to-motion (EmoGene stage 2): a conditional VAE that turns audio features into the neutral
// (speech-only) 3D landmark motion of a given identity. After GeneFace's audio-to-motion VAE (facts
// from its public code: hidden width 256, a 16-channel latent downsampled ×4 in time, WaveNet-style
// dilated convolution stacks, a normalising-flow prior, KL weight 0.4 in GeneFace v1); written anew.
//
// Time: the model runs at an internal rate of 50 Hz (twice the 25 fps video), which keeps 1-2 frame
// lip closures; features are mapped to internal frame centres by time (DESIGN §1), and the output
// is sampled back at video frame centres. It predicts a displacement from the identity's neutral
// shape (expression only, independent of identity) and returns absolute canonical landmarks.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "emogene/motion/a2m_io.h"  // kInternalRate

namespace emogene::motion {


struct A2MConfig {
  std::int64_t audio_dim = 80;   // feature dimension (the front end's)
  std::int64_t hidden = 256;
  std::int64_t latent = 16;
  std::int64_t down = 4;         // latent time downsampling
  std::int64_t kernel = 5;
  std::int64_t layers = 4;       // per WaveNet stack (dilations 1, 2, 4, ...)
  std::int64_t flow_layers = 4;  // affine couplings of the prior
  double dropout = 0.0;
  static A2MConfig from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;
};

// A stack of gated, dilated, residual 1-D convolutions with a conditioning input (WaveNet).
struct WaveNetImpl : torch::nn::Module {
  WaveNetImpl(std::int64_t channels, std::int64_t cond_channels, std::int64_t kernel, std::int64_t layers, double dropout);
  // x [B, C, T], cond [B, Cc, T] or undefined; mask [B, 1, T].
  torch::Tensor forward(torch::Tensor x, torch::Tensor cond, torch::Tensor mask);
  std::int64_t channels, layers;
  torch::nn::ModuleList in_layers, res_skip;
  torch::nn::Conv1d cond_layer{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(WaveNet);

// One affine coupling of the flow prior: the second half of the channels is shifted and scaled by a
// function of the first half and the audio; the halves swap between couplings.
struct CouplingImpl : torch::nn::Module {
  CouplingImpl(std::int64_t channels, std::int64_t hidden, std::int64_t kernel, bool swap);
  // z → y and log|det dy/dz| per batch item [B].
  std::pair<torch::Tensor, torch::Tensor> forward(torch::Tensor z, torch::Tensor cond, torch::Tensor mask);
  torch::Tensor inverse(torch::Tensor y, torch::Tensor cond, torch::Tensor mask);
  std::int64_t half;
  bool swap;
  torch::nn::Conv1d pre{nullptr}, post{nullptr};
  WaveNet net{nullptr};
};
TORCH_MODULE(Coupling);

struct A2MOutput {
  torch::Tensor recon;             // [B, T, 204] displacement at the internal rate
  torch::Tensor kl;                // scalar: mean over batch of KL / (latent frames · channels)
  torch::Tensor kl_per_dim;        // [latent] mean KL of each latent channel (collapse check)
};

struct AudioToMotionImpl : torch::nn::Module {
  explicit AudioToMotionImpl(const A2MConfig& cfg);
  // audio [B, T, D] and target displacement [B, T, 204] at the internal rate; mask [B, T] (1 valid).
  // T must be a multiple of cfg.down (pad first). Samples the posterior with `gen`.
  A2MOutput forward(torch::Tensor audio, torch::Tensor target, torch::Tensor mask, at::Generator& gen);
  // From audio alone: the latent from the prior with noise × temperature (0 = its mean), seeded.
  torch::Tensor infer(torch::Tensor audio, torch::Tensor mask, double temperature, at::Generator& gen);
  // As infer, with the standard-normal prior noise given [B, latent, T / down] (for chunked decoding:
  // one noise sequence per clip, sliced per chunk).
  torch::Tensor infer_with_noise(torch::Tensor audio, torch::Tensor mask, double temperature, torch::Tensor noise);
  // Internal-rate steps on each side that can influence an output step (a multiple of down): chunks
  // decoded with this much context on both sides equal the whole-sequence result.
  std::int64_t receptive_field() const;

  A2MConfig cfg;
  torch::nn::Conv1d audio_in{nullptr}, target_in{nullptr}, post_out{nullptr}, prior_out{nullptr}, z_in{nullptr}, out{nullptr};
  WaveNet audio_net{nullptr}, post_net{nullptr}, prior_net{nullptr}, dec_net{nullptr};
  torch::nn::Conv1d post_down{nullptr}, prior_down{nullptr};
  torch::nn::ConvTranspose1d z_up{nullptr};
  torch::nn::ModuleList flows;
  // RMS of the training displacements: the networks work in units of it (so the reconstruction
  // term is O(1) next to the KL term; without it the posterior collapses), inputs and outputs in
  // canonical units. A buffer, saved with the weights.
  torch::Tensor motion_scale;

 private:
  torch::Tensor encode_audio(torch::Tensor audio, torch::Tensor mask);
  std::pair<torch::Tensor, torch::Tensor> prior(torch::Tensor h_down, torch::Tensor mask_down);
  torch::Tensor decode(torch::Tensor z, torch::Tensor h, torch::Tensor mask);
};
TORCH_MODULE(AudioToMotion);

// Pads T up to a multiple of `down` (zeros, mask 0). Returns the padded length.
std::int64_t padded_length(std::int64_t T, std::int64_t down);

}  // namespace emogene::motion
