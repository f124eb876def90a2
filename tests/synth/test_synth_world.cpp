// The synthetic world's pieces: speech timing, visemes, the face model.
#include <gtest/gtest.h>

#include <cmath>

#include "emogene/synth/world.h"

using namespace emogene;
using namespace emogene::synth;

TEST(SynthSpeech, EspeakGivesAudioAndOrderedPhones) {
  Utterance u = speak("Bob may pay.", {"en-us+m1", 170, 50, 50});
  EXPECT_EQ(u.audio.sample_rate, 22050);
  EXPECT_GT(u.audio.duration(), 0.5);
  ASSERT_GT(u.phones.size(), 5u);
  int bilabials = 0;
  for (std::size_t i = 0; i < u.phones.size(); ++i) {
    EXPECT_LT(u.phones[i].start, u.phones[i].end);
    if (i) {
      EXPECT_GE(u.phones[i].start, u.phones[i - 1].start);
    }
    EXPECT_LE(u.phones[i].end, u.audio.duration() + 1e-9);
    bilabials += is_bilabial(u.phones[i].phone);
  }
  EXPECT_EQ(bilabials, 4);  // b, b, m, p
  // The same text and voice give the same samples.
  Utterance again = speak("Bob may pay.", {"en-us+m1", 170, 50, 50});
  EXPECT_EQ(again.audio.samples, u.audio.samples);
  // Emotion changes the voice: sad is slower than happy.
  Voice base{"en-us+f2", 170, 50, 50};
  Utterance sad = speak("The purple boat moves by the bay.", emotional_voice(base, emotion::Emotion::Sad, 1));
  Utterance happy = speak("The purple boat moves by the bay.", emotional_voice(base, emotion::Emotion::Happy, 1));
  EXPECT_GT(sad.audio.duration(), happy.audio.duration() * 1.1);
  EXPECT_EQ(all_voice_names().size(), 8u * 13u);
}

TEST(SynthArticulation, VisemesAndCoarticulation) {
  EXPECT_EQ(viseme_of("m").close, 1.f);
  EXPECT_GT(viseme_of("u:").round, 0.9f);
  EXPECT_GT(viseme_of("i:").spread, 0.8f);
  EXPECT_GT(viseme_of("a").jaw, 0.8f);
  // "a m a": the lips close at the m's midpoint even though it is short and between open vowels.
  std::vector<Phone> ph = {{"a", "", 0.0, 0.2}, {"m", "", 0.2, 0.26}, {"a", "", 0.26, 0.5}};
  auto v = articulate(ph, {0.1, 0.23, 0.38});
  EXPECT_GT(v[1].close, 0.9f);
  EXPECT_LT(v[0].close, 0.2f);
  EXPECT_GT(v[0].jaw, 0.6f);
  // Anticipation: before a rounded vowel, the lips start rounding.
  std::vector<Phone> ph2 = {{"s", "", 0.0, 0.1}, {"u:", "", 0.1, 0.3}};
  auto w = articulate(ph2, {0.08});
  EXPECT_GT(w[0].round, 0.2f);
}

