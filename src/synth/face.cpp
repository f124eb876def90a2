// The synthetic face: speech visemes, facial action units and eyelids as landmark deformations of
// an identity's neutral shape, in canonical units (1 = outer eye corner distance). Magnitudes are
// chosen to match typical real ranges (e.g. a wide-open "a" parts the inner lips by ~0.3 IOD).
#include <algorithm>
#include <cmath>

#include "emogene/synth/world.h"

namespace emogene::synth {

using landmarks::Shape;
using emotion::Emotion;

AUVector emotion_prototype(Emotion e) {
  AUVector a{};
  switch (e) {
    case Emotion::Neutral: break;
    case Emotion::Happy: a[AU6] = 1; a[AU12] = 1; break;
    case Emotion::Sad: a[AU1] = 1; a[AU4] = 0.6f; a[AU15] = 1; a[AU17] = 0.5f; break;
    case Emotion::Surprised: a[AU1] = 1; a[AU2] = 1; a[AU5] = 1; a[AU26] = 0.8f; break;
    case Emotion::Fear: a[AU1] = 1; a[AU2] = 0.6f; a[AU4] = 0.7f; a[AU5] = 1; a[AU7] = 0.4f; a[AU20] = 1; a[AU26] = 0.4f; break;
    case Emotion::Angry: a[AU4] = 1; a[AU5] = 0.5f; a[AU7] = 1; a[AU23] = 1; a[AU24] = 0.6f; break;
    case Emotion::Disgusted: a[AU4] = 0.4f; a[AU9] = 1; a[AU10] = 1; a[AU15] = 0.5f; a[AU17] = 0.4f; break;
    case Emotion::Contempt: a[AU12] = 0.25f; a[AU14L] = 1; break;
  }
  return a;
}

namespace {

inline void move(Shape& s, int i, float dx, float dy, float dz = 0) {
  s(i, 0) += dx;
  s(i, 1) += dy;
  s(i, 2) += dz;
}

// x-sign of a point relative to the midline (-1 subject's right, +1 left, 0 on it).
inline float side(const Shape& n, int i) { return n(i, 0) < -1e-4f ? -1.f : (n(i, 0) > 1e-4f ? 1.f : 0.f); }

}  // namespace

Shape pose_face(const Shape& neutral, const Viseme& v0, const AUVector& au, float eyelid_open) {
  Shape s = neutral;
  Viseme v = v0;
  // Expression × speech: a smile widens spread vowels and fights rounding; lip press and
  // tightening narrow the opening; a dropped jaw (surprise, fear) adds to it.
  const float smile = au[AU12] + 0.5f * au[AU14L];
  v.spread = std::min(1.f, v.spread + 0.35f * smile * (1.f - v.round));
  v.round = v.round * (1.f - 0.45f * smile);
  float jaw = std::clamp(v.jaw * (1.f - 0.35f * au[AU24] - 0.2f * au[AU23]) + 0.25f * au[AU26], 0.f, 1.f);
  const float close = std::clamp(v.close + 0.25f * au[AU24] * (1.f - v.jaw), 0.f, 1.f);

  // --- speech: jaw and lips -----------------------------------------------------------------
  const float open = 0.32f * jaw * (1.f - close);              // inner lip separation
  const float dental = v.dental * (1.f - close);
  const float lower_drop = open * (1.f - 0.85f * dental);      // f/v: lower lip up to the teeth
  const float jaw_drop = 0.30f * jaw;                          // chin follows the jaw
  // Jaw contour rotates about the ear: points near the chin move most.
  for (int i = 0; i < 17; ++i) {
    float w = std::pow(std::clamp((neutral(0, 1) - neutral(i, 1)) / (neutral(0, 1) - neutral(8, 1)), 0.f, 1.f), 1.5f);
    move(s, i, 0, -jaw_drop * w, -0.08f * jaw * w);
  }
  for (int i : {65, 66, 67}) move(s, i, 0, -lower_drop, -0.02f * dental);
  for (int i : {55, 56, 57, 58, 59}) move(s, i, 0, -0.9f * lower_drop - 0.05f * jaw * (1 - close), -0.03f * dental);
  for (int i : {61, 62, 63}) move(s, i, 0, 0.12f * open, 0);
  for (int i : {49, 50, 51, 52, 53}) move(s, i, 0, 0.05f * open, 0);
  // Corners follow halfway down.
  for (int i : {48, 54, 60, 64}) move(s, i, 0, -0.45f * lower_drop, 0);
  // Rounding: corners in, lips forward, mouth narrower; spreading: corners out.
  const float in = 0.09f * v.round - 0.06f * v.spread;
  for (int i = 48; i < 68; ++i) {
    float sx = side(neutral, i);
    float corner = (i == 48 || i == 54 || i == 60 || i == 64) ? 1.f : 0.55f;
    move(s, i, -sx * in * corner, 0.008f * v.spread, 0.06f * v.round - 0.01f * v.spread);
  }

  // --- expression: action units (FACS) ------------------------------------------------------
  // AU1 inner brow raiser, AU2 outer brow raiser, AU4 brow lowerer (down and together).
  for (int i : {20, 21, 22, 23}) move(s, i, 0, 0.08f * au[AU1] * (i == 21 || i == 22 ? 1.f : 0.7f));
  for (int i : {19, 24}) move(s, i, 0, 0.04f * au[AU1] + 0.04f * au[AU2]);
  for (int i : {17, 18, 25, 26}) move(s, i, 0, 0.08f * au[AU2] * (i == 17 || i == 26 ? 1.f : 0.8f));
  for (int i = 17; i < 27; ++i) {
    float inner = (i == 20 || i == 21 || i == 22 || i == 23) ? 1.f : 0.5f;
    move(s, i, -side(neutral, i) * 0.035f * au[AU4] * inner, -0.06f * au[AU4] * inner - 0.025f * au[AU9] * inner);
  }
  // AU5 upper lid raiser, AU7 lid tightener, AU6 cheek raiser (lower lids up, eyes narrower).
  // AU5 at full lifts the upper lid 3.6 mm: the lid rests 2-3 mm below the top of the iris (J. J.
  // Dutton, eyelid retraction), so a full AU5 shows sclera above the iris, as FACS describes it.
  // AU4 pushes the upper eyelid fold down and narrows the eye a little (FACS).
  for (int i : {37, 38, 43, 44}) move(s, i, 0, 0.04f * au[AU5] - 0.012f * au[AU7] - 0.008f * au[AU6] - 0.01f * au[AU4]);
  for (int i : {40, 41, 46, 47}) move(s, i, 0, 0.016f * au[AU7] + 0.022f * au[AU6]);
  for (int i : {36, 45}) move(s, i, 0, 0.01f * au[AU6]);
  // AU9 nose wrinkler, AU10 upper lip raiser.
  for (int i : {31, 32, 33, 34, 35}) move(s, i, 0, 0.03f * au[AU9] + 0.01f * au[AU10]);
  for (int i : {28, 29}) move(s, i, 0, 0.015f * au[AU9]);
  for (int i : {49, 50, 51, 52, 53}) move(s, i, 0, 0.05f * au[AU10] * (i == 51 ? 0.7f : 1.f) + 0.015f * au[AU9]);
  for (int i : {61, 62, 63}) move(s, i, 0, 0.04f * au[AU10]);
  // AU12 lip corner puller (out and up), AU15 depressor (down), AU20 stretcher (out, flat). A
  // posed smile widens the mouth by ~27% with the corners moving up and out at ~47° ("Spontaneous
  // smile", Am J Orthod Dentofacial Orthop 2005;128:8-15): ~7 mm out and ~7.5 mm up per corner of a
  // 53 mm mouth, 0.08 of the 90 mm outer-canthal width each way.
  for (int i : {48, 54, 60, 64}) {
    float sx = side(neutral, i);
    move(s, i, sx * (0.08f * au[AU12] + 0.07f * au[AU20]), 0.08f * au[AU12] - 0.06f * au[AU15] - 0.01f * au[AU20]);
  }
  for (int i : {49, 53, 59, 55, 61, 63, 67, 65}) {
    float sx = side(neutral, i);
    move(s, i, sx * (0.03f * au[AU12] + 0.03f * au[AU20]), 0.025f * au[AU12] - 0.025f * au[AU15]);
  }
  for (int i : {4, 5, 11, 12}) move(s, i, side(neutral, i) * 0.015f * au[AU12], 0.01f * au[AU12]);  // cheeks
  // AU14 dimpler, one-sided (the subject's left: points with x > 0): corner back, tight, up.
  for (int i : {54, 64}) move(s, i, 0.03f * au[AU14L], 0.035f * au[AU14L], -0.03f * au[AU14L]);
  for (int i : {53, 55, 63, 65}) move(s, i, 0.012f * au[AU14L], 0.015f * au[AU14L], -0.012f * au[AU14L]);
  // AU17 chin raiser (chin and lower lip up), AU23 lip tightener (thin lips), AU24 presser.
  for (int i : {6, 7, 8, 9, 10}) move(s, i, 0, 0.03f * au[AU17]);
  for (int i : {55, 56, 57, 58, 59}) move(s, i, 0, 0.025f * au[AU17] + 0.015f * au[AU23], 0.015f * au[AU17]);
  for (int i : {49, 50, 51, 52, 53}) move(s, i, 0, -0.015f * au[AU23] - 0.01f * au[AU24]);
  for (int i : {48, 54}) move(s, i, -side(neutral, i) * 0.015f * au[AU23], 0);

  // Lip closure wins over expression: a bilabial brings the inner lips together whatever the
  // action units did to them (an upper lip raiser cannot keep a /p/ open).
  if (close > 0) {
    const int lips[3][2] = {{61, 67}, {62, 66}, {63, 65}};
    for (const auto& p : lips) {
      float gap = s(p[0], 1) - s(p[1], 1);
      if (gap <= 0) continue;
      s(p[0], 1) -= 0.5f * close * gap;
      s(p[1], 1) += 0.5f * close * gap;
    }
  }

  // --- eyelids: blinks close the upper lid onto the lower one ---------------------------------
  const float shut = 1.f - std::clamp(eyelid_open, 0.f, 1.f);
  if (shut > 0) {
    const int pairs[4][2] = {{37, 41}, {38, 40}, {43, 47}, {44, 46}};
    for (const auto& p : pairs) {
      float gap = s(p[0], 1) - s(p[1], 1);
      s(p[0], 1) -= 0.9f * shut * gap;   // upper lid travels most of the way
      s(p[1], 1) += 0.1f * shut * gap;   // lower lid rises a little
    }
  }
  return s;
}

Shape make_identity(std::mt19937_64& rng) {
  // Proportions drawn around the mean (landmarks::apply_proportions), clamped to ±2.5 sd (the
  // brow height to ±2), in the order the world has always drawn them.
  std::normal_distribution<float> n(0.f, 1.f);
  landmarks::ProportionScores z{};
  for (int k : {landmarks::kFaceWidth, landmarks::kJawWidth, landmarks::kLowerFaceHeight, landmarks::kMouthWidth, landmarks::kNoseLength,
                landmarks::kNoseWidth, landmarks::kEyeSpacing, landmarks::kBrowHeight, landmarks::kLipThickness}) {
    const float lim = k == landmarks::kBrowHeight ? 2.f : 2.5f;
    z[static_cast<std::size_t>(k)] = std::clamp(n(rng), -lim, lim);
  }
  return landmarks::apply_proportions(z);
}

}  // namespace emogene::synth
