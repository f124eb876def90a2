#include "emogene/landmarks/landmarks.h"

#include <Eigen/SVD>
#include <algorithm>
#include <cmath>

#include "emogene/core/error.h"

namespace emogene::landmarks {

IdentityFrame identity_frame(const Shape& neutral) {
  IdentityFrame f;
  f.origin = 0.5f * (neutral.row(idx::kInnerEyeR) + neutral.row(idx::kInnerEyeL)).transpose();
  f.scale = (neutral.row(idx::kOuterEyeR) - neutral.row(idx::kOuterEyeL)).norm();
  if (!(f.scale > 0) || !std::isfinite(f.scale))
    throw bad_input("neutral shape", "outer eye corners 36 and 45 coincide or are not finite");
  return f;
}

Shape Rigid::apply(const Shape& s) const {
  Shape out;
  for (int i = 0; i < kPoints; ++i) out.row(i) = (R * s.row(i).transpose() + t).transpose();
  return out;
}

Rigid Rigid::inverse() const {
  Rigid r;
  r.R = R.transpose();
  r.t = -(r.R * t);
  return r;
}

const std::vector<float>& rigid_point_weights() {
  // Eye corners, nose bridge and nose base: the points expression moves least.
  static const std::vector<float> w = [] {
    std::vector<float> v(kPoints, 0.f);
    for (int i : {36, 39, 42, 45}) v[i] = 1.f;
    for (int i = 27; i < 36; ++i) v[i] = 1.f;
    return v;
  }();
  return w;
}

Rigid fit_rigid(const Shape& from, const Shape& to, const std::vector<float>& weights) {
  const std::vector<float>& w = weights.empty() ? rigid_point_weights() : weights;
  if (w.size() != kPoints) throw internal_error("fit_rigid", "need 68 weights");
  double wsum = 0;
  Eigen::Vector3d ca = Eigen::Vector3d::Zero(), cb = Eigen::Vector3d::Zero();
  for (int i = 0; i < kPoints; ++i) {
    wsum += w[i];
    ca += w[i] * from.row(i).transpose().cast<double>();
    cb += w[i] * to.row(i).transpose().cast<double>();
  }
  if (!(wsum > 0)) throw internal_error("fit_rigid", "all weights are zero");
  ca /= wsum;
  cb /= wsum;
  Eigen::Matrix3d H = Eigen::Matrix3d::Zero();
  for (int i = 0; i < kPoints; ++i) {
    if (w[i] <= 0) continue;
    H += w[i] * (from.row(i).transpose().cast<double>() - ca) * (to.row(i).transpose().cast<double>() - cb).transpose();
  }
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(H, Eigen::ComputeFullU | Eigen::ComputeFullV);
  Eigen::Matrix3d D = Eigen::Matrix3d::Identity();
  if ((svd.matrixV() * svd.matrixU().transpose()).determinant() < 0) D(2, 2) = -1;  // no reflection
  Eigen::Matrix3d R = svd.matrixV() * D * svd.matrixU().transpose();
  Rigid r;
  r.R = R.cast<float>();
  r.t = (cb - R * ca).cast<float>();
  return r;
}

const char* proportion_name(int k) {
  static const char* const names[kProportions] = {"face width",   "jaw width",   "lower-face height", "mouth width", "nose length",
                                                  "nose width",   "eye spacing", "brow height",       "lip thickness"};
  return k >= 0 && k < kProportions ? names[k] : "?";
}

Shape apply_proportions(const ProportionScores& z) {
  auto f = [&](int k, float sd) { return 1.f + sd * z[static_cast<std::size_t>(k)]; };
  const float face_w = f(kFaceWidth, 0.05f), jaw_w = f(kJawWidth, 0.06f), lower_h = f(kLowerFaceHeight, 0.05f),
              mouth_w = f(kMouthWidth, 0.07f), nose_l = f(kNoseLength, 0.07f), nose_w = f(kNoseWidth, 0.07f),
              eye_gap = f(kEyeSpacing, 0.05f), brow_h = 0.025f * z[kBrowHeight], lip_t = f(kLipThickness, 0.12f);
  Shape s = mean_face();
  for (int i = 0; i < 17; ++i) {
    float lower = std::clamp(-s(i, 1) / 1.3f, 0.f, 1.f);  // 0 at eye level, 1 at the chin
    s(i, 0) *= face_w * (1.f - lower) + jaw_w * lower;
    s(i, 1) *= lower_h;
  }
  for (int i = 17; i < 27; ++i) s(i, 1) += brow_h;
  for (int i = 27; i < 36; ++i) {
    s(i, 1) *= nose_l;
    if (i >= 31) s(i, 0) *= nose_w;
  }
  for (int i = 48; i < 68; ++i) {
    s(i, 0) *= mouth_w;
    s(i, 1) = s(i, 1) * lower_h;
  }
  // Lip thickness: outer lip lines move away from the closed inner line.
  const float mid = s(62, 1);
  for (int i = 48; i < 60; ++i) s(i, 1) = mid + (s(i, 1) - mid) * lip_t;
  // Eye spacing: move each eye sideways as a whole (then renormalise the unit below).
  for (int i = 36; i < 48; ++i) s(i, 0) += (i < 42 ? -1.f : 1.f) * 0.18f * (eye_gap - 1.f);
  return normalise_identity(s);
}

Shape normalise_identity(const Shape& neutral) {
  IdentityFrame f = identity_frame(neutral);
  Shape out;
  for (int i = 0; i < kPoints; ++i) out.row(i) = (neutral.row(i) - f.origin.transpose()) / f.scale;
  return out;
}

Shape to_canonical(const Shape& measured, const Shape& neutral_measured, const Shape& neutral_canonical) {
  // Scale is fixed per identity: the measured neutral's unit, not the frame's.
  IdentityFrame f = identity_frame(neutral_measured);
  Shape scaled;
  for (int i = 0; i < kPoints; ++i) scaled.row(i) = measured.row(i) / f.scale;
  Rigid r = fit_rigid(scaled, neutral_canonical);
  return r.apply(scaled);
}

float iod(const Shape& s) { return (s.row(idx::kOuterEyeR) - s.row(idx::kOuterEyeL)).norm(); }

float lip_gap(const Shape& s) {
  float d = iod(s);
  if (!(d > 0)) return 0;
  float gap = (s(61, 1) - s(67, 1)) + (s(62, 1) - s(66, 1)) + (s(63, 1) - s(65, 1));
  return gap / 3.f / d;
}

static float ear(const Shape& s, int o) {
  // Eye aspect ratio (Soukupová & Čech 2016): (|p2-p6| + |p3-p5|) / (2 |p1-p4|)
  float h = (s.row(o) - s.row(o + 3)).norm();
  if (!(h > 0)) return 0;
  return ((s.row(o + 1) - s.row(o + 5)).norm() + (s.row(o + 2) - s.row(o + 4)).norm()) / (2.f * h);
}

float eye_openness_right(const Shape& s) { return ear(s, idx::kEyeR); }
float eye_openness_left(const Shape& s) { return ear(s, idx::kEyeL); }
float eye_openness(const Shape& s) { return 0.5f * (ear(s, idx::kEyeR) + ear(s, idx::kEyeL)); }

std::int64_t frame_count(double seconds, double fps) {
  if (!(seconds > 0) || !(fps > 0)) return 0;
  return static_cast<std::int64_t>(std::ceil(seconds * fps - 1e-6));
}

std::vector<float> resample_linear(const std::vector<float>& in, int dim, double fps_in, double fps_out,
                                   std::int64_t frames_out) {
  if (dim <= 0 || in.size() % static_cast<std::size_t>(dim) != 0)
    throw internal_error("resample_linear", "input size is not a multiple of the dimension");
  const std::int64_t n = static_cast<std::int64_t>(in.size()) / dim;
  std::vector<float> out(static_cast<std::size_t>(frames_out) * dim, 0.f);
  if (n == 0) return out;
  for (std::int64_t j = 0; j < frames_out; ++j) {
    double t = (static_cast<double>(j) + 0.5) / fps_out;  // output frame centre
    double x = t * fps_in - 0.5;                           // position in input frame indices
    x = std::clamp(x, 0.0, static_cast<double>(n - 1));
    auto i0 = static_cast<std::int64_t>(std::floor(x));
    std::int64_t i1 = std::min(i0 + 1, n - 1);
    float a = static_cast<float>(x - static_cast<double>(i0));
    const float* p0 = in.data() + i0 * dim;
    const float* p1 = in.data() + i1 * dim;
    float* o = out.data() + j * dim;
    for (int d = 0; d < dim; ++d) o[d] = (1.f - a) * p0[d] + a * p1[d];
  }
  return out;
}

Sequence resample(const Sequence& in, double fps_in, double fps_out, std::int64_t frames_out) {
  return Sequence{resample_linear(in.data, kPoints * 3, fps_in, fps_out, frames_out)};
}

std::vector<float> resample_poses(const std::vector<float>& poses, double fps_in, double fps_out,
                                  std::int64_t frames_out) {
  if (poses.size() % 16 != 0) throw internal_error("resample_poses", "poses are not [T, 4, 4]");
  const std::int64_t n = static_cast<std::int64_t>(poses.size()) / 16;
  std::vector<float> out(static_cast<std::size_t>(frames_out) * 16, 0.f);
  if (n == 0) return out;
  using M4 = Eigen::Matrix<float, 4, 4, Eigen::RowMajor>;
  for (std::int64_t j = 0; j < frames_out; ++j) {
    double x = std::clamp(((static_cast<double>(j) + 0.5) / fps_out) * fps_in - 0.5, 0.0, static_cast<double>(n - 1));
    auto i0 = static_cast<std::int64_t>(std::floor(x));
    std::int64_t i1 = std::min(i0 + 1, n - 1);
    float a = static_cast<float>(x - static_cast<double>(i0));
    Eigen::Map<const M4> A(poses.data() + i0 * 16), B(poses.data() + i1 * 16);
    Eigen::Quaternionf qa(Eigen::Matrix3f(A.block<3, 3>(0, 0))), qb(Eigen::Matrix3f(B.block<3, 3>(0, 0)));
    Eigen::Map<M4> O(out.data() + j * 16);
    O.setIdentity();
    O.block<3, 3>(0, 0) = qa.slerp(a, qb).normalized().toRotationMatrix();
    O.block<3, 1>(0, 3) = (1.f - a) * A.block<3, 1>(0, 3) + a * B.block<3, 1>(0, 3);
  }
  return out;
}

// --- drawing ----------------------------------------------------------------------------------

namespace {

void put(std::uint8_t* rgb, int w, int h, int x, int y, const std::uint8_t c[3]) {
  if (x < 0 || y < 0 || x >= w || y >= h) return;
  std::uint8_t* p = rgb + (static_cast<std::size_t>(y) * w + x) * 3;
  p[0] = c[0];
  p[1] = c[1];
  p[2] = c[2];
}

void line(std::uint8_t* rgb, int w, int h, Eigen::Vector2f a, Eigen::Vector2f b, const std::uint8_t c[3]) {
  float len = (b - a).norm();
  int steps = std::max(1, static_cast<int>(std::ceil(len * 1.5f)));
  for (int k = 0; k <= steps; ++k) {
    Eigen::Vector2f p = a + (b - a) * (static_cast<float>(k) / static_cast<float>(steps));
    put(rgb, w, h, static_cast<int>(std::floor(p.x())), static_cast<int>(std::floor(p.y())), c);
  }
}

}  // namespace

void draw_landmarks(std::uint8_t* rgb, int width, int height, const std::vector<Eigen::Vector2f>& xy,
                    const std::uint8_t color[3], int radius) {
  if (xy.size() != kPoints) throw internal_error("draw_landmarks", "need 68 points");
  // Contours: [first, last], closed or open.
  struct Run { int a, b; bool closed; };
  const Run runs[] = {{0, 16, false},  {17, 21, false}, {22, 26, false}, {27, 30, false}, {31, 35, false},
                      {36, 41, true},  {42, 47, true},  {48, 59, true},  {60, 67, true}};
  for (const Run& r : runs) {
    for (int i = r.a; i < r.b; ++i) line(rgb, width, height, xy[i], xy[i + 1], color);
    if (r.closed) line(rgb, width, height, xy[r.b], xy[r.a], color);
  }
  for (const auto& p : xy)
    for (int dy = -radius; dy <= radius; ++dy)
      for (int dx = -radius; dx <= radius; ++dx)
        put(rgb, width, height, static_cast<int>(std::floor(p.x())) + dx, static_cast<int>(std::floor(p.y())) + dy, color);
}

std::vector<Eigen::Vector2f> frontal_projection(const Shape& s, float scale_px, Eigen::Vector2f centre_px) {
  std::vector<Eigen::Vector2f> out(kPoints);
  for (int i = 0; i < kPoints; ++i) out[i] = {centre_px.x() + scale_px * s(i, 0), centre_px.y() - scale_px * s(i, 1)};
  return out;
}

}  // namespace emogene::landmarks
