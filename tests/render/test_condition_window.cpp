// The NeRF condition window's one rule (issue 26 §4): centred, clamped to the clip, the same by
// index and by time, at the clip edges and in the middle.
#include <gtest/gtest.h>

#include <vector>

#include "emogene/core/error.h"
#include "emogene/render/condition_window.h"

using emogene::render::condition_window_at;
using emogene::render::condition_window_indices;
using V = std::vector<std::int64_t>;

TEST(ConditionWindow, CentredAndClampedToTheClip) {
  // A clip of frames 10..19 inside a longer take: the window never leaves it.
  EXPECT_EQ(condition_window_indices(10, 5, 10, 19), (V{10, 10, 10, 11, 12}));
  EXPECT_EQ(condition_window_indices(11, 5, 10, 19), (V{10, 10, 11, 12, 13}));
  EXPECT_EQ(condition_window_indices(15, 5, 10, 19), (V{13, 14, 15, 16, 17}));
  EXPECT_EQ(condition_window_indices(18, 5, 10, 19), (V{16, 17, 18, 19, 19}));
  EXPECT_EQ(condition_window_indices(19, 5, 10, 19), (V{17, 18, 19, 19, 19}));
  EXPECT_EQ(condition_window_indices(0, 1, 0, 0), (V{0}));
  EXPECT_EQ(condition_window_indices(0, 3, 0, 0), (V{0, 0, 0}));
  EXPECT_THROW(condition_window_indices(9, 5, 10, 19), emogene::Error);   // not in its clip
  EXPECT_THROW(condition_window_indices(12, 4, 10, 19), emogene::Error);  // even window
}

TEST(ConditionWindow, ByTimeMatchesByIndexAtFrameTimesAndInterpolatesBetween) {
  const std::int64_t T = 7, W = 5;
  const double fps = 25;
  // Frame f holds the value f + p / 1000 at value index p.
  std::vector<float> lm(static_cast<std::size_t>(T) * 204);
  for (std::int64_t f = 0; f < T; ++f)
    for (int p = 0; p < 204; ++p) lm[static_cast<std::size_t>(f * 204 + p)] = static_cast<float>(f) + static_cast<float>(p) / 1000.f;
  std::vector<float> out(static_cast<std::size_t>(W) * 204);
  for (std::int64_t i = 0; i < T; ++i) {
    condition_window_at(lm.data(), T, fps, (static_cast<double>(i) + 0.5) / fps, W, out.data());
    const V idx = condition_window_indices(i, W, 0, T - 1);
    for (std::int64_t k = 0; k < W; ++k)
      for (int p = 0; p < 204; p += 50)
        EXPECT_EQ(out[static_cast<std::size_t>(k * 204 + p)], lm[static_cast<std::size_t>(idx[static_cast<std::size_t>(k)] * 204 + p)])
            << "frame " << i << " slot " << k;
  }
  // Halfway between frames 3 and 4: every slot halfway between its two frames (clamped at the end).
  condition_window_at(lm.data(), T, fps, 4.0 / fps, W, out.data());
  const float want[5] = {1.5f, 2.5f, 3.5f, 4.5f, 5.5f};
  for (int k = 0; k < W; ++k) EXPECT_NEAR(out[static_cast<std::size_t>(k * 204)], want[k], 1e-6f) << k;
  condition_window_at(lm.data(), T, fps, 6.4 / fps, W, out.data());  // past the last frame's centre
  EXPECT_NEAR(out[204 * 4], 6.0f, 1e-6f);
  EXPECT_NEAR(out[204 * 2], 5.9f, 1e-5f);
  EXPECT_NEAR(out[204 * 3], 6.0f, 1e-6f);
  EXPECT_NEAR(out[0], 3.9f, 1e-5f);
}
