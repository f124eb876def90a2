// The FeatureExtractor interface: the frame grid shared by every extractor, the factory.
#include "emogene/features/features.h"

#include "emogene/audio/audio.h"
#include "emogene/core/error.h"
#include "emogene/features/mel.h"
#include "emogene/features/ssl.h"

namespace emogene::features {

std::int64_t frames_for_samples(std::int64_t n) { return n < kWindow ? 0 : (n - kWindow) / kHop + 1; }

double frame_centre_time(std::int64_t j) {
  return static_cast<double>(kHop * j + kWindow / 2) / static_cast<double>(kSampleRate);
}

Features FeatureExtractor::extract(const audio::Waveform& w) const {
  std::vector<float> mono = audio::to_mono(w);
  if (w.sample_rate != kSampleRate) mono = audio::resample(mono, w.sample_rate, kSampleRate);
  return extract(mono.data(), static_cast<std::int64_t>(mono.size()));
}

std::unique_ptr<FeatureExtractor> make_extractor(const ExtractorOptions& o) {
  if (o.kind == "mel") {
    check_input(o.weights.empty(), "--weights", "the mel extractor takes no weights (use --extractor hubert|wav2vec2)");
    check_input(o.layer < 0, "--layer", "the mel extractor has no layers");
    check_input(o.normalize == Normalize::Auto, "--normalize",
                "applies to hubert/wav2vec2 input; mel normalises its own output (see README)");
    return std::make_unique<MelExtractor>();
  }
  if (o.kind == "hubert" || o.kind == "wav2vec2") {
    check_input(!o.weights.empty(), "--weights",
                "--extractor " + o.kind + " needs a checkpoint (model.safetensors of a Hugging Face or torchaudio model)");
    return std::make_unique<SslExtractor>(o);
  }
  throw bad_input("--extractor", "unknown extractor '" + o.kind + "' (mel, hubert or wav2vec2)");
}

}  // namespace emogene::features
