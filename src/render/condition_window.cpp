// The subject NeRF's condition window (condition_window.h).
#include "emogene/render/condition_window.h"

#include <algorithm>
#include <cmath>

#include "emogene/core/error.h"

namespace emogene::render {

namespace {
constexpr std::int64_t kValues = 68 * 3;
constexpr const char* kWhere = "condition window";
}  // namespace

std::vector<std::int64_t> condition_window_indices(std::int64_t centre, std::int64_t window, std::int64_t first,
                                                   std::int64_t last) {
  check_input(window >= 1 && window % 2 == 1, kWhere, "the window must be odd, got " + std::to_string(window));
  check_input(first <= last && centre >= first && centre <= last, kWhere,
              "frame " + std::to_string(centre) + " is outside its clip [" + std::to_string(first) + ", " + std::to_string(last) + "]");
  std::vector<std::int64_t> idx(static_cast<std::size_t>(window));
  for (std::int64_t k = 0; k < window; ++k) idx[static_cast<std::size_t>(k)] = std::clamp(centre + k - window / 2, first, last);
  return idx;
}

void condition_window_at(const float* landmarks, std::int64_t frames, double fps, double time, std::int64_t window,
                         float* out) {
  check_input(window >= 1 && window % 2 == 1, kWhere, "the window must be odd, got " + std::to_string(window));
  check_input(frames >= 1 && fps > 0, kWhere, "needs at least one frame and a positive frame rate");
  const double centre = time * fps - 0.5;
  // A centre within rounding of a whole frame is that frame: no interpolation noise at the frame
  // times every caller uses.
  const double whole = std::round(centre);
  const double x0 = std::fabs(centre - whole) < 1e-9 ? whole : centre;
  for (std::int64_t k = 0; k < window; ++k) {
    const double x = x0 + static_cast<double>(k - window / 2);
    const std::int64_t i0 = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor(x)), 0, frames - 1);
    const std::int64_t i1 = std::min(i0 + 1, frames - 1);
    const double a = std::clamp(x - static_cast<double>(i0), 0.0, 1.0);
    const float* p = landmarks + i0 * kValues;
    const float* q = landmarks + i1 * kValues;
    float* o = out + k * kValues;
    for (std::int64_t v = 0; v < kValues; ++v) o[v] = a == 0 ? p[v] : static_cast<float>((1 - a) * p[v] + a * q[v]);
  }
}

}  // namespace emogene::render
