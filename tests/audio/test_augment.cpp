// audio/augment: known answers for speed, pitch, stretch, noise SNR, biquad gains, reverb decay.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "emogene/audio/augment.h"

using namespace emogene::audio;

namespace {

constexpr int kRate = 16000;

std::vector<float> tone(double f, double seconds, double amp = 0.5) {
  std::vector<float> x(static_cast<std::size_t>(seconds * kRate));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(amp * std::sin(2 * M_PI * f * static_cast<double>(i) / kRate));
  return x;
}

// Frequency of the strongest DFT bin between lo and hi, refined to 0.1 Hz, on the middle half.
double peak_frequency(const std::vector<float>& x, double lo, double hi) {
  const std::size_t a = x.size() / 4, b = 3 * x.size() / 4;
  auto mag = [&](double f) {
    double re = 0, im = 0;
    for (std::size_t i = a; i < b; ++i) {
      re += x[i] * std::cos(2 * M_PI * f * static_cast<double>(i) / kRate);
      im += x[i] * std::sin(2 * M_PI * f * static_cast<double>(i) / kRate);
    }
    return re * re + im * im;
  };
  double best = lo, bm = -1;
  for (double f = lo; f <= hi; f += 2) {
    double m = mag(f);
    if (m > bm) bm = m, best = f;
  }
  for (double f = best - 2; f <= best + 2; f += 0.1) {
    double m = mag(f);
    if (m > bm) bm = m, best = f;
  }
  return best;
}

double rms(const std::vector<float>& x, std::size_t a = 0, std::size_t b = 0) {
  if (!b) b = x.size();
  double s = 0;
  for (std::size_t i = a; i < b; ++i) s += static_cast<double>(x[i]) * x[i];
  return std::sqrt(s / static_cast<double>(b - a));
}

}  // namespace

TEST(Augment, SpeedChangesPitchAndLengthTogether) {
  auto x = tone(440, 1.0);
  auto y = change_speed(x, kRate, 1.1);
  EXPECT_EQ(y.size(), static_cast<std::size_t>(std::llround(16000 / 1.1)));
  EXPECT_NEAR(peak_frequency(y, 300, 700), 484, 1.0);
  EXPECT_NEAR(rms(y, 1000, y.size() - 1000), rms(x), 0.01);
}

TEST(Augment, PitchShiftKeepsTheLength) {
  auto x = tone(300, 1.0);
  auto y = shift_pitch(x, kRate, 3);
  EXPECT_EQ(y.size(), x.size());
  EXPECT_NEAR(peak_frequency(y, 200, 600), 300 * std::pow(2.0, 3 / 12.0), 2.0);
  EXPECT_NEAR(rms(y, 2000, y.size() - 2000) / rms(x), 1.0, 0.2);
  auto z = shift_pitch(x, kRate, -4);
  EXPECT_NEAR(peak_frequency(z, 100, 500), 300 * std::pow(2.0, -4 / 12.0), 2.0);
}

TEST(Augment, TimeStretchKeepsThePitch) {
  auto x = tone(250, 1.0);
  auto y = time_stretch(x, kRate, 1.25);
  EXPECT_EQ(y.size(), 20000u);
  EXPECT_NEAR(peak_frequency(y, 150, 400), 250, 2.5);
}

TEST(Augment, NoiseAtTheRequestedSnr) {
  for (auto c : {NoiseColour::White, NoiseColour::Pink, NoiseColour::Brown}) {
    auto x = tone(440, 0.5);
    auto y = x;
    std::mt19937_64 rng(1);
    add_noise(y, 12.0, c, rng);
    std::vector<float> n(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) n[i] = y[i] - x[i];
    EXPECT_NEAR(20 * std::log10(rms(x) / rms(n)), 12.0, 1e-3);
  }
}

TEST(Augment, BiquadGainsAreTheCookbooks) {
  for (double g : {-9.0, 6.0}) {
    auto x = tone(1000, 0.5);
    Biquad::peaking(kRate, 1000, g, 1.0).apply(x);
    EXPECT_NEAR(20 * std::log10(rms(x, 2000, x.size()) / rms(tone(1000, 0.5))), g, 0.05);
    auto far = tone(6000, 0.5);
    Biquad::peaking(kRate, 300, g, 2.0).apply(far);
    EXPECT_NEAR(20 * std::log10(rms(far, 2000, far.size()) / rms(tone(6000, 0.5))), 0.0, 0.2);
  }
  auto lo = tone(40, 1.0), hi = tone(5000, 0.5);
  Biquad::low_shelf(kRate, 300, 8).apply(lo);
  Biquad::low_shelf(kRate, 300, 8).apply(hi);
  EXPECT_NEAR(20 * std::log10(rms(lo, 4000, lo.size()) / rms(tone(40, 1.0))), 8.0, 0.5);
  EXPECT_NEAR(20 * std::log10(rms(hi, 2000, hi.size()) / rms(tone(5000, 0.5))), 0.0, 0.3);
}

TEST(Augment, ReverbDecaysInRt60) {
  for (double rt60 : {0.3, 0.6}) {
    std::vector<float> x(static_cast<std::size_t>(1.5 * kRate), 0.f);
    x[100] = 1.f;
    std::mt19937_64 rng(2);
    add_reverb(x, kRate, rt60, 1.0, rng);
    // Schroeder backward integration; the slope between −5 and −25 dB, extrapolated to −60.
    std::vector<double> edc(x.size() + 1, 0.0);
    for (std::size_t i = x.size(); i-- > 0;) edc[i] = edc[i + 1] + static_cast<double>(x[i]) * x[i];
    std::size_t t5 = 0, t25 = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      double db = 10 * std::log10(edc[i] / edc[0] + 1e-30);
      if (!t5 && db < -5) t5 = i;
      if (!t25 && db < -25) t25 = i;
    }
    const double est = 3.0 * static_cast<double>(t25 - t5) / kRate;
    EXPECT_NEAR(est, rt60, 0.15 * rt60) << rt60;
  }
}

TEST(Augment, ChainIsDeterministicInTheSeed) {
  auto x = tone(200, 0.5);
  auto a = x, b = x;
  std::mt19937_64 r1(7), r2(7);
  AugmentOptions o;
  o.p_speed = o.p_pitch = o.p_noise = o.p_reverb = o.p_eq = 1;
  double s1 = augment(a, kRate, o, r1), s2 = augment(b, kRate, o, r2);
  EXPECT_EQ(s1, s2);
  EXPECT_EQ(a, b);
  EXPECT_NE(s1, 1.0);
  EXPECT_EQ(a.size(), static_cast<std::size_t>(std::llround(8000 / s1)));
}
