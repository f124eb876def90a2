// Audio-to-motion: training on a dataset (DESIGN §3), checkpoints (kind "a2m", with the audio front
// end recorded), and prediction of absolute canonical landmarks at any fps.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "emogene/features/features.h"
#include "emogene/landmarks/landmarks.h"
#include "emogene/motion/sync.h"

namespace emogene::motion {

// The models' internal rate (Hz): twice the 25 fps video, so 1-2 frame lip closures survive.
constexpr double kInternalRate = 50.0;

constexpr int kA2MFormat = 2;  // 2: motion_scale buffer

struct TrainA2MOptions {
  std::string data;            // dataset folder
  std::string out;             // checkpoint path
  nlohmann::json config;       // resolved config (configs/a2m/*.json with --set applied)
  std::string config_name;     // for provenance
  std::int64_t steps = 0;      // > 0 overrides train.steps
  bool resume = false, force = false;
};

struct TrainA2MReport {
  std::int64_t steps = 0;
  double seconds = 0;
  double final_recon = 0, final_kl = 0;
};

// Trains (or resumes) and writes `out`. Bad data (empty split, mismatched lengths) → bad_input.
TrainA2MReport train_a2m(const TrainA2MOptions& opt);

class A2MModel {
 public:
  // Loads a checkpoint; bad_input naming the file for another kind, format or landmark space.
  explicit A2MModel(const std::string& path, const std::string& device = "cpu");
  ~A2MModel();
  A2MModel(A2MModel&&) noexcept;
  // The front end the model was trained with; `check_front_end` throws bad_input when `actual`
  // differs (extractor, layer, normalisation or dimension).
  const features::FrontEndInfo& front_end() const;
  void check_front_end(const features::FrontEndInfo& actual) const;
  // Long audio is decoded in chunks of this length (default 60 s) with the receptive field as
  // context, so memory stays bounded and the result equals a single pass.
  void set_chunk_seconds(double seconds);
  // Neutral landmarks [frames, 68, 3] at `fps` for `neutral` (canonical), from features on the
  // 50 Hz grid. temperature 0 = the prior's mean; seeded.
  landmarks::Sequence predict(const features::Features& f, const landmarks::Shape& neutral, double fps,
                              std::int64_t frames, double temperature, std::uint64_t seed) const;
  // Mean KL of each latent channel between the posterior (given the true motion) and the prior, for
  // one clip: a channel near 0 carries nothing (posterior collapse).
  std::vector<double> kl_per_dim(const features::Features& f, const landmarks::Sequence& truth, const landmarks::Shape& neutral,
                                 double fps) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Held-out quality of an a2m model on a dataset split (DESIGN §7), at a temperature.
struct A2MEval {
  std::int64_t clips = 0, frames = 0;
  double m_lmd = 0, f_lmd = 0;        // in IOD units, averaged over clips
  double m_lmd_px = 0;                // at 256×256 with the dataset's intrinsics scaled (frontal)
  double lip_gap_r = 0;               // Pearson r of predicted vs true lip gap, all frames pooled
  std::int64_t bilabials = 0;         // p/b/m phones
  double closed_at_bilabials = 0;     // share with predicted lip gap ≤ 15% of the clip's max true gap
  std::vector<double> kl_per_dim;     // mean over clips, per latent channel
  double seed_diff = 0;               // F-LMD between predictions with seeds 1 and 2 at this temperature
  SyncScore sync;                     // by the sync expert, when one is given (windows 0 otherwise)
};
A2MEval evaluate_a2m(const A2MModel& model, const std::string& data, const std::string& split,
                     const features::FeatureExtractor& ex, double temperature, const SyncExpert* sync = nullptr);

// An a2m model on audio that has no landmark truth (real recordings): per file, the predicted lip
// gap against the audio envelope (Pearson r at lag 0 and the best lag within ±max_lag frames; lag > 0:
// the lips follow the sound) and, with a sync expert, its confidence and best offset, all at `fps`
// (the video rate the figures are counted in).
struct AudioFileEval {
  std::string file;
  double seconds = 0;
  double r0 = 0, r_at_lag = 0;
  int lag = 0;
  SyncScore sync;  // windows 0 without an expert
};
struct AudioEval {
  std::vector<AudioFileEval> files;
  double mean_r0 = 0, mean_r_at_lag = 0, mean_lag = 0;
  SyncScore sync;  // the experts' scores over all files (motion::combine)
};
AudioEval evaluate_a2m_on_audio(const A2MModel& model, const std::vector<std::string>& files, const features::FeatureExtractor& ex,
                                double fps, double temperature, const SyncExpert* sync = nullptr, int max_lag = 5);

// Features on the 50 Hz feature grid (centres (320 j + 200) / 16000 s) sampled at times t (s),
// linearly, clamped at the ends: [times.size(), dim].
std::vector<float> features_at(const features::Features& f, const std::vector<double>& times);

}  // namespace emogene::motion
