// The emotion SPEC of `--emotion` and of the batch manifest (DESIGN §8), and the emotion track
// [T, 8] + intensity [T] it becomes for a clip (sampled at frame centres, DESIGN §1).
//
//   SPEC     := MIX | SCHEDULE
//   MIX      := PART ("+" PART)* ["@" INTENSITY]      happy   happy@0.5   happy:0.6+surprised:0.4@0.8
//   PART     := EMOTION [":" WEIGHT]                  weights normalised to sum 1
//   SCHEDULE := KEY ("," KEY)*                        0s:neutral,2.5s:happy@0.8,6s:sad:0.7+fear:0.3
//   KEY      := SECONDS "s:" MIX
//
// Parsing rules:
//  - Spaces (and tabs, newlines) around any token are ignored: " 2.5 s : happy : 0.6 + sad @ 0.8 ".
//    Inside a token they are not ("hap py" is an unknown emotion). Names are exact lower case.
//  - A text containing "," or starting with a digit, "." or "-" is a SCHEDULE; otherwise a MIX,
//    which is the same as the one-key schedule "0s:MIX".
//  - A PART without a weight has weight 1 before normalisation ("happy+sad" = 0.5 + 0.5). Weights
//    must be finite and >= 0 and must not all be 0. An emotion named twice in one mix is refused.
//  - INTENSITY defaults to 1 and must lie in [0, 1]; it applies to the whole mix and comes last.
//  - SECONDS must be finite and >= 0; keys must be strictly increasing in time. The first key need
//    not be at 0 s: it holds from the start.
//  - Numbers are decimal (std::from_chars, general format, the whole token: no "0.5abc", no "+1");
//    an exponent may carry a sign ("happy:1e+2+sad:1e2" is two parts of equal weight).
// Every malformed spec throws bad_input(where, ...) naming the offending part within the spec,
// e.g. "--emotion: 'happy:x' in 'happy:x+sad': weight 'x' is not a number".
//
// Intensity and neutral. parse_spec keeps what the user wrote ("neutral@0.7" keeps 0.7, a mix
// keeps its neutral weight). What a mix means is its *expression*: e[k] = intensity × weight[k] for
// every non-neutral emotion k (e[neutral] = 0); a neutral share in a mix therefore dilutes the
// intensity ("neutral:0.5+happy:0.5" expresses the same as "happy@0.5"). The track speaks the
// corpus' language (DESIGN §3): intensity = sum of e, weights = e / intensity with neutral weight
// 0; where nothing is expressed (pure neutral, or intensity 0) the row is neutral one-hot with
// intensity 0.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "emogene/emotion/emotions.h"

namespace emogene::emotion {

// The default length of a transition between schedule keys (DESIGN §8).
constexpr double kDefaultRampSeconds = 0.4;

struct Mix {
  std::array<float, kNumEmotions> weights{};  // DESIGN order; each in [0, 1], summing to 1
  float intensity = 1.f;                      // in [0, 1]
};

struct Key {
  double seconds = 0;  // when this mix begins (its transition starts here)
  Mix mix;
};

struct Spec {
  std::vector<Key> keys;  // at least one, strictly increasing in time; a plain MIX is one key at 0 s
};

// One emotion at the given intensity.
Mix mix_of(Emotion e, float intensity = 1.f);

// The expression of a mix: intensity × weight of every non-neutral emotion; [neutral] = 0.
std::array<float, kNumEmotions> expression(const Mix& m);

// Parses a SPEC; `where` names its source in error messages (the option, or "manifest.csv:3").
Spec parse_spec(const std::string& text, const std::string& where = "--emotion");

// The canonical text of a spec: a plain MIX for one key at 0 s, else "Ts:MIX" keys joined by ",".
// Parts are written in DESIGN order, only emotions with weight > 0, ":w" only when there are
// several, "@i" only when i != 1; numbers in their shortest round-trip form. parse_spec gives the
// spec back (times and intensities exactly, weights to float precision). An invalid spec (as
// parse_spec never returns) throws internal_error.
std::string format_spec(const Spec& spec);
std::string format_mix(const Mix& mix);

// What a spec says at one instant, as the track reports it (see the conventions above).
struct EmotionSample {
  std::array<float, kNumEmotions> weights{};  // sum 1, each in [0, 1]
  float intensity = 0.f;                      // in [0, 1]
};

// The emotion track of a clip: frame i holds the spec sampled at its centre (i + 0.5) / fps.
struct EmotionTrack {
  int frames = 0;
  std::vector<float> weights;    // [frames * kNumEmotions], row-major
  std::vector<float> intensity;  // [frames]
  const float* row(int i) const { return weights.data() + static_cast<std::size_t>(i) * kNumEmotions; }
};

// Timing: before the first key its mix holds. The transition into key k (k >= 1) starts at key
// k's time and lasts ramp_seconds, shortened to end at key k+1's time when that comes sooner, so
// each key is fully reached before the next one begins (no jumps). Within a transition the
// expression vector moves from key k-1's to key k's along smoothstep s = u²(3 - 2u), u the
// fraction of the ramp elapsed (C1: zero slope at both ends, slope at most 1.5 / ramp); intensity
// and weights are recovered from it as above. So intensity, and intensity × weights, change by at
// most 1.5 × |change between the keys| / (the transition's length) per second, and weights are
// continuous wherever intensity > 0 (at intensity 0 the row is neutral one-hot, whatever the
// emotion about to rise: the only place weights may switch, where they express nothing).
// A transition to or from a key at intensity 0 thus reads e.g. neutral@0 -> happy@0.01 -> ... -> happy@0.8.
// ramp_seconds = 0 switches at the key time (a frame centred exactly on it takes the new key).
// A ramp that is negative or not finite throws bad_input; a bad frame count, fps or spec throws
// internal_error.
EmotionSample sample_spec(const Spec& spec, double seconds, double ramp_seconds = kDefaultRampSeconds);
EmotionTrack make_track(const Spec& spec, int frames, double fps, double ramp_seconds = kDefaultRampSeconds);

}  // namespace emogene::emotion
