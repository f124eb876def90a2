// Motion-to-emotion: training on a corpus dataset (DESIGN §3), checkpoints (kind "m2e"), applying
// a model to absolute landmarks with an emotion track, and the held-out figures of issue 7.
//
// Training pairs: landmarks_neutral.npy → landmarks_emotional.npy of the same clip (time-aligned
// by the synthetic world), conditioned by the clip's emotion.npy [T, 8] and intensity.npy [T];
// random crops of data.crop_frames frames (shorter clips padded and masked). Losses, in units of
// the model's out_scale (config "loss"):
//   l2      mean squared error of the emotional displacement, the mouth (48-67) weighted `mouth`
//           times the rest (weights normalised to mean 1)
//   lipgap  the output's lip gap keeps the input's: squared frame-to-frame change of the lip gap
//           that the emotional delta adds (a constant offset, e.g. a smile, is free)
//   smooth  temporal smoothness: squared difference between the output's and the truth's
//           frame-to-frame change of the delta
// The emotion classifier of emoclf.h is never a loss here.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "emogene/emotion/emoclf.h"
#include "emogene/emotion/spec.h"
#include "emogene/landmarks/landmarks.h"

namespace emogene::emotion {

constexpr int kM2EFormat = 2;  // 2: model.edges and model.condition

struct TrainM2EOptions {
  std::string data;            // corpus dataset folder
  std::string out;             // checkpoint path
  nlohmann::json config;       // resolved config (configs/m2e/*.json with --set applied)
  std::string config_name;     // for provenance
  std::int64_t steps = 0;      // > 0 overrides train.steps
  bool resume = false, force = false;
};

class M2EModel;

// Held-out quality of an m2e model on a dataset split (issue 7; metrics of DESIGN §7). Each clip's
// landmarks_neutral.npy goes in with the condition the model was trained on (model.condition):
// "clip", the clip's nominal emotion at its level for every frame (what a user's SPEC gives), or
// "track", the clip's own emotion.npy / intensity.npy; LMDs are in IOD units, averaged over clips.
struct M2EEval {
  std::int64_t clips = 0, frames = 0;
  double f_lmd = 0, m_lmd = 0;              // output vs landmarks_emotional.npy
  double f_lmd_input = 0, m_lmd_input = 0;  // the unchanged input vs the same truth (for scale)
  double lip_gap_r = 0;                     // Pearson r of output vs input lip gap, frames pooled
  // By the classifier (when given), over non-neutral clips at clip intensity >= 2/3: the share of
  // outputs classified as the clip's emotion, and of the ground truth (for scale). -1 without one.
  std::int64_t emotion_clips = 0;
  double emotion_accuracy = -1, emotion_accuracy_truth = -1;
  // Every clip run with the neutral track (intensity 0): largest F-LMD of output vs input (IOD).
  double neutral_error = 0;
  // Expression magnitude: mean F-LMD of output vs input over the non-neutral clips, each run with
  // its own dominant emotion held at intensity 1/3, 2/3 and 1; monotonic when strictly increasing.
  std::array<double, 3> magnitude{};
  bool monotonic = false;
  // A schedule "0s:neutral,<mid>s:<emotion>" (default ramp) on each non-neutral clip: the largest
  // frame-to-frame change (mean over the 68 points / IOD) that the transition adds, i.e. of the
  // displacement output − input, over the ramp; against the frame-to-frame motion of the output
  // with the emotion held constant at intensity 1 (the model's ordinary motion: speech plus
  // expression), its 95th percentile over all frames (ordinary_step) and its mean. No jump:
  // transition_step <= ordinary_step.
  double transition_step = 0, ordinary_step = 0, ordinary_mean = 0;
};

struct TrainM2EReport {
  std::int64_t steps = 0;
  double seconds = 0;
  double final_loss = 0, final_l2 = 0;
  M2EEval val;  // on the `val` split at the end (clips == 0 when it has none): for tuning
};

// Trains (or resumes) and writes `out`. A dataset without landmarks_emotional.npy (or without
// landmarks_neutral.npy), an empty split, or one without any emotional frame is a bad_input.
TrainM2EReport train_m2e(const TrainM2EOptions& opt);

class M2EModel {
 public:
  // Loads a checkpoint; bad_input naming the file for another kind, format or landmark space
  // ("<file>: is a 'a2m' checkpoint, expected 'm2e'").
  explicit M2EModel(const std::string& path, const std::string& device = "cpu");
  ~M2EModel();
  M2EModel(M2EModel&&) noexcept;
  const std::string& path() const;
  const std::string& kind() const;        // "transformer" | "mlp"
  const std::string& condition() const;   // "clip" | "track" (M2EConfig::condition)
  double fps() const;                     // the rate it was trained at
  std::int64_t receptive_field() const;   // frames on each side that can change an output frame

  // Emotional landmarks [T, 68, 3] (absolute canonical) from neutral ones of the identity whose
  // neutral shape is `neutral_shape`, with an emotion track of T frames (make_track). fps: the rate
  // of the input (0 = the model's own); at another rate the input and track are resampled in time
  // to the model's rate and the displacement back (DESIGN §1). Frames at intensity 0 come back
  // unchanged. Throws bad_input when the track's length differs from the sequence's.
  landmarks::Sequence apply(const landmarks::Sequence& neutral_abs, const landmarks::Shape& neutral_shape,
                            const EmotionTrack& track, double fps = 0) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The figures of M2EEval on `split` of `data`; `clf` optional (emotion accuracy is -1 without it).
M2EEval evaluate_m2e(const M2EModel& model, const std::string& data, const std::string& split, const EmoClassifier* clf = nullptr);

}  // namespace emogene::emotion
