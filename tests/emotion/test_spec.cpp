// The emotion SPEC grammar (DESIGN §8) and emotion tracks sampled at frame centres (DESIGN §1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "emogene/core/error.h"
#include "emogene/emotion/spec.h"
#include "testutil.h"

using namespace emogene;
using namespace emogene::emotion;

namespace {

constexpr std::size_t idx(Emotion e) { return static_cast<std::size_t>(e); }

std::array<float, kNumEmotions> one_hot(Emotion e) {
  std::array<float, kNumEmotions> w{};
  w[idx(e)] = 1.f;
  return w;
}

void expect_weights_near(const std::array<float, kNumEmotions>& got, const std::array<float, kNumEmotions>& want,
                         float tol, const std::string& what) {
  for (std::size_t k = 0; k < got.size(); ++k)
    EXPECT_NEAR(got[k], want[k], tol) << what << ": weight of " << emotion_names()[k];
}

void expect_spec_near(const Spec& a, const Spec& b, const std::string& what) {
  ASSERT_EQ(a.keys.size(), b.keys.size()) << what;
  for (std::size_t i = 0; i < a.keys.size(); ++i) {
    EXPECT_EQ(a.keys[i].seconds, b.keys[i].seconds) << what << " key " << i;
    EXPECT_EQ(a.keys[i].mix.intensity, b.keys[i].mix.intensity) << what << " key " << i;
    expect_weights_near(a.keys[i].mix.weights, b.keys[i].mix.weights, 1e-6f, what + " key " + std::to_string(i));
  }
}

std::array<float, kNumEmotions> row_of(const EmotionTrack& t, int i) {
  std::array<float, kNumEmotions> r{};
  std::copy(t.row(i), t.row(i) + kNumEmotions, r.begin());
  return r;
}

std::string message_of(const std::string& spec, const std::string& where = "--emotion") {
  return test::bad_input_message([&] { parse_spec(spec, where); });
}

// The track's reading of a mix: weights = expression / its sum, neutral one-hot when it is 0.
EmotionSample canonical(const Mix& m) {
  EmotionSample s;
  double sum = 0;
  for (int k = 1; k < kNumEmotions; ++k) sum += static_cast<double>(m.intensity) * m.weights[static_cast<std::size_t>(k)];
  if (sum == 0) {
    s.weights = one_hot(Emotion::Neutral);
    return s;
  }
  s.intensity = static_cast<float>(std::min(sum, 1.0));
  for (std::size_t k = 1; k < s.weights.size(); ++k) s.weights[k] = static_cast<float>(m.intensity * m.weights[k] / sum);
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------- parsing

TEST(Spec, DesignExamples) {
  Spec s = parse_spec("happy");
  ASSERT_EQ(s.keys.size(), 1u);
  EXPECT_EQ(s.keys[0].seconds, 0.0);
  EXPECT_EQ(s.keys[0].mix.weights, one_hot(Emotion::Happy));
  EXPECT_EQ(s.keys[0].mix.intensity, 1.f);

  s = parse_spec("happy@0.5");
  ASSERT_EQ(s.keys.size(), 1u);
  EXPECT_EQ(s.keys[0].mix.weights, one_hot(Emotion::Happy));
  EXPECT_EQ(s.keys[0].mix.intensity, 0.5f);

  s = parse_spec("happy:0.6+surprised:0.4@0.8");
  ASSERT_EQ(s.keys.size(), 1u);
  std::array<float, kNumEmotions> w{};
  w[idx(Emotion::Happy)] = 0.6f;
  w[idx(Emotion::Surprised)] = 0.4f;
  expect_weights_near(s.keys[0].mix.weights, w, 1e-7f, "mix");
  EXPECT_EQ(s.keys[0].mix.intensity, 0.8f);

  s = parse_spec("0s:neutral,2.5s:happy@0.8,6s:sad:0.7+fear:0.3");
  ASSERT_EQ(s.keys.size(), 3u);
  EXPECT_EQ(s.keys[0].seconds, 0.0);
  EXPECT_EQ(s.keys[0].mix.weights, one_hot(Emotion::Neutral));
  EXPECT_EQ(s.keys[0].mix.intensity, 1.f);  // as written; the track reads pure neutral as intensity 0
  EXPECT_EQ(s.keys[1].seconds, 2.5);
  EXPECT_EQ(s.keys[1].mix.weights, one_hot(Emotion::Happy));
  EXPECT_EQ(s.keys[1].mix.intensity, 0.8f);
  EXPECT_EQ(s.keys[2].seconds, 6.0);
  w = {};
  w[idx(Emotion::Sad)] = 0.7f;
  w[idx(Emotion::Fear)] = 0.3f;
  expect_weights_near(s.keys[2].mix.weights, w, 1e-7f, "key 2");
  EXPECT_EQ(s.keys[2].mix.intensity, 1.f);
}

TEST(Spec, WeightsAreNormalised) {
  auto weights = [](const std::string& text) { return parse_spec(text).keys.at(0).mix.weights; };
  std::array<float, kNumEmotions> w{};
  w[idx(Emotion::Happy)] = 0.5f;
  w[idx(Emotion::Sad)] = 0.5f;
  EXPECT_EQ(weights("happy+sad"), w);  // a part without a weight counts 1
  EXPECT_EQ(weights("sad:3+happy:3"), w);
  w[idx(Emotion::Happy)] = 0.25f;
  w[idx(Emotion::Sad)] = 0.75f;
  EXPECT_EQ(weights("happy:2+sad:6"), w);
  EXPECT_EQ(weights("happy+sad:3"), w);
  EXPECT_EQ(weights("happy:3"), one_hot(Emotion::Happy));
  EXPECT_EQ(weights("happy:1e-300"), one_hot(Emotion::Happy));
  EXPECT_EQ(weights("happy:1e300+sad:3e300"), w);  // no overflow
  EXPECT_EQ(weights("happy:0+sad:2"), one_hot(Emotion::Sad));
  EXPECT_EQ(weights("happy:1e+2+sad:3E+2"), w);  // a signed exponent is not a '+' between parts
  EXPECT_EQ(weights("happy:.1e+1+sad:3.e+0"), w);
  EXPECT_EQ(weights("happy:-0+sad:2"), one_hot(Emotion::Sad));
  // Every emotion at once sums to 1.
  const auto all = weights("neutral+angry+contempt+disgusted+fear+happy+sad+surprised");
  for (float x : all) EXPECT_EQ(x, 0.125f);
  // A neutral share is kept as written.
  const Mix m = parse_spec("neutral:1+happy:1@0.6").keys[0].mix;
  EXPECT_EQ(m.weights[idx(Emotion::Neutral)], 0.5f);
  EXPECT_EQ(m.weights[idx(Emotion::Happy)], 0.5f);
  EXPECT_EQ(m.intensity, 0.6f);
  EXPECT_EQ(parse_spec("neutral@0.7").keys[0].mix.intensity, 0.7f);
}

TEST(Spec, IntensityBounds) {
  EXPECT_EQ(parse_spec("happy@0").keys[0].mix.intensity, 0.f);
  EXPECT_EQ(parse_spec("happy@1").keys[0].mix.intensity, 1.f);
  EXPECT_EQ(parse_spec("happy@1.0").keys[0].mix.intensity, 1.f);
  EXPECT_EQ(parse_spec("happy@.25").keys[0].mix.intensity, 0.25f);
  EXPECT_EQ(parse_spec("happy@2.5e-1").keys[0].mix.intensity, 0.25f);
}

TEST(Spec, WhitespaceAroundTokensIsIgnored) {
  const Spec a = parse_spec("happy:0.6+surprised:0.4@0.8");
  expect_spec_near(parse_spec("  happy : 0.6 +\tsurprised:0.4 @ 0.8 \n"), a, "spaced mix");
  const Spec b = parse_spec("0s:neutral,2.5s:happy@0.8,6s:sad:0.7+fear:0.3");
  expect_spec_near(parse_spec(" 0 s : neutral , 2.5s: happy @0.8,  6 s:sad : 0.7 + fear:0.3 "), b, "spaced schedule");
  // ...but not inside a token.
  EXPECT_NE(message_of("hap py").find("unknown emotion 'hap py'"), std::string::npos);
  EXPECT_NE(message_of("happy:0. 5+sad").find("weight '0. 5' is not a number"), std::string::npos);
}

TEST(Spec, SchedulesAndPlainMixes) {
  // A plain mix is the one-key schedule at 0 s.
  expect_spec_near(parse_spec("0s:happy@0.3"), parse_spec("happy@0.3"), "0s key");
  // A lone key need not be at 0 s, nor the first of several.
  Spec s = parse_spec("3s:happy");
  ASSERT_EQ(s.keys.size(), 1u);
  EXPECT_EQ(s.keys[0].seconds, 3.0);
  s = parse_spec("0.5s:sad,1e1s:fear");
  ASSERT_EQ(s.keys.size(), 2u);
  EXPECT_EQ(s.keys[0].seconds, 0.5);
  EXPECT_EQ(s.keys[1].seconds, 10.0);
  EXPECT_EQ(parse_spec(".5s:sad").keys[0].seconds, 0.5);
  EXPECT_EQ(parse_spec("-0s:sad").keys[0].seconds, 0.0);
  EXPECT_FALSE(std::signbit(parse_spec("-0s:sad").keys[0].seconds));
}

TEST(Spec, MixHelpers) {
  const Mix m = mix_of(Emotion::Fear, 0.25f);
  EXPECT_EQ(m.weights, one_hot(Emotion::Fear));
  EXPECT_EQ(m.intensity, 0.25f);
  const auto e = expression(parse_spec("neutral:2+happy:1+sad:1@0.8").keys[0].mix);
  EXPECT_EQ(e[idx(Emotion::Neutral)], 0.f);
  EXPECT_FLOAT_EQ(e[idx(Emotion::Happy)], 0.2f);
  EXPECT_FLOAT_EQ(e[idx(Emotion::Sad)], 0.2f);
}

// ---------------------------------------------------------------------------------------- format

TEST(Spec, FormatIsCanonical) {
  auto canon = [](const std::string& text) { return format_spec(parse_spec(text)); };
  EXPECT_EQ(canon("happy"), "happy");
  EXPECT_EQ(canon("happy:7"), "happy");
  EXPECT_EQ(canon("happy@0.5"), "happy@0.5");
  EXPECT_EQ(canon("happy@1"), "happy");
  EXPECT_EQ(canon("happy:0.6+surprised:0.4@0.8"), "happy:0.6+surprised:0.4@0.8");
  EXPECT_EQ(canon("surprised:0.4+happy:0.6@0.8"), "happy:0.6+surprised:0.4@0.8");  // DESIGN order
  EXPECT_EQ(canon("happy+sad"), "happy:0.5+sad:0.5");
  EXPECT_EQ(canon("happy:0+sad"), "sad");
  EXPECT_EQ(canon("neutral@0.7"), "neutral@0.7");
  EXPECT_EQ(canon("0s:happy"), "happy");
  EXPECT_EQ(canon("3s:happy"), "3s:happy");
  EXPECT_EQ(canon(" 0s : neutral , 2.5s:happy@0.8,6s:sad:0.7+fear:0.3"), "0s:neutral,2.5s:happy@0.8,6s:fear:0.3+sad:0.7");
}

TEST(Spec, FormatRefusesInvalidSpecs) {
  Spec empty;
  EXPECT_THROW(format_spec(empty), Error);
  Spec s = parse_spec("happy");
  s.keys[0].mix.intensity = 1.5f;
  EXPECT_THROW(format_spec(s), Error);
  s = parse_spec("happy");
  s.keys[0].mix.weights[0] = 0.5f;  // sums to 1.5
  EXPECT_THROW(format_spec(s), Error);
  s = parse_spec("1s:happy,2s:sad");
  s.keys[1].seconds = 1;
  try {
    format_spec(s);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Internal);
  }
}

// Random specs as text (with varied spacing and number forms): parse(format(parse(text))) equals
// parse(text), and the parse matches the numbers written.
TEST(Spec, RoundTripRandomText) {
  std::mt19937 rng(20240611);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto space = [&] { return std::string(pick(3) == 0 ? " " : ""); };
  auto num = [&](double v, int style) {
    char buf[64];
    switch (style) {
      case 0: std::snprintf(buf, sizeof buf, "%.3f", v); break;
      case 1: std::snprintf(buf, sizeof buf, "%.9g", v); break;
      case 2: std::snprintf(buf, sizeof buf, "%.17g", v); break;
      default: std::snprintf(buf, sizeof buf, "%e", v); break;
    }
    return std::string(buf);
  };
  for (int trial = 0; trial < 1000; ++trial) {
    const int keys = 1 + pick(5);
    const bool schedule = keys > 1 || pick(2) == 0;
    std::string text;
    double t = pick(3) == 0 ? 0.0 : unit(rng) * 3;
    std::vector<double> times;
    std::vector<std::array<double, kNumEmotions>> raw_weights;
    std::vector<double> intensities;
    for (int k = 0; k < keys; ++k) {
      std::string mix;
      std::array<int, kNumEmotions> order{0, 1, 2, 3, 4, 5, 6, 7};
      std::shuffle(order.begin(), order.end(), rng);
      const int parts = 1 + pick(4);
      std::array<double, kNumEmotions> w{};
      for (int p = 0; p < parts; ++p) {
        const int e = order[static_cast<std::size_t>(p)];
        std::string part = space() + emotion_names()[static_cast<std::size_t>(e)] + space();
        if (pick(3) == 0) {
          w[static_cast<std::size_t>(e)] = 1;
        } else {
          const int style = pick(4);
          const double v = pick(4) == 0 ? static_cast<double>(1 + pick(9)) : 0.01 + unit(rng) * 5;
          const std::string tok = num(v, style);
          w[static_cast<std::size_t>(e)] = std::stod(tok);
          part += ":" + space() + tok + space();
        }
        mix += (p ? "+" : "") + part;
      }
      double intensity = 1;
      if (pick(4) != 0) {
        const int style = pick(4);
        const double v = pick(5) == 0 ? static_cast<double>(pick(2)) : unit(rng);
        const std::string tok = num(v, style);
        intensity = std::stod(tok);
        mix += "@" + space() + tok + space();
      }
      std::string key = mix;
      if (schedule) {
        const std::string tok = num(t, pick(3));
        t = std::stod(tok);
        key = space() + tok + space() + "s:" + mix;
      }
      text += (k ? "," : "") + key;
      times.push_back(schedule ? t : 0.0);
      raw_weights.push_back(w);
      intensities.push_back(intensity);
      t += 0.001 + unit(rng) * 4;
    }
    SCOPED_TRACE(text);
    const Spec s = parse_spec(text);
    ASSERT_EQ(s.keys.size(), static_cast<std::size_t>(keys));
    for (int k = 0; k < keys; ++k) {
      const Key& key = s.keys[static_cast<std::size_t>(k)];
      EXPECT_EQ(key.seconds, times[static_cast<std::size_t>(k)]);
      EXPECT_EQ(key.mix.intensity, static_cast<float>(intensities[static_cast<std::size_t>(k)]));
      const auto& w = raw_weights[static_cast<std::size_t>(k)];
      double sum = 0;
      for (double x : w) sum += x;
      float total = 0;
      for (std::size_t e = 0; e < w.size(); ++e) {
        EXPECT_NEAR(key.mix.weights[e], w[e] / sum, 1e-6);
        total += key.mix.weights[e];
      }
      EXPECT_NEAR(total, 1.f, 1e-6f);
    }
    const std::string canon = format_spec(s);
    expect_spec_near(parse_spec(canon), s, canon);
  }
}

// Random specs built in code: parse(format(s)) == s (times and intensities exactly, weights to float
// precision), including awkward values (tiny weights, long fractions, large times).
TEST(Spec, RoundTripRandomSpecs) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> unitf(0.f, 1.f);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int trial = 0; trial < 1000; ++trial) {
    Spec s;
    const int keys = 1 + static_cast<int>(rng() % 6);
    double t = rng() % 2 ? 0.0 : unit(rng) * 1e-3;
    for (int k = 0; k < keys; ++k) {
      Mix m;
      std::array<double, kNumEmotions> w{};
      double sum = 0;
      for (auto& x : w) {
        const unsigned r = rng() % 4;
        x = r == 0 ? unit(rng) : r == 1 ? unit(rng) * 1e-6 : 0.0;
        sum += x;
      }
      if (sum == 0) w[rng() % kNumEmotions] = sum = 1;
      for (std::size_t e = 0; e < w.size(); ++e) m.weights[e] = static_cast<float>(w[e] / sum);
      m.intensity = rng() % 5 == 0 ? 1.f : unitf(rng);
      s.keys.push_back({t, m});
      t += rng() % 3 == 0 ? unit(rng) * 1e4 : unit(rng) * 0.1 + 1e-9;
    }
    const std::string text = format_spec(s);
    expect_spec_near(parse_spec(text), s, text);
  }
}

