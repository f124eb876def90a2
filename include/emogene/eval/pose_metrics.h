// Idle motion (DESIGN §7; EmoGene Table II): the mean and standard deviation of the frame-to-frame
// change of the head pose (velocity) and of its change (acceleration), over the frames a mask
// selects. Rotation in degrees per frame (the angle of R_{t-1}ᵀ R_t), translation in canonical
// units per frame; acceleration from three consecutive frames (the angle of the relative rotation
// between consecutive steps, and |t_{t+1} − 2 t_t + t_{t-1}|).
#pragma once

#include <cstdint>
#include <vector>

namespace emogene::eval {

struct MotionStats {
  std::int64_t steps = 0;  // velocity samples (pairs of consecutive selected frames)
  double rot_vel_mean = 0, rot_vel_std = 0;      // degrees / frame
  double rot_acc_mean = 0, rot_acc_std = 0;      // degrees / frame²
  double trans_vel_mean = 0, trans_vel_std = 0;  // canonical units / frame
  double trans_acc_mean = 0, trans_acc_std = 0;
};

// poses [T, 4, 4] head → camera; mask [T] (empty = every frame): a step counts when both of its
// frames are selected (an acceleration when all three are).
MotionStats pose_motion(const std::vector<float>& poses, const std::vector<std::uint8_t>& mask);

}  // namespace emogene::eval
