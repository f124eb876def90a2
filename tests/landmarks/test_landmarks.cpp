#include <gtest/gtest.h>

#include <cmath>

#include "emogene/landmarks/landmarks.h"

using namespace emogene::landmarks;

TEST(MeanFace, FollowsTheCanonicalSpace) {
  const Shape& m = mean_face();
  // Origin at the midpoint of the inner eye corners, unit the outer eye corner distance.
  Eigen::RowVector3f mid = 0.5f * (m.row(39) + m.row(42));
  EXPECT_NEAR(mid.norm(), 0.f, 1e-6f);
  EXPECT_NEAR(iod(m), 1.f, 1e-6f);
  // +x towards the subject's left: the right eye (36-41) has x < 0, and +y up: brows above eyes,
  // mouth below the nose; +z towards the camera: the nose tip in front of the eyes.
  for (int i = 36; i < 42; ++i) EXPECT_LT(m(i, 0), 0.f) << i;
  for (int i = 42; i < 48; ++i) EXPECT_GT(m(i, 0), 0.f) << i;
  EXPECT_GT(m(19, 1), m(37, 1));
  EXPECT_LT(m(51, 1), m(33, 1));
  EXPECT_LT(m(8, 1), m(57, 1));
  EXPECT_GT(m(30, 2), m(39, 2));
  // Anthropometric ratios (Farkas 1994): mouth 52/90, intercanthal 32/90, face height n-gn 120/90.
  EXPECT_NEAR((m.row(48) - m.row(54)).norm(), 52.f / 90.f, 1e-3f);
  EXPECT_NEAR((m.row(39) - m.row(42)).norm(), 32.f / 90.f, 1e-3f);
  EXPECT_NEAR(m(27, 1) - m(8, 1), 117.f / 90.f, 1e-3f);
  // Mirror symmetric, closed mouth, open eyes with a typical eye aspect ratio.
  EXPECT_NEAR(m(0, 0), -m(16, 0), 1e-6f);
  EXPECT_NEAR(m(0, 1), m(16, 1), 1e-6f);
  EXPECT_NEAR(lip_gap(m), 0.f, 1e-6f);
  EXPECT_GT(eye_openness(m), 0.2f);
  EXPECT_LT(eye_openness(m), 0.35f);
  EXPECT_NEAR(eye_openness_left(m), eye_openness_right(m), 1e-6f);
}

static Eigen::Matrix3f rotation(float yaw_deg, float pitch_deg, float roll_deg) {
  const float k = static_cast<float>(M_PI) / 180.f;
  return (Eigen::AngleAxisf(yaw_deg * k, Eigen::Vector3f::UnitY()) *
          Eigen::AngleAxisf(pitch_deg * k, Eigen::Vector3f::UnitX()) *
          Eigen::AngleAxisf(roll_deg * k, Eigen::Vector3f::UnitZ()))
      .toRotationMatrix();
}

TEST(Canonical, FitRigidRecoversAKnownPose) {
  Rigid truth;
  truth.R = rotation(20, -10, 5);
  truth.t = {0.3f, -0.2f, -7.f};
  Shape moved = truth.apply(mean_face());
  Rigid fit = fit_rigid(mean_face(), moved);
  EXPECT_LT((fit.R - truth.R).norm(), 1e-5f);
  EXPECT_LT((fit.t - truth.t).norm(), 1e-5f);
  EXPECT_NEAR(fit.R.determinant(), 1.f, 1e-5f);
  Shape back = fit.inverse().apply(moved);
  EXPECT_LT((back - mean_face()).norm(), 1e-5f);
}

TEST(Canonical, PoseIsRemovedButBlinksAndScaleOfTheIdentityStay) {
  // An identity measured in millimetres (scale 63), posed; one frame blinks.
  const float mm = 63.f;
  Shape neutral_c = mean_face();
  Shape blink = neutral_c;
  for (int i : {37, 38}) blink(i, 1) = neutral_c(41, 1);  // upper lid down to the lower lid
  for (int i : {43, 44}) blink(i, 1) = neutral_c(47, 1);
  Rigid pose;
  pose.R = rotation(-15, 8, -4);
  pose.t = {12.f, 40.f, -500.f};
  Shape neutral_measured = pose.apply(Shape(neutral_c * mm));
  Shape blink_measured = pose.apply(Shape(blink * mm));
  Shape canon = to_canonical(blink_measured, neutral_measured, neutral_c);
  EXPECT_LT((canon - blink).cwiseAbs().maxCoeff(), 1e-4f);
  EXPECT_LT(eye_openness(canon), 0.02f);  // the blink is expression, not normalised away
  // Per-identity normalisation of a neutral in any units.
  Shape n = normalise_identity(Shape(neutral_c * mm + Eigen::RowVector3f(5, 6, 7).replicate<kPoints, 1>()));
  EXPECT_LT((n - neutral_c).cwiseAbs().maxCoeff(), 1e-5f);
}

