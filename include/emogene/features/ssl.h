// HuBERT and wav2vec 2.0 ("self-supervised speech" models, SSL below) in LibTorch, matching
// torchaudio and Hugging Face transformers. Weights: a safetensors file holding a Hugging Face
// HubertModel / HubertForCTC / Wav2Vec2Model / Wav2Vec2ForCTC state dict (or Wav2Vec2ForPreTraining's,
// heads ignored), or a torchaudio Wav2Vec2Model state dict; config.json (and
// preprocessor_config.json) beside it are read when present.
//
// Architecture (Baevski et al. 2020, Hsu et al. 2021): a conv feature encoder (7 layers, 512
// channels, kernels 10,3,3,3,3,2,2, strides 5,2,2,2,2,2,2: 400-sample receptive field, 320-sample
// hop) with GELU, normalised either by a GroupNorm(512 groups) on its first layer ("group", base
// models) or a LayerNorm over channels on every layer ("layer", large models); a feature projection
// (LayerNorm + Linear to the model width); a convolutional positional embedding (grouped conv,
// weight norm, GELU) added to the input of a transformer encoder whose layers are post-norm (base)
// or pre-norm ("stable layer norm", large; these end with a final LayerNorm).
//
// hidden_states[K] (Hugging Face's numbering, the `--layer K` option): K = 0 is the transformer's
// input (after the positional embedding, and for post-norm models after the encoder LayerNorm),
// K = 1..L the output of layer K; for pre-norm models hidden_states[L] includes the final LayerNorm.
//
// Input normalisation (zero mean, unit variance over the whole utterance, (x - mean) /
// sqrt(var + 1e-7) as Hugging Face's feature extractor): the checkpoint's own setting is
// preprocessor_config.json's do_normalize when present, else on for layer-norm feature encoders
// (large models) and off for group-norm ones (base models), as fairseq trained them.
//
// This header does not include LibTorch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "emogene/features/features.h"

namespace emogene::features {

enum class ConvNorm { Group, Layer };
enum class KeyNaming { HuggingFace, Torchaudio, None };  // None: random weights (benchmarks)
enum class PosConvForm { WeightNorm, Parametrizations, Plain };  // weight_g/v, original0/1, weight

struct ConvLayerSpec {
  std::int64_t channels = 512, kernel = 3, stride = 2;
};

struct SslConfig {
  std::string family;        // "hubert", "wav2vec2", or "" when neither config nor keys say
  std::string architecture;  // e.g. "HubertForCTC" (config.json), else what the keys show
  KeyNaming naming = KeyNaming::HuggingFace;
  std::string prefix;        // "", "hubert.", "wav2vec2." before the base model's keys
  PosConvForm pos_form = PosConvForm::WeightNorm;
  std::vector<ConvLayerSpec> conv;
  bool conv_bias = false;
  ConvNorm conv_norm = ConvNorm::Group;
  bool projection_norm = true;  // LayerNorm before the feature projection (HuBERT may omit it)
  std::int64_t hidden = 768, layers = 12, heads = 12, ffn = 3072;
  std::int64_t pos_kernel = 128, pos_groups = 16;
  bool pre_norm = false;     // do_stable_layer_norm
  double eps = 1e-5;         // transformer and projection LayerNorms
  bool normalize = false;    // the checkpoint's own input normalisation
  std::string normalize_source;      // "preprocessor_config.json", "feature encoder norm", ...
  std::vector<std::string> ignored;  // tensors present and not needed (heads, masks, quantizer)
  bool has_config_json = false;

  std::int64_t conv_dim() const { return conv.empty() ? 0 : conv.back().channels; }
  std::int64_t receptive_field() const;  // samples (400)
  std::int64_t hop() const;              // samples (320)
  std::int64_t frames(std::int64_t samples) const;  // the conv stack's output length
  // The name a canonical Hugging Face base-model key ("encoder.layers.0.attention.q_proj.weight")
  // has in this checkpoint.
  std::string key(const std::string& canonical) const;
  std::string describe() const;
};

// Reads the tensor names and shapes of a checkpoint (and config.json / preprocessor_config.json
// beside it) and works out the architecture. Throws bad_input naming the file and the first missing,
// unexpected or mis-shaped tensor, or the config value that disagrees with the weights.
SslConfig inspect_ssl_checkpoint(const std::string& path);

// Standard architectures: "hubert_base", "hubert_large", "wav2vec2_base", "wav2vec2_large_lv60k".
SslConfig ssl_preset(const std::string& name);

// The matrix products' path: "oneDNN <version> sgemm" (oneDNN found in the process at run time: Debian's
// LibTorch links it; AVX-512 kernels where the CPU has them) or "LibTorch matmul" (its BLAS).
// force_torch_matmul(true), or EMOGENE_GEMM=torch in the environment, selects LibTorch's.
std::string matmul_backend();
void force_torch_matmul(bool on);

// Time spent in each stage by the last extract() call, seconds.
struct SslTimings {
  double normalise = 0, conv = 0, projection = 0, transformer = 0;
  std::int64_t windows = 0;
  double total() const { return normalise + conv + projection + transformer; }
};

class SslExtractor : public FeatureExtractor {
 public:
  // Loads options.weights (options.kind "hubert" or "wav2vec2" must not contradict the checkpoint).
  explicit SslExtractor(const ExtractorOptions& options);
  // Random weights of a given architecture (timing without a checkpoint); seed fixes them.
  SslExtractor(const SslConfig& config, std::uint64_t seed, const ExtractorOptions& options);
  ~SslExtractor() override;
  SslExtractor(const SslExtractor&) = delete;
  SslExtractor& operator=(const SslExtractor&) = delete;

  std::string name() const override;
  std::int64_t dim() const override;
  FrontEndInfo info() const override;
  std::string describe() const override;
  const SslConfig& config() const;
  int layer() const;        // resolved 0..L
  bool normalize() const;   // in force
  void set_chunking(double chunk_seconds, double overlap_seconds);

  using FeatureExtractor::extract;
  Features extract(const float* samples, std::int64_t n) const override;
  // hidden_states[layer] for another layer than the configured one (same weights).
  Features extract_layer(const float* samples, std::int64_t n, int layer) const;
  // The conv feature encoder's output [frames, conv_dim] (input normalisation applied as
  // configured), computed in pieces of chunk_frames output frames (0: a default size).
  Features conv_features(const float* samples, std::int64_t n, std::int64_t chunk_frames = 0) const;
  SslTimings last_timings() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emogene::features
