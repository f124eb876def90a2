// The mel front end (definition in include/emogene/features/mel.h): frames of 400 samples every 320,
// periodic Hann window, 512-point real FFT, 80 HTK mel triangles up to 8 kHz, log with a floor
// relative to the utterance, normalised by the utterance's mean and standard deviation.
#include "emogene/features/mel.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>

#include "core/torch_pch.h"  // at::parallel_for: the one threading layer (DESIGN §2)
#include "emogene/core/error.h"
#include "emogene/core/interrupt.h"

namespace emogene::features {

namespace {

constexpr int kHalf = kMelFft / 2;  // 256: the complex FFT size used for the 512-point real FFT
constexpr int kBins = kHalf + 1;    // 257 power-spectrum bins
constexpr double kPi = 3.14159265358979323846;

double hz_to_mel(double f) { return 2595.0 * std::log10(1.0 + f / 700.0); }
double mel_to_hz(double m) { return 700.0 * (std::pow(10.0, m / 2595.0) - 1.0); }

// Tables built once: window, twiddles, bit reversal, the sparse mel filterbank.
struct MelTables {
  std::vector<float> window;                      // [400]
  std::vector<std::complex<float>> twiddle;       // [128]: e^{-2 pi i k / 256}
  std::vector<std::complex<float>> split;         // [257]: e^{-2 pi i k / 512}
  std::vector<int> bitrev;                        // [256]
  std::vector<int> band_lo;                       // first bin of each band
  std::vector<std::vector<float>> band_w;         // weights from band_lo on
  std::vector<double> centres;                    // Hz

