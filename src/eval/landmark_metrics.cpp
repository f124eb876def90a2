#include "emogene/eval/landmark_metrics.h"

#include <cmath>

#include "emogene/core/error.h"

namespace emogene::eval {

double lmd(const landmarks::Sequence& pred, const landmarks::Sequence& ref, int first, int last) {
  if (pred.frames() != ref.frames())
    throw bad_input("lmd", "sequences differ in length (" + std::to_string(pred.frames()) + " vs " +
                               std::to_string(ref.frames()) + " frames)");
  if (ref.frames() == 0) return 0;
  double total = 0;
  for (std::int64_t t = 0; t < ref.frames(); ++t) {
    auto p = pred.frame(t);
    auto r = ref.frame(t);
    double d = 0;
    for (int i = first; i < last; ++i) d += (p.row(i) - r.row(i)).norm();
    total += d / (last - first) / landmarks::iod(r);
  }
  return total / static_cast<double>(ref.frames());
}

std::vector<float> lip_gap_track(const landmarks::Sequence& s) {
  std::vector<float> out(static_cast<std::size_t>(s.frames()));
  for (std::int64_t t = 0; t < s.frames(); ++t) out[static_cast<std::size_t>(t)] = landmarks::lip_gap(s.frame(t));
  return out;
}

std::vector<float> eye_openness_track(const landmarks::Sequence& s) {
  std::vector<float> out(static_cast<std::size_t>(s.frames()));
  for (std::int64_t t = 0; t < s.frames(); ++t) out[static_cast<std::size_t>(t)] = landmarks::eye_openness(s.frame(t));
  return out;
}

double pearson(const std::vector<float>& a, const std::vector<float>& b) {
  std::size_t n = std::min(a.size(), b.size());
  if (n < 2) return 0;
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= static_cast<double>(n);
  mb /= static_cast<double>(n);
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

LagCorrelation lag_correlation(const std::vector<float>& a, const std::vector<float>& b, int max_lag) {
  LagCorrelation out;
  const auto n = static_cast<std::int64_t>(std::min(a.size(), b.size()));
  out.r0 = pearson(a, b);
  out.r_at_lag = -2;
  for (int lag = -max_lag; lag <= max_lag; ++lag) {
    const std::int64_t lo = std::max<std::int64_t>(0, -lag), hi = std::min<std::int64_t>(n, n - lag);
    if (hi - lo < 2) continue;
    std::vector<float> x(a.begin() + lo, a.begin() + hi), y(b.begin() + lo + lag, b.begin() + hi + lag);
    const double r = pearson(x, y);
    if (r > out.r_at_lag) {
      out.r_at_lag = r;
      out.lag = lag;
    }
  }
  if (out.r_at_lag < -1) out.r_at_lag = 0;
  return out;
}

std::vector<float> audio_envelope(const std::vector<float>& mono, int sample_rate, double fps, std::int64_t frames) {
  std::vector<float> out(static_cast<std::size_t>(frames), 0.f);
  for (std::int64_t i = 0; i < frames; ++i) {
    auto a = static_cast<std::size_t>(std::llround(static_cast<double>(i) / fps * sample_rate));
    auto b = static_cast<std::size_t>(std::llround(static_cast<double>(i + 1) / fps * sample_rate));
    b = std::min(b, mono.size());
    double e = 0;
    for (std::size_t k = a; k < b; ++k) e += static_cast<double>(mono[k]) * mono[k];
    out[static_cast<std::size_t>(i)] = b > a ? static_cast<float>(std::sqrt(e / static_cast<double>(b - a))) : 0.f;
  }
  return out;
}

}  // namespace emogene::eval
