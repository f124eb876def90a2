// The mel front end: emogene's default audio features, no weights needed. Deterministic (the same
// bytes for any thread count) and cheap (a 512-point FFT per frame).
//
// Definition, for mono 16 kHz samples x[0..n):
//   1. Frames: frame j is x[320 j .. 320 j + 400) (25 ms window, 20 ms hop: 50 Hz), centred at
//      (320 j + 200) / 16000 s; n < 400 ? 0 : (n - 400) / 320 + 1 frames, no padding.
//   2. Window: periodic Hann, w[i] = 0.5 - 0.5 cos(2 pi i / 400), i = 0..399; zero-padded to 512.
//   3. Power spectrum P[j, k] = |DFT_512(w x_j)[k]|^2, k = 0..256 (bin k at 31.25 k Hz).
//   4. 80 mel bands, HTK mel scale m(f) = 2595 log10(1 + f / 700), 0-8000 Hz: 82 points equally
//      spaced in mel, f_0..f_81; band b is the triangle rising from f_b to f_{b+1} and falling to
//      f_{b+2} (peak 1, no area normalisation): M[j, b] = sum_k tri_b(31.25 k) P[j, k]. (Steps 2-4
//      equal torchaudio.transforms.MelSpectrogram(n_fft=512, win_length=400, hop_length=320,
//      n_mels=80, f_max=8000, center=False, norm=None, mel_scale="htk") on the same window.)
//   5. Log with a floor relative to the utterance: L = log10(max(M, 1e-8 * max(M))) (an 80 dB
//      range below the loudest band of the utterance; all-zero audio gives L = 0).
//   6. Normalisation over the whole utterance: F = (L - mean(L)) / max(std(L), 1e-3), mean and
//      standard deviation over all frames and bands.
// A gain g on the input adds 2 log10 g to every L, which steps 5-6 remove: the features do not
// depend on loudness (to float rounding). Mean and std come from the whole utterance, so any split
// into pieces gives the same features.
#pragma once

#include <cstdint>
#include <vector>

#include "emogene/features/features.h"

namespace emogene::features {

constexpr int kMelBands = 80;
constexpr int kMelFft = 512;
constexpr double kMelFmax = 8000.0;

// Steps 1-4: the mel power [frames, 80] before the log (for tests and inspection).
Features mel_power(const float* samples, std::int64_t n);
// Centre frequency of each band (f_{b+1} above), Hz.
std::vector<double> mel_band_centres();
// Steps 5-6 on a mel power array, in place.
void mel_log_normalise(Features& power);

class MelExtractor : public FeatureExtractor {
 public:
  std::string name() const override { return "mel"; }
  std::int64_t dim() const override { return kMelBands; }
  FrontEndInfo info() const override;
  std::string describe() const override;
  using FeatureExtractor::extract;
  Features extract(const float* samples, std::int64_t n) const override;
};

}  // namespace emogene::features
