// The 8 emotions of MEAD, in the order of every [.., 8] array (DESIGN §4).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace emogene::emotion {

constexpr int kNumEmotions = 8;

enum class Emotion : int { Neutral = 0, Angry, Contempt, Disgusted, Fear, Happy, Sad, Surprised };

// "neutral", "angry", "contempt", "disgusted", "fear", "happy", "sad", "surprised"
const std::array<const char*, kNumEmotions>& emotion_names();
const char* emotion_name(Emotion e);
inline int emotion_index(Emotion e) { return static_cast<int>(e); }

// Exact lower-case name; nullopt if unknown.
std::optional<Emotion> find_emotion(const std::string& name);
// As find_emotion, but throws bad_input "<where>: unknown emotion 'x' (one of: neutral, angry, ...)".
Emotion parse_emotion(const std::string& name, const std::string& where);
// "all" or a comma-separated list of names (duplicates removed, DESIGN order kept).
std::vector<Emotion> parse_emotion_list(const std::string& list, const std::string& where);

// MEAD's intensity levels 1-3 as intensities 1/3, 2/3, 1.
inline float mead_level_intensity(int level) { return static_cast<float>(level) / 3.f; }

}  // namespace emogene::emotion
