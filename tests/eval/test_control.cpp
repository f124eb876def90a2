// Control (eval/control.h): a detector's image points measured as landmarks are, and the
// statistics of a reading against the driving landmarks, on known answers.
#include <gtest/gtest.h>

#include <cmath>

#include "emogene/eval/control.h"
#include "emogene/landmarks/landmarks.h"

using namespace emogene;

TEST(Control, ImagePointsMeasureLikeTheLandmarksTheyShow) {
  // The mean face with the mouth open and one eye half shut, drawn frontally at 90 px per unit.
  landmarks::Shape s = landmarks::mean_face();
  for (int i : {65, 66, 67}) s(i, 1) -= 0.12f;
  for (int i : {37, 38}) s(i, 1) -= 0.02f;
  s.col(2).setZero();  // a frontal drawing shows x and y only
  eval::ImagePoints p{};
  for (int i = 0; i < 68; ++i) p[static_cast<std::size_t>(i)] = {128.f + 90.f * s(i, 0), 120.f - 90.f * s(i, 1)};
  const landmarks::Shape r = eval::shape_from_image_points(p);
  EXPECT_NEAR(landmarks::lip_gap(r), landmarks::lip_gap(s), 1e-5);
  EXPECT_NEAR(landmarks::eye_openness(r), landmarks::eye_openness(s), 1e-5);
  EXPECT_GT(landmarks::lip_gap(r), 0.1f);  // open, not upside down
}

TEST(Control, StatisticsOnKnownReadings) {
  eval::Control c;
  for (int t = 0; t < 20; ++t) {
    const bool blink = t % 10 == 4;
    c.gap_drive.push_back(0.1f * std::sin(0.7f * t));
    c.gap_read.push_back(0.25f * std::sin(0.7f * t) + 0.03f);  // scaled and offset: r = 1
    c.eye_drive.push_back(blink ? 0.05f : 0.3f);
    c.eye_read.push_back(blink ? 0.06f : 0.24f);
  }
  const eval::ControlStats st = eval::control_stats(c);
  EXPECT_NEAR(st.r_gap, 1.0, 1e-6);
  EXPECT_NEAR(st.r_eye, 1.0, 1e-6);
  EXPECT_EQ(st.blink_frames, 2);
  EXPECT_NEAR(st.blink_ratio, 0.06 / 0.24, 1e-6);
  // A reading that ignores the drive: no correlation to speak of, and blinks not seen.
  eval::Control flat = c;
  for (std::size_t i = 0; i < flat.eye_read.size(); ++i) flat.eye_read[i] = 0.2f + 0.01f * static_cast<float>(i % 3);
  EXPECT_LT(std::fabs(eval::control_stats(flat).r_eye), 0.3);
  EXPECT_GT(eval::control_stats(flat).blink_ratio, 0.9);
  EXPECT_EQ(eval::control_stats(eval::Control{}).blink_frames, 0);
}
