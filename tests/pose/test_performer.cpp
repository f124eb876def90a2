// The performer (pose/performer.h): runs, pose replay from the bank, no jumps at cuts, idle mouths,
// blinks at the subject's rate, the LLE projection onto the subject's landmarks, determinism.
#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <cmath>
#include <random>
#include <utility>

#include "emogene/landmarks/landmarks.h"
#include "emogene/pose/performer.h"

using namespace emogene;
using pose::perform;
using pose::PerformerOptions;
using pose::SubjectTake;

namespace {

constexpr double kFps = 25;

void put_pose(std::vector<float>& poses, std::int64_t i, double yaw, double pitch, double tx) {
  const Eigen::Matrix3d R = (Eigen::AngleAxisd(yaw, Eigen::Vector3d::UnitY()) * Eigen::AngleAxisd(pitch, Eigen::Vector3d::UnitX())).toRotationMatrix();
  float* m = poses.data() + i * 16;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) m[r * 4 + c] = static_cast<float>(R(r, c));
  m[3] = static_cast<float>(tx);
  m[7] = 0;
  m[11] = -8;
  m[12] = m[13] = m[14] = 0;
  m[15] = 1;
}

double angle_between(const float* a, const float* b) {
  Eigen::Matrix3d A, B;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) {
      A(r, c) = a[r * 4 + c];
      B(r, c) = b[r * 4 + c];
    }
  return Eigen::AngleAxisd(A.transpose() * B).angle();
}

// A take of 40 s in 4 clips: speaking stretches sway widely (yaw ±0.25 rad at 0.5 Hz), idle ones
// barely (±0.03 rad); the mean face with blinks (eyelids shut) every 3 s for 0.2 s.
SubjectTake make_take() {
  SubjectTake t;
  t.fps = kFps;
  const std::int64_t T = 1000;
  t.poses.assign(T * 16, 0.f);
  const landmarks::Shape& mf = landmarks::mean_face();
  for (std::int64_t i = 0; i < T; ++i) {
    const bool idle = (i % 250) >= 180;  // last 70 frames of each 10 s clip are idle
    const double s = static_cast<double>(i) / kFps;
    if (idle)
      put_pose(t.poses, i, 0.03 * std::sin(2 * M_PI * 0.2 * s), 0.01 * std::cos(2 * M_PI * 0.3 * s), 0.01);
    else
      put_pose(t.poses, i, 0.25 * std::sin(2 * M_PI * 0.5 * s), 0.05 * std::sin(2 * M_PI * 0.7 * s), 0.1 * std::sin(s));
    t.idle.push_back(idle ? 1 : 0);
    t.clip.push_back(static_cast<std::int32_t>(i / 250));
    landmarks::Shape f = mf;
    f(62, 1) += 0.05f * static_cast<float>(std::sin(7 * s));  // some mouth motion
    const double ph = std::fmod(s, 3.0);
    if (ph >= 1.0 && ph < 1.2)
      for (int p : {37, 38, 43, 44}) f(p, 1) = f(p == 37 ? 41 : p == 38 ? 40 : p == 43 ? 47 : 46, 1);
    t.landmarks.push_back(f);
    t.in_database.push_back(1);
  }
  return t;
}

landmarks::Sequence talking(std::int64_t T, float open) {
  landmarks::Sequence s;
  for (std::int64_t i = 0; i < T; ++i) {
    landmarks::Shape f = landmarks::mean_face();
    const float g = open * static_cast<float>(0.5 + 0.5 * std::sin(0.9 * static_cast<double>(i)));
    for (int p : {61, 62, 63}) f(p, 1) += 0.5f * g;
    for (int p : {65, 66, 67}) f(p, 1) -= 0.5f * g;
    s.push_back(f);
  }
  return s;
}

double inner_gap(const float* s) {
  return ((s[61 * 3 + 1] - s[67 * 3 + 1]) + (s[62 * 3 + 1] - s[66 * 3 + 1]) + (s[63 * 3 + 1] - s[65 * 3 + 1])) / 3.0;
}

}  // namespace

TEST(Performer, RunsOfAMaskStayInsideClips) {
  const std::vector<std::uint8_t> idle = {0, 0, 1, 1, 1, 0, 0, 0};
  const auto r = pose::runs_of(idle);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].first, 0);
  EXPECT_EQ(r[0].count, 2);
  EXPECT_FALSE(r[0].idle);
  EXPECT_EQ(r[1].first, 2);
  EXPECT_EQ(r[1].count, 3);
  EXPECT_TRUE(r[1].idle);
  const auto rc = pose::runs_of(idle, {0, 0, 0, 1, 1, 1, 1, 1});
  ASSERT_EQ(rc.size(), 4u);  // the idle run is cut at the clip boundary
  EXPECT_EQ(rc[1].count, 1);
  EXPECT_EQ(rc[2].count, 2);
}

