// The image metrics of DESIGN §7, defined once: PSNR and SSIM of RGB frames on the whole frame, on
// the face box and on the mouth box. Plain buffers, no LibTorch.
//
// Boxes (pixel rectangles [x0, x1) × [y0, y1), clipped to the frame) come from the frame's 2D
// landmarks (68 points in the iBUG layout, pixel coordinates):
//   face box  = bounding box of the landmark hull (all 68 points) grown by 10% of its width and
//               height on each side;
//   mouth box = bounding box of the lips (48-67) grown by 10% of the face box's width and height on
//               each side (so a closed mouth still gets a box of the lips and their surroundings).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "emogene/core/image.h"

namespace emogene::eval {

struct Box {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // [x0, x1) × [y0, y1)
  int width() const { return x1 - x0; }
  int height() const { return y1 - y0; }
  bool empty() const { return x1 <= x0 || y1 <= y0; }
};

Box whole_frame(int width, int height);
Box face_box(const std::vector<Eigen::Vector2f>& points68, int width, int height);
Box mouth_box(const std::vector<Eigen::Vector2f>& points68, int width, int height);
// Both eyes with their lids: the extent of points 36-47 grown by 5% of the face's width and height.
Box eyes_box(const std::vector<Eigen::Vector2f>& points68, int width, int height);

// Mean squared error of two RGB images (same size, 3 channels, values 0-255 scaled to [0, 1]) over
// a box. bad_input when sizes differ.
double mse(const Image& a, const Image& b, const Box& box);
// PSNR in dB over a box with peak 1: 10·log10(1 / MSE); 100 for identical pixels.
double psnr(const Image& a, const Image& b, const Box& box);
// SSIM (Wang et al. 2004) of the luma (BT.601) over a box: 7×7 uniform windows fully inside the
// box, C1 = (0.01)², C2 = (0.03)² on [0, 1] values, the mean over windows (skimage's defaults with
// use_sample_covariance). 1 for identical pixels.
double ssim(const Image& a, const Image& b, const Box& box);

// Accumulates PSNR over frames the usual way: the PSNR of the mean MSE over all frames (so a
// few perfect frames do not dominate), and also the mean of per-frame PSNRs.
struct PsnrAccumulator {
  double sum_mse = 0, sum_psnr = 0;
  std::int64_t frames = 0;
  void add(double frame_mse);
  double psnr_of_mean() const;
  double mean_psnr() const;
};

}  // namespace emogene::eval
