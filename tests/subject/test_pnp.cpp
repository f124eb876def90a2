// face/pnp: known-answer head poses from the projected mean face, noise robustness, the clip focal
// length; and prepare's pieces: zero-lag smoothing, the crop window, the background model.
#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <random>

#include "emogene/face/pnp.h"
#include "emogene/landmarks/landmarks.h"
#include "emogene/subject/prepare.h"

using namespace emogene;

namespace {

constexpr double kDeg = M_PI / 180;

face::HeadPose pose_of(double yaw, double pitch, double roll, Eigen::Vector3d t) {
  face::HeadPose P;
  P.R = (Eigen::AngleAxisd(yaw * kDeg, Eigen::Vector3d::UnitY()) * Eigen::AngleAxisd(pitch * kDeg, Eigen::Vector3d::UnitX()) *
         Eigen::AngleAxisd(roll * kDeg, Eigen::Vector3d::UnitZ()))
            .toRotationMatrix();
  P.t = t;
  return P;
}

face::Points2 project_shape(const landmarks::Shape& s, const face::HeadPose& P, const face::Intrinsics& K, double noise,
                            std::mt19937_64& rng) {
  std::normal_distribution<double> n(0, noise);
  face::Points2 uv;
  for (int i = 0; i < 68; ++i) {
    Eigen::Vector2d q = face::project(P.R * Eigen::Vector3d(s(i, 0), s(i, 1), s(i, 2)) + P.t, K);
    uv[static_cast<std::size_t>(i)] = {static_cast<float>(q.x() + n(rng)), static_cast<float>(q.y() + n(rng))};
  }
  return uv;
}

double angle_deg(const Eigen::Matrix3d& a, const Eigen::Matrix3d& b) {
  return Eigen::AngleAxisd(a.transpose() * b).angle() / kDeg;
}

}  // namespace

TEST(Pnp, RecoversKnownPosesExactly) {
  const face::Intrinsics K{560, 560, 128, 128};
  std::mt19937_64 rng(1);
  double worst = 0, worst_t = 0;
  for (double yaw : {-40.0, -20.0, 0.0, 15.0, 35.0})
    for (double pitch : {-20.0, 0.0, 12.0})
      for (double roll : {-15.0, 0.0, 10.0}) {
        const face::HeadPose P = pose_of(yaw, pitch, roll, {0.3, 0.2, -8.5});
        const face::Points2 uv = project_shape(landmarks::mean_face(), P, K, 0, rng);
        face::PnpResult r = face::solve_pnp(uv, landmarks::mean_face(), K);
        ASSERT_TRUE(r.ok);
        worst = std::max(worst, angle_deg(r.pose.R, P.R));
        worst_t = std::max(worst_t, (r.pose.t - P.t).norm());
        EXPECT_LT(r.rms, 1e-3);
      }
  std::printf("[ figures ] PnP noise-free, yaw ±40° pitch ±20° roll ±15°: worst rotation error %.2e°, translation %.2e\n",
              worst, worst_t);
  EXPECT_LT(worst, 0.1);
  EXPECT_LT(worst_t, 1e-3);
}

TEST(Pnp, RobustToLandmarkNoiseAndOutliers) {
  // 1.5 px noise (≈ 2% of the 70 px inter-ocular distance: dlib's jitter); then the same frames
  // with one wild point each: the Huber weights keep the outlier from moving the answer much.
  const face::Intrinsics K{560, 560, 128, 128};
  auto run = [&](bool outlier) {
    std::mt19937_64 rng(2);
    std::vector<double> err;
    for (int k = 0; k < 300; ++k) {
      std::uniform_real_distribution<double> u(-1, 1);
      const face::HeadPose P = pose_of(30 * u(rng), 15 * u(rng), 10 * u(rng), {0.3 * u(rng), 0.3 * u(rng), -8 + u(rng)});
      face::Points2 uv = project_shape(landmarks::mean_face(), P, K, 1.5, rng);
      if (outlier) uv[static_cast<std::size_t>(17 + k % 51)][0] += 25;
      face::PnpResult r = face::solve_pnp(uv, landmarks::mean_face(), K);
      EXPECT_TRUE(r.ok);
      err.push_back(angle_deg(r.pose.R, P.R));
    }
    std::sort(err.begin(), err.end());
    return std::make_pair(err[err.size() / 2], err[err.size() * 95 / 100]);
  };
  auto [med, p95] = run(false);
  auto [med_o, p95_o] = run(true);
  std::printf("[ figures ] PnP one frame, 1.5 px noise: rotation error median %.2f°, p95 %.2f°; plus a 25 px outlier: "
              "median %.2f°, p95 %.2f°\n", med, p95, med_o, p95_o);
  EXPECT_LT(med, 2.5);
  EXPECT_LT(med_o, 1.25 * med);
  EXPECT_LT(p95_o, 1.25 * p95);
}

