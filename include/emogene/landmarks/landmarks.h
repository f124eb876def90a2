// The landmark space of DESIGN §4: 68 iBUG points, absolute positions of one identity's face in
// canonical head space (head pose removed; +x towards the subject's left, +y up, +z towards the
// camera; origin at the midpoint of the neutral shape's inner eye corners 39/42, unit the distance
// between its outer eye corners 36/45). Geometry and measurements on shapes and sequences.
#pragma once

#include <array>

#include <Eigen/Core>
#include <Eigen/Geometry>
#include <cstdint>
#include <vector>

namespace emogene::landmarks {

constexpr int kPoints = 68;
constexpr int kSpaceVersion = 1;  // landmark_space recorded in checkpoints

using Shape = Eigen::Matrix<float, kPoints, 3, Eigen::RowMajor>;  // [68, 3]

// Index ranges of the iBUG layout (0-based, inclusive first, exclusive last).
namespace idx {
constexpr int kJaw = 0, kJawEnd = 17;
constexpr int kBrowR = 17, kBrowL = 22, kBrowsEnd = 27;
constexpr int kNose = 27, kNoseEnd = 36;
constexpr int kEyeR = 36, kEyeL = 42, kEyesEnd = 48;
constexpr int kMouthOuter = 48, kMouthInner = 60, kMouthEnd = 68;
constexpr int kOuterEyeR = 36, kInnerEyeR = 39, kInnerEyeL = 42, kOuterEyeL = 45;
}  // namespace idx

// A sequence of shapes, [T, 68, 3] flattened in C order (the layout of landmarks.npy).
struct Sequence {
  std::vector<float> data;
  std::int64_t frames() const { return static_cast<std::int64_t>(data.size()) / (kPoints * 3); }
  Eigen::Map<Shape> frame(std::int64_t t) { return Eigen::Map<Shape>(data.data() + t * kPoints * 3); }
  Eigen::Map<const Shape> frame(std::int64_t t) const {
    return Eigen::Map<const Shape>(data.data() + t * kPoints * 3);
  }
  static Sequence zeros(std::int64_t frames) { return Sequence{std::vector<float>(static_cast<std::size_t>(frames) * kPoints * 3, 0.f)}; }
  void push_back(const Shape& s) { data.insert(data.end(), s.data(), s.data() + kPoints * 3); }
};

// The 3D mean face of the project, in canonical units (built from published anthropometric
// measurements, see mean_face.cpp). By construction: origin at the midpoint of 39/42, |36-45| = 1.
const Shape& mean_face();

// --- identities: proportions around the mean face -----------------------------------------
// How adult faces differ from the mean face, as standard scores of nine anthropometric proportions
// with their population spreads (Farkas 1994: adult standard deviations of facial widths and
// heights are 4-7% of the mean): face width (sd 5%), jaw width (6%), lower-face height (5%),
// mouth width (7%), nose length (7%), nose width (7%), eye spacing (5%), brow height (±0.025 of
// the IOD, additive) and lip thickness (12%). The synthetic world draws its identities from this
// model; `prepare` fits it to a subject's landmarks (face::fit_identity), because a nose that is
// longer than the mean face's looks, to a PnP against the mean face, like a head pitched down.
constexpr int kProportions = 9;
enum Proportion { kFaceWidth, kJawWidth, kLowerFaceHeight, kMouthWidth, kNoseLength, kNoseWidth, kEyeSpacing, kBrowHeight, kLipThickness };
using ProportionScores = std::array<float, kProportions>;
const char* proportion_name(int k);
// The mean face deformed by the scores (0: the mean face), in canonical units (normalised: origin
// between 39 and 42, |36-45| = 1). Only x and y change; depth stays the mean face's.
Shape apply_proportions(const ProportionScores& z);

// --- the canonical space -------------------------------------------------------------------
// Per-identity origin and scale, from that identity's neutral shape (in any units and pose).
struct IdentityFrame {
  Eigen::Vector3f origin = Eigen::Vector3f::Zero();  // midpoint of 39 and 42
  float scale = 1;                                   // |36 - 45|
};
IdentityFrame identity_frame(const Shape& neutral);

// Rigid transform x' = R x + t (no scale).
struct Rigid {
  Eigen::Matrix3f R = Eigen::Matrix3f::Identity();
  Eigen::Vector3f t = Eigen::Vector3f::Zero();
  Shape apply(const Shape& s) const;
  Rigid inverse() const;
};

// The rotation and translation that best map `from` onto `to` (least squares over the points with
// weight > 0; Kabsch, with a proper rotation). Default weights: the rigid points (eye corners,
// nose bridge and base), which expression moves least.
Rigid fit_rigid(const Shape& from, const Shape& to, const std::vector<float>& weights = {});
const std::vector<float>& rigid_point_weights();

// Puts a shape measured in a camera or world frame into the identity's canonical space: pose
// removed by a rigid fit to the neutral (no per-frame scale, so blinks and squints stay
// expression), then the identity's origin and unit applied. `neutral` is in canonical units.
Shape to_canonical(const Shape& measured, const Shape& neutral_measured, const Shape& neutral_canonical);

// A neutral shape in any units → canonical units ((p - origin) / scale), rotation kept.
Shape normalise_identity(const Shape& neutral);

// --- measurements (DESIGN §7) --------------------------------------------------------------
float iod(const Shape& s);            // |36 - 45|
float lip_gap(const Shape& s);        // mean vertical distance of (61,67), (62,66), (63,65), / IOD
float eye_openness(const Shape& s);   // eye aspect ratio, mean of both eyes
float eye_openness_right(const Shape& s);  // 36-41
float eye_openness_left(const Shape& s);   // 42-47

// --- time (DESIGN §1) -----------------------------------------------------------------------
// Number of frames of a clip of `seconds` at `fps`: ceil(seconds * fps) (with a tolerance for
// floating-point error).
std::int64_t frame_count(double seconds, double fps);

// Resamples per-frame vectors [T_in, D] at fps_in to [T_out, D] at fps_out by time: output frame j
// (centre (j + 0.5) / fps_out) interpolates linearly between the input frames whose centres
// ((i + 0.5) / fps_in) surround it; clamped at both ends.
std::vector<float> resample_linear(const std::vector<float>& in, int dim, double fps_in, double fps_out,
                                   std::int64_t frames_out);
Sequence resample(const Sequence& in, double fps_in, double fps_out, std::int64_t frames_out);

// Head poses [T, 4, 4] resampled by time: rotation by slerp, translation linearly.
std::vector<float> resample_poses(const std::vector<float>& poses, double fps_in, double fps_out,
                                  std::int64_t frames_out);

// --- drawing ----------------------------------------------------------------------------------
// Draws the 68 points and the iBUG contour lines of a shape already projected to pixel
// coordinates (xy: 68 × (u, v)) on an RGB image.
void draw_landmarks(std::uint8_t* rgb, int width, int height, const std::vector<Eigen::Vector2f>& xy,
                    const std::uint8_t color[3], int radius = 1);
// Orthographic frontal view of a canonical shape: pixel (u, v) = centre + scale_px * (x, -y).
std::vector<Eigen::Vector2f> frontal_projection(const Shape& s, float scale_px, Eigen::Vector2f centre_px);

}  // namespace emogene::landmarks
