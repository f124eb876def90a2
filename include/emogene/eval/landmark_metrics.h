// The landmark metrics of DESIGN §7, defined once: LMD (mouth and face), lip gap, eye openness,
// and the correlation helpers the quality figures use.
#pragma once

#include <cstdint>
#include <vector>

#include "emogene/landmarks/landmarks.h"

namespace emogene::eval {

// Mean Euclidean distance between corresponding landmarks [first, last) divided by the reference
// frame's IOD, averaged over frames. Sequences must have the same length.
double lmd(const landmarks::Sequence& pred, const landmarks::Sequence& ref, int first, int last);
inline double mouth_lmd(const landmarks::Sequence& p, const landmarks::Sequence& r) { return lmd(p, r, 48, 68); }
inline double face_lmd(const landmarks::Sequence& p, const landmarks::Sequence& r) { return lmd(p, r, 0, 68); }

// Per-frame tracks.
std::vector<float> lip_gap_track(const landmarks::Sequence& s);
std::vector<float> eye_openness_track(const landmarks::Sequence& s);

// Pearson correlation (0 when either side is constant).
double pearson(const std::vector<float>& a, const std::vector<float>& b);

// Lag between two tracks: the shift (in frames, |lag| ≤ max_lag) that maximises the correlation of
// a[i] with b[i + lag] over the overlap. lag > 0: b follows a.
struct LagCorrelation {
  int lag = 0;
  double r_at_lag = 0;  // correlation at the best lag
  double r0 = 0;        // correlation without a shift
};
LagCorrelation lag_correlation(const std::vector<float>& a, const std::vector<float>& b, int max_lag);

// RMS envelope of audio sampled at video frame centres: frame i averages the energy of the
// window [i/fps, (i+1)/fps).
std::vector<float> audio_envelope(const std::vector<float>& mono, int sample_rate, double fps, std::int64_t frames);

}  // namespace emogene::eval
