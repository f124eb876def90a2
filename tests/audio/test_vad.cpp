// Tests of voice activity: synthetic speech-like bursts with known edges, in silence and under a
// constant noise floor, and known-answer cases of the idle mask.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "emogene/audio/vad.h"
#include "emogene/core/error.h"

namespace emogene::audio {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kNoNoise = -std::numeric_limits<double>::infinity();

// A deterministic uniform noise source in [-1, 1].
struct Lcg {
  std::uint32_t state;
  double next() {
    state = state * 1664525u + 1013904223u;
    return (static_cast<double>(state >> 8) / (1u << 24)) * 2.0 - 1.0;
  }
};

// Speech-like sound: a harmonic tone (fundamental 100-250 Hz with a slow vibrato, harmonics
// falling as 1/k) under a syllable-rate (4 Hz) amplitude envelope, with 10 ms raised-cosine
// edges. Each burst is scaled to speech_dbfs RMS; white noise at noise_dbfs RMS (none when
// noise_dbfs is -inf) runs through the whole signal.
std::vector<float> speech_like(const std::vector<Segment>& bursts, double total, int rate, double noise_dbfs,
                               double speech_dbfs = -15.0, std::uint32_t seed = 1) {
  std::vector<float> x(static_cast<std::size_t>(std::llround(total * rate)), 0.0f);
  int b = 0;
  for (const Segment& s : bursts) {
    const double f0 = 100.0 + 150.0 * ((b * 37) % 11) / 10.0;
    const std::size_t i0 = static_cast<std::size_t>(std::llround(s.start * rate));
    const std::size_t i1 = std::min(x.size(), static_cast<std::size_t>(std::llround(s.end * rate)));
    std::vector<double> y(i1 - i0);
    double phase = 0, energy = 0;
    for (std::size_t i = i0; i < i1; ++i) {
      const double t = static_cast<double>(i) / rate - s.start;
      const double f = f0 * (1.0 + 0.03 * std::sin(2 * kPi * 3.0 * t));
      phase += 2 * kPi * f / rate;
      double v = 0;
      for (int k = 1; k <= 10 && k * f < 0.45 * rate; ++k) v += std::sin(k * phase) / k;
      double env = 0.6 + 0.4 * std::cos(2 * kPi * 4.0 * t);
      const double edge = std::min(t, s.end - s.start - t);
      if (edge < 0.01) env *= 0.5 - 0.5 * std::cos(kPi * std::max(edge, 0.0) / 0.01);
      y[i - i0] = v * env;
      energy += y[i - i0] * y[i - i0];
    }
    const double gain = std::pow(10.0, speech_dbfs / 20) / std::sqrt(energy / static_cast<double>(y.size()));
    for (std::size_t i = i0; i < i1; ++i) x[i] += static_cast<float>(gain * y[i - i0]);
    ++b;
  }
  if (std::isfinite(noise_dbfs)) {
    Lcg rng{seed};
    const double a = std::pow(10.0, noise_dbfs / 20) * std::sqrt(3.0);  // uniform: RMS = a / sqrt(3)
    for (float& v : x) v += static_cast<float>(a * rng.next());
  }
  return x;
}

void expect_well_formed(const std::vector<Segment>& segs, double duration) {
  for (std::size_t i = 0; i < segs.size(); ++i) {
    EXPECT_GE(segs[i].start, 0.0);
    EXPECT_LE(segs[i].end, duration);
    EXPECT_LT(segs[i].start, segs[i].end);
    if (i > 0) {
      EXPECT_LT(segs[i - 1].end, segs[i].start) << "sorted and disjoint";
    }
  }
}

void expect_edges(const std::vector<Segment>& got, const std::vector<Segment>& truth, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), truth.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i].start, truth[i].start, tol) << what << ", segment " << i << " start";
    EXPECT_NEAR(got[i].end, truth[i].end, tol) << what << ", segment " << i << " end";
  }
}