// ----------------------------------------------------------------------------------------- errors

TEST(Spec, ErrorMessagesExactly) {
  EXPECT_EQ(message_of("happy:x+sad"), "--emotion: 'happy:x' in 'happy:x+sad': weight 'x' is not a number");
  EXPECT_EQ(message_of("glad"),
            "--emotion: unknown emotion 'glad' (one of: neutral, angry, contempt, disgusted, fear, happy, sad, "
            "surprised)");
  EXPECT_EQ(message_of("happy+glad:0.5"),
            "--emotion: 'glad:0.5' in 'happy+glad:0.5': unknown emotion 'glad' (one of: neutral, angry, contempt, "
            "disgusted, fear, happy, sad, surprised)");
  EXPECT_EQ(message_of("happy@1.5"), "--emotion: 'happy@1.5': intensity '1.5' is outside [0, 1]");
  EXPECT_EQ(message_of(""), "--emotion: empty emotion spec");
  EXPECT_EQ(message_of(" \t "), "--emotion: empty emotion spec");
  EXPECT_EQ(message_of("happy++sad"), "--emotion: 'happy++sad': empty part between '+' signs");
  EXPECT_EQ(message_of("0s:happy,2s:sad,1s:fear"),
            "--emotion: '1s:fear' in '0s:happy,2s:sad,1s:fear': time 1s is not after the previous key's 2s "
            "(times must increase)");
  EXPECT_EQ(message_of("0s:neutral,2.5:happy"),
            "--emotion: '2.5:happy' in '0s:neutral,2.5:happy': missing 's:' after the time (a schedule key is "
            "SECONDS s:MIX, e.g. 2.5s:happy)");
  EXPECT_EQ(message_of("happy,sad"),
            "--emotion: 'happy' in 'happy,sad': missing time: a schedule key is SECONDS s:MIX, e.g. 2.5s:happy "
            "(to mix emotions use '+', e.g. happy+sad)");
  EXPECT_EQ(message_of("happy+happy:2"), "--emotion: 'happy+happy:2': emotion 'happy' appears more than once (give it one weight)");
  // The source named by the caller, or none.
  EXPECT_EQ(message_of("happy:-1", "manifest.csv:3"), "manifest.csv:3: 'happy:-1': weight '-1' is negative");
  EXPECT_EQ(message_of("happy+sad:-1", ""), "'sad:-1' in 'happy+sad:-1': weight '-1' is negative");
}

