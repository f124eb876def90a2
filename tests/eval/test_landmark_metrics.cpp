#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "emogene/eval/landmark_metrics.h"

using namespace emogene;
using landmarks::Sequence;

TEST(LandmarkMetrics, LmdKnownAnswer) {
  Sequence ref, pred;
  for (int t = 0; t < 3; ++t) {
    landmarks::Shape s = landmarks::mean_face() * 2.f;  // IOD 2
    ref.push_back(s);
    landmarks::Shape p = s;
    for (int i = 48; i < 68; ++i) p(i, 0) += 0.1f * static_cast<float>(t);  // mouth moved by 0.1 t
    pred.push_back(p);
  }
  // Mouth: mean over frames of 0.1 t / 2 = (0 + 0.05 + 0.1) / 3.
  EXPECT_NEAR(eval::mouth_lmd(pred, ref), 0.05, 1e-6);
  // Face: 20 of 68 points moved.
  EXPECT_NEAR(eval::face_lmd(pred, ref), 0.05 * 20.0 / 68.0, 1e-6);
  EXPECT_NEAR(eval::face_lmd(ref, ref), 0.0, 0.0);
  Sequence shorter = ref;
  shorter.data.resize(shorter.data.size() - 68 * 3);
  EXPECT_ANY_THROW(eval::lmd(shorter, ref, 0, 68));
}

TEST(LandmarkMetrics, PearsonAndEnvelope) {
  std::vector<float> a = {1, 2, 3, 4}, b = {2, 4, 6, 8}, c = {4, 3, 2, 1}, k = {1, 1, 1, 1};
  EXPECT_NEAR(eval::pearson(a, b), 1.0, 1e-12);
  EXPECT_NEAR(eval::pearson(a, c), -1.0, 1e-12);
  EXPECT_EQ(eval::pearson(a, k), 0.0);
  // 1 s of audio at 100 Hz: silent first half, a constant 0.5 in the second.
  std::vector<float> mono(100, 0.f);
  for (int i = 50; i < 100; ++i) mono[static_cast<std::size_t>(i)] = 0.5f;
  auto env = eval::audio_envelope(mono, 100, 4, 4);
  EXPECT_EQ(env, (std::vector<float>{0.f, 0.f, 0.5f, 0.5f}));
}

TEST(Metrics, LagCorrelationFindsAKnownDelay) {
  // b follows a by 3 frames.
  std::vector<float> a(200), b(200);
  for (int i = 0; i < 200; ++i) a[static_cast<std::size_t>(i)] = static_cast<float>(std::sin(0.37 * i) + std::sin(0.11 * i * i / 50.0));
  for (int i = 0; i < 200; ++i) b[static_cast<std::size_t>(i)] = i >= 3 ? a[static_cast<std::size_t>(i - 3)] : 0.f;
  eval::LagCorrelation lc = eval::lag_correlation(a, b, 5);
  EXPECT_EQ(lc.lag, 3);
  EXPECT_NEAR(lc.r_at_lag, 1.0, 1e-9);
  EXPECT_LT(lc.r0, 0.9);
  eval::LagCorrelation back = eval::lag_correlation(b, a, 5);
  EXPECT_EQ(back.lag, -3);
}

namespace {

// A noise-like track (no period within ±5 frames) and the same track delayed by `shift` frames
// (shift > 0: b[i] = a[i - shift]; the frames shifted in from outside are other noise).
std::pair<std::vector<float>, std::vector<float>> shifted_pair(int shift, int n = 150) {
  std::vector<float> base(static_cast<std::size_t>(n + 20));
  std::uint32_t s = 12345;
  for (auto& v : base) {
    s = s * 1664525u + 1013904223u;
    v = static_cast<float>(s >> 8) / static_cast<float>(1u << 24) - 0.5f;
  }
  std::vector<float> a(static_cast<std::size_t>(n)), b(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    a[static_cast<std::size_t>(i)] = base[static_cast<std::size_t>(i + 10)];
    b[static_cast<std::size_t>(i)] = base[static_cast<std::size_t>(i + 10 - shift)];
  }
  return {a, b};
}

}  // namespace

TEST(Metrics, LagCorrelationFindsPlantedShiftsBothWays) {
  for (int shift : {2, -3, 0, 5, -5, 1}) {
    const auto [a, b] = shifted_pair(shift);
    const eval::LagCorrelation lc = eval::lag_correlation(a, b, 5);
    EXPECT_EQ(lc.lag, shift);
    EXPECT_NEAR(lc.r_at_lag, 1.0, 1e-9) << shift;
    if (shift != 0) {
      EXPECT_LT(std::abs(lc.r0), 0.3) << shift;  // white noise: unrelated when misaligned
    }
  }
  // A shift beyond the search (7 > 5): no lag in range explains it, so the best r stays small.
  const auto [a, b] = shifted_pair(7);
  const eval::LagCorrelation far = eval::lag_correlation(a, b, 5);
  EXPECT_LE(std::abs(far.lag), 5);
  EXPECT_LT(far.r_at_lag, 0.4);
  EXPECT_EQ(eval::lag_correlation(a, b, 7).lag, 7);
  // The best lag's r is never below the unshifted r (lag 0 is searched too).
  EXPECT_GE(far.r_at_lag, far.r0);
}
