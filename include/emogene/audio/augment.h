// Audio augmentation for training on synthetic speech so that models hold on real voices
// (issue: audio-to-motion robustness): speed and pitch perturbation, additive noise at a given SNR,
// synthetic room reverberation and random equalisation. Mono float signals; deterministic in the rng.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace emogene::audio {

// Speed perturbation (Ko et al. 2015): resampled so that it plays `factor` times faster; pitch and
// tempo change together. Output length round(n / factor). A caller time-scales its labels by 1/factor.
std::vector<float> change_speed(const std::vector<float>& x, int rate, double factor);

// Pitch shift by `semitones` with the duration kept (±1 sample per 10 ms): resampling by the pitch
// ratio followed by a WSOLA time-stretch (overlap-add of 25 ms Hann windows at waveform-similar offsets).
std::vector<float> shift_pitch(const std::vector<float>& x, int rate, double semitones);

// WSOLA time-stretch: output length round(n · stretch), pitch kept.
std::vector<float> time_stretch(const std::vector<float>& x, int rate, double stretch);

enum class NoiseColour { White, Pink, Brown };
// Adds noise so that signal power / noise power = snr_db (signal power over the whole clip).
void add_noise(std::vector<float>& x, double snr_db, NoiseColour colour, std::mt19937_64& rng);

// Convolves with a synthetic room impulse response: a direct path, then exponentially decaying
// noise reaching −60 dB at rt60 seconds, mixed `wet` (0-1) against the dry signal; the result keeps
// the input's RMS.
void add_reverb(std::vector<float>& x, int rate, double rt60, double wet, std::mt19937_64& rng);

// A peaking-equaliser biquad (RBJ Audio EQ Cookbook): gain_db at f0 Hz with quality q.
struct Biquad {
  double b0 = 1, b1 = 0, b2 = 0, a1 = 0, a2 = 0;
  static Biquad peaking(double rate, double f0, double gain_db, double q);
  static Biquad low_shelf(double rate, double f0, double gain_db);
  static Biquad high_shelf(double rate, double f0, double gain_db);
  void apply(std::vector<float>& x) const;
};
// Random equalisation: 3 peaking bands (200 Hz - 5 kHz, ±max_db) and random low/high shelves.
void random_eq(std::vector<float>& x, int rate, double max_db, std::mt19937_64& rng);

struct AugmentOptions {
  double p_speed = 0.5, speed_min = 0.9, speed_max = 1.1;
  double p_pitch = 0.5, pitch_semitones = 3;
  double p_noise = 0.5, snr_min = 5, snr_max = 30;
  double p_reverb = 0.3, rt60_min = 0.15, rt60_max = 0.8;
  double p_eq = 0.5, eq_db = 9;
};
// Applies a random chain; returns the speed factor used (1 when none), for the caller's labels.
double augment(std::vector<float>& x, int rate, const AugmentOptions& opt, std::mt19937_64& rng);

}  // namespace emogene::audio
