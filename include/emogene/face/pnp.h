// Head pose by PnP (DESIGN §2, §4): the rigid pose that projects a 3D face model (canonical units,
// by default landmarks::mean_face()) onto 68 detected 2D landmarks, found by Levenberg–Marquardt
// with Huber weights on the points without the jaw contour (17-67: the jaw line dlib predicts
// slides along the cheek with yaw, so it is not a fixed 3D point). Also the clip-level focal
// length: a prior refined once, by maximum a posteriori over many frames, only as far as the
// frames' perspective constrains it.
#pragma once

#include <Eigen/Core>
#include <vector>

#include "emogene/face/face.h"
#include "emogene/landmarks/landmarks.h"

namespace emogene::face {

// Pinhole intrinsics in pixels (DESIGN §4: u = cx + fx·x/(−z), v = cy − fy·y/(−z), pixel centres at
// integer + 0.5).
struct Intrinsics {
  double fx = 0, fy = 0, cx = 0, cy = 0;
};

// Canonical head coordinates → camera coordinates: p_cam = R p + t (camera looks down −z).
struct HeadPose {
  Eigen::Matrix3d R = Eigen::Matrix3d::Identity();
  Eigen::Vector3d t = Eigen::Vector3d(0, 0, -8);
  // Row-major 4×4 (poses.npy layout).
  std::array<float, 16> matrix() const;
  static HeadPose from_matrix(const float* m16);
};

// Pixel position of a camera-space point (its z must be negative).
Eigen::Vector2d project(const Eigen::Vector3d& p_cam, const Intrinsics& K);

struct PnpOptions {
  int first_point = 17;          // points used: [first_point, 68) (17: no jaw contour)
  int max_iterations = 40;
  double huber = 0.04;           // Huber threshold, as a fraction of the 2D inter-ocular distance
  // Per-point weights [68] (empty: pnp_point_weights()).
  std::vector<double> weights;
};

// Default PnP weights: eyes, nose tip and base 1 (rigid); nose ridge 27-29 0.2 (spaced along the
// ridge, they slide like the jaw contour); brows 0.3; lips 0.25 (speech moves them); jaw contour 0.
const std::vector<double>& pnp_point_weights();

struct PnpResult {
  HeadPose pose;
  double rms = 0;        // reprojection RMS over the points used, pixels
  double rms_iod = 0;    // ... as a fraction of the 2D inter-ocular distance
  int iterations = 0;
  bool ok = false;       // converged to a pose in front of the camera
};

// The pose of `model` (canonical units, [68, 3]) seen as `uv`. With `init`, LM starts there (for
// tracking); without, from a weak-perspective (scaled orthographic) fit and from a frontal pose,
// keeping the better. Deterministic.
PnpResult solve_pnp(const Points2& uv, const landmarks::Shape& model, const Intrinsics& K,
                    const HeadPose* init = nullptr, const PnpOptions& opt = {});

struct FocalFit {
  double focal = 0;          // the refined focal length, pixels (fx = fy)
  double prior = 0;          // the prior's centre
  double posterior_log_std = 0;  // spread of log(focal) after the data (≈ prior_log_std: unconstrained)
  double data_log_std = 0;   // spread of log(focal) the data alone would give (inf when flat)
  int frames_used = 0;
};

// Default focal prior for a video of width × height pixels: 2·max(W, H), i.e. a ~28° field of view
// across the longer side. Source: AD-NeRF's face tracker (Guo et al. 2021) searches focal lengths
// 600-1500 px for its 450 × 450 talking-head videos, centred near 2.3× the width; talking-head
// recordings are framed tight, with longer focal lengths than a wide webcam.
double focal_prior(int width, int height);

// Maximum a posteriori focal length for a clip: a log-normal prior (centre `prior`, spread
// `prior_log_std`) times the reprojection likelihood of the frames' landmarks (at most
// `max_frames` of them, evenly spaced), each frame with its own pose. The likelihood's noise is the
// residual spread at the prior focal, inflated by `correlation` (neighbouring points and frames
// share model error, so they do not count as independent observations). A golden-section search
// over log(focal) in the prior's ±3σ.
FocalFit refine_focal(const std::vector<Points2>& frames, const landmarks::Shape& model, double cx, double cy,
                      double prior, double prior_log_std = 0.5, int max_frames = 120, double correlation = 20);

// The subject's identity as the landmarks see it: the proportion scores z (landmarks::
// apply_proportions) and one pose per frame that together best explain `frames`, by maximum a
// posteriori: the Huber reprojection cost of each frame (the PnP points and weights of `opt`, noise
// `noise_iod` of the frame's 2D inter-ocular distance), averaged over the frames because their
// errors are shared (the same identity, the same detector bias), plus the N(0, 1) prior of the
// scores. Levenberg–Marquardt over all unknowns at once (the poses eliminated by a Schur
// complement), starting from the mean face. It separates what PnP against the mean face cannot:
// a long nose from a head pitched down. Deterministic.
struct IdentityFit {
  landmarks::ProportionScores z{};
  landmarks::Shape shape;       // apply_proportions(z)
  std::vector<HeadPose> poses;  // per frame
  double rms_iod_mean_face = 0; // mean reprojection RMS / IOD with the mean face (own poses)
  double rms_iod = 0;           // ... with the fitted shape
  int iterations = 0;
};
IdentityFit fit_identity(const std::vector<Points2>& frames, const Intrinsics& K, double noise_iod = 0.015,
                         const PnpOptions& opt = {});

}  // namespace emogene::face