TEST(Pnp, TrackingStartGivesTheSameAnswer) {
  const face::Intrinsics K{500, 500, 160, 120};
  std::mt19937_64 rng(3);
  const face::HeadPose P = pose_of(20, -10, 5, {0.1, -0.2, -7});
  const face::Points2 uv = project_shape(landmarks::mean_face(), P, K, 0, rng);
  const face::HeadPose init = pose_of(15, -5, 0, {0, 0, -7.5});
  face::PnpResult r = face::solve_pnp(uv, landmarks::mean_face(), K, &init);
  EXPECT_LT(angle_deg(r.pose.R, P.R), 0.01);
}

TEST(Pnp, MatrixRoundTripFollowsDesignConventions) {
  face::HeadPose P = pose_of(10, 20, 30, {1, 2, -3});
  auto m = P.matrix();
  EXPECT_EQ(m[15], 1.f);
  EXPECT_NEAR(m[3], 1, 1e-6);
  EXPECT_NEAR(m[11], -3, 1e-6);
  face::HeadPose Q = face::HeadPose::from_matrix(m.data());
  EXPECT_LT(angle_deg(P.R, Q.R), 1e-4);
  // Frontal head: x right → u grows, y up → v shrinks.
  const face::Intrinsics K{100, 100, 50, 50};
  Eigen::Vector2d a = face::project({0.5, 0.5, -5}, K);
  EXPECT_GT(a.x(), 50);
  EXPECT_LT(a.y(), 50);
}

TEST(Pnp, FocalIsRefinedWhereTheDataConstrainIt) {
  // Perspective from close: a clip with yaw and pitch variety at a true focal 1.5× the prior.
  const int W = 320, H = 240;
  const double prior = face::focal_prior(W, H), f_true = 1.5 * prior;
  const face::Intrinsics K{f_true, f_true, W / 2.0, H / 2.0};
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<face::Points2> frames;
  const double d = f_true / 90.0;  // an inter-ocular distance of ~90 px
  for (int k = 0; k < 100; ++k)
    frames.push_back(project_shape(landmarks::mean_face(), pose_of(30 * u(rng), 15 * u(rng), 5 * u(rng), {0.2 * u(rng), 0, -d}), K,
                                   0.5, rng));
  face::FocalFit fit = face::refine_focal(frames, landmarks::mean_face(), W / 2.0, H / 2.0, prior);
  std::printf("[ figures ] focal: true %.0f, prior %.0f → %.0f (data log-spread %.3f)\n", f_true, prior, fit.focal, fit.data_log_std);
  EXPECT_NEAR(fit.focal / f_true, 1.0, 0.1);
  // A far face (weak perspective): the data say little, the focal stays near the prior.
  std::vector<face::Points2> far;
  for (int k = 0; k < 100; ++k)
    far.push_back(project_shape(landmarks::mean_face(), pose_of(30 * u(rng), 15 * u(rng), 0, {0, 0, -f_true / 20.0}), K, 0.5, rng));
  face::FocalFit fit2 = face::refine_focal(far, landmarks::mean_face(), W / 2.0, H / 2.0, prior);
  std::printf("[ figures ] focal, far face: true %.0f, prior %.0f → %.0f (data log-spread %.3f)\n", f_true, prior, fit2.focal,
              fit2.data_log_std);
  EXPECT_GT(fit2.data_log_std, fit.data_log_std);
}