// Bursts of 0.75-1.25 s with silences of 0.4-1.5 s between them, edges off the 10 ms hop grid.
const std::vector<Segment> kTruth = {{0.513, 1.763}, {2.257, 3.007}, {4.531, 5.531}, {5.936, 6.686}, {7.404, 8.404}};
constexpr double kTotal = 9.0;

struct NoiseCase {
  const char* name;
  double noise_dbfs;
  int rate;
};

void PrintTo(const NoiseCase& c, std::ostream* os) { *os << c.name; }

class Vad : public testing::TestWithParam<NoiseCase> {};

TEST_P(Vad, FindsEveryBurstWithin50ms) {
  const NoiseCase c = GetParam();
  const std::vector<float> x = speech_like(kTruth, kTotal, c.rate, c.noise_dbfs);
  const std::vector<Segment> segs = detect_speech(x, c.rate);
  expect_well_formed(segs, kTotal);
  expect_edges(segs, kTruth, 0.050, c.name);  // default options, padding included

  // Without padding the edges are closer still, and padding widens each side by exactly pad.
  VadOptions unpadded;
  unpadded.pad_seconds = 0;
  const std::vector<Segment> bare = detect_speech(x, c.rate, unpadded);
  expect_edges(bare, kTruth, 0.025, std::string(c.name) + ", unpadded");
  ASSERT_EQ(bare.size(), segs.size());
  for (std::size_t i = 0; i < bare.size(); ++i) {
    EXPECT_NEAR(segs[i].start, bare[i].start - VadOptions{}.pad_seconds, 1e-9);
    EXPECT_NEAR(segs[i].end, bare[i].end + VadOptions{}.pad_seconds, 1e-9);
  }
}

INSTANTIATE_TEST_SUITE_P(Noise, Vad,
                         testing::Values(NoiseCase{"clean", kNoNoise, 16000}, NoiseCase{"noise45", -45.0, 16000},
                                         NoiseCase{"noise30", -30.0, 16000}, NoiseCase{"clean44k", kNoNoise, 44100},
                                         NoiseCase{"noise30_48k", -30.0, 48000}),
                         [](const testing::TestParamInfo<NoiseCase>& i) { return std::string(i.param.name); });

TEST(VadEdgeCases, DigitalSilenceAndEmptyInputHaveNoSpeech) {
  EXPECT_TRUE(detect_speech(std::vector<float>(48000, 0.0f), 16000).empty());
  EXPECT_TRUE(detect_speech({}, 16000).empty());
  // Quieter than the absolute floor (-60 dBFS) is never speech, however it varies.
  EXPECT_TRUE(detect_speech(speech_like(kTruth, kTotal, 16000, kNoNoise, -70.0), 16000).empty());
}

TEST(VadEdgeCases, SteadyNoiseHasNoSpeech) {
  EXPECT_TRUE(detect_speech(speech_like({}, 5.0, 16000, -30.0), 16000).empty());
  EXPECT_TRUE(detect_speech(speech_like({}, 5.0, 16000, -45.0), 16000).empty());
}

TEST(VadEdgeCases, SpeechWithoutPausesIsOneSegment) {
  // All speech, end to end: not silence, and not split at the syllable dips.
  for (double noise : {kNoNoise, -45.0}) {
    const std::vector<float> x = speech_like({{0.0, 4.0}}, 4.0, 16000, noise);
    const std::vector<Segment> segs = detect_speech(x, 16000);
    ASSERT_EQ(segs.size(), 1u) << noise;
    EXPECT_NEAR(segs[0].start, 0.0, 0.05);
    EXPECT_NEAR(segs[0].end, 4.0, 0.05);
  }
}

TEST(VadEdgeCases, SpeechAtBothEndsIsClippedToTheSignal) {
  const std::vector<Segment> truth = {{0.0, 1.0}, {2.0, 3.0}};
  const std::vector<Segment> segs = detect_speech(speech_like(truth, 3.0, 16000, -45.0), 16000);
  expect_well_formed(segs, 3.0);
  expect_edges(segs, truth, 0.05, "ends");
  EXPECT_EQ(segs.front().start, 0.0);
  EXPECT_EQ(segs.back().end, 3.0);
}