TEST(Performer, MeasuresTheTakesBlinks) {
  const SubjectTake t = make_take();
  const pose::BlinkStats b = pose::measure_blinks(t.landmarks, kFps);
  EXPECT_NEAR(b.mean_interval, 3.0, 0.05);
  EXPECT_EQ(b.blinks, 13);  // 1.0 s, 4.0 s, ..., 37.0 s
  EXPECT_NEAR(b.mean_duration, 0.4, 0.05);  // shut 0.2 s → blink about twice as long
}

TEST(Performer, IdleStretchesReplayIdlePosesWithoutJumps) {
  const SubjectTake take = make_take();
  const std::int64_t T = 500;  // 20 s: speaking, a 4 s pause, speaking, a 6 s pause
  std::vector<std::uint8_t> idle(T, 0);
  for (std::int64_t i = 150; i < 250; ++i) idle[static_cast<std::size_t>(i)] = 1;
  for (std::int64_t i = 350; i < 500; ++i) idle[static_cast<std::size_t>(i)] = 1;
  const landmarks::Sequence lm = talking(T, 0.3f);
  PerformerOptions o;
  o.seed = 3;
  o.lle_strength = 0;
  const pose::Performance p = perform(lm, lm, landmarks::mean_face(), idle, take, o);
  ASSERT_EQ(p.poses.size(), static_cast<std::size_t>(T * 16));
  // Frame-to-frame rotation: never more than the take's own largest step (speech, 0.25 rad at
  // 0.5 Hz: 0.031 rad/frame) plus the correction fade's share.
  double max_step = 0, idle_speed = 0, speech_speed = 0;
  int n_idle = 0, n_speech = 0;
  for (std::int64_t i = 1; i < T; ++i) {
    const double a = angle_between(p.poses.data() + (i - 1) * 16, p.poses.data() + i * 16);
    max_step = std::max(max_step, a);
    const bool both_idle = idle[static_cast<std::size_t>(i)] && idle[static_cast<std::size_t>(i - 1)];
    (both_idle ? idle_speed : speech_speed) += a;
    (both_idle ? n_idle : n_speech) += 1;
  }
  EXPECT_LT(max_step, 0.045);
  // Idle stretches move much less than speech, as the subject's own idle poses do.
  EXPECT_LT(idle_speed / n_idle, 0.3 * speech_speed / n_speech);
  // Deep inside a pause (past the 0.4 s correction fade at its start), each pose is one of the
  // take's idle poses carried by a constant correction at most: its rotation step is one of the
  // take's idle steps, so never larger than the largest of them (about 0.0017 rad/frame here,
  // against 0.031 in speech).
  double take_idle_step = 0;
  for (std::int64_t i = 1; i < take.frames(); ++i)
    if (take.idle[static_cast<std::size_t>(i)] && take.idle[static_cast<std::size_t>(i - 1)] &&
        take.clip[static_cast<std::size_t>(i)] == take.clip[static_cast<std::size_t>(i - 1)])
      take_idle_step = std::max(take_idle_step, angle_between(take.poses.data() + (i - 1) * 16, take.poses.data() + i * 16));
  ASSERT_GT(take_idle_step, 0.0);
  ASSERT_LT(take_idle_step, 0.003);
  double deep_step = 0;
  for (const auto& [from, to] : {std::pair<std::int64_t, std::int64_t>{165, 250}, {365, 500}})
    for (std::int64_t i = from; i < to; ++i)
      deep_step = std::max(deep_step, angle_between(p.poses.data() + (i - 1) * 16, p.poses.data() + i * 16));
  EXPECT_GT(deep_step, 0.0);  // the idle poses do move
  EXPECT_LE(deep_step, take_idle_step * 1.01 + 1e-6);
  // The mouth is closed and relaxed (the mean face's gap: 0) deep inside the pauses.
  for (std::int64_t i = 170; i < 230; ++i) EXPECT_NEAR(inner_gap(p.landmarks.data.data() + i * 204), inner_gap(landmarks::mean_face().data()), 1e-4);
  // ... and speech keeps its mouth.
  double g = 0;
  for (std::int64_t i = 0; i < 140; ++i) g = std::max(g, inner_gap(p.landmarks.data.data() + i * 204));
  EXPECT_GT(g, 0.25);
}

TEST(Performer, LongerThanTheBankReadsItBackAndForth) {
  SubjectTake take = make_take();
  const std::int64_t T = 2000;  // 80 s of speech, longer than every speaking run of the take
  const landmarks::Sequence lm = talking(T, 0.3f);
  PerformerOptions o;
  o.lle_strength = 0;
  o.blinks = false;
  const pose::Performance p = perform(lm, lm, landmarks::mean_face(), std::vector<std::uint8_t>(T, 0), take, o);
  double max_step = 0;
  for (std::int64_t i = 1; i < T; ++i) max_step = std::max(max_step, angle_between(p.poses.data() + (i - 1) * 16, p.poses.data() + i * 16));
  EXPECT_LT(max_step, 0.035);  // mirrored indexing: no wrap-around jump
}

