// The project's 3D mean face: the 68 iBUG landmarks of an average adult face, built from published
// anthropometric norms (facts, not data: L. G. Farkas, "Anthropometry of the Head and Face", 2nd
// ed., Raven Press 1994, adult means averaged over sexes, rounded):
//   ex-ex (biocular width) 90 mm       en-en (intercanthal width) 32 mm
//   palpebral fissure height ~9 mm     zy-zy (bizygomatic width) 136 mm
//   go-go (bigonial width) ~100 mm     ch-ch (mouth width) 52 mm
//   al-al (nose width) 34 mm           n-sn (nose height) 53 mm
//   sn-sto (upper lip height) 21 mm    sto-gn (lower face) 46 mm, so n-gn (face height) 120 mm
//   upper vermilion ~8 mm, lower vermilion ~10 mm, nasal tip protrusion sn-prn ~20 mm
// Depths (z) follow the usual facial profile: the outer canthi sit ~17 mm behind the inner ones,
// the nose tip ~30 mm in front, the gonial angles ~70 mm behind.
// Written in millimetres with y up, x towards the subject's left, origin at the inner canthi's
// midpoint; then scaled so |36-45| = 1 (DESIGN §4).
#include "emogene/landmarks/landmarks.h"

namespace emogene::landmarks {

namespace {

// Subject's right half and the midline, in mm; the left half is mirrored (x → -x).
struct P { int i; float x, y, z; };

constexpr P kRightAndMid[] = {
    // jaw 0-8 (0 near the ear, 8 the chin/menton)
    {0, -68, -8, -70}, {1, -67, -24, -67}, {2, -65, -40, -61}, {3, -61, -56, -53}, {4, -55, -71, -43},
    {5, -47, -85, -31}, {6, -37, -97, -18}, {7, -21, -107, -5}, {8, 0, -112, 1},
    // right brow 17-21, outer to inner
    {17, -56, 13, -25}, {18, -48, 19, -12}, {19, -38, 22, -5}, {20, -28, 22, 0}, {21, -16, 19, 3},
    // nose bridge 27-30 (nasion to tip), base 31-33 (33 subnasale)
    {27, 0, 5, 3}, {28, 0, -10, 12}, {29, 0, -24, 21}, {30, 0, -38, 30},
    {31, -14, -45, 14}, {32, -7, -47, 17}, {33, 0, -48, 19},
    // right eye 36-41: outer corner, upper lid ×2, inner corner, lower lid ×2
    {36, -45, 0, -17}, {37, -36, 4.5f, -10}, {38, -25, 4.8f, -4}, {39, -16, 0, 0}, {40, -25, -3.8f, -4},
    {41, -36, -3.5f, -10},
    // outer lips: 48 right corner, 49-50 upper right, 51 upper mid; 57 lower mid, 58-59 lower right
    {48, -26, -69, 3}, {49, -17, -63, 11}, {50, -7, -60.5f, 15}, {51, 0, -61.5f, 16},
    {57, 0, -80, 14}, {58, -8, -79, 13}, {59, -17, -76, 10},
    // inner lips, closed: 60 right corner, 61 upper right, 62 upper mid, 66 lower mid, 67 lower right
    {60, -22, -69, 4}, {61, -8, -69, 11}, {62, 0, -69, 12}, {66, 0, -69, 12}, {67, -8, -69, 11},
};

// Mirror pairs (right ↔ left) of the iBUG layout.
constexpr int kMirror[][2] = {
    {0, 16}, {1, 15}, {2, 14}, {3, 13}, {4, 12}, {5, 11}, {6, 10}, {7, 9},
    {17, 26}, {18, 25}, {19, 24}, {20, 23}, {21, 22},
    {31, 35}, {32, 34},
    {36, 45}, {37, 44}, {38, 43}, {39, 42}, {40, 47}, {41, 46},
    {48, 54}, {49, 53}, {50, 52}, {59, 55}, {58, 56},
    {60, 64}, {61, 63}, {67, 65},
};

Shape build() {
  Shape s = Shape::Zero();
  for (const P& p : kRightAndMid) s.row(p.i) << p.x, p.y, p.z;
  for (const auto& m : kMirror) s.row(m[1]) << -s(m[0], 0), s(m[0], 1), s(m[0], 2);
  Eigen::RowVector3f origin = 0.5f * (s.row(idx::kInnerEyeR) + s.row(idx::kInnerEyeL));
  float unit = (s.row(idx::kOuterEyeR) - s.row(idx::kOuterEyeL)).norm();
  for (int i = 0; i < kPoints; ++i) s.row(i) = (s.row(i) - origin) / unit;
  return s;
}

}  // namespace

const Shape& mean_face() {
  static const Shape s = build();
  return s;
}

}  // namespace emogene::landmarks
