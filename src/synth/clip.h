// Private to synth/: one clip of the synthetic world, built in two steps so that a subject take can
// draw blinks and head motion over the whole take while a corpus draws them per clip.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "emogene/dataset/dataset.h"
#include "emogene/synth/world.h"

namespace emogene::synth::detail {

constexpr float kCameraDistance = 8.f;  // canonical units (≈ 72 cm for a 90 mm eye span)

std::uint64_t mix(std::uint64_t a, std::uint64_t b);
std::uint64_t hash_str(const std::string& s);
// Idle frames: no speech phone overlaps the frame's interval; gaps under 0.25 s are speech.
std::vector<std::uint8_t> idle_from_phones(const std::vector<Phone>& phones, std::int64_t T, double fps);

struct ClipSpec {
  std::string id, voice, split;
  std::vector<std::string> sentences;  // spoken in order
  std::vector<double> gaps;            // silence between consecutive sentences, seconds
  int identity = 0;
  emotion::Emotion emotion = emotion::Emotion::Neutral;
  int level = 0;  // 0 neutral, 1-3 MEAD levels
  std::uint64_t seed = 0;
};

struct ClipDraft {
  dataset::ClipData clip;        // audio, idle, emotion, intensity, phonemes; no landmarks yet
  std::vector<Viseme> visemes;   // per frame
  std::vector<AUVector> au;      // per frame (expression with pitch-driven brows)
  std::vector<float> envelope;   // loudness per frame, drives nods
};

// Speech (with lead and trail silence drawn from rng), visemes, idle, expression.
ClipDraft draft_clip(const ClipSpec& spec, const Voice& base_voice, double fps, std::mt19937_64& rng);
// Adds blinks and poses and computes the three landmark tracks.
void finish_clip(ClipDraft& d, const landmarks::Shape& neutral, std::vector<float> blink, std::vector<float> poses);

}  // namespace emogene::synth::detail
