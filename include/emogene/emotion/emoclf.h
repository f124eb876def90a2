// The landmark emotion classifier that MEASURES emotion accuracy (DESIGN §7 "Emotion accuracy"):
// windows of about one second of landmark displacement from the identity's neutral shape → the 8
// emotions. A small 1-D convolutional net (dilated residual convolutions, then mean- and max-pooling
// over time, then a linear layer), so it takes any window length; trained with its own seed
// (configs/emoclf/*.json train.seed, distinct from m2e's) on the corpus' `train` split (data.split),
// labels the clip's dominant emotion; its accuracy on held-out ground truth is reported for scale.
// It is never used as a loss of motion-to-emotion (m2e_io does not load one while training).
//
// Training windows: a class drawn uniformly among those present, then a clip of it; emotional
// classes read landmarks_emotional.npy (speech + emotion, no blinks: what m2e outputs), the neutral
// class reads landmarks_neutral.npy of any clip (every clip's speech-only track is neutral). Torch
// stays behind this header.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "emogene/emotion/emotions.h"
#include "emogene/landmarks/landmarks.h"

namespace emogene::emotion {

constexpr int kEmoClfFormat = 1;

struct TrainEmoClfOptions {
  std::string data;            // corpus dataset (needs landmarks_emotional / landmarks_neutral)
  std::string out;             // checkpoint path (kind "emoclf")
  nlohmann::json config;       // resolved config (configs/emoclf/*.json with --set applied)
  std::string config_name;     // for provenance
  std::int64_t steps = 0;      // > 0 overrides train.steps
  bool resume = false, force = false;
};

// Held-out accuracy of a classifier on a split's ground-truth emotional landmarks, clip by clip
// (a clip's class = argmax of its mean window probabilities).
struct EmoClfEval {
  std::int64_t clips = 0;
  double accuracy = 0;                   // all clips (neutral ones included)
  std::int64_t strong_clips = 0;         // non-neutral clips at intensity >= 2/3
  double strong_accuracy = 0;
  std::array<std::array<int, kNumEmotions>, kNumEmotions> confusion{};  // [truth][predicted] counts
};

struct TrainEmoClfReport {
  std::int64_t steps = 0;
  double seconds = 0;
  double final_loss = 0;
  EmoClfEval val, test;  // clips == 0 when the dataset has no such split
};

// Trains (or resumes) and writes `out`. A dataset without landmarks_emotional.npy, or a split
// without clips, is a bad_input.
TrainEmoClfReport train_emoclf(const TrainEmoClfOptions& opt);

class EmoClassifier {
 public:
  // Loads a checkpoint; bad_input naming the file for another kind, format or landmark space.
  explicit EmoClassifier(const std::string& path, const std::string& device = "cpu");
  ~EmoClassifier();
  EmoClassifier(EmoClassifier&&) noexcept;
  const std::string& path() const;
  std::int64_t window() const;  // frames per window (at fps())
  double fps() const;           // the rate of its training data

  // Class probabilities (DESIGN order) of a landmark sequence (absolute canonical, at fps()) of an
  // identity whose neutral shape is `neutral`: the mean of the softmax over windows of window()
  // frames every window()/2 frames (the whole sequence in one window when it is shorter).
  std::array<float, kNumEmotions> probabilities(const landmarks::Sequence& lm, const landmarks::Shape& neutral) const;
  // argmax of probabilities().
  Emotion predict(const landmarks::Sequence& lm, const landmarks::Shape& neutral) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Accuracy on `split` of `data`: source "emotional" (landmarks_emotional.npy, the default) or
// "shown" (landmarks.npy, with blinks).
EmoClfEval evaluate_emoclf(const EmoClassifier& clf, const std::string& data, const std::string& split,
                           const std::string& source = "emotional");

}  // namespace emogene::emotion
