// Control (issue 8; docs/architecture.md, "Quality metrics"): how well rendered (or true) frames
// show the landmarks that drove them, as a 68-point detector reads them back (dlib in the CLI):
// lip gap and eye openness of the reading against the driving landmarks' (Pearson r), and the
// read eye openness at the driving blinks relative to the open frames'. Plain data: the detector
// is the caller's.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "emogene/core/image.h"
#include "emogene/landmarks/landmarks.h"

namespace emogene::eval {

// 68 image points (pixels, y down), as a detector gives them.
using ImagePoints = std::array<std::array<float, 2>, 68>;

// The points as a shape in the landmark metrics' convention (y up, z 0), so lip_gap and
// eye_openness measure them as they measure canonical landmarks (both are ratios to the IOD).
landmarks::Shape shape_from_image_points(const ImagePoints& p);

struct Control {
  std::vector<float> gap_drive, gap_read, eye_drive, eye_read;
  std::int64_t frames = 0, detected = 0;
  // One frame: its driving landmarks and the detector's reading of the image.
  void add(const landmarks::Shape& driving, const ImagePoints& read);
};

struct ControlStats {
  double r_gap = 0, r_eye = 0;
  std::int64_t blink_frames = 0;  // driving eye openness under 0.6 of its median
  double blink_ratio = 0;         // read eye openness at those frames / at the others
};
ControlStats control_stats(const Control& c);

// The same reading of a dataset split's true frames (every stride-th) against their own landmarks:
// what the measurement itself can see, a ceiling for the renders' figures. `read` returns the
// detector's points, or nothing when it finds no face.
using PointReader = std::function<std::optional<ImagePoints>(const Image&)>;
Control control_on_dataset(const std::string& dir, const std::string& split, std::int64_t stride, const PointReader& read);

}  // namespace emogene::eval
