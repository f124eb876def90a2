// The mel front end: frame grid, torchaudio's mel power as an independent reference, known answers
// (a pure tone peaks in its band), loudness invariance, pieces equal to a whole pass, bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "emogene/audio/audio.h"
#include "emogene/core/error.h"
#include "emogene/core/npy.h"
#include "emogene/core/runtime.h"
#include "emogene/features/mel.h"

using namespace emogene;
using namespace emogene::features;

namespace {

const std::string kFixtures = EMOGENE_FEATURE_FIXTURES;

std::vector<float> tone(double hz, double seconds, float amp = 0.5f) {
  std::vector<float> x(static_cast<std::size_t>(seconds * kSampleRate));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = amp * static_cast<float>(std::sin(2 * M_PI * hz * i / kSampleRate));
  return x;
}

float max_abs_diff(const Features& a, const Features& b) {
  EXPECT_EQ(a.frames, b.frames);
  EXPECT_EQ(a.dim, b.dim);
  float m = 0;
  for (std::size_t i = 0; i < std::min(a.data.size(), b.data.size()); ++i) m = std::max(m, std::fabs(a.data[i] - b.data[i]));
  return m;
}

}  // namespace

TEST(FrameGrid, CountsAndCentreTimes) {
  EXPECT_EQ(frames_for_samples(0), 0);
  EXPECT_EQ(frames_for_samples(399), 0);
  EXPECT_EQ(frames_for_samples(400), 1);
  EXPECT_EQ(frames_for_samples(719), 1);
  EXPECT_EQ(frames_for_samples(720), 2);
  EXPECT_EQ(frames_for_samples(16000), 49);
  EXPECT_EQ(frames_for_samples(160000), 499);  // 10 s: HuBERT's 499 frames
  EXPECT_DOUBLE_EQ(frame_centre_time(0), 0.0125);
  EXPECT_DOUBLE_EQ(frame_centre_time(1), 0.0325);
  EXPECT_DOUBLE_EQ(frame_centre_time(100), (320.0 * 100 + 200) / 16000);
  MelExtractor mel;
  EXPECT_EQ(mel.dim(), 80);
  EXPECT_EQ(mel.name(), "mel");
  EXPECT_DOUBLE_EQ(mel.frame_rate(), 50.0);
  EXPECT_DOUBLE_EQ(mel.frame_time(3), frame_centre_time(3));
}

TEST(Mel, PowerMatchesTorchaudio) {
  // torchaudio's MelSpectrogram pads the 400-sample window to n_fft = 512 in the middle: its frame j
  // is our frame j of the signal shifted by 56 samples (the power spectrum ignores where the zeros are).
  Array audio = read_npy(kFixtures + "/audio.npy");
  Array ref = read_npy(kFixtures + "/mel_power_torchaudio.npy");
  std::vector<float> x = audio.to_float();
  std::vector<float> r = ref.to_float();
  const std::int64_t frames = ref.shape[0];
  ASSERT_EQ(ref.shape[1], 80);
  Features ours = mel_power(x.data() + 56, static_cast<std::int64_t>(x.size()) - 56);
  ASSERT_GE(ours.frames, frames);
  float peak = 0, worst = 0;
  for (float v : r) peak = std::max(peak, v);
  for (std::int64_t j = 0; j < frames; ++j)
    for (int b = 0; b < 80; ++b) worst = std::max(worst, std::fabs(ours.at(j, b) - r[static_cast<std::size_t>(j * 80 + b)]));
  EXPECT_LT(worst / peak, 1e-5) << "max abs diff " << worst << " of peak " << peak;
}

TEST(Mel, PureTonePeaksInItsBand) {
  const std::vector<double> centres = mel_band_centres();
  ASSERT_EQ(centres.size(), 80u);
  // Band centres from the HTK formula, independently.
  auto mel = [](double f) { return 2595 * std::log10(1 + f / 700); };
  EXPECT_NEAR(centres[0], 700 * (std::pow(10, mel(8000) / 81 / 2595) - 1), 1e-6);
  for (double hz : {250.0, 1000.0, 3000.0, 6000.0}) {
    std::vector<float> x = tone(hz, 0.5);
    Features p = mel_power(x.data(), static_cast<std::int64_t>(x.size()));
    std::size_t want = 0;
    for (std::size_t b = 1; b < centres.size(); ++b)
      if (std::fabs(centres[b] - hz) < std::fabs(centres[want] - hz)) want = b;
    for (std::int64_t j = 0; j < p.frames; ++j) {
      const float* row = p.row(j);
      EXPECT_EQ(static_cast<std::size_t>(std::max_element(row, row + 80) - row), want) << hz << " Hz, frame " << j;
    }
    // The normalised features peak in the same band.
    Features f = MelExtractor().extract(x);
    EXPECT_EQ(static_cast<std::size_t>(std::max_element(f.row(3), f.row(3) + 80) - f.row(3)), want);
  }
}

