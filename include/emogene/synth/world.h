// The synthetic world's generative models (DESIGN §5): speech with phoneme timings (espeak-ng),
// visemes with coarticulation, emotions as facial action units with dynamics, identities around
// the mean face, head motion, idle stretches and blinks. Ground truth by construction; the
// performer in pose/ replays a subject instead.
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "emogene/audio/audio.h"
#include "emogene/emotion/emotions.h"
#include "emogene/landmarks/landmarks.h"

namespace emogene::synth {

// --- speech -------------------------------------------------------------------------------------
struct Phone {
  std::string phone;  // espeak mnemonic ("p", "aI", "_:" for a pause)
  std::string ipa;
  double start = 0, end = 0;  // seconds from the start of the returned audio
};

struct Voice {
  std::string name;   // espeak voice name with variant, e.g. "en-us+m3"
  int rate = 170;     // words per minute
  int pitch = 50;     // 0-100
  int range = 50;     // 0-100
};

struct Utterance {
  audio::Waveform audio;       // mono, espeak's rate (22050 Hz)
  std::vector<Phone> phones;   // speech phones and pauses, in order, covering the speech
};

// All English accents and voice variants espeak-ng ships, as "accent+variant".
std::vector<std::string> all_voice_names();

// Synthesises text. Not thread-safe (espeak-ng is global); the first call initialises espeak.
// Throws internal_error when espeak-ng or its data is missing.
Utterance speak(const std::string& text, const Voice& voice);

// How an emotion changes the voice (acted emotional speech: pitch, range and rate), by intensity.
Voice emotional_voice(const Voice& base, emotion::Emotion e, float intensity);

// Is this phone silence (a pause or a word gap)?
bool is_pause(const std::string& phone);
// IPA for an espeak English mnemonic (best effort; the mnemonic itself if unknown).
std::string mnemonic_to_ipa(const std::string& phone);

// --- articulation ----------------------------------------------------------------------------------
// Mouth parameters of a viseme, each in [0, 1].
struct Viseme {
  float jaw = 0;      // jaw opening
  float round = 0;    // lip rounding / protrusion
  float spread = 0;   // lip spreading
  float close = 0;    // lip closure (bilabials)
  float dental = 0;   // lower lip to upper teeth (f, v)
};
Viseme viseme_of(const std::string& phone);
bool is_bilabial(const std::string& phone);

// Viseme parameters at time t with coarticulation: each phone exerts a dominance function around its
// centre (after Cohen & Massaro 1993), wider towards earlier times (anticipation); bilabial closure
// dominates its neighbours so lips do close on p/b/m.
std::vector<Viseme> articulate(const std::vector<Phone>& phones, const std::vector<double>& times);

// --- the face ------------------------------------------------------------------------------------
// Facial action units used for expressions (FACS numbering).
enum AU : int { AU1, AU2, AU4, AU5, AU6, AU7, AU9, AU10, AU12, AU14L, AU15, AU17, AU20, AU23, AU24, AU26, kNumAU };
using AUVector = std::array<float, kNumAU>;

// The EMFACS-style prototype of each emotion at full intensity (contempt is one-sided).
AUVector emotion_prototype(emotion::Emotion e);

// A face: identity neutral shape + speech + expression + eyelids → landmarks (canonical space).
// neutral speech: pose(neutral, viseme, {}, 1); emotional: with the AUs; as shown: with the eyelid.
landmarks::Shape pose_face(const landmarks::Shape& neutral, const Viseme& v, const AUVector& au, float eyelid_open);

// An identity: the mean face with plausible per-person proportions, in canonical units.
landmarks::Shape make_identity(std::mt19937_64& rng);

// --- time courses ---------------------------------------------------------------------------------
// Expression envelope in [0, 1] over T frames: onset, apex with slow variation, offset.
std::vector<float> expression_envelope(std::int64_t frames, double fps, std::mt19937_64& rng);

// F0 in Hz at each frame centre (0 where unvoiced), by normalised autocorrelation.
std::vector<float> pitch_track(const audio::Waveform& mono, double fps, std::int64_t frames);

// Blink control values (1 open, 0 shut) and head poses [T, 4, 4] (DESIGN §4; head-to-camera).
std::vector<float> blink_track(std::int64_t frames, double fps, std::mt19937_64& rng);
std::vector<float> head_poses(const std::vector<std::uint8_t>& idle, const std::vector<float>& envelope,
                              double fps, float distance, std::mt19937_64& rng);

}  // namespace emogene::synth
