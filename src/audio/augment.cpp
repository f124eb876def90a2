// Audio augmentation: speed, pitch (resample + WSOLA), noise, synthetic reverb, equalisation.
#include "emogene/audio/augment.h"

#include <algorithm>
#include <cmath>

#include "emogene/audio/audio.h"
#include "emogene/core/error.h"

namespace emogene::audio {

namespace {

double power(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += static_cast<double>(v) * v;
  return x.empty() ? 0 : s / static_cast<double>(x.size());
}

// Resamples by an arbitrary ratio with windowed-sinc interpolation (Hann window, 16 zero
// crossings, cut-off at the lower Nyquist), output length round(n · out_per_in).
std::vector<float> resample_ratio(const std::vector<float>& x, double out_per_in) {
  const auto n = static_cast<std::int64_t>(x.size());
  const auto m = static_cast<std::int64_t>(std::llround(static_cast<double>(n) * out_per_in));
  std::vector<float> y(static_cast<std::size_t>(std::max<std::int64_t>(0, m)));
  const double cutoff = std::min(1.0, out_per_in) * 0.95;
  const int half = static_cast<int>(std::ceil(16 / cutoff));
  for (std::int64_t j = 0; j < m; ++j) {
    const double t = static_cast<double>(j) / out_per_in;
    const auto c = static_cast<std::int64_t>(std::floor(t));
    double acc = 0;
    for (std::int64_t k = c - half + 1; k <= c + half; ++k) {
      if (k < 0 || k >= n) continue;
      const double d = t - static_cast<double>(k);
      const double xw = d / half;
      if (std::fabs(xw) >= 1) continue;
      const double win = 0.5 * (1 + std::cos(M_PI * xw));
      const double a = M_PI * d * cutoff;
      const double s = std::fabs(a) < 1e-9 ? 1.0 : std::sin(a) / a;
      acc += x[static_cast<std::size_t>(k)] * s * win * cutoff;
    }
    y[static_cast<std::size_t>(j)] = static_cast<float>(acc);
  }
  return y;
}

}  // namespace

std::vector<float> change_speed(const std::vector<float>& x, int rate, double factor) {
  (void)rate;
  if (!(factor > 0.25 && factor < 4)) throw bad_input("speed perturbation", "factor must be in (0.25, 4)");
  return resample_ratio(x, 1.0 / factor);
}

std::vector<float> time_stretch(const std::vector<float>& x, int rate, double stretch) {
  if (!(stretch > 0.25 && stretch < 4)) throw bad_input("time stretch", "factor must be in (0.25, 4)");
  const int win = std::max(16, static_cast<int>(0.025 * rate));  // 25 ms
  const int hop = win / 2;                                         // synthesis hop
  const int tol = std::max(1, static_cast<int>(0.008 * rate));     // ±8 ms search
  const auto n = static_cast<std::int64_t>(x.size());
  const auto m = static_cast<std::int64_t>(std::llround(static_cast<double>(n) * stretch));
  std::vector<double> y(static_cast<std::size_t>(m + win + 1), 0.0), w(static_cast<std::size_t>(m + win + 1), 0.0);
  std::vector<double> hann(static_cast<std::size_t>(win));
  for (int i = 0; i < win; ++i) hann[static_cast<std::size_t>(i)] = 0.5 - 0.5 * std::cos(2 * M_PI * (i + 0.5) / win);
  auto at = [&](std::int64_t i) { return i >= 0 && i < n ? static_cast<double>(x[static_cast<std::size_t>(i)]) : 0.0; };
  std::int64_t prev_in = -1;
  for (std::int64_t out = 0; out < m; out += hop) {
    // Nominal input position, then the offset within ±tol whose window best continues the
    // previous one (natural continuation = prev_in + hop).
    const auto nominal = static_cast<std::int64_t>(std::llround(static_cast<double>(out) / stretch));
    std::int64_t best = nominal;
    if (prev_in >= 0) {
      double best_score = -1e300;
      for (std::int64_t d = -tol; d <= tol; ++d) {
        const std::int64_t cand = nominal + d;
        double s = 0;
        for (int i = 0; i < hop; i += 2) s += at(cand + i) * at(prev_in + hop + i);
        if (s > best_score) {
          best_score = s;
          best = cand;
        }
      }
    }
    for (int i = 0; i < win; ++i) {
      const auto o = static_cast<std::size_t>(out + i);
      y[o] += at(best + i) * hann[static_cast<std::size_t>(i)];
      w[o] += hann[static_cast<std::size_t>(i)];
    }
    prev_in = best;
  }
  std::vector<float> r(static_cast<std::size_t>(m));
  for (std::int64_t i = 0; i < m; ++i)
    r[static_cast<std::size_t>(i)] = static_cast<float>(w[static_cast<std::size_t>(i)] > 1e-3 ? y[static_cast<std::size_t>(i)] / w[static_cast<std::size_t>(i)] : 0.0);
  return r;
}

std::vector<float> shift_pitch(const std::vector<float>& x, int rate, double semitones) {
  const double ratio = std::pow(2.0, semitones / 12.0);
  // Play `ratio` times faster (pitch × ratio, length / ratio), then stretch back.
  std::vector<float> fast = resample_ratio(x, 1.0 / ratio);
  std::vector<float> y = time_stretch(fast, rate, static_cast<double>(x.size()) / std::max<std::size_t>(1, fast.size()));
  y.resize(x.size(), 0.f);
  return y;
}

void add_noise(std::vector<float>& x, double snr_db, NoiseColour colour, std::mt19937_64& rng) {
  if (x.empty()) return;
  std::normal_distribution<double> g(0, 1);
  std::vector<double> n(x.size());
  double b[7] = {0, 0, 0, 0, 0, 0, 0}, brown = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double w = g(rng);
    switch (colour) {
      case NoiseColour::White: n[i] = w; break;
      case NoiseColour::Pink:  // Paul Kellet's economy filter coefficients (a published fact)
        b[0] = 0.99886 * b[0] + w * 0.0555179;
        b[1] = 0.99332 * b[1] + w * 0.0750759;
        b[2] = 0.96900 * b[2] + w * 0.1538520;
        b[3] = 0.86650 * b[3] + w * 0.3104856;
        b[4] = 0.55000 * b[4] + w * 0.5329522;
        b[5] = -0.7616 * b[5] - w * 0.0168980;
        n[i] = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
        b[6] = w * 0.115926;
        break;
      case NoiseColour::Brown:
        brown = 0.998 * brown + 0.05 * w;
        n[i] = brown;
        break;
    }
  }
  double pn = 0;
  for (double v : n) pn += v * v;
  pn /= static_cast<double>(n.size());
  const double ps = power(x);
  if (pn <= 0 || ps <= 0) return;
  const double scale = std::sqrt(ps / (pn * std::pow(10.0, snr_db / 10.0)));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(x[i] + scale * n[i]);
}

