// Private to subject/: polygon helpers and resampling shared by the pipeline and its pieces.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "emogene/core/image.h"

namespace emogene::subject {

// Convex hull (counter-clockwise in a y-up frame), no repeated first point.
std::vector<Eigen::Vector2f> convex_hull(std::vector<Eigen::Vector2f> p);
// Sets m[y·W + x] = value for the pixel centres inside the polygon (even-odd rule).
void fill_polygon(std::vector<std::uint8_t>& m, int W, int H, const std::vector<Eigen::Vector2f>& poly, std::uint8_t value);
// The region [x0, x0 + sw) × [y0, y0 + sh) of an RGB image resampled to ow × oh (triangle filter
// as wide as the scale; edges replicated).
Image resample_region(const std::uint8_t* rgb, int width, int height, double x0, double y0, double sw, double sh, int ow,
                      int oh);

}  // namespace emogene::subject