TEST(Metrics, KnownAnswers) {
  Shape s = mean_face();
  // Open the mouth: lower inner lip down by 0.2 IOD.
  for (int i : {65, 66, 67}) s(i, 1) -= 0.2f;
  EXPECT_NEAR(lip_gap(s), 0.2f, 1e-6f);
  Shape big = s * 2.f;
  EXPECT_NEAR(lip_gap(big), 0.2f, 1e-6f);  // relative to IOD
  EXPECT_NEAR(iod(big), 2.f, 1e-6f);
}

TEST(Time, FrameCountAndCentres) {
  EXPECT_EQ(frame_count(10.0, 25), 250);
  EXPECT_EQ(frame_count(0.999, 25), 25);
  EXPECT_EQ(frame_count(1.0001, 25), 26);
  EXPECT_EQ(frame_count(0, 25), 0);
  EXPECT_EQ(frame_count(3.0, 29.97), 90);
}

TEST(Time, LinearResamplingByFrameCentres) {
  // Input at 25 fps holds its own centre time: value(i) = (i + 0.5) / 25.
  std::vector<float> in(25);
  for (int i = 0; i < 25; ++i) in[i] = (i + 0.5f) / 25.f;
  auto out = resample_linear(in, 1, 25, 50, 50);
  for (int j = 1; j < 49; ++j) EXPECT_NEAR(out[j], (j + 0.5f) / 50.f, 1e-6f) << j;
  EXPECT_NEAR(out[0], 0.5f / 25.f, 1e-6f);  // clamped at the start
  auto same = resample_linear(in, 1, 25, 25, 25);
  for (int j = 0; j < 25; ++j) EXPECT_FLOAT_EQ(same[j], in[j]);
  Sequence seq = Sequence::zeros(10);
  seq.frame(4)(30, 1) = 1.f;
  // 25 → 75 fps: output frame 13's centre (13.5 / 75 = 0.18 s) is input frame 4's centre (4.5 / 25);
  // output frame 12's centre (0.1667 s) lies two thirds of the way from input frame 3 to 4.
  Sequence up = resample(seq, 25, 75, 30);
  EXPECT_EQ(up.frames(), 30);
  EXPECT_NEAR(up.frame(13)(30, 1), 1.f, 1e-6f);
  EXPECT_NEAR(up.frame(12)(30, 1), 2.f / 3.f, 1e-5f);
  EXPECT_NEAR(up.frame(14)(30, 1), 2.f / 3.f, 1e-5f);
}

TEST(Time, PosesSlerp) {
  using M4 = Eigen::Matrix<float, 4, 4, Eigen::RowMajor>;
  std::vector<float> poses(32);
  M4 a = M4::Identity(), b = M4::Identity();
  b.block<3, 3>(0, 0) = rotation(40, 0, 0);
  a(2, 3) = -8;
  b(2, 3) = -6;
  std::copy(a.data(), a.data() + 16, poses.begin());
  std::copy(b.data(), b.data() + 16, poses.begin() + 16);
  // 1 fps in, 2 fps out: output frame 1 (centre 0.75 s) lies a quarter of the way from 0.5 to 1.5.
  auto out = resample_poses(poses, 1, 2, 4);
  Eigen::Map<const M4> o(out.data() + 16);
  Eigen::Matrix3f expect = rotation(10, 0, 0);
  EXPECT_LT((o.block<3, 3>(0, 0) - expect).norm(), 1e-5f);
  EXPECT_NEAR(o(2, 3), -7.5f, 1e-5f);
  EXPECT_NEAR(o(3, 3), 1.f, 0.f);
}