TEST(SynthFace, SpeechEmotionAndBlinkMoveTheRightPoints) {
  const landmarks::Shape& n = landmarks::mean_face();
  AUVector none{};
  landmarks::Shape open = pose_face(n, viseme_of("a"), none, 1);
  landmarks::Shape closed = pose_face(n, viseme_of("m"), none, 1);
  EXPECT_GT(landmarks::lip_gap(open), 0.2f);
  EXPECT_LT(landmarks::lip_gap(closed), 0.03f);
  EXPECT_NEAR(open(17, 1), n(17, 1), 1e-6f);  // speech leaves the brows alone
  landmarks::Shape happy = pose_face(n, viseme_of("_"), emotion_prototype(emotion::Emotion::Happy), 1);
  EXPECT_GT(happy(54, 1), n(54, 1) + 0.03f);  // corners up
  EXPECT_GT(happy(54, 0) - happy(48, 0), n(54, 0) - n(48, 0));  // and wider
  landmarks::Shape sur = pose_face(n, viseme_of("_"), emotion_prototype(emotion::Emotion::Surprised), 1);
  EXPECT_GT(sur(19, 1), n(19, 1) + 0.05f);
  EXPECT_GT(landmarks::eye_openness(sur), landmarks::eye_openness(n));
  landmarks::Shape contempt = pose_face(n, viseme_of("_"), emotion_prototype(emotion::Emotion::Contempt), 1);
  EXPECT_GT(contempt(54, 1) - n(54, 1), contempt(48, 1) - n(48, 1) + 0.02f);  // one-sided
  landmarks::Shape shut = pose_face(n, viseme_of("_"), none, 0);
  EXPECT_LT(landmarks::eye_openness(shut), 0.1f * landmarks::eye_openness(n));
  // A smile widens an "ee" and fights an "oo".
  auto smile = emotion_prototype(emotion::Emotion::Happy);
  auto width = [](const landmarks::Shape& s) { return s(54, 0) - s(48, 0); };
  EXPECT_GT(width(pose_face(n, viseme_of("i:"), smile, 1)), width(pose_face(n, viseme_of("i:"), none, 1)));
  float oo_plain = width(pose_face(n, viseme_of("u:"), none, 1));
  float oo_smile = width(pose_face(n, viseme_of("u:"), smile, 1));
  float ee_plain = width(pose_face(n, viseme_of("i:"), none, 1));
  EXPECT_GT(oo_smile - oo_plain, 0.f);
  EXPECT_GT(oo_smile - oo_plain, width(pose_face(n, viseme_of("i:"), smile, 1)) - ee_plain);
}

TEST(SynthFace, IdentitiesVaryButKeepTheCanonicalFrame) {
  std::mt19937_64 rng(5);
  landmarks::Shape a = make_identity(rng), b = make_identity(rng);
  for (const auto& s : {a, b}) {
    EXPECT_NEAR(landmarks::iod(s), 1.f, 1e-5f);
    EXPECT_NEAR((0.5f * (s.row(39) + s.row(42))).norm(), 0.f, 1e-5f);
  }
  EXPECT_GT((a - b).norm(), 0.02f);
  EXPECT_LT((a - landmarks::mean_face()).cwiseAbs().maxCoeff(), 0.25f);
}

TEST(SynthMotion, BlinksAndPoses) {
  std::mt19937_64 rng(9);
  auto b = blink_track(25 * 60, 25, rng);
  int blinks = 0;
  for (std::size_t i = 1; i < b.size(); ++i) blinks += b[i] < 0.5f && b[i - 1] >= 0.5f;
  EXPECT_GE(blinks, 6);  // ~15 a minute
  EXPECT_LE(blinks, 30);
  std::vector<std::uint8_t> idle(250, 0);
  for (int i = 125; i < 250; ++i) idle[static_cast<std::size_t>(i)] = 1;
  std::vector<float> env(250, 0.2f);
  auto p = head_poses(idle, env, 25, 8, rng);
  ASSERT_EQ(p.size(), 250u * 16);
  for (int t = 0; t < 250; ++t) {
    Eigen::Map<const Eigen::Matrix<float, 4, 4, Eigen::RowMajor>> M(p.data() + t * 16);
    EXPECT_NEAR((M.block<3, 3>(0, 0).determinant()), 1.f, 1e-4f);
    EXPECT_NEAR(M(2, 3), -8.f, 0.5f);
    EXPECT_EQ(M(3, 3), 1.f);
  }
  // Stationary spread of yaw: ~6° while speaking, ~2.5° idle (sigma of the OU process).
  for (int speaking = 0; speaking < 2; ++speaking) {
    std::vector<std::uint8_t> id(25 * 600, speaking ? 0 : 1);
    std::vector<float> e(id.size(), 0.2f);
    auto q = head_poses(id, e, 25, 8, rng);
    double s2 = 0;
    for (std::size_t t = 0; t < id.size(); ++t) {
      double yaw = std::atan2(q[t * 16 + 2], q[t * 16 + 10]) * 57.29578;
      s2 += yaw * yaw;
    }
    double sd = std::sqrt(s2 / static_cast<double>(id.size()));
    std::printf("[ figures ] head yaw std %s: %.2f deg\n", speaking ? "speaking" : "idle", sd);
    EXPECT_NEAR(sd, speaking ? 6.0 : 2.5, speaking ? 1.5 : 0.8);
  }
}
