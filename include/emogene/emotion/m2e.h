// Motion-to-emotion (EmoGene stage 3): the networks that turn a neutral (speech-only) landmark
// sequence and a per-frame emotion track into emotional landmarks. Two kinds, chosen by the
// config's model.kind:
//
//  - "transformer" (the model): the neutral sequence as displacement from the identity's neutral
//    shape, in units of a stored global scale (`in_scale`), projected per frame; the emotion
//    conditioning, an Embedding(8, hidden) mixed by the [T, 8] weight track and scaled by the
//    intensity [T], added to every frame; pre-LayerNorm encoder layers whose self-attention is
//    restricted to a band of ±window frames, with a learnt relative position bias per head and
//    offset (no absolute position anywhere), so any length works and frames further than
//    layers × window from a cut do not change when the sequence is cut; a per-frame output head.
//    With model.edges (the default) every position of a band that lies outside the sequence (before
//    its start, after its end, or padding) holds a learnt "outside" frame per layer instead of being
//    dropped, so a frame knows how near it is to the start or the end of the utterance: expressions
//    build up after an utterance starts and relax before it ends, and a clip-level condition
//    (model.condition "clip") leaves that timing to the model.
//  - "mlp" (the baseline, after the per-frame MLP of EmoGene's public code: 204 + 16 → 256 → 256 →
//    204 with an Embedding(8, 16), trained with MSE and Adam 5e-4; see configs/m2e/mlp.json): the
//    same input displacement concatenated with the 16-d emotion embedding (mixed by the weights,
//    scaled by intensity), two hidden ReLU layers, frame by frame.
//
// Both output a residual displacement in units of `out_scale`, multiplied by the frame's intensity
// (the gate): emotional = neutral + intensity × out_scale × head(...). A frame at intensity 0 (pure
// neutral, DESIGN §8's track convention) therefore returns its input exactly, whatever the
// weights. Both heads start at zero (the identity map).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace emogene::emotion {

struct M2EConfig {
  std::string kind = "transformer";  // "transformer" | "mlp"
  // transformer
  std::int64_t hidden = 128;
  std::int64_t heads = 4;
  std::int64_t layers = 3;
  std::int64_t ff = 256;
  std::int64_t window = 16;  // attention reaches ±window frames in each layer
  double dropout = 0.1;
  bool edges = true;  // learnt outside frames at the sequence's edges (see above)
  // What the model is trained and evaluated on: "clip" (the clip's nominal emotion and level, as a
  // user's SPEC gives it: constant over the clip) or "track" (the dataset's per-frame emotion.npy /
  // intensity.npy, which carries the synthetic world's onset and offset).
  std::string condition = "clip";
  // mlp baseline
  std::int64_t mlp_hidden = 256;
  std::int64_t mlp_embed = 16;

  static M2EConfig from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;
  // Frames on each side that can influence an output frame: layers × window (0 for the MLP).
  std::int64_t receptive_field() const { return kind == "mlp" ? 0 : layers * window; }
};

// Dropout drawn from an explicit generator (so a resumed run repeats the original); identity when
// gen is null, p is 0 or the module is not training.
torch::Tensor gen_dropout(const torch::Tensor& x, double p, at::Generator* gen, bool training);

// Multi-head self-attention over a band |i - j| <= window, with a learnt bias per head and
// relative offset. Long sequences are processed in query chunks (the result is the same).
// edges: every band position outside the valid frames attends to a learnt outside frame `pad`
// (its key and value through the same projection) with that offset's bias. All outside positions
// of a query share one key, so they enter the softmax as one logit q·k_pad + log Σ exp(bias) over
// the query's outside offsets: exactly as if the sequence were padded with copies of `pad`.
struct BandAttentionImpl : torch::nn::Module {
  BandAttentionImpl(std::int64_t dim, std::int64_t heads, std::int64_t window, bool edges = false);
  // x [B, T, dim]; mask [B, T] (1 valid, 0 padding: padded keys are never attended to, or are
  // outside frames with edges).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);
  std::int64_t dim, heads, window;
  bool edges;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::Tensor rel_bias;  // [heads, 2 window + 1]
  torch::Tensor pad;       // [dim], with edges
};
TORCH_MODULE(BandAttention);

struct EncoderLayerImpl : torch::nn::Module {
  EncoderLayerImpl(std::int64_t dim, std::int64_t heads, std::int64_t ff, std::int64_t window, double dropout, bool edges = false);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, at::Generator* gen);
  double dropout;
  torch::nn::LayerNorm ln1{nullptr}, ln2{nullptr};
  BandAttention attn{nullptr};
  torch::nn::Linear ff1{nullptr}, ff2{nullptr};
};
TORCH_MODULE(EncoderLayer);

struct MotionToEmotionImpl : torch::nn::Module {
  explicit MotionToEmotionImpl(const M2EConfig& cfg);
  // disp [B, T, 204]: neutral landmarks minus the identity's neutral shape (canonical units);
  // weights [B, T, 8]; intensity [B, T]; mask [B, T] (1 valid). Returns the emotional displacement
  // to add to the neutral landmarks, [B, T, 204] in canonical units (0 wherever intensity is 0).
  // gen: the step's generator for dropout while training (null: no dropout).
  torch::Tensor forward(const torch::Tensor& disp, const torch::Tensor& weights, const torch::Tensor& intensity,
                        const torch::Tensor& mask, at::Generator* gen = nullptr);

  M2EConfig cfg;
  // transformer
  torch::nn::Linear in{nullptr}, out{nullptr};
  torch::nn::Embedding emo{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm ln_out{nullptr};
  // mlp
  torch::nn::Embedding mlp_emo{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
  // Global scales (buffers, saved with the weights): RMS of the training input displacements and
  // of the training emotional deltas (emotional − neutral, over frames with intensity > 0).
  torch::Tensor in_scale, out_scale;
};
TORCH_MODULE(MotionToEmotion);

}  // namespace emogene::emotion
