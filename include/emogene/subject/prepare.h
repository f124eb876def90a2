// `emogene prepare`: a subject video to a subject dataset (DESIGN §3), robustly and fast.
//
//   decode (FFmpeg, at --fps) ─▶ faces: dlib HOG detector every `detect_every` frames, the 68-point
//   predictor tracked in between (box from the previous frame's landmarks) ─▶ gaps ≤ max_gap
//   interpolated, longer ones dropped ─▶ zero-lag smoothing of the 2D landmarks ─▶ head pose by PnP
//   against the mean face with the clip's MAP focal length (face/pnp.h) ─▶ zero-lag smoothing of the
//   poses ─▶ canonical landmarks (frontal x, y by back-projection onto the mean face's depth) and the
//   neutral shape ─▶ one crop window for the take ─▶ background (per-pixel median of samples outside
//   a head/body prior, gaps filled) ─▶ frames and head/torso/background masks ─▶ idle from voice
//   activity ─▶ consecutive clips of ~10 s.
//
// Everything crossing a file follows DESIGN §3-§4; the dataset's file names stay in dataset/.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

#include "emogene/core/image.h"
#include "emogene/face/face.h"
#include "emogene/face/pnp.h"

namespace emogene::dataset { class Dataset; }

namespace emogene::subject {

constexpr double kMinSeconds = 2.0;  // shortest video, and least face time, prepare accepts

struct PrepareOptions {
  std::string video;
  std::string out;
  int size = 256;             // output frames are size × size (even, 64-2048)
  double fps = 25;
  bool force = false;         // replace an existing non-empty output folder
  double clip_seconds = 10;   // clips of about this length
  int detect_every = 8;       // detector on every n-th frame, landmark tracking in between
  double max_gap = 0.4;       // seconds without a face bridged by interpolation; longer: dropped
  bool preview = true;        // preview.png: contact sheet with landmarks and pose axes
};

struct PrepareSummary {
  std::int64_t frames = 0;        // decoded at --fps
  std::int64_t kept = 0;          // written (face found or bridged)
  std::int64_t detected = 0;      // frames whose landmarks came from a detection or a track
  std::int64_t multi_face = 0;    // detections that saw several faces (the largest was taken)
  int clips = 0;
  double seconds = 0;             // video duration
  double focal = 0;               // clip focal length, input pixels
  double focal_prior = 0;
  double wall_seconds = 0;
  double rtf() const { return seconds > 0 ? wall_seconds / seconds : 0; }
};

// Validates, runs, writes the dataset atomically (nothing appears at `out` on failure). Throws
// bad_input naming the video or option for: a missing or corrupt file, no video or audio track, a
// clip shorter than kMinSeconds, no face, or less than kMinSeconds of frames with a face.
PrepareSummary prepare(const PrepareOptions& opt);

// ---- the pieces (exposed for tests) -----------------------------------------------------------

// A square window of the input frame (input pixels, continuous coordinates) mapped to size × size.
struct CropWindow {
  double x0 = 0, y0 = 0, side = 0;
  int size = 256;
  double scale() const { return size / side; }  // output pixels per input pixel
  face::Intrinsics apply(const face::Intrinsics& K) const;  // intrinsics of the output frames
  Eigen::Vector2d to_output(double u, double v) const { return {(u - x0) * scale(), (v - y0) * scale()}; }
};

// One window for the whole take: the face (jaw width, median over frames) at ~40% of the width with
// the eyes ~40% from the top, widened to contain the head's whole range of motion, kept inside the
// frame (shrunk only when the frame is too small). `faces`: 2D landmarks of the frames with a face.
CropWindow choose_crop(const std::vector<face::Points2>& faces, int width, int height, int size);

// Crops and resamples an RGB frame (width × height × 3) to window.size² with a separable
// triangle filter as wide as the scale (area-like when shrinking, bilinear when enlarging).
Image crop_resample(const std::uint8_t* rgb, int width, int height, const CropWindow& window);

// Zero-lag smoothing: a local quadratic least-squares fit (Savitzky–Golay) over ±half frames,
// truncated at the ends of the series (still a local fit, so still without lag). Series of `dim`
// interleaved channels; quadratics pass unchanged.
std::vector<double> smooth_zero_lag(const std::vector<double>& x, int dim, int half);

// Poses [T, 4, 4] smoothed without lag: rotations as sign-aligned quaternions, translations, then
// re-normalised.
std::vector<float> smooth_poses(const std::vector<float>& poses, int half);

// The static background: per pixel, the median of the samples where `prior` (same size, 1 channel,
// nonzero = maybe face or body) is zero; pixels never seen are filled from their surroundings
// (push-pull). `seen` (optional) receives 1 where the background was observed.
Image estimate_background(const std::vector<Image>& frames, const std::vector<Image>& prior,
                          std::vector<std::uint8_t>* seen = nullptr);

// Labels (DESIGN §3: 0 background, 1 torso, 2 head) of one output frame: `face_hull` (the landmark
// hull, always head), `head_region` (a generous projected head with hair, head where the frame
// differs from the background), torso where it differs elsewhere below the head.
Image make_mask(const Image& frame, const Image& background, const std::vector<Eigen::Vector2f>& face_hull,
                const std::vector<Eigen::Vector2f>& head_region, float chin_v);

// ---- the performer's material (pose/ will take it over) ---------------------------------------

// A stretch of consecutive frames of the take.
struct Stretch {
  std::int64_t first = 0, count = 0;
};

// Runs of `value` in a mask, at least `min_frames` long.
std::vector<Stretch> stretches(const std::vector<std::uint8_t>& mask, std::uint8_t value, std::int64_t min_frames = 1);

// A subject's head motion to replay at render time: every frame's pose over the take with its
// idle flag, and the idle and speaking stretches (never across a gap between clips). Built from
// a prepared (or synthetic) subject dataset: poses.npy and idle.npy of its clips in order.
struct PoseBank {
  double fps = 25;
  std::vector<float> poses;          // [T, 4, 4] the take's clips concatenated
  std::vector<std::uint8_t> idle;    // [T]
  std::vector<Stretch> idle_stretches, speech_stretches;
  std::int64_t frames() const { return static_cast<std::int64_t>(idle.size()); }
  static PoseBank from_dataset(const dataset::Dataset& ds, double min_stretch_seconds = 0.4);
};

}  // namespace emogene::subject