TEST(Mel, LoudnessInvariant) {
  Array audio = read_npy(kFixtures + "/audio.npy");
  std::vector<float> x = audio.to_float();
  MelExtractor mel;
  Features ref = mel.extract(x);
  float lo = 1e9f, hi = -1e9f;
  for (float v : ref.data) lo = std::min(lo, v), hi = std::max(hi, v);
  EXPECT_LT(lo, -1.0f);
  EXPECT_GT(hi, 1.0f);
  for (float g : {0.01f, 0.25f, 3.0f}) {
    std::vector<float> y = x;
    for (float& v : y) v *= g;
    EXPECT_LT(max_abs_diff(mel.extract(y), ref), 1e-4f) << "gain " << g;
  }
}

TEST(Mel, PiecesEqualWholeAndThreadsDoNotMatter) {
  std::vector<float> x = tone(440, 3.0);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] += 0.1f * static_cast<float>(std::sin(0.0137 * i * i / 1000.0));
  const std::int64_t n = static_cast<std::int64_t>(x.size());
  Features whole = mel_power(x.data(), n);
  // Frames [0, 57) from the first piece, [57, end) from the second: pieces share 80 samples.
  const std::int64_t a = 57;
  Features p1 = mel_power(x.data(), (a - 1) * kHop + kWindow);
  Features p2 = mel_power(x.data() + a * kHop, n - a * kHop);
  ASSERT_EQ(p1.frames + p2.frames, whole.frames);
  Features joined = p1;
  joined.frames += p2.frames;
  joined.data.insert(joined.data.end(), p2.data.begin(), p2.data.end());
  EXPECT_EQ(max_abs_diff(joined, whole), 0.0f);

  const int before = threads();
  set_threads(1);
  Features one = MelExtractor().extract(x);
  set_threads(2);
  Features two = MelExtractor().extract(x);
  set_threads(before);
  EXPECT_EQ(one.data, two.data);  // the same bytes
}

TEST(Mel, ShortSilentAndBadInput) {
  MelExtractor mel;
  std::vector<float> shortx(399, 0.1f);
  Features f = mel.extract(shortx);
  EXPECT_EQ(f.frames, 0);
  EXPECT_EQ(f.dim, 80);
  EXPECT_TRUE(f.data.empty());
  EXPECT_EQ(mel.extract(std::vector<float>{}).frames, 0);
  std::vector<float> silence(16000, 0.0f);
  Features s = mel.extract(silence);
  EXPECT_EQ(s.frames, 49);
  for (float v : s.data) EXPECT_EQ(v, 0.0f);
  std::vector<float> bad(1000, 0.1f);
  bad[500] = std::nanf("");
  try {
    mel.extract(bad);
    FAIL() << "NaN accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadInput);
    EXPECT_NE(std::string(e.what()).find("sample 500"), std::string::npos) << e.what();
  }
}

TEST(Mel, WaveformAtAnyRate) {
  audio::Waveform w;
  w.sample_rate = 48000;
  w.channels = 2;
  w.samples.resize(48000 * 2);
  for (std::size_t i = 0; i < w.samples.size(); ++i) w.samples[i] = 0.3f * static_cast<float>(std::sin(2 * M_PI * 1000 * (i / 2) / 48000.0));
  Features f = MelExtractor().extract(w);
  EXPECT_EQ(f.frames, 49);
  ExtractorOptions o;
  auto e = make_extractor(o);
  EXPECT_EQ(e->name(), "mel");
  o.weights = "x.safetensors";
  EXPECT_THROW(make_extractor(o), Error);
  o.weights.clear();
  o.layer = 3;
  EXPECT_THROW(make_extractor(o), Error);
  o.layer = -1;
  o.kind = "whisper";
  EXPECT_THROW(make_extractor(o), Error);
}