TEST(Identity, ProportionsSeparateALongNoseFromAPitchedHead) {
  // A subject with a long nose, a short lower face and low brows (3 of the 9 proportions, within
  // the population's ±2 sd), seen in 60 frames with small head motion and 0.7 px landmark noise.
  landmarks::ProportionScores z_true{};
  z_true[landmarks::kNoseLength] = 1.8f;
  z_true[landmarks::kLowerFaceHeight] = -1.2f;
  z_true[landmarks::kBrowHeight] = -1.0f;
  z_true[landmarks::kMouthWidth] = 0.8f;
  const landmarks::Shape own = landmarks::apply_proportions(z_true);
  EXPECT_EQ(landmarks::apply_proportions({}), landmarks::mean_face());  // zero scores: the mean face
  EXPECT_NEAR(landmarks::iod(own), 1.0, 1e-5);
  const face::Intrinsics K{560, 560, 128, 128};
  std::mt19937_64 rng(12);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<face::Points2> frames;
  std::vector<face::HeadPose> truth;
  for (int k = 0; k < 60; ++k) {
    truth.push_back(pose_of(12 * u(rng), 4 + 5 * u(rng), 3 * u(rng), {0.1 * u(rng), 0.3, -9.0}));
    frames.push_back(project_shape(own, truth.back(), K, 0.7, rng));
  }
  std::vector<double> e_mean, e_own, e_fit;
  for (int k = 0; k < 60; ++k) {
    e_mean.push_back(angle_deg(face::solve_pnp(frames[k], landmarks::mean_face(), K).pose.R, truth[k].R));
    e_own.push_back(angle_deg(face::solve_pnp(frames[k], own, K).pose.R, truth[k].R));  // the oracle: the true shape
  }
  const face::IdentityFit fit = face::fit_identity(frames, K);
  ASSERT_EQ(fit.poses.size(), frames.size());
  for (int k = 0; k < 60; ++k) e_fit.push_back(angle_deg(fit.poses[k].R, truth[k].R));
  std::sort(e_mean.begin(), e_mean.end());
  std::sort(e_fit.begin(), e_fit.end());
  std::sort(e_own.begin(), e_own.end());
  std::printf("[ figures ] identity fit: rotation error median %.2f° (PnP against the mean face %.2f°, against the true shape %.2f°); nose length %+.2f sd (true "
              "%+.2f), lower face %+.2f (%+.2f); reprojection %.2f%% IOD (mean face %.2f%%)\n",
              e_fit[30], e_mean[30], e_own[30], fit.z[landmarks::kNoseLength], z_true[landmarks::kNoseLength], fit.z[landmarks::kLowerFaceHeight],
              z_true[landmarks::kLowerFaceHeight], 100 * fit.rms_iod, 100 * fit.rms_iod_mean_face);
  EXPECT_GT(e_mean[30], 3.0);  // the mean face alone reads the long nose as pitch
  EXPECT_LT(e_fit[30], e_own[30] + 0.5);  // near the oracle, whose error is the landmark noise's
  for (int k = 0; k < landmarks::kProportions; ++k)
    EXPECT_NEAR(fit.z[static_cast<std::size_t>(k)], z_true[static_cast<std::size_t>(k)], 0.35) << landmarks::proportion_name(k);
  EXPECT_LT(fit.rms_iod, fit.rms_iod_mean_face);
  // No frames: the mean face, nothing else.
  EXPECT_EQ(face::fit_identity({}, K).shape, landmarks::mean_face());
}

TEST(Smoothing, NoLagAndLessNoise) {
  // A quadratic passes unchanged (no lag, no shrinkage); a noisy sine keeps its phase.
  std::vector<double> q;
  for (int t = 0; t < 50; ++t) q.push_back(0.3 * t * t - 2 * t + 1);
  std::vector<double> sq = subject::smooth_zero_lag(q, 1, 3);
  for (std::size_t t = 0; t < q.size(); ++t) EXPECT_NEAR(sq[t], q[t], 1e-6) << t;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> n(0, 0.2);
  std::vector<double> clean, noisy;
  for (int t = 0; t < 400; ++t) {
    clean.push_back(std::sin(2 * M_PI * t / 40.0));
    noisy.push_back(clean.back() + n(rng));
  }
  std::vector<double> s = subject::smooth_zero_lag(noisy, 1, 3);
  double e_raw = 0, e_s = 0;
  for (std::size_t t = 0; t < s.size(); ++t) e_raw += std::pow(noisy[t] - clean[t], 2), e_s += std::pow(s[t] - clean[t], 2);
  EXPECT_LT(e_s, 0.5 * e_raw);
  int best_lag = 99;
  double best = -1e9;
  for (int lag = -5; lag <= 5; ++lag) {
    double c = 0;
    for (int t = 10; t < 390; ++t) c += s[static_cast<std::size_t>(t)] * clean[static_cast<std::size_t>(t + lag)];
    if (c > best) best = c, best_lag = lag;
  }
  EXPECT_EQ(best_lag, 0);
}

