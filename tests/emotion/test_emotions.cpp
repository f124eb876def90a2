#include <gtest/gtest.h>

#include "emogene/core/error.h"
#include "emogene/emotion/emotions.h"

using namespace emogene;
using namespace emogene::emotion;

TEST(Emotions, DesignOrder) {
  const char* expect[] = {"neutral", "angry", "contempt", "disgusted", "fear", "happy", "sad", "surprised"};
  for (int i = 0; i < kNumEmotions; ++i) {
    EXPECT_STREQ(emotion_names()[static_cast<std::size_t>(i)], expect[i]);
    EXPECT_EQ(emotion_index(parse_emotion(expect[i], "x")), i);
  }
  EXPECT_FLOAT_EQ(mead_level_intensity(2), 2.f / 3.f);
}

TEST(Emotions, UnknownNamesListTheValidOnes) {
  try {
    parse_emotion("joyful", "--emotion");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "--emotion: unknown emotion 'joyful' (one of: neutral, angry, contempt, disgusted, fear, happy, sad, "
              "surprised)");
  }
  EXPECT_FALSE(find_emotion("Happy").has_value());  // names are exact
}

TEST(Emotions, Lists) {
  EXPECT_EQ(parse_emotion_list("all", "x").size(), 8u);
  auto l = parse_emotion_list("sad,happy,sad", "x");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0], Emotion::Happy);  // DESIGN order, duplicates removed
  EXPECT_EQ(l[1], Emotion::Sad);
  EXPECT_THROW(parse_emotion_list("happy,,sad", "x"), Error);
  EXPECT_THROW(parse_emotion_list("happy,glad", "x"), Error);
}
