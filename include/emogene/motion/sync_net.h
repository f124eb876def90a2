// The landmark-audio sync expert's network (EmoGene stage 2's lip-sync judge, after SyncNet /
// Wav2Lip's expert discriminator; written anew): two encoders map a window of audio features and a
// window of mouth motion to unit vectors, and the cosine of the two, scaled and shifted, is the logit
// of "in sync". Used by `train sync`, as a frozen loss inside `train a2m`, and as a metric.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "emogene/features/features.h"

namespace emogene::motion {

// Mouth input: points 48-67, x and y of the displacement from the neutral shape (the frontal plane
// the renderer is conditioned on; z carries no lip-sync information the NeRF could show).
constexpr std::int64_t kSyncMouthDims = 40;

struct SyncConfig {
  std::int64_t audio_dim = 80;
  std::int64_t window = 16;  // internal-rate (50 Hz) steps: 0.32 s
  std::int64_t hidden = 128;
  std::int64_t embed = 128;
  static SyncConfig from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;
};

// One encoder: input projection, residual dilated convolutions (1, 2, 4), then the whole window
// flattened to the embedding (time order inside the window matters for the offset).
struct SyncEncoderImpl : torch::nn::Module {
  SyncEncoderImpl(std::int64_t in, std::int64_t hidden, std::int64_t window, std::int64_t embed);
  torch::Tensor forward(torch::Tensor x);  // [B, W, in] → [B, embed], unit length
  torch::nn::Conv1d proj{nullptr};
  torch::nn::ModuleList convs;
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(SyncEncoder);

struct SyncNetImpl : torch::nn::Module {
  explicit SyncNetImpl(const SyncConfig& cfg);
  // audio [B, W, D] raw features; mouth [B, W, 204] (full displacement) or [B, W, 40] (mouth x, y).
  // Returns the logit of "in sync" [B]; cosine() the raw similarity.
  torch::Tensor forward(torch::Tensor audio, torch::Tensor mouth);
  torch::Tensor cosine(torch::Tensor audio, torch::Tensor mouth);
  // Normalisation of the inputs, set from training data (buffers, saved with the weights).
  torch::Tensor normalise_audio(torch::Tensor audio) const;
  torch::Tensor normalise_mouth(torch::Tensor mouth) const;

  SyncConfig cfg;
  SyncEncoder audio_enc{nullptr}, mouth_enc{nullptr};
  torch::Tensor logit_scale, logit_bias;                // learnt
  torch::Tensor audio_mean, audio_std, mouth_std;       // buffers
};
TORCH_MODULE(SyncNet);

// [.., 204] displacement → [.., 40] mouth x, y.
torch::Tensor mouth_xy(torch::Tensor disp);

// Loads a sync checkpoint (bad_input naming the file for another kind or format) in eval mode,
// parameters frozen; `fe` receives its front end.
SyncNet load_sync_net(const std::string& path, features::FrontEndInfo* fe = nullptr);

}  // namespace emogene::motion