TEST(Performer, BlinksAtTheSubjectsRateAndSeeded) {
  const SubjectTake take = make_take();
  const std::int64_t T = 1500;  // 60 s of silence
  const landmarks::Sequence lm = talking(T, 0.f);
  PerformerOptions o;
  o.seed = 11;
  o.lle_strength = 0;
  const std::vector<std::uint8_t> idle(T, 1);
  const pose::Performance a = perform(lm, lm, landmarks::mean_face(), idle, take, o);
  int onsets = 0;
  for (std::int64_t i = 1; i < T; ++i)
    if (a.blink[static_cast<std::size_t>(i)] < 0.5f && a.blink[static_cast<std::size_t>(i - 1)] >= 0.5f) ++onsets;
  EXPECT_GE(onsets, 14);  // about 60 s / 3 s = 20
  EXPECT_LE(onsets, 27);
  // A blink closes the eyes in the landmarks.
  std::int64_t shut = 0;
  for (std::int64_t i = 0; i < T; ++i)
    if (a.blink[static_cast<std::size_t>(i)] < a.blink[static_cast<std::size_t>(shut)]) shut = i;
  landmarks::Shape s = Eigen::Map<const landmarks::Shape>(a.landmarks.data.data() + shut * 204);
  EXPECT_LT(landmarks::eye_openness(s), 0.5 * landmarks::eye_openness(landmarks::mean_face()));
  // Same seed: same bytes; another seed: other poses and blinks.
  const pose::Performance b = perform(lm, lm, landmarks::mean_face(), idle, take, o);
  EXPECT_EQ(a.poses, b.poses);
  EXPECT_EQ(a.blink, b.blink);
  EXPECT_EQ(a.landmarks.data, b.landmarks.data);
  o.seed = 12;
  const pose::Performance c = perform(lm, lm, landmarks::mean_face(), idle, take, o);
  EXPECT_NE(a.poses, c.poses);
  EXPECT_NE(a.blink, c.blink);
}

TEST(Performer, ProjectsOntoTheSubjectsRangeAndWarnsWhenFar) {
  SubjectTake take = make_take();
  // A frame of the database comes back unchanged (LLE rebuilds it from itself).
  const std::int64_t T = 50;
  landmarks::Sequence in;
  for (std::int64_t i = 0; i < T; ++i) in.push_back(Eigen::Map<const landmarks::Shape>(take.landmarks.data.data() + (i * 7 % 1000) * 204));
  PerformerOptions o;
  o.lle_strength = 1;
  o.blinks = false;
  o.idle = false;
  const pose::Performance p = perform(in, in, landmarks::mean_face(), std::vector<std::uint8_t>(T, 0), take, o);
  double worst = 0;
  for (std::size_t k = 0; k < in.data.size(); ++k) worst = std::max(worst, static_cast<double>(std::abs(p.landmarks.data[k] - in.data[k])));
  EXPECT_LT(worst, 2e-3);
  EXPECT_FALSE(p.far_from_database);
  // A grotesque expression (mouth 1 IOD wide open) is far outside the take: flagged, and pulled
  // towards the subject's own shapes by the strength asked for.
  landmarks::Sequence wide;
  for (std::int64_t i = 0; i < T; ++i) {
    landmarks::Shape f = landmarks::mean_face();
    for (int q = 56; q <= 58; ++q) f(q, 1) -= 1.0f;
    for (int q = 65; q <= 67; ++q) f(q, 1) -= 1.0f;
    wide.push_back(f);
  }
  o.lle_strength = 0.5;
  const pose::Performance w = perform(wide, wide, landmarks::mean_face(), std::vector<std::uint8_t>(T, 0), take, o);
  EXPECT_TRUE(w.far_from_database);
  EXPECT_GT(w.database_distance, 3 * w.database_spread);
  const double before = wide.data[66 * 3 + 1], after = w.landmarks.data[66 * 3 + 1];
  EXPECT_GT(after, before + 0.3);  // half of the way back towards the take's mouths
}

TEST(Performer, RefusesMismatchedInput) {
  const SubjectTake take = make_take();
  const landmarks::Sequence lm = talking(10, 0.1f);
  EXPECT_THROW(perform(lm, lm, landmarks::mean_face(), std::vector<std::uint8_t>(9, 0), take, {}), std::exception);
  EXPECT_THROW(perform(lm, talking(11, 0.1f), landmarks::mean_face(), std::vector<std::uint8_t>(10, 0), take, {}), std::exception);
  EXPECT_THROW(perform(lm, lm, landmarks::mean_face(), std::vector<std::uint8_t>(10, 0), SubjectTake{}, {}), std::exception);
}