// Every class of malformed spec: a bad_input naming the offending token and saying what is wrong.
TEST(Spec, EveryMalformedClassIsRefused) {
  struct Case {
    const char* text;
    std::vector<const char*> want;  // each must appear in the message
  };
  const std::vector<Case> cases = {
      {"", {"empty emotion spec"}},
      {"Happy", {"unknown emotion 'Happy'", "one of: neutral"}},
      {"happy+joy", {"'joy' in 'happy+joy'", "unknown emotion 'joy'"}},
      {"0s:happy,1s:joy@0.5", {"'joy' in '0s:happy,1s:joy@0.5'", "unknown emotion 'joy'"}},
      {"happy:1e+sad", {"'happy:1e' in", "weight '1e' is not a number"}},
      {"happy++sad", {"'happy++sad'", "empty part between '+' signs"}},
      {"+happy", {"'+happy'", "empty part before '+'"}},
      {"happy+", {"'happy+'", "empty part after '+'"}},
      {"happy+ +sad", {"'happy+ +sad'", "empty part"}},
      {"@0.5", {"'@0.5'", "no emotion before '@'"}},
      {"happy+:0.5", {"':0.5' in 'happy+:0.5'", "missing emotion before ':'"}},
      {"happy:", {"'happy:'", "missing weight after ':'"}},
      {"happy:x+sad", {"'happy:x' in", "weight 'x' is not a number"}},
      {"happy:0.5abc+sad", {"'happy:0.5abc'", "weight '0.5abc' is not a number"}},
      {"happy:+0.5", {"'happy:'", "missing weight"}},  // '+' separates parts
      {"happy:0x1p3", {"weight '0x1p3' is not a number"}},
      {"happy:0.5:0.5", {"weight '0.5:0.5' is not a number"}},
      {"happy:-0.5+sad", {"'happy:-0.5'", "weight '-0.5' is negative"}},
      {"happy:0+sad:0", {"'happy:0+sad:0'", "weights sum to 0"}},
      {"happy:0", {"'happy:0'", "weight is 0"}},
      {"happy:nan", {"weight 'nan' is not finite"}},
      {"happy:inf+sad", {"'happy:inf'", "weight 'inf' is not finite"}},
      {"happy:1e999", {"weight '1e999' is out of range"}},
      {"happy+sad+happy", {"'happy+sad+happy'", "emotion 'happy' appears more than once"}},
      {"happy@", {"'happy@'", "missing intensity after '@'"}},
      {"happy@x", {"intensity 'x' is not a number"}},
      {"happy@0.5x", {"intensity '0.5x' is not a number"}},
      {"happy@1.01", {"intensity '1.01' is outside [0, 1]"}},
      {"happy@-0.1", {"intensity '-0.1' is outside [0, 1]"}},
      {"happy@nan", {"intensity 'nan' is not finite"}},
      {"happy@inf", {"intensity 'inf' is not finite"}},
      {"happy@0.5+sad", {"intensity '0.5+sad' is not a number", "comes last"}},
      {"happy@0.5@0.2", {"'happy@0.5@0.2'", "more than one '@'"}},
      {"0s:happy,2.5:sad", {"'2.5:sad' in", "missing 's:' after the time"}},
      {"2s happy", {"'2s happy'", "missing 's:'"}},
      {"0s:happy,sad", {"'sad' in '0s:happy,sad'", "missing time"}},
      {"0s:happy,sad:0.5", {"'sad:0.5' in", "missing time"}},
      {"happy,sad", {"'happy' in 'happy,sad'", "missing time", "happy+sad"}},
      {"0s:happy,1.5xs:sad", {"'1.5xs:sad' in", "time '1.5x' is not a number"}},
      {"0s:happy,1.5 x s:sad", {"time '1.5 x' is not a number"}},
      {"-1s:happy", {"'-1s:happy'", "time '-1' is negative"}},
      {"0s:happy,infs:sad", {"'infs:sad' in", "time 'inf' is not finite"}},
      {"0s:happy,1e999s:sad", {"time '1e999' is out of range"}},
      {"0s:happy,2s:sad,1s:fear", {"'1s:fear' in", "time 1s is not after the previous key's 2s"}},
      {"0s:happy,0s:sad", {"'0s:sad' in", "time 0s is not after the previous key's 0s"}},
      {"1s:happy,1.0s:sad", {"not after the previous key's 1s"}},
      {"0s:happy,,2s:sad", {"'0s:happy,,2s:sad'", "empty key between ',' signs"}},
      {"0s:happy,", {"'0s:happy,'", "empty key after ','"}},
      {",0s:happy", {"empty key before ','"}},
      {"0s:", {"'0s:'", "missing mix after 's:'"}},
      {"0s:happy,2s: ", {"'2s:' in", "missing mix after 's:'"}},
      {"0s:happy,2s:@0.5", {"'@0.5' in", "no emotion before '@'"}},
      {"0s:happy,2s:sad:x", {"'sad:x' in '0s:happy,2s:sad:x'", "weight 'x' is not a number"}},
      {"0s:happy,2s:sad@2", {"'sad@2' in", "intensity '2' is outside [0, 1]"}},
      {"0s:happy;1s:sad", {"unknown emotion 'happy;1s'"}},
  };
  for (const Case& c : cases) {
    const std::string msg = message_of(c.text);
    ASSERT_FALSE(msg.empty()) << "accepted: '" << c.text << "'";
    EXPECT_EQ(msg.rfind("--emotion: ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const char* w : c.want) EXPECT_NE(msg.find(w), std::string::npos) << "'" << c.text << "' -> " << msg;
  }
}

// ----------------------------------------------------------------------------------------- tracks

TEST(Track, ConstantSpecGivesConstantRows) {
  for (const char* text : {"happy:0.6+surprised:0.4@0.8", "3s:happy:0.6+surprised:0.4@0.8"}) {
    SCOPED_TRACE(text);
    const EmotionTrack t = make_track(parse_spec(text), 100, 25);
    ASSERT_EQ(t.frames, 100);
    ASSERT_EQ(t.weights.size(), 800u);
    ASSERT_EQ(t.intensity.size(), 100u);
    std::array<float, kNumEmotions> w{};
    w[idx(Emotion::Happy)] = 0.6f;
    w[idx(Emotion::Surprised)] = 0.4f;
    expect_weights_near(row_of(t, 0), w, 1e-7f, "row 0");
    EXPECT_EQ(t.intensity[0], 0.8f);
    for (int i = 1; i < t.frames; ++i) {
      EXPECT_EQ(row_of(t, i), row_of(t, 0)) << "frame " << i;
      EXPECT_EQ(t.intensity[static_cast<std::size_t>(i)], t.intensity[0]) << "frame " << i;
    }
  }
  const EmotionTrack none = make_track(parse_spec("happy"), 0, 25);
  EXPECT_EQ(none.frames, 0);
  EXPECT_TRUE(none.weights.empty());
  EXPECT_TRUE(none.intensity.empty());
}

TEST(Track, NeutralAndIntensityConventions) {
  auto at0 = [](const std::string& text) { return sample_spec(parse_spec(text), 0.0); };
  for (const char* text : {"neutral", "neutral@0.7", "happy@0", "happy:0.5+sad:0.5@0", "neutral:2+fear:1@0"}) {
    const EmotionSample s = at0(text);
    EXPECT_EQ(s.weights, one_hot(Emotion::Neutral)) << text;
    EXPECT_EQ(s.intensity, 0.f) << text;
  }
  // A neutral share dilutes the intensity: the track reports the expression.
  EmotionSample s = at0("neutral:0.5+happy:0.5");
  EXPECT_EQ(s.weights, one_hot(Emotion::Happy));
  EXPECT_EQ(s.intensity, 0.5f);
  s = at0("neutral:1+happy:3@0.8");
  EXPECT_EQ(s.weights, one_hot(Emotion::Happy));
  EXPECT_FLOAT_EQ(s.intensity, 0.6f);
  s = at0("neutral:2+happy:1+sad:1@0.8");
  EXPECT_FLOAT_EQ(s.weights[idx(Emotion::Happy)], 0.5f);
  EXPECT_FLOAT_EQ(s.weights[idx(Emotion::Sad)], 0.5f);
  EXPECT_EQ(s.weights[idx(Emotion::Neutral)], 0.f);
  EXPECT_FLOAT_EQ(s.intensity, 0.4f);
  s = at0("happy@0.3");
  EXPECT_EQ(s.weights, one_hot(Emotion::Happy));
  EXPECT_EQ(s.intensity, 0.3f);
}

// The DESIGN schedule at 25 fps with the default 0.4 s ramp.
TEST(Track, ScheduleValuesAtKnownTimes) {
  const Spec spec = parse_spec("0s:neutral,2.5s:happy@0.8,6s:sad:0.7+fear:0.3");
  const EmotionTrack t = make_track(spec, 200, 25);
  for (int i = 0; i <= 62; ++i) {  // frame 62 is centred on 2.5 s, where the ramp starts: still neutral
    EXPECT_EQ(row_of(t, i), one_hot(Emotion::Neutral)) << "frame " << i;
    EXPECT_EQ(t.intensity[static_cast<std::size_t>(i)], 0.f) << "frame " << i;
  }
  // Frame 63 (2.54 s): u = 0.1, smoothstep 0.028.
  EXPECT_EQ(row_of(t, 63), one_hot(Emotion::Happy));
  EXPECT_NEAR(t.intensity[63], 0.8 * 0.028, 1e-6);
  // Ramp ends at 2.9 s; happy@0.8 holds until the next key at 6 s (frame 149 is centred on 5.98 s).
  for (int i = 73; i <= 149; ++i) {
    EXPECT_EQ(row_of(t, i), one_hot(Emotion::Happy)) << "frame " << i;
    EXPECT_EQ(t.intensity[static_cast<std::size_t>(i)], 0.8f) << "frame " << i;
  }
  // Halfway through the second ramp (6.2 s): e = 0.4 happy + 0.35 sad + 0.15 fear.
  const EmotionSample mid = sample_spec(spec, 6.2);
  std::array<float, kNumEmotions> w{};
  w[idx(Emotion::Happy)] = 0.4f / 0.9f;
  w[idx(Emotion::Sad)] = 0.35f / 0.9f;
  w[idx(Emotion::Fear)] = 0.15f / 0.9f;
  expect_weights_near(mid.weights, w, 1e-5f, "6.2 s");
  EXPECT_NEAR(mid.intensity, 0.9f, 1e-5f);
  // From 6.4 s on: sad:0.7+fear:0.3 at full intensity.
  w = {};
  w[idx(Emotion::Sad)] = 0.7f;
  w[idx(Emotion::Fear)] = 0.3f;
  for (int i = 161; i < 200; ++i) {
    expect_weights_near(row_of(t, i), w, 1e-6f, "frame " + std::to_string(i));
    EXPECT_NEAR(t.intensity[static_cast<std::size_t>(i)], 1.f, 1e-6f) << "frame " << i;
  }
  // make_track is sample_spec at frame centres.
  for (int i = 0; i < 200; ++i) {
    const EmotionSample s = sample_spec(spec, (i + 0.5) / 25);
    EXPECT_EQ(row_of(t, i), s.weights) << "frame " << i;
    EXPECT_EQ(t.intensity[static_cast<std::size_t>(i)], s.intensity) << "frame " << i;
  }
}

// Times chosen to be exact in binary: the smoothstep midpoint is exactly halfway.
TEST(Track, SmoothstepMidpointIsExactlyHalfway) {
  // fps 8: frame 8 is centred on 1.0625 s, frame 10 on 1.3125 s = key + ramp / 2.
  const EmotionTrack t = make_track(parse_spec("0s:happy,1.0625s:sad"), 16, 8, 0.5);
  EXPECT_EQ(row_of(t, 8), one_hot(Emotion::Happy));
  std::array<float, kNumEmotions> w{};
  w[idx(Emotion::Happy)] = 0.84375f;  // u = 1/4: smoothstep = 5/32
  w[idx(Emotion::Sad)] = 0.15625f;
  EXPECT_EQ(row_of(t, 9), w);
  w[idx(Emotion::Happy)] = 0.5f;
  w[idx(Emotion::Sad)] = 0.5f;
  EXPECT_EQ(row_of(t, 10), w);
  w[idx(Emotion::Happy)] = 0.15625f;  // symmetric
  w[idx(Emotion::Sad)] = 0.84375f;
  EXPECT_EQ(row_of(t, 11), w);
  EXPECT_EQ(row_of(t, 12), one_hot(Emotion::Sad));  // 1.5625 s: the ramp's end
  for (int i = 0; i < t.frames; ++i) EXPECT_EQ(t.intensity[static_cast<std::size_t>(i)], 1.f);

  const EmotionTrack n = make_track(parse_spec("0s:neutral,1.0625s:happy@0.8"), 16, 8, 0.5);
  EXPECT_EQ(n.intensity[8], 0.f);
  EXPECT_EQ(n.intensity[10], 0.4f);
  EXPECT_EQ(n.intensity[12], 0.8f);
  EXPECT_EQ(row_of(n, 10), one_hot(Emotion::Happy));
}

TEST(Track, FrameCentreSampling) {
  const Spec spec = parse_spec("0s:happy,2.5s:sad");
  // No ramp: a key at exactly a frame's centre (frame 62 at 25 fps) applies to that frame.
  const EmotionTrack step = make_track(spec, 100, 25, 0.0);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(row_of(step, i), one_hot(i < 62 ? Emotion::Happy : Emotion::Sad)) << "frame " << i;
  // With a ramp, that frame is the ramp's start: still the old mix; the next frame has moved.
  const EmotionTrack ramp = make_track(spec, 100, 25);
  EXPECT_EQ(row_of(ramp, 62), one_hot(Emotion::Happy));
  EXPECT_GT(ramp.row(63)[idx(Emotion::Sad)], 0.f);
  EXPECT_LT(ramp.row(63)[idx(Emotion::Sad)], 0.1f);
  // The same at 30 fps: frame 1 is centred on 0.05 s.
  const EmotionTrack f30 = make_track(parse_spec("0s:happy,0.05s:sad"), 3, 30, 0.0);
  EXPECT_EQ(row_of(f30, 0), one_hot(Emotion::Happy));
  EXPECT_EQ(row_of(f30, 1), one_hot(Emotion::Sad));
  // A frame is never sampled at its start: frame 0 of a 1 fps track is at 0.5 s.
  const EmotionTrack slow = make_track(parse_spec("0s:happy,0.5s:sad"), 1, 1, 0.0);
  EXPECT_EQ(row_of(slow, 0), one_hot(Emotion::Sad));
}

TEST(Track, FirstKeyHoldsBeforeItsTime) {
  const EmotionTrack t = make_track(parse_spec("1s:happy@0.5,2s:sad"), 75, 25);
  for (int i = 0; i <= 50; ++i) {  // up to frame 50 (2.02 s) just after the second key's start
    if (i == 50) break;
    EXPECT_EQ(row_of(t, i), one_hot(Emotion::Happy)) << "frame " << i;
    EXPECT_EQ(t.intensity[static_cast<std::size_t>(i)], 0.5f) << "frame " << i;
  }
  EXPECT_EQ(row_of(t, 74), one_hot(Emotion::Sad));
}

TEST(Track, RampIsShortenedWhenKeysAreCloser) {
  // Keys 0.25 s apart with a 0.4 s ramp: the ramp into sad lasts 0.25 s and is complete at 1.25 s.
  const Spec spec = parse_spec("0s:happy,1s:sad,1.25s:fear");
  const EmotionTrack t = make_track(spec, 40, 20);  // frame 22 is centred on 1.125 s
  std::array<float, kNumEmotions> w{};
  w[idx(Emotion::Happy)] = 0.5f;
  w[idx(Emotion::Sad)] = 0.5f;
  EXPECT_EQ(row_of(t, 22), w);
  const EmotionSample just_before = sample_spec(spec, 1.25 - 1e-9);
  const EmotionSample at = sample_spec(spec, 1.25);
  EXPECT_EQ(at.weights, one_hot(Emotion::Sad));  // fully reached: the next ramp starts from sad
  EXPECT_NEAR(just_before.weights[idx(Emotion::Sad)], 1.f, 1e-6f);
  // The last ramp keeps its full length: halfway at 1.45 s.
  const EmotionSample mid = sample_spec(spec, 1.45);
  EXPECT_NEAR(mid.weights[idx(Emotion::Sad)], 0.5f, 1e-6f);
  EXPECT_NEAR(mid.weights[idx(Emotion::Fear)], 0.5f, 1e-6f);
  EXPECT_EQ(mid.weights[idx(Emotion::Happy)], 0.f);
  // A key shorter than a frame still hands over without a jump from the key before it.
  const Spec quick = parse_spec("0s:happy,1s:sad,1.01s:fear");
  const EmotionSample q = sample_spec(quick, 1.02);
  EXPECT_EQ(q.weights[idx(Emotion::Happy)], 0.f);
  EXPECT_GT(q.weights[idx(Emotion::Sad)], 0.9f);
  // Max per-frame change stays within the shortened ramp's slope.
  float max_step = 0;
  for (int i = 1; i < t.frames; ++i)
    for (int k = 0; k < kNumEmotions; ++k) max_step = std::max(max_step, std::abs(t.row(i)[k] - t.row(i - 1)[k]));
  EXPECT_LE(max_step, 1.5f / (0.25f * 20) + 1e-6f);
}

// Per-frame changes are bounded by the smoothstep's slope: 1.5 × change / (ramp × fps).
TEST(Track, ContinuityIsBoundedByTheRamp) {
  for (double ramp : {0.1, 0.4, 1.0}) {
    for (double fps : {25.0, 30.0, 60.0}) {
      SCOPED_TRACE("ramp " + std::to_string(ramp) + " fps " + std::to_string(fps));
      const double bound = 1.5 / (ramp * fps) + 1e-6;
      // Full switches between emotions at intensity 1: the weights themselves move smoothly.
      const EmotionTrack a = make_track(parse_spec("0s:happy,2s:sad,4s:surprised,6s:happy,7s:angry:0.5+fear:0.5"),
                                        static_cast<int>(std::ceil(9 * fps)), fps, ramp);
      double max_w = 0;
      for (int i = 1; i < a.frames; ++i) {
        for (int k = 0; k < kNumEmotions; ++k) max_w = std::max(max_w, std::abs(double(a.row(i)[k]) - a.row(i - 1)[k]));
        EXPECT_EQ(a.intensity[static_cast<std::size_t>(i)], 1.f);
      }
      EXPECT_LE(max_w, bound);
      EXPECT_GE(max_w, 1.0 / (ramp * fps) - 1e-6);  // and the bound is close to what a full switch does
      // Through neutral: intensity and expression (intensity × weights) move smoothly.
      const EmotionTrack b = make_track(parse_spec("0s:neutral,2s:happy,4s:neutral,6s:angry:0.5+fear:0.5@0.9,8s:sad@0.2"),
                                        static_cast<int>(std::ceil(10 * fps)), fps, ramp);
      double max_i = 0, max_e = 0;
      for (int i = 1; i < b.frames; ++i) {
        max_i = std::max(max_i, std::abs(double(b.intensity[static_cast<std::size_t>(i)]) - b.intensity[static_cast<std::size_t>(i - 1)]));
        for (int k = 0; k < kNumEmotions; ++k) {
          const double e1 = double(b.intensity[static_cast<std::size_t>(i)]) * b.row(i)[k];
          const double e0 = double(b.intensity[static_cast<std::size_t>(i - 1)]) * b.row(i - 1)[k];
          max_e = std::max(max_e, std::abs(e1 - e0));
        }
      }
      EXPECT_LE(max_i, bound);
      EXPECT_LE(max_e, bound);
    }
  }
}

TEST(Track, ZeroRampIsAStep) {
  const EmotionTrack t = make_track(parse_spec("0s:happy,1s:sad@0.5"), 50, 25, 0.0);
  for (int i = 0; i < 50; ++i) {
    const bool after = (i + 0.5) / 25 >= 1;
    EXPECT_EQ(row_of(t, i), one_hot(after ? Emotion::Sad : Emotion::Happy)) << "frame " << i;
    EXPECT_EQ(t.intensity[static_cast<std::size_t>(i)], after ? 0.5f : 1.f) << "frame " << i;
  }
}

// Random schedules: every row is a distribution, intensity in [0, 1], the corpus convention holds
// (neutral weight 1 exactly when nothing is expressed), settled keys read as the key's mix, and the
// expression never jumps more than the shortest ramp allows.
TEST(Track, InvariantsOnRandomSchedules) {
  std::mt19937 rng(99);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int trial = 0; trial < 200; ++trial) {
    Spec spec;
    double t = rng() % 2 ? 0.0 : unit(rng) * 2;
    const int keys = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < keys; ++k) {
      Mix m;
      std::array<double, kNumEmotions> w{};
      double sum = 0;
      for (auto& x : w) sum += (x = rng() % 3 == 0 ? unit(rng) : 0.0);
      if (sum == 0) w[rng() % kNumEmotions] = sum = 1;
      for (std::size_t e = 0; e < w.size(); ++e) m.weights[e] = static_cast<float>(w[e] / sum);
      m.intensity = rng() % 4 == 0 ? 0.f : static_cast<float>(unit(rng));
      spec.keys.push_back({t, m});
      t += 0.01 + unit(rng) * 2;
    }
    const double ramps[] = {0.0, 0.05, 0.4, 1.0};
    const double ramp = ramps[rng() % 4];
    const double fps = rng() % 2 ? 25.0 : 30.0;
    const int frames = static_cast<int>(std::ceil((t + 1) * fps));
    const std::string text = format_spec(spec);
    SCOPED_TRACE(text + " ramp " + std::to_string(ramp) + " fps " + std::to_string(fps));
    const EmotionTrack tr = make_track(spec, frames, fps, ramp);
    double min_ramp = ramp;
    for (std::size_t k = 1; k + 1 < spec.keys.size(); ++k)
      min_ramp = std::min(min_ramp, spec.keys[k + 1].seconds - spec.keys[k].seconds);
    for (int i = 0; i < frames; ++i) {
      const float* r = tr.row(i);
      const float in = tr.intensity[static_cast<std::size_t>(i)];
      double sum = 0;
      for (int k = 0; k < kNumEmotions; ++k) {
        ASSERT_GE(r[k], 0.f);
        ASSERT_LE(r[k], 1.f);
        sum += r[k];
      }
      ASSERT_NEAR(sum, 1.0, 1e-6) << "frame " << i;
      ASSERT_GE(in, 0.f);
      ASSERT_LE(in, 1.f);
      ASSERT_TRUE(r[0] == 0.f || r[0] == 1.f) << "frame " << i;
      ASSERT_EQ(r[0] == 1.f, in == 0.f) << "frame " << i;
      // Settled on a key: its mix as the track reads it.
      const double tc = (i + 0.5) / fps;
      for (std::size_t k = 0; k < spec.keys.size(); ++k) {
        const double start = spec.keys[k].seconds + (k == 0 ? -1e300 : ramp);
        const double end = k + 1 < spec.keys.size() ? spec.keys[k + 1].seconds : 1e300;
        if (tc >= start && tc <= end) {
          const EmotionSample want = canonical(spec.keys[k].mix);
          for (int e = 0; e < kNumEmotions; ++e) ASSERT_NEAR(r[e], want.weights[static_cast<std::size_t>(e)], 1e-6);
          ASSERT_NEAR(in, want.intensity, 1e-6);
        }
      }
      if (i > 0 && min_ramp > 0) {
        const float* p = tr.row(i - 1);
        const float pin = tr.intensity[static_cast<std::size_t>(i - 1)];
        const double bound = 1.5 / (min_ramp * fps) + 1e-5;
        ASSERT_LE(std::abs(double(in) - pin), bound) << "frame " << i;
        for (int k = 1; k < kNumEmotions; ++k) ASSERT_LE(std::abs(double(in) * r[k] - double(pin) * p[k]), bound) << "frame " << i;
      }
    }
  }
}

TEST(Track, BadArgumentsAreRefused) {
  const Spec spec = parse_spec("happy");
  EXPECT_FALSE(test::bad_input_message([&] { make_track(spec, 10, 25, -0.1); }).empty());
  EXPECT_FALSE(test::bad_input_message([&] { make_track(spec, 10, 25, std::nan("")); }).empty());
  EXPECT_FALSE(test::bad_input_message([&] { sample_spec(spec, 0.0, INFINITY); }).empty());
  EXPECT_THROW(make_track(spec, -1, 25), Error);
  EXPECT_THROW(make_track(spec, 10, 0), Error);
  EXPECT_THROW(make_track(spec, 10, std::nan("")), Error);
  EXPECT_THROW(make_track(Spec{}, 10, 25), Error);
  Spec bad = parse_spec("0s:happy,1s:sad");
  bad.keys[1].seconds = -1;
  EXPECT_THROW(make_track(bad, 10, 25), Error);
}