TEST(Smoothing, PosesStayRotations) {
  std::vector<float> poses;
  std::mt19937_64 rng(6);
  std::normal_distribution<double> n(0, 1);
  for (int t = 0; t < 60; ++t) {
    face::HeadPose P = pose_of(10 * std::sin(t / 10.0) + n(rng), n(rng), n(rng), {0, 0, -8});
    auto m = P.matrix();
    poses.insert(poses.end(), m.begin(), m.end());
  }
  std::vector<float> s = subject::smooth_poses(poses, 4);
  for (int t = 0; t < 60; ++t) {
    face::HeadPose P = face::HeadPose::from_matrix(&s[static_cast<std::size_t>(t) * 16]);
    EXPECT_NEAR((P.R * P.R.transpose() - Eigen::Matrix3d::Identity()).norm(), 0, 1e-5);
    const double yaw = std::atan2(P.R(0, 2), P.R(2, 2)) / kDeg;
    EXPECT_NEAR(yaw, 10 * std::sin(t / 10.0), 1.5) << t;
  }
}

TEST(Crop, FixedWindowKeepsHeadAndShoulders) {
  // A face ~100 px wide moving ±40 px in a 1280×720 frame.
  std::vector<face::Points2> faces;
  for (int k = 0; k < 100; ++k) {
    face::Points2 p{};
    const float dx = 40.f * std::sin(k / 10.f), cx = 700 + dx, cy = 300;
    const auto& M = landmarks::mean_face();
    for (int i = 0; i < 68; ++i) p[static_cast<std::size_t>(i)] = {cx + 70 * M(i, 0), cy - 70 * M(i, 1)};
    faces.push_back(p);
  }
  subject::CropWindow c = subject::choose_crop(faces, 1280, 720, 256);
  const double jaw = faces[0][16][0] - faces[0][0][0];
  EXPECT_NEAR(c.side, std::max(jaw / 0.4, 80 + 2 * jaw), 2.0);
  EXPECT_GE(c.x0, 0);
  EXPECT_GE(c.y0, 0);
  EXPECT_LE(c.x0 + c.side, 1280);
  EXPECT_LE(c.y0 + c.side, 720);
  // Every face's landmarks inside the window, with room for hair above the brows.
  for (const auto& p : faces)
    for (const auto& q : p) {
      Eigen::Vector2d o = c.to_output(q[0], q[1]);
      EXPECT_GT(o.x(), 0);
      EXPECT_LT(o.x(), 256);
      EXPECT_GT(o.y(), 256 * 0.15);
      EXPECT_LT(o.y(), 256);
    }
  // Intrinsics follow the window: a point projects to the same output pixel either way.
  face::Intrinsics K{1400, 1400, 640, 360}, Ko = c.apply(K);
  Eigen::Vector3d p(0.3, -0.2, -9);
  Eigen::Vector2d a = face::project(p, K), b = face::project(p, Ko), a2 = c.to_output(a.x(), a.y());
  EXPECT_NEAR((a2 - b).norm(), 0, 1e-9);
  // A portrait frame narrower than the ideal window: the window shrinks to fit.
  subject::CropWindow c2 = subject::choose_crop(faces, 760, 1200, 256);
  EXPECT_LE(c2.side, 760);
  EXPECT_GE(c2.x0, 0);
  EXPECT_LE(c2.x0 + c2.side, 760 + 1e-9);
}

TEST(Crop, ResampleKeepsAFlatImageAndShrinksByArea) {
  std::vector<std::uint8_t> rgb(400 * 300 * 3);
  for (int y = 0; y < 300; ++y)
    for (int x = 0; x < 400; ++x)
      for (int c = 0; c < 3; ++c) rgb[(static_cast<std::size_t>(y) * 400 + x) * 3 + c] = static_cast<std::uint8_t>(((x + y) % 2) * 200);
  subject::CropWindow w;
  w.x0 = 50, w.y0 = 20, w.side = 256, w.size = 64;
  Image img = subject::crop_resample(rgb.data(), 400, 300, w);
  ASSERT_EQ(img.width, 64);
  for (std::uint8_t v : img.pixels) EXPECT_NEAR(v, 100, 3);  // a checkerboard averages to grey
}

TEST(Crop, SameScaleCutOutIsExactAndAgreesWithTheFilter) {
  std::vector<std::uint8_t> rgb(90 * 70 * 3);
  std::mt19937_64 rng(2);
  for (auto& v : rgb) v = static_cast<std::uint8_t>(rng());
  subject::CropWindow w;
  w.x0 = 7, w.y0 = 5, w.side = 48, w.size = 48;
  Image img = subject::crop_resample(rgb.data(), 90, 70, w);
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 48; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(img.pixels[(static_cast<std::size_t>(y) * 48 + x) * 3 + c], rgb[(static_cast<std::size_t>(y + 5) * 90 + x + 7) * 3 + c]);
  // The filtered path a hair away from the same window gives the same pixels to within rounding.
  w.x0 = 7 + 1e-6;
  Image near = subject::crop_resample(rgb.data(), 90, 70, w);
  int worst = 0;
  for (std::size_t i = 0; i < img.pixels.size(); ++i) worst = std::max(worst, std::abs(img.pixels[i] - near.pixels[i]));
  EXPECT_LE(worst, 1);
}

