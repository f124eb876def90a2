#include "emogene/emotion/emotions.h"

#include <algorithm>

#include "emogene/core/error.h"

namespace emogene::emotion {

const std::array<const char*, kNumEmotions>& emotion_names() {
  static const std::array<const char*, kNumEmotions> names = {"neutral", "angry", "contempt", "disgusted",
                                                              "fear",    "happy", "sad",      "surprised"};
  return names;
}

const char* emotion_name(Emotion e) { return emotion_names()[static_cast<std::size_t>(e)]; }

std::optional<Emotion> find_emotion(const std::string& name) {
  const auto& names = emotion_names();
  for (int i = 0; i < kNumEmotions; ++i)
    if (name == names[static_cast<std::size_t>(i)]) return static_cast<Emotion>(i);
  return std::nullopt;
}

static std::string all_names() {
  std::string s;
  for (const char* n : emotion_names()) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

Emotion parse_emotion(const std::string& name, const std::string& where) {
  if (auto e = find_emotion(name)) return *e;
  throw bad_input(where, "unknown emotion '" + name + "' (one of: " + all_names() + ")");
}

std::vector<Emotion> parse_emotion_list(const std::string& list, const std::string& where) {
  std::vector<bool> chosen(kNumEmotions, false);
  if (list == "all") {
    chosen.assign(kNumEmotions, true);
  } else {
    std::size_t start = 0;
    for (;;) {
      std::size_t comma = list.find(',', start);
      std::string part = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (part.empty()) throw bad_input(where, "empty emotion name in '" + list + "'");
      chosen[static_cast<std::size_t>(parse_emotion(part, where))] = true;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  std::vector<Emotion> out;
  for (int i = 0; i < kNumEmotions; ++i)
    if (chosen[static_cast<std::size_t>(i)]) out.push_back(static_cast<Emotion>(i));
  return out;
}

}  // namespace emogene::emotion
