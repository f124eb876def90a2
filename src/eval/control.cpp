// Control: a detector's reading of frames against the landmarks that drove them (control.h).
#include "emogene/eval/control.h"

#include <algorithm>

#include "emogene/dataset/dataset.h"
#include "emogene/eval/landmark_metrics.h"

namespace emogene::eval {

landmarks::Shape shape_from_image_points(const ImagePoints& p) {
  landmarks::Shape s;
  for (int i = 0; i < 68; ++i) {
    s(i, 0) = p[static_cast<std::size_t>(i)][0];
    s(i, 1) = -p[static_cast<std::size_t>(i)][1];
    s(i, 2) = 0;
  }
  return s;
}

void Control::add(const landmarks::Shape& driving, const ImagePoints& read) {
  const landmarks::Shape r = shape_from_image_points(read);
  gap_drive.push_back(landmarks::lip_gap(driving));
  eye_drive.push_back(landmarks::eye_openness(driving));
  gap_read.push_back(landmarks::lip_gap(r));
  eye_read.push_back(landmarks::eye_openness(r));
}

ControlStats control_stats(const Control& ctl) {
  ControlStats c;
  if (ctl.eye_drive.empty()) return c;
  c.r_gap = pearson(ctl.gap_drive, ctl.gap_read);
  c.r_eye = pearson(ctl.eye_drive, ctl.eye_read);
  std::vector<float> sorted = ctl.eye_drive;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2), sorted.end());
  const float med = sorted[sorted.size() / 2];
  double shut = 0, open = 0;
  std::int64_t n_open = 0;
  for (std::size_t i = 0; i < ctl.eye_drive.size(); ++i) {
    if (ctl.eye_drive[i] < 0.6f * med) {
      shut += ctl.eye_read[i];
      ++c.blink_frames;
    } else {
      open += ctl.eye_read[i];
      ++n_open;
    }
  }
  if (c.blink_frames > 0 && n_open > 0 && open > 0)
    c.blink_ratio = (shut / static_cast<double>(c.blink_frames)) / (open / static_cast<double>(n_open));
  return c;
}

Control control_on_dataset(const std::string& dir, const std::string& split, std::int64_t stride, const PointReader& read) {
  Control ctl;
  dataset::Dataset ds(dir);
  for (std::size_t c : ds.clips_in_split(split)) {
    const dataset::ClipData d = ds.load_clip(c, false);
    for (std::int64_t t = 0; t < d.frames(); t += std::max<std::int64_t>(1, stride)) {
      ++ctl.frames;
      const std::optional<ImagePoints> p = read(read_png(ds.clip_frame_path(c, t)));
      if (!p) continue;
      ++ctl.detected;
      ctl.add(d.landmarks.frame(t), *p);
    }
  }
  return ctl;
}

}  // namespace emogene::eval