TEST(Masks, MajorityVoteRemovesSpecksAndFillsPinholes) {
  // Foreground = differs from the background; a lone speck goes, a pinhole in a block fills.
  const int S = 32;
  Image bg{S, S, 3, std::vector<std::uint8_t>(S * S * 3, 50)}, fr = bg;
  auto set = [&](int x, int y, std::uint8_t v) { for (int c = 0; c < 3; ++c) fr.pixels[(static_cast<std::size_t>(y) * S + x) * 3 + c] = v; };
  set(3, 3, 200);  // speck
  for (int y = 20; y < 32; ++y)
    for (int x = 10; x < 30; ++x) set(x, y, 200);  // body block reaching the bottom edge
  set(15, 25, 50);  // pinhole
  Image m = subject::make_mask(fr, bg, {}, {}, 0.f);  // no face or head outline: the foreground is torso
  auto at = [&](int x, int y) { return m.pixels[static_cast<std::size_t>(y) * S + x]; };
  EXPECT_EQ(at(3, 3), 0);
  EXPECT_EQ(at(15, 25), 1);
  EXPECT_EQ(at(10, 31), 1);  // block corner on the edge: 4 of 9 in the block, edges replicated make 6
  EXPECT_EQ(at(9, 25), 0);
  EXPECT_EQ(at(0, 0), 0);
}

TEST(Background, MedianOutsideThePriorAndFilledWhereNeverSeen) {
  const int S = 64;
  auto bg_at = [](int x, int y, int c) { return static_cast<std::uint8_t>(40 + 2 * x + y + 30 * c); };
  std::vector<Image> frames, priors;
  for (int k = 0; k < 20; ++k) {
    Image f{S, S, 3, std::vector<std::uint8_t>(S * S * 3)}, p{S, S, 1, std::vector<std::uint8_t>(S * S, 0)};
    const int ox = 5 + 2 * k;  // a moving square "head" ...
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x) {
        const bool head = x >= ox && x < ox + 16 && y >= 10 && y < 26;
        const bool body = x >= 24 && x < 40 && y >= 44;  // ... and a body that never moves
        for (int c = 0; c < 3; ++c)
          f.pixels[(static_cast<std::size_t>(y) * S + x) * 3 + c] = head ? 250 : (body ? 10 : bg_at(x, y, c));
        p.pixels[static_cast<std::size_t>(y) * S + x] = (x >= ox - 2 && x < ox + 18 && y >= 8 && y < 28) || (x >= 22 && x < 42 && y >= 42);
      }
    frames.push_back(f);
    priors.push_back(p);
  }
  std::vector<std::uint8_t> seen;
  Image bg = subject::estimate_background(frames, priors, &seen);
  double err_seen = 0, err_fill = 0;
  int n_seen = 0, n_fill = 0;
  for (int y = 0; y < S; ++y)
    for (int x = 0; x < S; ++x)
      for (int c = 0; c < 3; ++c) {
        const double e = std::fabs(bg.pixels[(static_cast<std::size_t>(y) * S + x) * 3 + c] - bg_at(x, y, c));
        if (seen[static_cast<std::size_t>(y) * S + x]) err_seen += e, n_seen++;
        else err_fill += e, n_fill++;
      }
  EXPECT_GT(n_fill, 0);
  EXPECT_EQ(err_seen / n_seen, 0);            // exact where observed
  EXPECT_LT(err_fill / n_fill, 12.0);         // a smooth fill under the body (the gradient is 2/px)
  std::printf("[ figures ] background: exact where seen; never-seen pixels filled to %.1f levels mean error\n", err_fill / n_fill);
}

TEST(Stretches, RunsOfAValue) {
  std::vector<std::uint8_t> m{1, 1, 0, 0, 0, 1, 0, 1, 1, 1};
  auto s = subject::stretches(m, 1, 2);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].first, 0);
  EXPECT_EQ(s[0].count, 2);
  EXPECT_EQ(s[1].first, 7);
  EXPECT_EQ(s[1].count, 3);
}

