// The landmark-audio sync expert: training (`emogene train sync`) and its use as a metric (DESIGN
// §7 "Sync": the expert's confidence and best offset). Torch stays behind this header.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "emogene/features/features.h"
#include "emogene/landmarks/landmarks.h"

namespace emogene::motion {

constexpr int kSyncFormat = 1;

struct TrainSyncOptions {
  std::string data, out;
  nlohmann::json config;
  std::string config_name;
  std::int64_t steps = 0;
  bool resume = false, force = false;
};
struct TrainSyncReport {
  std::int64_t steps = 0;
  double seconds = 0;
};
// Trains (or resumes) on a corpus dataset and writes `out` (kind "sync"); reports the held-out
// accuracy curve at the end when the dataset has a test split.
TrainSyncReport train_sync(const TrainSyncOptions& opt);

// How well a landmark track follows an audio track, by the expert. Offsets are in video frames at
// the given fps; offset o > 0 compares audio at t with the mouth at t + o/fps (mouth lagging).
struct SyncScore {
  std::vector<int> offsets;          // -max..max
  std::vector<double> cosine;        // mean cosine of all windows at each offset
  int best_offset = 0;               // argmax of cosine
  double confidence = 0;             // mean in-sync probability at offset 0
  double margin = 0;                 // cosine at the best offset minus the median over offsets
  std::int64_t windows = 0;
};

// Accuracy of the expert at telling aligned from shifted windows, per offset (video frames):
// at 0 the share judged in sync, elsewhere the share judged out of sync.
struct SyncCurve {
  std::vector<int> offsets;
  std::vector<double> accuracy;
  std::int64_t windows = 0;
  double auc_like = 0;  // mean of the off-zero accuracies and the zero accuracy, weighted equally
};

class SyncExpert {
 public:
  explicit SyncExpert(const std::string& path);
  ~SyncExpert();
  SyncExpert(SyncExpert&&) noexcept;
  const features::FrontEndInfo& front_end() const;
  // bad_input naming the checkpoint when `actual` is another front end.
  void check_front_end(const features::FrontEndInfo& actual) const;
  const std::string& path() const;

  // Scores `landmarks` (absolute canonical, at fps) against audio features, relative to `neutral`.
  SyncScore score(const features::Features& f, const landmarks::Sequence& lm, const landmarks::Shape& neutral, double fps,
                  int max_offset = 10) const;
  // The accuracy curve on a dataset split's true neutral landmarks.
  SyncCurve curve(const std::string& data, const std::string& split, const features::FeatureExtractor& ex,
                  const std::vector<int>& offsets = {-5, -2, -1, 0, 1, 2, 5}) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Adds score curves over several clips (cosines weighted by window count) and recomputes the best
// offset, confidence and margin.
SyncScore combine(const std::vector<SyncScore>& parts);

}  // namespace emogene::motion
