// Audio features (DESIGN §1, §2): one FeatureExtractor interface for the mel front end (no weights)
// and for HuBERT / wav2vec 2.0 (weights from Hugging Face or torchaudio). Input: mono 16 kHz float
// samples; output: [Ta, D] frames at 50 Hz whose centre times are known.
//
// Every extractor here uses the same frame grid: frame j covers samples [320 j, 320 j + 400) (the
// receptive field of the HuBERT/wav2vec 2.0 conv stack, and the mel window), so it is centred at
// (320 j + 200) / 16000 s, and n samples give n < 400 ? 0 : (n - 400) / 320 + 1 frames (no padding:
// audio shorter than 25 ms gives no frame).
//
// This header does not include LibTorch: model stages wrap the result at their own boundary.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace emogene::audio {
struct Waveform;
}

namespace emogene::features {

constexpr int kSampleRate = 16000;  // every extractor works at 16 kHz (audio::kModelRate)
constexpr int kHop = 320;           // samples between frames: 50 Hz
constexpr int kWindow = 400;        // samples that make one frame (25 ms)
constexpr double kFrameRate = 50.0;

// Frames for n samples: n < 400 ? 0 : (n - 400) / 320 + 1.
std::int64_t frames_for_samples(std::int64_t n);
// Centre of frame j in seconds: (320 j + 200) / 16000.
double frame_centre_time(std::int64_t j);

// [frames, dim] row-major f32.
struct Features {
  std::int64_t frames = 0;
  std::int64_t dim = 0;
  std::vector<float> data;

  const float* row(std::int64_t t) const { return data.data() + t * dim; }
  float at(std::int64_t t, std::int64_t d) const { return data[static_cast<std::size_t>(t * dim + d)]; }
};

// Input normalisation of HuBERT / wav2vec 2.0 (zero mean, unit variance over the whole utterance):
// Auto follows the checkpoint's own setting.
enum class Normalize { Auto, On, Off };

struct ExtractorOptions {
  std::string kind = "mel";  // mel | hubert | wav2vec2
  std::string weights;       // HuBERT / wav2vec 2.0: a .safetensors file (config.json beside it optional)
  int layer = -1;            // Hugging Face hidden_states[K]; -1 = the last hidden state
  Normalize normalize = Normalize::Auto;
  // Long audio: the transformer runs on windows of chunk_seconds with overlap_seconds of context on
  // each side (the context frames are computed and dropped). chunk_seconds <= 0, or audio no longer
  // than chunk_seconds + overlap_seconds, runs in one pass. The conv stack and mel are always
  // computed in pieces; they are exact (identical to a whole pass).
  double chunk_seconds = 30.0;
  double overlap_seconds = 5.0;
  std::string device = "cpu";  // cpu | cuda | auto
};

// What a downstream checkpoint records about its audio front end (DESIGN §3).
struct FrontEndInfo {
  std::string extractor;  // "mel", "hubert", "wav2vec2"
  std::string weights;    // path, "" for mel
  std::string weights_hash;  // content_hash of the weights (DESIGN §3), "" for mel and random weights
  int layer = -1;         // resolved layer (0..L), -1 for mel
  bool normalize = false; // input normalisation in force
  std::int64_t dim = 0;
  double frame_rate = kFrameRate;
};

class FeatureExtractor {
 public:
  virtual ~FeatureExtractor() = default;

  virtual std::string name() const = 0;  // "mel", "hubert", "wav2vec2"
  virtual std::int64_t dim() const = 0;
  virtual FrontEndInfo info() const = 0;
  // One line for logs: the extractor, its architecture and settings.
  virtual std::string describe() const = 0;

  double frame_rate() const { return kFrameRate; }
  std::int64_t num_frames(std::int64_t samples) const { return frames_for_samples(samples); }
  double frame_time(std::int64_t j) const { return frame_centre_time(j); }

  // [frames_for_samples(n), dim()]. Mono 16 kHz samples; throws bad_input on non-finite samples.
  virtual Features extract(const float* samples, std::int64_t n) const = 0;
  Features extract(const std::vector<float>& mono16k) const { return extract(mono16k.data(), static_cast<std::int64_t>(mono16k.size())); }
  // Any rate and channel count: averaged to mono and resampled to 16 kHz first.
  Features extract(const audio::Waveform& w) const;
};

// The extractor the options ask for. Throws bad_input naming the weights file or the option for a
// missing, truncated or foreign checkpoint, a layer out of range, an unknown kind, weights given to
// mel.
std::unique_ptr<FeatureExtractor> make_extractor(const ExtractorOptions& options);

}  // namespace emogene::features
