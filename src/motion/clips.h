// Private to motion/: the training data both the audio-to-motion VAE and the sync expert read, and
// the checkpoint metadata they share.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "emogene/audio/augment.h"
#include "emogene/core/image.h"
#include "emogene/dataset/dataset.h"
#include "emogene/features/features.h"
#include "emogene/landmarks/landmarks.h"

namespace emogene::motion::detail {

// One training sequence at the internal 50 Hz rate (kInternalRate).
struct Clip {
  std::int64_t frames = 0;
  std::vector<float> feats;   // [T, D]
  std::vector<float> disp;    // [T, 204] displacement from the identity's neutral shape
  std::vector<float> weight;  // [T] 1, plus `closure` where the lips are (nearly) closed
};

// The clips of `split`, each as recorded plus `variants` augmented copies (speed changes move the
// landmark targets with the audio). Clips are processed in parallel; the result does not depend on
// the thread count. closure: extra weight of frames whose lip gap is < 15% of the clip's maximum.
std::vector<Clip> load_clips(const dataset::Dataset& ds, const std::string& split, const features::FeatureExtractor& ex,
                             int variants, const audio::AugmentOptions& aug, float closure, std::uint64_t seed);

// Displacement from the neutral shape at time t (s) of a sequence at fps, linear, clamped.
void disp_at(const landmarks::Sequence& s, const landmarks::Shape& neutral, double fps, double t, float* out);

// config["features"] → extractor options (defaults where absent).
features::ExtractorOptions extractor_options(const nlohmann::json& cfg, const std::string& where);
// config["data"]["augment"] → augmentation options (defaults where absent).
audio::AugmentOptions augment_options(const nlohmann::json& j);
// The "emogene.frontend" metadata of a checkpoint, and back.
nlohmann::json front_end_json(const features::FrontEndInfo& i);
features::FrontEndInfo front_end_from_json(const nlohmann::json& j);
// bad_input naming `path` (a checkpoint) when the features at hand are not those it was trained on.
void check_front_end(const features::FrontEndInfo& expected, const features::FrontEndInfo& actual, const std::string& path);
// The names of `params` to store as f16 when the config asks for it ("save_f16": true): model files
// are for inference (the resume state in F.train keeps f32), and f16 halves what data/ carries.
std::vector<std::string> f16_names(const nlohmann::json& cfg, const std::vector<std::string>& params);
// "emogene.provenance": data, steps, date, git commit, config name.
std::string provenance(const std::string& data, std::int64_t steps, const std::string& config_name);
// Two series on one small chart (blue `truth`, red `pred`), scaled to their common maximum.
Image line_plot(const std::vector<float>& truth, const std::vector<float>& pred);

}  // namespace emogene::motion::detail