void add_reverb(std::vector<float>& x, int rate, double rt60, double wet, std::mt19937_64& rng) {
  if (x.empty() || rt60 <= 0 || wet <= 0) return;
  const auto len = static_cast<std::size_t>(std::max(1.0, rt60 * rate));
  std::vector<double> h(len);
  std::normal_distribution<double> g(0, 1);
  const double decay = std::log(1000.0) / (rt60 * rate);  // amplitude −60 dB at rt60
  const auto pre = static_cast<std::size_t>(0.005 * rate);  // first reflections after 5 ms
  for (std::size_t i = 0; i < len; ++i) h[i] = i < pre ? 0.0 : g(rng) * std::exp(-decay * static_cast<double>(i));
  double eh = 0;
  for (double v : h) eh += v * v;
  for (double& v : h) v /= std::sqrt(eh);  // unit energy tail
  const double rms0 = std::sqrt(power(x));
  std::vector<double> y(x.size(), 0.0);
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] == 0.f) continue;
    const double xi = x[i];
    const std::size_t end = std::min(len, x.size() - i);
    for (std::size_t k = pre; k < end; ++k) y[i + k] += xi * h[k];
  }
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = (1 - wet) * x[i] + wet * y[i];
  double p = 0;
  for (double v : y) p += v * v;
  const double rms1 = std::sqrt(p / static_cast<double>(y.size()));
  const double s = rms1 > 0 ? rms0 / rms1 : 1.0;
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(y[i] * s);
}

