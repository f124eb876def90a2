// Private to emotion_model: the training data m2e and emoclf read, and shared checkpoint helpers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "emogene/core/image.h"
#include "emogene/dataset/dataset.h"
#include "emogene/landmarks/landmarks.h"

namespace emogene::emotion::detail {

// One clip as time-aligned neutral / emotional pairs relative to the identity's neutral shape.
struct PairClip {
  std::size_t index = 0;      // in the dataset's clip list
  std::int64_t frames = 0;
  int emotion = 0;            // dominant (dataset.json), DESIGN order
  double level = 0;           // clip intensity (dataset.json)
  landmarks::Shape shape;     // the identity's neutral shape
  std::vector<float> disp;    // [T, 204] landmarks_neutral − shape
  std::vector<float> delta;   // [T, 204] landmarks_emotional − landmarks_neutral
  std::vector<float> weights; // [T, 8]
  std::vector<float> intensity;  // [T]
};

// Loads every clip of `split`; bad_input naming the dataset for an empty split or a clip without
// landmarks_neutral.npy / landmarks_emotional.npy (`who` names the trainer in the message).
std::vector<PairClip> load_pairs(const dataset::Dataset& ds, const std::string& split, const std::string& who);

// Replaces the clip's per-frame track by its nominal condition: every frame the one-hot of its
// dominant emotion at the clip's level (intensity 0 for a neutral clip), as a SPEC "emotion@level"
// gives it at inference.
void use_clip_condition(PairClip& p);

// "emogene.provenance": data, steps, date, git commit, config name.
std::string provenance(const std::string& data, std::int64_t steps, const std::string& config_name);

// Frontal drawings of several shapes (canonical units) overlaid on one panel, one colour each.
Image overlay_panel(const std::vector<landmarks::Shape>& shapes, const std::vector<std::array<std::uint8_t, 3>>& colours,
                    int size = 320);
// Panels side by side.
Image hstack(const std::vector<Image>& panels);

// Mean over the 68 points of |a − b| / IOD(ref).
double frame_distance(const float* a, const float* b, const landmarks::Shape& ref);

}  // namespace emogene::emotion::detail