  MelTables() {
    window.resize(kWindow);
    for (int i = 0; i < kWindow; ++i) window[i] = static_cast<float>(0.5 - 0.5 * std::cos(2.0 * kPi * i / kWindow));
    twiddle.resize(kHalf / 2);
    for (int k = 0; k < kHalf / 2; ++k) twiddle[k] = std::polar(1.0, -2.0 * kPi * k / kHalf);
    split.resize(kBins);
    for (int k = 0; k < kBins; ++k) split[k] = std::polar(1.0, -2.0 * kPi * k / kMelFft);
    bitrev.resize(kHalf);
    int bits = 0;
    while ((1 << bits) < kHalf) ++bits;
    for (int i = 0; i < kHalf; ++i) {
      int r = 0;
      for (int b = 0; b < bits; ++b) r |= ((i >> b) & 1) << (bits - 1 - b);
      bitrev[i] = r;
    }
    // HTK mel triangles on the FFT bin frequencies (peak 1, no area normalisation).
    std::vector<double> f(kMelBands + 2);
    const double m_lo = hz_to_mel(0.0), m_hi = hz_to_mel(kMelFmax);
    for (int i = 0; i < kMelBands + 2; ++i) f[i] = mel_to_hz(m_lo + (m_hi - m_lo) * i / (kMelBands + 1));
    band_lo.resize(kMelBands);
    band_w.resize(kMelBands);
    centres.resize(kMelBands);
    for (int b = 0; b < kMelBands; ++b) {
      centres[b] = f[b + 1];
      int lo = -1;
      std::vector<float> w;
      for (int k = 0; k < kBins; ++k) {
        const double fk = static_cast<double>(k) * kSampleRate / kMelFft;
        const double down = (fk - f[b]) / (f[b + 1] - f[b]);
        const double up = (f[b + 2] - fk) / (f[b + 2] - f[b + 1]);
        const double v = std::max(0.0, std::min(down, up));
        if (v > 0) {
          if (lo < 0) lo = k;
          w.resize(static_cast<std::size_t>(k - lo + 1), 0.0f);
          w[static_cast<std::size_t>(k - lo)] = static_cast<float>(v);
        }
      }
      band_lo[b] = std::max(lo, 0);
      band_w[b] = std::move(w);
    }
  }
};

const MelTables& tables() {
  static const MelTables t;
  return t;
}

// In-place iterative radix-2 complex FFT of size 256.
void fft256(std::complex<float>* a, const MelTables& t) {
  for (int i = 0; i < kHalf; ++i)
    if (i < t.bitrev[i]) std::swap(a[i], a[t.bitrev[i]]);
  for (int len = 2; len <= kHalf; len <<= 1) {
    const int half = len / 2, step = kHalf / len;
    for (int s = 0; s < kHalf; s += len) {
      for (int k = 0; k < half; ++k) {
        const std::complex<float> w = t.twiddle[k * step];
        const std::complex<float> u = a[s + k];
        const std::complex<float> v = a[s + k + half] * w;
        a[s + k] = u + v;
        a[s + k + half] = u - v;
      }
    }
  }
}

// Power spectrum of one windowed frame (400 samples, zero-padded to 512): the 512-point real FFT
// computed as a 256-point complex FFT of the even/odd samples and a split step.
void frame_power(const float* x, const MelTables& t, std::complex<float>* z, float* power) {
  for (int n = 0; n < kHalf; ++n) {
    const int i0 = 2 * n, i1 = 2 * n + 1;
    const float re = i0 < kWindow ? x[i0] * t.window[i0] : 0.0f;
    const float im = i1 < kWindow ? x[i1] * t.window[i1] : 0.0f;
    z[n] = {re, im};
  }
  fft256(z, t);
  for (int k = 0; k <= kHalf; ++k) {
    const std::complex<float> zk = z[k % kHalf];
    const std::complex<float> zc = std::conj(z[(kHalf - k) % kHalf]);
    const std::complex<float> even = 0.5f * (zk + zc);
    const std::complex<float> odd = std::complex<float>(0.0f, -0.5f) * (zk - zc);
    const std::complex<float> X = even + t.split[k] * odd;
    power[k] = X.real() * X.real() + X.imag() * X.imag();
  }
}

}  // namespace

std::vector<double> mel_band_centres() { return tables().centres; }

Features mel_power(const float* samples, std::int64_t n) {
  Features out;
  out.dim = kMelBands;
  out.frames = frames_for_samples(n);
  out.data.assign(static_cast<std::size_t>(out.frames * kMelBands), 0.0f);
  if (out.frames == 0) return out;
  for (std::int64_t i = 0; i < n; ++i)
    if (!std::isfinite(samples[i]))
      throw bad_input("audio input", "sample " + std::to_string(i) + " is not finite (NaN or infinity)");
  const MelTables& t = tables();
  float* dst = out.data.data();
  // Frames are independent: any split over threads gives the same bytes.
  at::parallel_for(0, out.frames, 64, [&](std::int64_t begin, std::int64_t end) {
    std::vector<std::complex<float>> z(kHalf);
    std::vector<float> power(kBins);
    for (std::int64_t j = begin; j < end; ++j) {
      frame_power(samples + j * kHop, t, z.data(), power.data());
      float* row = dst + j * kMelBands;
      for (int b = 0; b < kMelBands; ++b) {
        const std::vector<float>& w = t.band_w[b];
        const float* p = power.data() + t.band_lo[b];
        float acc = 0.0f;
        for (std::size_t k = 0; k < w.size(); ++k) acc += w[k] * p[k];
        row[b] = acc;
      }
    }
  });
  return out;
}

void mel_log_normalise(Features& f) {
  if (f.data.empty()) return;
  float peak = 0.0f;
  for (float v : f.data) peak = std::max(peak, v);
  if (!(peak > 0.0f)) {  // digital silence
    std::fill(f.data.begin(), f.data.end(), 0.0f);
    return;
  }
  const float floor = std::max(peak * 1e-8f, std::numeric_limits<float>::min());
  double sum = 0.0, sum2 = 0.0;
  for (float& v : f.data) {
    v = std::log10(std::max(v, floor));
    sum += v;
  }
  const double mean = sum / static_cast<double>(f.data.size());
  for (float v : f.data) sum2 += (v - mean) * (v - mean);
  const double sd = std::max(std::sqrt(sum2 / static_cast<double>(f.data.size())), 1e-3);
  const double inv = 1.0 / sd;
  for (float& v : f.data) v = static_cast<float>((v - mean) * inv);
}

Features MelExtractor::extract(const float* samples, std::int64_t n) const {
  Features f = mel_power(samples, n);
  throw_if_interrupted("features");
  mel_log_normalise(f);
  return f;
}

FrontEndInfo MelExtractor::info() const {
  FrontEndInfo i;
  i.extractor = "mel";
  i.dim = kMelBands;
  return i;
}

std::string MelExtractor::describe() const {
  return "mel: 80 HTK bands 0-8000 Hz, 25 ms Hann window, 20 ms hop (50 Hz), log10 with an 80 dB floor, "
         "normalised by the utterance's mean and std";
}

}  // namespace emogene::features