Biquad Biquad::peaking(double rate, double f0, double gain_db, double q) {
  const double A = std::pow(10.0, gain_db / 40), w = 2 * M_PI * f0 / rate, alpha = std::sin(w) / (2 * q), c = std::cos(w);
  const double a0 = 1 + alpha / A;
  Biquad b;
  b.b0 = (1 + alpha * A) / a0;
  b.b1 = -2 * c / a0;
  b.b2 = (1 - alpha * A) / a0;
  b.a1 = -2 * c / a0;
  b.a2 = (1 - alpha / A) / a0;
  return b;
}

Biquad Biquad::low_shelf(double rate, double f0, double gain_db) {
  const double A = std::pow(10.0, gain_db / 40), w = 2 * M_PI * f0 / rate, c = std::cos(w);
  const double alpha = std::sin(w) / 2 * std::sqrt(2.0), sa = 2 * std::sqrt(A) * alpha;  // shelf slope 1
  const double a0 = (A + 1) + (A - 1) * c + sa;
  Biquad b;
  b.b0 = A * ((A + 1) - (A - 1) * c + sa) / a0;
  b.b1 = 2 * A * ((A - 1) - (A + 1) * c) / a0;
  b.b2 = A * ((A + 1) - (A - 1) * c - sa) / a0;
  b.a1 = -2 * ((A - 1) + (A + 1) * c) / a0;
  b.a2 = ((A + 1) + (A - 1) * c - sa) / a0;
  return b;
}

Biquad Biquad::high_shelf(double rate, double f0, double gain_db) {
  const double A = std::pow(10.0, gain_db / 40), w = 2 * M_PI * f0 / rate, c = std::cos(w);
  const double alpha = std::sin(w) / 2 * std::sqrt(2.0), sa = 2 * std::sqrt(A) * alpha;
  const double a0 = (A + 1) - (A - 1) * c + sa;
  Biquad b;
  b.b0 = A * ((A + 1) + (A - 1) * c + sa) / a0;
  b.b1 = -2 * A * ((A - 1) + (A + 1) * c) / a0;
  b.b2 = A * ((A + 1) + (A - 1) * c - sa) / a0;
  b.a1 = 2 * ((A - 1) - (A + 1) * c) / a0;
  b.a2 = ((A + 1) - (A - 1) * c - sa) / a0;
  return b;
}

void Biquad::apply(std::vector<float>& x) const {
  double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  for (float& v : x) {
    const double x0 = v, y0 = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
    x2 = x1, x1 = x0, y2 = y1, y1 = y0;
    v = static_cast<float>(y0);
  }
}

void random_eq(std::vector<float>& x, int rate, double max_db, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  for (int k = 0; k < 3; ++k) {
    const double f0 = 200 * std::pow(25.0, u(rng));  // 200 Hz - 5 kHz, log-uniform
    Biquad::peaking(rate, std::min(f0, 0.45 * rate), (2 * u(rng) - 1) * max_db, 0.7 + 1.3 * u(rng)).apply(x);
  }
  Biquad::low_shelf(rate, 150 + 250 * u(rng), (2 * u(rng) - 1) * max_db).apply(x);
  Biquad::high_shelf(rate, std::min(3000 + 3000 * u(rng), 0.45 * rate), (2 * u(rng) - 1) * max_db).apply(x);
}

double augment(std::vector<float>& x, int rate, const AugmentOptions& opt, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  double speed = 1;
  if (u(rng) < opt.p_speed) {
    speed = opt.speed_min + (opt.speed_max - opt.speed_min) * u(rng);
    x = change_speed(x, rate, speed);
  }
  if (u(rng) < opt.p_pitch) x = shift_pitch(x, rate, (2 * u(rng) - 1) * opt.pitch_semitones);
  if (u(rng) < opt.p_eq) random_eq(x, rate, opt.eq_db, rng);
  if (u(rng) < opt.p_reverb) add_reverb(x, rate, opt.rt60_min + (opt.rt60_max - opt.rt60_min) * u(rng), 0.3 + 0.5 * u(rng), rng);
  if (u(rng) < opt.p_noise) {
    const auto colour = static_cast<NoiseColour>(std::uniform_int_distribution<int>(0, 2)(rng));
    add_noise(x, opt.snr_min + (opt.snr_max - opt.snr_min) * u(rng), colour, rng);
  }
  return speed;
}

}  // namespace emogene::audio