TEST(VadEdgeCases, ShortBurstsAreDroppedAndShortGapsBridged) {
  // A 60 ms blip alone, then two bursts 150 ms apart.
  const std::vector<Segment> truth = {{0.5, 0.56}, {1.5, 2.5}, {2.65, 3.5}};
  const std::vector<float> x = speech_like(truth, 4.0, 16000, -45.0);
  VadOptions o;
  o.pad_seconds = 0;
  expect_edges(detect_speech(x, 16000, o), {{1.5, 3.5}}, 0.025, "defaults");
  o.min_speech_seconds = 0.03;
  o.min_silence_seconds = 0.1;
  expect_edges(detect_speech(x, 16000, o), truth, 0.025, "shorter minimums");
}

TEST(VadEdgeCases, RejectsBadOptions) {
  VadOptions o;
  o.hop_seconds = 0;
  try {
    detect_speech(std::vector<float>(100), 16000, o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadInput);
  }
}

TEST(VadIdleMask, KnownAnswers) {
  using Mask = std::vector<std::uint8_t>;
  // Frames of 0.1 s: [0,.1) [.1,.2) [.2,.3) [.3,.4) [.4,.5)
  EXPECT_EQ(idle_mask({{0.1, 0.3}}, 5, 10), (Mask{1, 0, 0, 1, 1}));   // edges on frame edges
  EXPECT_EQ(idle_mask({{0.15, 0.25}}, 5, 10), (Mask{1, 0, 0, 1, 1}));  // inside two frames
  EXPECT_EQ(idle_mask({{0.0, 0.01}}, 5, 10), (Mask{0, 1, 1, 1, 1}));
  EXPECT_EQ(idle_mask({{0.05, 0.06}, {0.42, 9.0}}, 5, 10), (Mask{0, 1, 1, 1, 0}));
  EXPECT_EQ(idle_mask({}, 3, 25), (Mask{1, 1, 1}));
  EXPECT_EQ(idle_mask({{0.0, 100.0}}, 3, 25), (Mask{0, 0, 0}));
  EXPECT_EQ(idle_mask({{0.2, 0.2}}, 5, 10), (Mask{1, 1, 1, 1, 1}));  // empty segment
  EXPECT_EQ(idle_mask({{5.0, 6.0}}, 5, 10), (Mask{1, 1, 1, 1, 1}));  // after the last frame
  EXPECT_TRUE(idle_mask({{0.0, 1.0}}, 0, 25).empty());
  // 25 fps: a segment [0.4, 0.8) covers frames 10..19 exactly.
  const Mask m = idle_mask({{0.4, 0.8}}, 30, 25);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(m[static_cast<std::size_t>(i)], (i >= 10 && i < 20) ? 0 : 1) << i;
}

TEST(VadIdleMask, FollowsDetectedSpeech) {
  const std::vector<float> x = speech_like(kTruth, kTotal, 16000, -45.0);
  const std::int64_t frames = static_cast<std::int64_t>(std::ceil(kTotal * 25));
  const std::vector<std::uint8_t> idle = idle_mask(detect_speech(x, 16000), frames, 25);
  ASSERT_EQ(static_cast<std::int64_t>(idle.size()), frames);
  // Frames well inside a burst speak, frames well inside a pause are idle.
  for (std::int64_t i = 0; i < frames; ++i) {
    const double a = i / 25.0, b = (i + 1) / 25.0;
    bool inside = false, near = false;
    for (const Segment& s : kTruth) {
      inside = inside || (a >= s.start + 0.05 && b <= s.end - 0.05);
      near = near || (b > s.start - 0.05 && a < s.end + 0.05);
    }
    if (inside) {
      EXPECT_EQ(idle[static_cast<std::size_t>(i)], 0) << i;
    }
    if (!near) {
      EXPECT_EQ(idle[static_cast<std::size_t>(i)], 1) << i;
    }
  }
}

}  // namespace
}  // namespace emogene::audio
