// Head pose velocity and acceleration (pose_metrics.h).
#include "emogene/eval/pose_metrics.h"

#include <Eigen/Dense>
#include <Eigen/Geometry>
#include <cmath>

#include "emogene/core/error.h"

namespace emogene::eval {

namespace {

struct Acc {
  double s = 0, s2 = 0;
  std::int64_t n = 0;
  void add(double v) {
    s += v;
    s2 += v * v;
    ++n;
  }
  double mean() const { return n ? s / static_cast<double>(n) : 0; }
  double std() const { return n ? std::sqrt(std::max(0.0, s2 / static_cast<double>(n) - mean() * mean())) : 0; }
};

Eigen::Matrix3d rot(const std::vector<float>& p, std::int64_t i) {
  Eigen::Matrix3d R;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) R(r, c) = p[static_cast<std::size_t>(i * 16 + r * 4 + c)];
  return R;
}

Eigen::Vector3d trans(const std::vector<float>& p, std::int64_t i) {
  return {p[static_cast<std::size_t>(i * 16 + 3)], p[static_cast<std::size_t>(i * 16 + 7)], p[static_cast<std::size_t>(i * 16 + 11)]};
}

double angle_deg(const Eigen::Matrix3d& R) {
  const double c = std::clamp((R.trace() - 1) / 2, -1.0, 1.0);
  return std::acos(c) * 180.0 / M_PI;
}

}  // namespace

MotionStats pose_motion(const std::vector<float>& poses, const std::vector<std::uint8_t>& mask) {
  check_input(poses.size() % 16 == 0, "pose motion", "poses must be [T, 4, 4]");
  const std::int64_t T = static_cast<std::int64_t>(poses.size() / 16);
  check_input(mask.empty() || static_cast<std::int64_t>(mask.size()) == T, "pose motion", "the mask must have one value per frame");
  auto sel = [&](std::int64_t i) { return mask.empty() || mask[static_cast<std::size_t>(i)] != 0; };
  Acc rv, ra, tv, ta;
  for (std::int64_t i = 1; i < T; ++i) {
    if (!sel(i) || !sel(i - 1)) continue;
    const Eigen::Matrix3d d1 = rot(poses, i - 1).transpose() * rot(poses, i);
    rv.add(angle_deg(d1));
    tv.add((trans(poses, i) - trans(poses, i - 1)).norm());
    if (i + 1 < T && sel(i + 1)) {
      const Eigen::Matrix3d d2 = rot(poses, i).transpose() * rot(poses, i + 1);
      ra.add(angle_deg(d1.transpose() * d2));
      ta.add((trans(poses, i + 1) - 2 * trans(poses, i) + trans(poses, i - 1)).norm());
    }
  }
  MotionStats m;
  m.steps = rv.n;
  m.rot_vel_mean = rv.mean();
  m.rot_vel_std = rv.std();
  m.rot_acc_mean = ra.mean();
  m.rot_acc_std = ra.std();
  m.trans_vel_mean = tv.mean();
  m.trans_vel_std = tv.std();
  m.trans_acc_mean = ta.mean();
  m.trans_acc_std = ta.std();
  return m;
}

}  // namespace emogene::eval
