// `emogene features`: audio to a [Ta, D] .npy of 50 Hz features (mel, HuBERT or wav2vec 2.0).
#include <spdlog/spdlog.h>

#include <cmath>

#include "cli/commands.h"
#include "emogene/audio/audio.h"
#include "emogene/core/error.h"
#include "emogene/core/npy.h"
#include "emogene/features/features.h"

namespace emogene::cli {

namespace {

struct FeaturesOptions {
  std::string audio;
  std::string out;
  std::string normalize;  // "", "on", "off"
  features::ExtractorOptions ex;
};

void run_features(const FeaturesOptions& o) {
  features::ExtractorOptions ex = o.ex;
  ex.normalize = o.normalize.empty() ? features::Normalize::Auto
                 : o.normalize == "on" ? features::Normalize::On
                                       : features::Normalize::Off;
  check_input(ex.chunk_seconds >= 0, "--chunk", "must be 0 (one pass) or a positive number of seconds");
  check_input(ex.overlap_seconds >= 0, "--overlap", "must not be negative");
  auto extractor = features::make_extractor(ex);  // checks the weights before the audio is decoded
  spdlog::debug("features: {}", extractor->describe());
  std::vector<float> x = audio::load_mono_16k(o.audio);
  const double seconds = static_cast<double>(x.size()) / features::kSampleRate;
  if (features::frames_for_samples(static_cast<std::int64_t>(x.size())) == 0)
    throw bad_input(o.audio, "too short for features: " + std::to_string(x.size()) +
                                 " samples at 16 kHz give no 50 Hz frame (a frame needs 400 samples, 25 ms)");
  features::Features f;
  try {
    f = extractor->extract(x);
  } catch (const Error& e) {
    // Name the file rather than "audio input".
    const std::string m = e.what();
    if (e.kind() == ErrorKind::BadInput && m.rfind("audio input: ", 0) == 0) throw bad_input(o.audio, m.substr(13));
    throw;
  }
  write_npy(o.out, Array::from_f32({f.frames, f.dim}, f.data.data()));
  spdlog::info("features: {} frames x {} ({} s of audio, frame j centred at (320 j + 200) / 16000 s) -> {}", f.frames,
               f.dim, seconds, o.out);
}

}  // namespace

void setup_features(CLI::App& app, RunFn& run) {
  auto opt = std::make_shared<FeaturesOptions>();
  CLI::App* sub = app.add_subcommand(
      "features",
      "Audio features at 50 Hz as a [frames, dim] f32 .npy: mel (default, no weights), or HuBERT / "
      "wav2vec 2.0 from a Hugging Face model.safetensors (config.json beside it is read) or a torchaudio state "
      "dict saved as safetensors. Frame j covers samples [320 j, 320 j + 400) at 16 kHz, centred at "
      "(320 j + 200) / 16000 s");
  sub->add_option("--audio,-a", opt->audio, "Input audio (any format FFmpeg or libsndfile reads; mixed to mono, resampled to 16 kHz)")
      ->required();
  sub->add_option("--out,-o", opt->out, "Output .npy, [frames, dim] f32 (written atomically)")->required();
  sub->add_option("--extractor", opt->ex.kind, "mel (80 log-mel bands, see README), hubert or wav2vec2")
      ->check(CLI::IsMember({"mel", "hubert", "wav2vec2"}))
      ->capture_default_str();
  sub->add_option("--weights", opt->ex.weights,
                  "hubert/wav2vec2 checkpoint: model.safetensors of HubertModel, HubertForCTC, Wav2Vec2Model, "
                  "Wav2Vec2ForCTC, or a torchaudio Wav2Vec2Model state dict");
  sub->add_option("--layer", opt->ex.layer,
                  "Hugging Face hidden_states[K]: 0 = before the first transformer layer, K = output of layer K "
                  "(default: the last hidden state, which for pre-norm models includes the final layer norm)")
      ->check(CLI::Range(0, 1000));
  sub->add_option("--normalize", opt->normalize,
                  "Input normalisation (zero mean, unit variance over the whole utterance); default: the "
                  "checkpoint's own setting (preprocessor_config.json do_normalize, else on for large models)")
      ->check(CLI::IsMember({"on", "off"}));
  sub->add_option("--chunk", opt->ex.chunk_seconds,
                  "Long audio: the transformer runs on windows of this many seconds (0: one pass, memory grows "
                  "with the square of the length); the conv encoder and mel are exact in any case")
      ->capture_default_str();
  sub->add_option("--overlap", opt->ex.overlap_seconds, "Context on each side of a --chunk window, seconds")
      ->capture_default_str();
  sub->add_option("--device", opt->ex.device, "cpu, cuda or auto")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();
  sub->callback([opt, &run] { run = [opt] { run_features(*opt); }; });
}

}  // namespace emogene::cli
