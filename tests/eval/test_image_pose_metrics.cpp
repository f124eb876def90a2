// PSNR / SSIM and their boxes (image_metrics.h), pose velocity and acceleration (pose_metrics.h):
// known answers.
#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <cmath>

#include "emogene/eval/image_metrics.h"
#include "emogene/eval/pose_metrics.h"

using namespace emogene;

namespace {

Image flat(int w, int h, std::uint8_t v) {
  Image im;
  im.width = w;
  im.height = h;
  im.pixels.assign(static_cast<std::size_t>(w * h * 3), v);
  return im;
}

}  // namespace

TEST(ImageMetrics, PsnrKnownAnswers) {
  const Image a = flat(32, 16, 0), b = flat(32, 16, 51);  // every value off by 0.2: MSE 0.04
  EXPECT_NEAR(eval::mse(a, b, eval::whole_frame(32, 16)), 0.04, 1e-12);
  EXPECT_NEAR(eval::psnr(a, b, eval::whole_frame(32, 16)), -10 * std::log10(0.04), 1e-9);
  EXPECT_EQ(eval::psnr(a, a, eval::whole_frame(32, 16)), 100.0);
  // Only the box counts: a difference outside it changes nothing.
  Image c = a;
  for (int x = 0; x < 8; ++x) c.pixels[static_cast<std::size_t>(x * 3)] = 255;  // row 0, x < 8
  EXPECT_EQ(eval::psnr(a, c, {0, 1, 32, 16}), 100.0);
  EXPECT_NEAR(eval::mse(a, c, {0, 0, 8, 1}), 1.0 / 3.0, 1e-12);
  eval::PsnrAccumulator acc;
  acc.add(0.01);
  acc.add(0.0001);
  EXPECT_NEAR(acc.psnr_of_mean(), -10 * std::log10(0.00505), 1e-9);
  EXPECT_NEAR(acc.mean_psnr(), 30.0, 1e-9);
}

TEST(ImageMetrics, SsimIsOneForEqualImagesAndKnownForAFlatOffset) {
  Image a = flat(24, 24, 0);
  for (std::size_t i = 0; i < a.pixels.size(); ++i) a.pixels[i] = static_cast<std::uint8_t>((i * 37) % 251);
  EXPECT_NEAR(eval::ssim(a, a, eval::whole_frame(24, 24)), 1.0, 1e-12);
  // Flat images: variances 0, so SSIM = (2 μa μb + C1) / (μa² + μb² + C1).
  const Image f1 = flat(16, 16, 51), f2 = flat(16, 16, 102);
  const double ma = 0.2, mb = 0.4, c1 = 1e-4;
  EXPECT_NEAR(eval::ssim(f1, f2, eval::whole_frame(16, 16)), (2 * ma * mb + c1) / (ma * ma + mb * mb + c1), 1e-9);
  Image noisy = a;
  for (std::size_t i = 0; i < noisy.pixels.size(); i += 7) noisy.pixels[i] = static_cast<std::uint8_t>(255 - noisy.pixels[i]);
  EXPECT_LT(eval::ssim(a, noisy, eval::whole_frame(24, 24)), 0.95);
}

TEST(ImageMetrics, FaceAndMouthBoxesGrowTheLandmarkBoxes) {
  std::vector<Eigen::Vector2f> p(68, Eigen::Vector2f(50, 50));
  p[0] = {20, 30};
  p[16] = {120, 30};
  p[8] = {70, 130};  // face extent 100 x 100 from (20, 30)
  for (int i = 48; i < 68; ++i) p[static_cast<std::size_t>(i)] = {60.f + static_cast<float>(i % 3) * 10, 100.f + static_cast<float>(i % 2) * 6};
  const eval::Box f = eval::face_box(p, 256, 256);
  EXPECT_EQ(f.x0, 10);
  EXPECT_EQ(f.x1, 130);
  EXPECT_EQ(f.y0, 20);
  EXPECT_EQ(f.y1, 140);
  const eval::Box m = eval::mouth_box(p, 256, 256);  // lips 60-80 x 100-106, grown by 10 px
  EXPECT_EQ(m.x0, 50);
  EXPECT_EQ(m.x1, 90);
  EXPECT_EQ(m.y0, 90);
  EXPECT_EQ(m.y1, 116);
  for (int i = 36; i < 48; ++i) p[static_cast<std::size_t>(i)] = {40.f + static_cast<float>(i - 36) * 5, 60.f + static_cast<float>(i % 2) * 4};
  const eval::Box e = eval::eyes_box(p, 256, 256);  // eyes 40-95 x 60-64, grown by 5 px
  EXPECT_EQ(e.x0, 35);
  EXPECT_EQ(e.x1, 100);
  EXPECT_EQ(e.y0, 55);
  EXPECT_EQ(e.y1, 69);
  const eval::Box clipped = eval::face_box(p, 100, 100);
  EXPECT_EQ(clipped.x1, 100);
  EXPECT_EQ(clipped.y1, 100);
}

TEST(PoseMetrics, ConstantTurnHasItsVelocityAndNoAcceleration) {
  const int T = 50;
  std::vector<float> poses(T * 16, 0.f);
  for (int i = 0; i < T; ++i) {
    const Eigen::Matrix3d R = Eigen::AngleAxisd(i * M_PI / 180.0, Eigen::Vector3d::UnitY()).toRotationMatrix();
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) poses[static_cast<std::size_t>(i * 16 + r * 4 + c)] = static_cast<float>(R(r, c));
    poses[static_cast<std::size_t>(i * 16 + 3)] = 0.01f * static_cast<float>(i * i);  // constant acceleration 0.02
    poses[static_cast<std::size_t>(i * 16 + 11)] = -8;
    poses[static_cast<std::size_t>(i * 16 + 15)] = 1;
  }
  const eval::MotionStats m = eval::pose_motion(poses, {});
  EXPECT_EQ(m.steps, T - 1);
  EXPECT_NEAR(m.rot_vel_mean, 1.0, 1e-3);
  EXPECT_NEAR(m.rot_vel_std, 0.0, 1e-3);
  EXPECT_NEAR(m.rot_acc_mean, 0.0, 2e-2);
  EXPECT_NEAR(m.trans_acc_mean, 0.02, 1e-4);
  // A mask keeps only its frames' steps.
  std::vector<std::uint8_t> mask(T, 0);
  for (int i = 10; i < 20; ++i) mask[static_cast<std::size_t>(i)] = 1;
  EXPECT_EQ(eval::pose_motion(poses, mask).steps, 9);
}
