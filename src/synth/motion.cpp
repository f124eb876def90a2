// Time courses of the synthetic world: expression onset/apex/offset, F0 for pitch-linked brows,
// blinks, and head motion (livelier while speaking, calmer when idle).
#include <algorithm>
#include <cmath>

#include "emogene/synth/world.h"

namespace emogene::synth {

std::vector<float> expression_envelope(std::int64_t frames, double fps, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  const double dur = static_cast<double>(frames) / fps;
  const double onset_start = 0.1 + 0.4 * u(rng), onset_len = 0.3 + 0.5 * u(rng);
  const double offset_len = 0.3 + 0.4 * u(rng), offset_start = std::max(onset_start + onset_len, dur - offset_len - 0.1);
  const double base = 0.15 + 0.15 * u(rng), tail = 0.5 + 0.3 * u(rng);
  const double wobble_f = 0.2 + 0.3 * u(rng), wobble_p = 6.283 * u(rng);
  auto smooth = [](double x) { x = std::clamp(x, 0.0, 1.0); return x * x * (3 - 2 * x); };
  std::vector<float> e(static_cast<std::size_t>(frames));
  for (std::int64_t i = 0; i < frames; ++i) {
    double t = (static_cast<double>(i) + 0.5) / fps;
    double v = base + (1 - base) * smooth((t - onset_start) / onset_len);
    v *= 1 - (1 - tail) * smooth((t - offset_start) / offset_len);
    v *= 0.92 + 0.08 * std::sin(6.283 * wobble_f * t + wobble_p);  // apex is not flat
    e[static_cast<std::size_t>(i)] = static_cast<float>(std::clamp(v, 0.0, 1.0));
  }
  return e;
}

std::vector<float> pitch_track(const audio::Waveform& w, double fps, std::int64_t frames) {
  // Normalised autocorrelation over a 40 ms window at each frame centre, 70-400 Hz.
  const int sr = w.sample_rate;
  const int win = static_cast<int>(0.04 * sr);
  const int lag_min = sr / 400, lag_max = sr / 70;
  std::vector<float> f0(static_cast<std::size_t>(frames), 0.f);
  const auto n = static_cast<std::int64_t>(w.samples.size());
  for (std::int64_t i = 0; i < frames; ++i) {
    auto c = static_cast<std::int64_t>((static_cast<double>(i) + 0.5) / fps * sr);
    std::int64_t a = c - win / 2;
    if (a < 0 || a + win + lag_max >= n) continue;
    const float* x = w.samples.data() + a;
    double e0 = 0;
    for (int k = 0; k < win; ++k) e0 += static_cast<double>(x[k]) * x[k];
    if (e0 < 1e-4 * win * 0.01) continue;  // too quiet to be voiced
    double best = 0;
    int best_lag = 0;
    for (int lag = lag_min; lag <= lag_max; ++lag) {
      double r = 0, e1 = 0;
      for (int k = 0; k < win; ++k) {
        r += static_cast<double>(x[k]) * x[k + lag];
        e1 += static_cast<double>(x[k + lag]) * x[k + lag];
      }
      double nr = r / std::sqrt(e0 * e1 + 1e-12);
      if (nr > best) {
        best = nr;
        best_lag = lag;
      }
    }
    if (best > 0.6 && best_lag > 0) f0[static_cast<std::size_t>(i)] = static_cast<float>(sr) / static_cast<float>(best_lag);
  }
  return f0;
}

std::vector<float> blink_track(std::int64_t frames, double fps, std::mt19937_64& rng) {
  // Spontaneous blinks: ~15 per minute with a refractory gap; closures of 100-400 ms, the lid
  // closing in about a third of the time and reopening more slowly.
  std::vector<float> b(static_cast<std::size_t>(frames), 1.f);
  std::exponential_distribution<double> gap(1.0 / 3.0);
  std::uniform_real_distribution<double> len(0.10, 0.40), u(0, 1);
  const double dur = static_cast<double>(frames) / fps;
  double t = 0.3 + 2.0 * u(rng);
  while (t < dur) {
    double d = len(rng);
    for (std::int64_t i = 0; i < frames; ++i) {
      double tc = (static_cast<double>(i) + 0.5) / fps - t;
      if (tc < 0 || tc > d) continue;
      double x = tc / d, close = x < 0.33 ? x / 0.33 : 1 - (x - 0.33) / 0.67;
      float v = static_cast<float>(1 - std::clamp(close * 1.15, 0.0, 1.0));
      b[static_cast<std::size_t>(i)] = std::min(b[static_cast<std::size_t>(i)], v);
    }
    t += d + 1.0 + gap(rng);
  }
  return b;
}

std::vector<float> head_poses(const std::vector<std::uint8_t>& idle, const std::vector<float>& envelope, double fps,
                              float distance, std::mt19937_64& rng) {
  // Rotation angles follow Ornstein-Uhlenbeck processes (mean-reverting noise) whose strength and
  // speed depend on speaking vs idle; while speaking, nods follow the audio envelope's rises.
  const std::size_t T = idle.size();
  std::normal_distribution<double> n(0, 1);
  const double dt = 1.0 / fps;
  double ang[3] = {0, 0, 0}, vel[3] = {0, 0, 0};
  double pos[3] = {0, 0, 0};
  std::vector<float> poses(T * 16, 0.f);
  float prev_env = 0;
  for (std::size_t i = 0; i < T; ++i) {
    const bool speaking = !idle[i];
    // Stationary standard deviations in degrees (yaw, pitch, roll).
    const double sigma_deg[3] = {speaking ? 6.0 : 2.5, speaking ? 4.0 : 1.5, speaking ? 2.0 : 0.8};
    const double stiff = speaking ? 4.0 : 1.5, damp = speaking ? 3.0 : 2.5;
    float env = i < envelope.size() ? envelope[i] : 0.f;
    double nod = speaking ? 60.0 * std::max(0.f, env - prev_env) : 0.0;
    prev_env = env;
    for (int k = 0; k < 3; ++k) {
      // x'' + 2·damp·x' + stiff²·x = q·white noise has stationary variance q² / (4·damp·stiff²);
      // in a step of dt the noise's impulse is q·sqrt(dt)·N(0, 1).
      const double q = 2.0 * sigma_deg[k] * stiff * std::sqrt(damp);
      double force = -stiff * stiff * ang[k] - 2 * damp * vel[k] + q * n(rng) / std::sqrt(dt);
      if (k == 1) force -= nod * stiff * stiff;  // a rise in loudness dips the head (a nod)
      vel[k] += force * dt;
      ang[k] += vel[k] * dt;
    }
    for (int k = 0; k < 3; ++k) pos[k] = 0.98 * pos[k] + 0.002 * n(rng) * (speaking ? 1.5 : 1.0);
    const double d2r = M_PI / 180.0;
    Eigen::Matrix3f R = (Eigen::AngleAxisf(static_cast<float>(ang[0] * d2r), Eigen::Vector3f::UnitY()) *
                         Eigen::AngleAxisf(static_cast<float>(ang[1] * d2r), Eigen::Vector3f::UnitX()) *
                         Eigen::AngleAxisf(static_cast<float>(ang[2] * d2r), Eigen::Vector3f::UnitZ()))
                            .toRotationMatrix();
    float* P = poses.data() + i * 16;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) P[r * 4 + c] = R(r, c);
    P[3] = static_cast<float>(pos[0]);
    P[7] = static_cast<float>(0.25 + pos[1]);  // eyes a little above the image centre
    P[11] = static_cast<float>(-distance + pos[2]);
    P[15] = 1.f;
  }
  return poses;
}

}  // namespace emogene::synth
