// `emogene prepare`: the pipeline of prepare.h, in two decoding passes (faces, then frames and
// masks) so memory does not grow with the video's length.
#include "emogene/subject/prepare.h"

#include <omp.h>
#include <spdlog/spdlog.h>

#include <Eigen/Dense>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <future>
#include <optional>

#include "emogene/audio/audio.h"
#include "emogene/audio/vad.h"
#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/core/interrupt.h"
#include "emogene/core/progress.h"
#include "emogene/dataset/dataset.h"
#include "emogene/landmarks/landmarks.h"
#include "emogene/video/video.h"
#include "subject/internal.h"

namespace emogene::subject {

namespace {

using face::Points2;
using Eigen::Vector2f;
using Eigen::Vector3d;

// Where a detector box sits relative to the landmarks' bounding box (in units of its width), so
// a box for the next frame can be made from this frame's landmarks (tracking).
struct BoxRel {
  double dx = 0, dy = 0, sw = 1, sh = 1;
};

struct Track {
  bool valid = false;
  bool detected = false;  // landmarks from a detection in this frame
  Points2 p{};
  BoxRel rel;
};

void bbox(const Points2& p, double& x0, double& y0, double& x1, double& y1) {
  x0 = y0 = 1e30, x1 = y1 = -1e30;
  for (const auto& q : p) x0 = std::min(x0, double(q[0])), y0 = std::min(y0, double(q[1])), x1 = std::max(x1, double(q[0])), y1 = std::max(y1, double(q[1]));
}

BoxRel relation(const face::FaceBox& b, const Points2& p) {
  double x0, y0, x1, y1;
  bbox(p, x0, y0, x1, y1);
  const double w = std::max(x1 - x0, 1.0);
  return {((b.left + b.right) - (x0 + x1)) / (2 * w), ((b.top + b.bottom) - (y0 + y1)) / (2 * w), b.width() / w, b.height() / w};
}

face::FaceBox box_from(const Points2& p, const BoxRel& r) {
  double x0, y0, x1, y1;
  bbox(p, x0, y0, x1, y1);
  const double w = std::max(x1 - x0, 1.0), cx = 0.5 * (x0 + x1) + r.dx * w, cy = 0.5 * (y0 + y1) + r.dy * w;
  face::FaceBox b;
  b.left = cx - 0.5 * r.sw * w, b.right = cx + 0.5 * r.sw * w;
  b.top = cy - 0.5 * r.sh * w, b.bottom = cy + 0.5 * r.sh * w;
  return b;
}

double landmark_width(const Points2& p) {
  double x0, y0, x1, y1;
  bbox(p, x0, y0, x1, y1);
  return x1 - x0;
}

// Faces and landmarks on input frames: the detector on a rescaled copy, the predictor on a crop
// around the box (so the cost does not grow with the input resolution).
class FaceFinder {
 public:
  FaceFinder(const face::Intrinsics& K, int width, int height) : K_(K), width_(width), height_(height) {}
  void set_predictor(const face::LandmarkPredictor* lp) { lp_ = lp; }

  void set_detection_scale(double scale, int upsample) { scale_ = scale, upsample_ = upsample; }
  double detection_scale() const { return scale_; }
  int upsample() const { return upsample_; }

  // The largest face, in input pixels; false when none. `faces`: how many were seen.
  bool detect(const face::FaceDetector& det, const video::Frame& f, face::FaceBox& out, int& faces) const {
    Image img;
    if (scale_ == 1.0) {
      img.width = f.width, img.height = f.height, img.channels = 3, img.pixels = f.rgb;
    } else {
      const int w = std::max(16, static_cast<int>(std::lround(f.width * scale_)));
      const int h = std::max(16, static_cast<int>(std::lround(f.height * scale_)));
      img = resample_region(f.rgb.data(), f.width, f.height, 0, 0, f.width, f.height, w, h);
    }
    std::vector<face::FaceBox> boxes = det.detect(img);
    faces = static_cast<int>(boxes.size());
    if (boxes.empty()) return false;
    auto best = std::max_element(boxes.begin(), boxes.end(), [](const face::FaceBox& a, const face::FaceBox& b) {
      return a.width() * a.height() < b.width() * b.height();
    });
    const double sx = static_cast<double>(f.width) / img.width, sy = static_cast<double>(f.height) / img.height;
    out = *best;
    out.left *= sx, out.right *= sx, out.top *= sy, out.bottom *= sy;
    return true;
  }

  Points2 predict(const video::Frame& f, const face::FaceBox& b) const {
    const double side = 2.0 * std::max(b.width(), b.height());
    const double x0 = 0.5 * (b.left + b.right) - 0.5 * side, y0 = 0.5 * (b.top + b.bottom) - 0.5 * side;
    const int out = std::clamp(static_cast<int>(std::lround(side)), 32, 440);
    const double s = out / side;
    Image img = resample_region(f.rgb.data(), f.width, f.height, x0, y0, side, side, out, out);
    face::FaceBox lb{(b.left - x0) * s, (b.top - y0) * s, (b.right - x0) * s, (b.bottom - y0) * s, b.score};
    Points2 p = lp_->predict(img, lb);
    for (auto& q : p) q = {static_cast<float>(q[0] / s + x0), static_cast<float>(q[1] / s + y0)};
    return p;
  }

  // A plausible face: PnP against the mean face fits (a lost track or a non-face does not).
  bool plausible(const Points2& p, double prev_width) const {
    const double w = landmark_width(p);
    if (!(w > 8)) return false;
    if (prev_width > 0 && (w < 0.75 * prev_width || w > 1.33 * prev_width)) return false;
    face::PnpResult r = face::solve_pnp(p, landmarks::mean_face(), K_);
    return r.ok && r.rms_iod < 0.12;
  }

  // Landmarks tracked from `from` (the previous or next frame's track) into frame f.
  bool track(const video::Frame& f, const Track& from, Track& out) const {
    Points2 p = predict(f, box_from(from.p, from.rel));
    if (!plausible(p, landmark_width(from.p))) return false;
    out.valid = true, out.detected = false, out.p = p, out.rel = from.rel;
    return true;
  }

 private:
  const face::LandmarkPredictor* lp_ = nullptr;
  face::Intrinsics K_;
  int width_, height_;
  double scale_ = 1;
  int upsample_ = 0;
};

// Canonical (x, y) of landmark i from its pixel position and the pose, on the plane z = Z.
Eigen::Vector2d back_project(double u, double v, const face::HeadPose& P, double Z, const face::Intrinsics& K) {
  const Vector3d a = P.R.col(0), b = P.R.col(1), c = P.R.col(2) * Z + P.t;
  Eigen::Matrix2d M;
  Eigen::Vector2d rhs;
  M << K.fx * a.x() + (u - K.cx) * a.z(), K.fx * b.x() + (u - K.cx) * b.z(),  //
      (v - K.cy) * a.z() - K.fy * a.y(), (v - K.cy) * b.z() - K.fy * b.y();
  rhs << -(K.fx * c.x() + (u - K.cx) * c.z()), -((v - K.cy) * c.z() - K.fy * c.y());
  return M.partialPivLu().solve(rhs);
}

// A generous outline of the head with hair, canonical units (origin between the eyes, IOD 1):
// ~1.25 wide either side, up to 1.55 above the eyes (adult head breadth and height over the
// biocular width, plus hair).
std::vector<Vector3d> skull_ring() {
  std::vector<Vector3d> r;
  for (int k = -2; k <= 14; ++k) {
    const double a = k * M_PI / 12;
    r.push_back({1.25 * std::cos(a), 0.25 + 1.3 * std::sin(a), -0.35});
  }
  return r;
}

void draw_line(Image& img, Vector2f a, Vector2f b, const std::uint8_t c[3]) {
  const int n = static_cast<int>(std::ceil(std::max(std::fabs(b.x() - a.x()), std::fabs(b.y() - a.y())))) + 1;
  for (int k = 0; k <= n; ++k) {
    const Vector2f p = a + (b - a) * (static_cast<float>(k) / n);
    const int x = static_cast<int>(p.x()), y = static_cast<int>(p.y());
    if (x < 0 || y < 0 || x >= img.width || y >= img.height) continue;
    std::copy_n(c, 3, &img.pixels[(static_cast<std::size_t>(y) * img.width + x) * 3]);
  }
}

}  // namespace

PrepareSummary prepare(const PrepareOptions& opt) {
  const auto t_start = std::chrono::steady_clock::now();
  PrepareSummary sum;
  if (opt.size < 64 || opt.size > 2048 || opt.size % 2)
    throw bad_input("--size " + std::to_string(opt.size), "must be even, from 64 to 2048");
  if (!(opt.fps > 0) || opt.fps > 120) throw bad_input("--fps", "must be in (0, 120]");
  if (opt.video.empty()) throw bad_input("--video", "no video given");
  if (!file_exists(opt.video)) throw bad_input(opt.video, "no such file");
  if (is_directory(opt.video)) throw bad_input(opt.video, "is a folder, expected a video file");

  // ---- checks before any output exists -----------------------------------------------------
  video::MediaInfo info = video::probe_media(opt.video);
  bool has_video = false, has_audio = false;
  double duration = info.duration;
  for (const auto& s : info.streams) {
    if (s.type == "video") has_video = true, duration = s.duration > 0 ? s.duration : duration;
    if (s.type == "audio") has_audio = true;
  }
  if (!has_video) throw bad_input(opt.video, "has no video stream");
  if (!has_audio) throw bad_input(opt.video, "has no audio track (prepare keeps the subject's speech for training and idle detection)");
  if (duration > 0 && duration < kMinSeconds)
    throw bad_input(opt.video, "is too short (" + std::to_string(duration).substr(0, 4) + " s; at least " +
                                   std::to_string(kMinSeconds).substr(0, 3) + " s needed)");
  // dlib's models load (~0.7 s: the 68-point predictor, and the detector's embedded model) while
  // the audio and the first frames decode and the face size is probed.
  if (face::find_shape_predictor().empty()) face::LandmarkPredictor missing{""};  // bad_input now, before any work
  std::future<face::LandmarkPredictor> lp_loading = std::async(std::launch::async, [] {
    face::FaceDetector warm(0);
    return face::LandmarkPredictor();
  });
  std::optional<face::LandmarkPredictor> lp;
  audio::Waveform wave = audio::load_audio(opt.video);

  video::VideoReader reader(opt.video, {opt.fps, 0, 0});
  const int W = reader.width(), H = reader.height();
  sum.focal_prior = face::focal_prior(W, H);
  const face::Intrinsics K0{sum.focal_prior, sum.focal_prior, W / 2.0, H / 2.0};
  FaceFinder finder(K0, W, H);
  const std::int64_t T_est = duration > 0 ? landmarks::frame_count(duration, opt.fps) : 0;

  // ---- pass 1: faces and landmarks ----------------------------------------------------------
  const int S = std::max(1, opt.detect_every);
  const std::size_t frame_bytes = static_cast<std::size_t>(W) * H * 3;
  const int B = S * std::clamp(static_cast<int>((96u << 20) / std::max<std::size_t>(frame_bytes, 1) / S), 2, 16);
  const int nthreads = std::max(1, omp_get_max_threads());
  spdlog::debug("prepare: {} OpenMP threads", nthreads);
  std::vector<face::FaceDetector> detectors;  // made once the face size is known
  std::vector<Track> tracks;
  // Background samples: up to ~48 frames spread over the take (kept at ≤ 1280 px on the long side).
  const double sample_scale = std::min(1.0, 1280.0 / std::max(W, H));
  std::int64_t sample_stride = std::max<std::int64_t>(1, T_est / 48);
  std::vector<std::pair<std::int64_t, Image>> samples;
  std::atomic<std::int64_t> multi{0};
  bool probed = false;
  Progress prog1("prepare: faces", T_est, "frames");
  std::vector<video::Frame> batch;
  video::Frame prev_last;  // the previous batch's last frame is not needed: tracks carry the state
  auto process_batch = [&](std::int64_t base) {
    const auto n = static_cast<std::int64_t>(batch.size());
    tracks.resize(static_cast<std::size_t>(base + n));
    if (!probed) {
      // Find the face size once, then detect at a scale where faces are ~120 px wide (fast on
      // large frames, an upsampling step on small faces).
      const double s0 = std::min(1.0, 640.0 / std::max(W, H));
      finder.set_detection_scale(s0, std::min(W, H) * s0 < 360 ? 1 : 0);
      face::FaceDetector probe_det(finder.upsample());
      for (std::int64_t i = 0; i < n; i += 4) {
        face::FaceBox b;
        int nf = 0;
        if (!finder.detect(probe_det, batch[static_cast<std::size_t>(i)], b, nf)) continue;
        const double fw = b.width();
        const double sc = fw > 140 ? 120.0 / fw : 1.0;
        finder.set_detection_scale(sc, fw * sc < 90 ? 1 : 0);
        spdlog::debug("prepare: face ~{:.0f} px wide; detector at scale {:.2f}, upsample {}", fw, sc, finder.upsample());
        probed = true;
        break;
      }
      detectors.clear();
      for (int i = 0; i < nthreads; ++i) detectors.emplace_back(finder.upsample());
    }
    if (!lp) {
      lp.emplace(lp_loading.get());  // rethrows a loading error
      finder.set_predictor(&*lp);
    }
    const std::int64_t nseg = (n + S - 1) / S;
#pragma omp parallel for schedule(dynamic, 1)
    for (std::int64_t sgi = 0; sgi < nseg; ++sgi) {
      const face::FaceDetector& det = detectors[static_cast<std::size_t>(omp_get_thread_num()) % detectors.size()];
      const std::int64_t a = sgi * S, e = std::min(n, a + S);
      std::int64_t k = -1;
      for (std::int64_t i = a; i < e && k < 0; ++i) {
        face::FaceBox b;
        int nf = 0;
        if (!finder.detect(det, batch[static_cast<std::size_t>(i)], b, nf)) continue;
        if (nf > 1) multi++;
        Track t;
        t.p = finder.predict(batch[static_cast<std::size_t>(i)], b);
        t.rel = relation(b, t.p);
        if (!finder.plausible(t.p, 0)) continue;
        t.valid = t.detected = true;
        tracks[static_cast<std::size_t>(base + i)] = t;
        k = i;
      }
      if (k < 0) continue;
      for (std::int64_t i = k + 1; i < e; ++i)
        if (!finder.track(batch[static_cast<std::size_t>(i)], tracks[static_cast<std::size_t>(base + i - 1)],
                          tracks[static_cast<std::size_t>(base + i)]))
          break;
      for (std::int64_t i = k - 1; i >= a; --i)
        if (!finder.track(batch[static_cast<std::size_t>(i)], tracks[static_cast<std::size_t>(base + i + 1)],
                          tracks[static_cast<std::size_t>(base + i)]))
          break;
    }
    // Through detector misses (a turned head): track on from the frame before, in order.
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t g = base + i;
      if (tracks[static_cast<std::size_t>(g)].valid || g == 0 || !tracks[static_cast<std::size_t>(g - 1)].valid) continue;
      finder.track(batch[static_cast<std::size_t>(i)], tracks[static_cast<std::size_t>(g - 1)], tracks[static_cast<std::size_t>(g)]);
    }
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t g = base + i;
      if (g % sample_stride) continue;
      const video::Frame& f = batch[static_cast<std::size_t>(i)];
      Image img = sample_scale == 1.0
                      ? Image{f.width, f.height, 3, f.rgb}
                      : resample_region(f.rgb.data(), f.width, f.height, 0, 0, f.width, f.height,
                                        static_cast<int>(std::lround(f.width * sample_scale)),
                                        static_cast<int>(std::lround(f.height * sample_scale)));
      samples.emplace_back(g, std::move(img));
      if (samples.size() > 96) {  // the duration was underestimated: thin out
        std::vector<std::pair<std::int64_t, Image>> kept;
        sample_stride *= 2;
        for (auto& s : samples)
          if (s.first % sample_stride == 0) kept.push_back(std::move(s));
        samples = std::move(kept);
      }
    }
  };
  std::int64_t base = 0;
  for (;;) {
    throw_if_interrupted("prepare");
    batch.resize(static_cast<std::size_t>(B));
    std::size_t got = 0;
    while (got < batch.size() && reader.read(batch[got])) ++got;
    batch.resize(got);
    if (got == 0) break;
    process_batch(base);
    base += static_cast<std::int64_t>(got);
    prog1.update(base);
    if (got < static_cast<std::size_t>(B)) break;
  }
  prog1.finish();
  const auto t_faces = std::chrono::steady_clock::now();
  batch.clear();
  batch.shrink_to_fit();
  const std::int64_t T = base;
  sum.frames = T;
  sum.seconds = static_cast<double>(T) / opt.fps;
  sum.multi_face = multi.load();
  if (sum.seconds < kMinSeconds)
    throw bad_input(opt.video, "is too short (" + std::to_string(T) + " frames at " + std::to_string(opt.fps).substr(0, 5) +
                                   " fps; at least " + std::to_string(kMinSeconds).substr(0, 3) + " s needed)");
  std::int64_t found = 0;
  for (const auto& t : tracks) found += t.valid;
  sum.detected = found;
  if (found == 0) throw bad_input(opt.video, "no face found in the video");
  if (sum.multi_face > 0)
    spdlog::warn("prepare: {}: several faces in {} detections; the largest was taken", opt.video, sum.multi_face);

  // ---- gaps: short ones bridged, long ones dropped ---------------------------------------------
  std::vector<std::uint8_t> keep(static_cast<std::size_t>(T), 0);
  const auto max_gap = static_cast<std::int64_t>(std::floor(opt.max_gap * opt.fps));
  std::vector<Points2> pts(static_cast<std::size_t>(T));
  {
    std::int64_t last = -1;
    for (std::int64_t t = 0; t < T; ++t) {
      if (!tracks[static_cast<std::size_t>(t)].valid) continue;
      pts[static_cast<std::size_t>(t)] = tracks[static_cast<std::size_t>(t)].p;
      keep[static_cast<std::size_t>(t)] = 1;
      if (last >= 0 && t - last > 1 && t - last - 1 <= max_gap)
        for (std::int64_t g = last + 1; g < t; ++g) {
          const float a = static_cast<float>(g - last) / static_cast<float>(t - last);
          for (std::size_t i = 0; i < 68; ++i)
            for (int c = 0; c < 2; ++c)
              pts[static_cast<std::size_t>(g)][i][static_cast<std::size_t>(c)] =
                  (1 - a) * pts[static_cast<std::size_t>(last)][i][static_cast<std::size_t>(c)] +
                  a * pts[static_cast<std::size_t>(t)][i][static_cast<std::size_t>(c)];
          keep[static_cast<std::size_t>(g)] = 1;
        }
      last = t;
    }
  }
  std::vector<Stretch> runs = stretches(keep, 1, 1);
  {
    const auto min_run = static_cast<std::int64_t>(std::ceil(1.0 * opt.fps));
    std::vector<Stretch> ok;
    for (const Stretch& r : runs) {
      if (r.count >= min_run) ok.push_back(r);
      else
        for (std::int64_t t = r.first; t < r.first + r.count; ++t) keep[static_cast<std::size_t>(t)] = 0;
    }
    runs = ok;
  }
  std::int64_t kept = 0;
  for (const Stretch& r : runs) kept += r.count;
  if (static_cast<double>(kept) / opt.fps < kMinSeconds)
    throw bad_input(opt.video, "a face was found in only " + std::to_string(static_cast<double>(kept) / opt.fps).substr(0, 4) +
                                   " s of " + std::to_string(sum.seconds).substr(0, 5) + " s; at least " +
                                   std::to_string(kMinSeconds).substr(0, 3) + " s with a face needed");
  if (kept < T)
    spdlog::warn("prepare: {}: {} of {} frames have no usable face and were dropped", opt.video, T - kept, T);
  sum.kept = kept;

  // ---- smoothing, focal length, poses ------------------------------------------------------------
  for (const Stretch& r : runs) {
    std::vector<double> x(static_cast<std::size_t>(r.count) * 136);
    for (std::int64_t t = 0; t < r.count; ++t)
      for (std::size_t i = 0; i < 68; ++i)
        for (int c = 0; c < 2; ++c)
          x[static_cast<std::size_t>(t) * 136 + i * 2 + static_cast<std::size_t>(c)] =
              pts[static_cast<std::size_t>(r.first + t)][i][static_cast<std::size_t>(c)];
    x = smooth_zero_lag(x, 136, 2);
    for (std::int64_t t = 0; t < r.count; ++t)
      for (std::size_t i = 0; i < 68; ++i)
        for (int c = 0; c < 2; ++c)
          pts[static_cast<std::size_t>(r.first + t)][i][static_cast<std::size_t>(c)] =
              static_cast<float>(x[static_cast<std::size_t>(t) * 136 + i * 2 + static_cast<std::size_t>(c)]);
  }
  std::vector<Points2> kept_pts;
  for (std::int64_t t = 0; t < T; ++t)
    if (keep[static_cast<std::size_t>(t)]) kept_pts.push_back(pts[static_cast<std::size_t>(t)]);
  // Idle from voice activity (also picks the frames of the neutral shape: a closed mouth at rest).
  const auto t_vad = std::chrono::steady_clock::now();
  const std::vector<float> mono16 = audio::resample(audio::to_mono(wave), wave.sample_rate, audio::kModelRate);
  const std::vector<std::uint8_t> idle = audio::idle_mask(audio::detect_speech(mono16, audio::kModelRate), T, opt.fps);
  const landmarks::Shape& M = landmarks::mean_face();
  // Poses by PnP against `model`, smoothed without lag within each run of frames.
  auto solve_poses = [&](const landmarks::Shape& model, const face::Intrinsics& K) {
    std::vector<float> poses(static_cast<std::size_t>(T) * 16, 0.f);
#pragma omp parallel for schedule(dynamic, 16)
    for (std::int64_t t = 0; t < T; ++t) {
      if (!keep[static_cast<std::size_t>(t)]) continue;
      face::PnpResult r = face::solve_pnp(pts[static_cast<std::size_t>(t)], model, K);
      auto m = r.pose.matrix();
      std::copy(m.begin(), m.end(), poses.begin() + t * 16);
    }
    for (const Stretch& r : runs) {
      std::vector<float> p(poses.begin() + r.first * 16, poses.begin() + (r.first + r.count) * 16);
      p = smooth_poses(p, 4);
      std::copy(p.begin(), p.end(), poses.begin() + r.first * 16);
    }
    return poses;
  };
  // Canonical landmarks: frontal x, y by back-projection onto the model's depth z.
  auto canonical_of = [&](const std::vector<float>& poses, const landmarks::Shape& model, const face::Intrinsics& K) {
    landmarks::Sequence canon = landmarks::Sequence::zeros(T);
#pragma omp parallel for schedule(static)
    for (std::int64_t t = 0; t < T; ++t) {
      if (!keep[static_cast<std::size_t>(t)]) continue;
      face::HeadPose P = face::HeadPose::from_matrix(&poses[static_cast<std::size_t>(t) * 16]);
      auto s = canon.frame(t);
      for (int i = 0; i < 68; ++i) {
        const auto& q = pts[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)];
        Eigen::Vector2d xy = back_project(q[0], q[1], P, model(i, 2), K);
        s(i, 0) = static_cast<float>(xy.x()), s(i, 1) = static_cast<float>(xy.y()), s(i, 2) = model(i, 2);
      }
    }
    return canon;
  };
  // The kept idle frames (the face at rest); all kept frames when they are under a second.
  const std::vector<std::int64_t> rest_frames = [&] {
    std::vector<std::int64_t> use;
    for (std::int64_t t = 0; t < T; ++t)
      if (keep[static_cast<std::size_t>(t)] && idle[static_cast<std::size_t>(t)]) use.push_back(t);
    if (static_cast<double>(use.size()) < opt.fps) {
      use.clear();
      for (std::int64_t t = 0; t < T; ++t)
        if (keep[static_cast<std::size_t>(t)]) use.push_back(t);
    }
    return use;
  }();
  // The neutral shape: per-point median over the rest frames.
  auto neutral_of = [&](const landmarks::Sequence& canon) {
    const std::vector<std::int64_t>& use = rest_frames;
    landmarks::Shape n;
    std::vector<float> v(use.size());
    for (int i = 0; i < 68; ++i)
      for (int c = 0; c < 3; ++c) {
        for (std::size_t k = 0; k < use.size(); ++k) v[k] = canon.frame(use[k])(i, c);
        std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
        n(i, c) = v[v.size() / 2];
      }
    return n;
  };
  // Identity: the mean face's proportions fitted to the subject (face::fit_identity) over up to
  // 96 frames spread over the idle stretches (the mouth at rest; all kept frames when there is
  // under a second of idle). Against the mean face alone, a subject's longer nose or lower face
  // reads as a constant pitch of the head.
  // Pass A: that identity at the prior focal gives a first neutral shape; its frontal x, y (with
  // the identity's depth) become the clip's own model. Pass B: the focal length refined for that
  // model, then the final poses and canonical landmarks.
  const auto t_pose = std::chrono::steady_clock::now();
  landmarks::Shape base_shape = M;
  {
    const std::vector<std::int64_t>& cand = rest_frames;
    std::vector<Points2> sel;
    const std::size_t m = std::min<std::size_t>(cand.size(), 96);
    for (std::size_t k = 0; k < m; ++k) sel.push_back(pts[static_cast<std::size_t>(cand[k * cand.size() / m])]);
    const face::IdentityFit idfit = face::fit_identity(sel, K0);
    base_shape = idfit.shape;
    std::string zs;
    for (int k = 0; k < landmarks::kProportions; ++k)
      zs += fmt::format("{}{} {:+.2f}", k ? ", " : "", landmarks::proportion_name(k), idfit.z[static_cast<std::size_t>(k)]);
    spdlog::info("prepare: identity over {} frames (sd units): {}; reprojection {:.2f}% IOD (mean face {:.2f}%)", sel.size(), zs,
                 100 * idfit.rms_iod, 100 * idfit.rms_iod_mean_face);
  }
  landmarks::Shape model = base_shape;
  {
    const std::vector<float> p0 = solve_poses(base_shape, K0);
    model = neutral_of(canonical_of(p0, base_shape, K0));
    model.col(2) = base_shape.col(2);
  }
  face::FocalFit ff = face::refine_focal(kept_pts, model, W / 2.0, H / 2.0, sum.focal_prior);
  sum.focal = ff.focal;
  spdlog::info("prepare: focal {:.0f} px (prior {:.0f}; log-spread {:.2f} from the data alone, {:.2f} after)", ff.focal,
               ff.prior, ff.data_log_std, ff.posterior_log_std);
  const face::Intrinsics K{ff.focal, ff.focal, W / 2.0, H / 2.0};
  std::vector<float> poses = solve_poses(model, K);
  landmarks::Sequence canon = canonical_of(poses, model, K);
  landmarks::Shape neutral = neutral_of(canon);
  const auto t_canon = std::chrono::steady_clock::now();
  // Canonical space (DESIGN §4): origin between the neutral's inner eye corners, unit its outer
  // eye-corner distance. Poses take the inverse, scaled with the camera space (projection unchanged).
  const landmarks::IdentityFrame idf = landmarks::identity_frame(neutral);
  const double s_id = idf.scale;
  neutral = landmarks::normalise_identity(neutral);
  for (std::int64_t t = 0; t < T; ++t) {
    if (!keep[static_cast<std::size_t>(t)]) continue;
    auto s = canon.frame(t);
    for (int i = 0; i < 68; ++i) s.row(i) = (s.row(i) - idf.origin.transpose()) / idf.scale;
    face::HeadPose P = face::HeadPose::from_matrix(&poses[static_cast<std::size_t>(t) * 16]);
    P.t = (P.R * idf.origin.cast<double>() + P.t) / s_id;
    auto m = P.matrix();
    std::copy(m.begin(), m.end(), poses.begin() + t * 16);
  }
  std::vector<float> blink(static_cast<std::size_t>(T), 1.f);
  {
    std::vector<float> ear;
    for (std::int64_t t = 0; t < T; ++t)
      if (keep[static_cast<std::size_t>(t)]) ear.push_back(landmarks::eye_openness(canon.frame(t)));
    std::sort(ear.begin(), ear.end());
    const float open = std::max(1e-3f, ear[static_cast<std::size_t>(0.9 * static_cast<double>(ear.size() - 1))]);
    for (std::int64_t t = 0; t < T; ++t)
      if (keep[static_cast<std::size_t>(t)])
        blink[static_cast<std::size_t>(t)] = std::clamp(landmarks::eye_openness(canon.frame(t)) / open, 0.f, 1.f);
  }

  // ---- crop window, output intrinsics, per-frame outlines in output pixels ---------------------
  const CropWindow crop = choose_crop(kept_pts, W, H, opt.size);
  const face::Intrinsics Ko = crop.apply(K);
  const std::vector<Vector3d> ring = skull_ring();
  struct Outline {
    std::vector<Vector2f> face, head;
    float chin = 0, jaw_width = 0;
    Vector2f chin_xy{0, 0};
  };
  auto outline = [&](std::int64_t t) {
    Outline o;
    std::vector<Vector2f> fp;
    for (int i = 0; i < 27; ++i) {
      Eigen::Vector2d q = crop.to_output(pts[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)][0],
                                         pts[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)][1]);
      fp.push_back(q.cast<float>());
    }
    o.face = convex_hull(fp);
    face::HeadPose P = face::HeadPose::from_matrix(&poses[static_cast<std::size_t>(t) * 16]);
    std::vector<Vector2f> hp = fp;
    for (const Vector3d& r : ring) hp.push_back(face::project(P.R * r + P.t, Ko).cast<float>());
    o.head = convex_hull(hp);
    o.chin = 0;
    for (int i = 5; i <= 11; ++i) o.chin = std::max(o.chin, fp[static_cast<std::size_t>(i)].y());
    o.chin_xy = fp[8];
    o.jaw_width = (fp[16] - fp[0]).norm();
    return o;
  };

  // ---- background ----------------------------------------------------------------------------
  Image background;
  {
    std::vector<Image> frames, priors;
    CropWindow sc = crop;
    sc.x0 *= sample_scale, sc.y0 *= sample_scale, sc.side *= sample_scale;
    for (auto& [t, img] : samples) {
      if (!keep[static_cast<std::size_t>(t)]) continue;
      frames.push_back(crop_resample(img.pixels.data(), img.width, img.height, sc));
      Outline o = outline(t);
      std::vector<std::uint8_t> m(static_cast<std::size_t>(opt.size) * opt.size, 0);
      // The head grown by 15% about its centre, and a cone under the chin for neck and shoulders.
      Vector2f c(0, 0);
      for (const auto& q : o.head) c += q;
      c /= static_cast<float>(o.head.size());
      std::vector<Vector2f> grown;
      for (const auto& q : o.head) grown.push_back(c + 1.15f * (q - c));
      fill_polygon(m, opt.size, opt.size, grown, 1);
      const float top = o.chin - 0.15f * o.jaw_width, big = 10.f * opt.size;
      fill_polygon(m, opt.size, opt.size,
                   {{o.chin_xy.x() - 0.8f * o.jaw_width, top},
                    {o.chin_xy.x() + 0.8f * o.jaw_width, top},
                    {o.chin_xy.x() + 0.8f * o.jaw_width + 1.6f * big, top + big},
                    {o.chin_xy.x() - 0.8f * o.jaw_width - 1.6f * big, top + big}},
                   1);
      Image pm;
      pm.width = pm.height = opt.size, pm.channels = 1, pm.pixels = std::move(m);
      priors.push_back(std::move(pm));
    }
    samples.clear();
    if (frames.empty()) throw internal_error("prepare", "no background samples with a face");
    background = estimate_background(frames, priors);
  }

  const auto t_bg = std::chrono::steady_clock::now();
  // ---- clips ----------------------------------------------------------------------------------
  struct ClipPlan {
    std::string id;
    std::int64_t first, count;
  };
  std::vector<ClipPlan> plan;
  for (const Stretch& r : runs) {
    const auto n = std::max<std::int64_t>(1, std::llround(static_cast<double>(r.count) / (opt.clip_seconds * opt.fps)));
    for (std::int64_t k = 0; k < n; ++k) {
      char id[32];
      std::snprintf(id, sizeof id, "c%05zu", plan.size());
      const std::int64_t a = r.first + r.count * k / n, e = r.first + r.count * (k + 1) / n;
      plan.push_back({id, a, e - a});
    }
  }

  // ---- pass 2: frames and masks, written in parallel ----------------------------------------
  dataset::DatasetWriter writer(opt.out, opt.force);
  writer.write_identity("subject", neutral);
  writer.write_background(background);
  std::vector<std::int64_t> clip_of(static_cast<std::size_t>(T), -1);
  for (std::size_t c = 0; c < plan.size(); ++c)
    for (std::int64_t t = plan[c].first; t < plan[c].first + plan[c].count; ++t) clip_of[static_cast<std::size_t>(t)] = static_cast<std::int64_t>(c);
  std::vector<std::string> fpaths(static_cast<std::size_t>(T)), mpaths(static_cast<std::size_t>(T));
  for (std::int64_t t = 0; t < T; ++t) {
    const std::int64_t c = clip_of[static_cast<std::size_t>(t)];
    if (c < 0) continue;
    fpaths[static_cast<std::size_t>(t)] = writer.frame_path(plan[static_cast<std::size_t>(c)].id, t - plan[static_cast<std::size_t>(c)].first);
    mpaths[static_cast<std::size_t>(t)] = writer.mask_path(plan[static_cast<std::size_t>(c)].id, t - plan[static_cast<std::size_t>(c)].first);
  }
  // Preview: 12 kept frames evenly spread, with landmarks and pose axes.
  std::vector<std::int64_t> preview_at;
  for (int k = 0; k < 12; ++k) {
    std::int64_t idx = kept * (2 * k + 1) / 24, t = 0;
    for (std::int64_t seen = -1; t < T; ++t)
      if (keep[static_cast<std::size_t>(t)] && ++seen == idx) break;
    preview_at.push_back(std::min(t, T - 1));
  }
  const int cell = std::min(opt.size, 256);
  Image sheet;
  sheet.width = cell * 4, sheet.height = cell * 3, sheet.channels = 3;
  sheet.pixels.assign(static_cast<std::size_t>(sheet.width) * sheet.height * 3, 0);
  {
    video::VideoReader r2(opt.video, {opt.fps, 0, 0});
    Progress prog2("prepare: frames", kept, "frames");
    std::int64_t t0 = 0, written = 0;
    for (;;) {
      throw_if_interrupted("prepare");
      batch.resize(static_cast<std::size_t>(B));
      std::size_t got = 0;
      while (got < batch.size() && t0 + static_cast<std::int64_t>(got) < T && r2.read(batch[got])) ++got;
      batch.resize(got);
      if (got == 0) break;
      std::atomic<std::int64_t> n_written{0};
#pragma omp parallel for schedule(dynamic, 2)
      for (std::int64_t i = 0; i < static_cast<std::int64_t>(got); ++i) {
        const std::int64_t t = t0 + i;
        if (!keep[static_cast<std::size_t>(t)] || clip_of[static_cast<std::size_t>(t)] < 0) continue;
        const video::Frame& f = batch[static_cast<std::size_t>(i)];
        Image img = crop_resample(f.rgb.data(), f.width, f.height, crop);
        Outline o = outline(t);
        Image mask = make_mask(img, background, o.face, o.head, o.chin);
        write_png(fpaths[static_cast<std::size_t>(t)], img);
        write_png(mpaths[static_cast<std::size_t>(t)], mask);
        n_written++;
        for (std::size_t k = 0; k < preview_at.size(); ++k) {
          if (preview_at[k] != t) continue;
          Image c = cell == opt.size ? img : resample_region(img.pixels.data(), opt.size, opt.size, 0, 0, opt.size, opt.size, cell, cell);
          const float sc = static_cast<float>(cell) / static_cast<float>(opt.size);
          std::vector<Vector2f> xy;
          for (const auto& q : pts[static_cast<std::size_t>(t)]) xy.push_back(crop.to_output(q[0], q[1]).cast<float>() * sc);
          const std::uint8_t green[3] = {40, 255, 60};
          landmarks::draw_landmarks(c.pixels.data(), cell, cell, xy, green, 1);
          face::HeadPose P = face::HeadPose::from_matrix(&poses[static_cast<std::size_t>(t) * 16]);
          const Vector2f o0 = face::project(P.t, Ko).cast<float>() * sc;
          const std::uint8_t cols[3][3] = {{255, 40, 40}, {40, 255, 40}, {60, 60, 255}};
          for (int ax = 0; ax < 3; ++ax)
            draw_line(c, o0, face::project(P.R.col(ax) * 0.8 + P.t, Ko).cast<float>() * sc, cols[ax]);
          const int ox = static_cast<int>(k % 4) * cell, oy = static_cast<int>(k / 4) * cell;
          for (int y = 0; y < cell; ++y)
            std::copy_n(&c.pixels[static_cast<std::size_t>(y) * cell * 3], cell * 3,
                        &sheet.pixels[(static_cast<std::size_t>(oy + y) * sheet.width + ox) * 3]);
        }
      }
      written += n_written.load();
      prog2.update(written);
      t0 += static_cast<std::int64_t>(got);
      if (got < static_cast<std::size_t>(B)) break;
    }
    prog2.finish();
    if (t0 < T) throw bad_input(opt.video, "decoded differently on the second pass (" + std::to_string(t0) + " of " + std::to_string(T) + " frames)");
  }
  const auto t_frames = std::chrono::steady_clock::now();
  if (opt.preview) write_png(writer.temp_dir() + "/preview.png", sheet);

  // ---- clip arrays ----------------------------------------------------------------------------
  const std::size_t nclips = plan.size();
  const std::size_t n_test = nclips >= 3 ? std::max<std::size_t>(1, nclips / 10) : 0, n_val = n_test;
  const std::int64_t channels = wave.channels;
  for (std::size_t c = 0; c < nclips; ++c) {
    const ClipPlan& p = plan[c];
    dataset::ClipData d;
    d.landmarks.data.assign(canon.data.begin() + p.first * 204, canon.data.begin() + (p.first + p.count) * 204);
    d.poses.assign(poses.begin() + p.first * 16, poses.begin() + (p.first + p.count) * 16);
    d.emotion.assign(static_cast<std::size_t>(p.count) * 8, 0.f);
    for (std::int64_t t = 0; t < p.count; ++t) d.emotion[static_cast<std::size_t>(t) * 8] = 1.f;  // unknown: neutral
    d.intensity.assign(static_cast<std::size_t>(p.count), 0.f);
    d.idle.assign(idle.begin() + p.first, idle.begin() + p.first + p.count);
    d.blink.assign(blink.begin() + p.first, blink.begin() + p.first + p.count);
    d.audio.sample_rate = wave.sample_rate;
    d.audio.channels = wave.channels;
    const auto s0 = static_cast<std::int64_t>(std::llround(static_cast<double>(p.first) / opt.fps * wave.sample_rate));
    const auto s1 = static_cast<std::int64_t>(std::llround(static_cast<double>(p.first + p.count) / opt.fps * wave.sample_rate));
    d.audio.samples.assign(static_cast<std::size_t>((s1 - s0) * channels), 0.f);
    for (std::int64_t s = s0; s < std::min(s1, wave.frames()); ++s)
      for (std::int64_t ch = 0; ch < channels; ++ch)
        d.audio.samples[static_cast<std::size_t>((s - s0) * channels + ch)] = wave.samples[static_cast<std::size_t>(s * channels + ch)];
    dataset::ClipMeta m;
    m.id = p.id;
    m.identity = "subject";
    m.split = c + n_test >= nclips ? "test" : (c + n_test + n_val >= nclips ? "val" : "train");
    m.start = static_cast<double>(p.first) / opt.fps;
    m.duration = static_cast<double>(p.count) / opt.fps;
    m.emotion = "neutral";
    m.intensity = 0;
    m.has_frames = true;
    writer.write_clip(m, d);
  }
  dataset::DatasetMeta meta;
  meta.kind = "subject";
  meta.fps = opt.fps;
  meta.size = {opt.size, opt.size};
  meta.intrinsics = {Ko.fx, Ko.fy, Ko.cx, Ko.cy};
  writer.finish(meta);
  sum.clips = static_cast<int>(nclips);
  {
    auto sec = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
    const auto t_end = std::chrono::steady_clock::now();
    spdlog::info("prepare timings: faces {:.2f} s, gaps+smoothing {:.2f} s, voice activity {:.2f} s, poses+focal {:.2f} s, "
                 "crop+background {:.2f} s, frames+masks {:.2f} s, arrays {:.2f} s",
                 sec(t_start, t_faces), sec(t_faces, t_vad), sec(t_vad, t_pose), sec(t_pose, t_canon), sec(t_canon, t_bg),
                 sec(t_bg, t_frames), sec(t_frames, t_end));
  }
  sum.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  spdlog::info("prepare: {} → {}: {} clips, {} of {} frames kept ({:.1f} s), crop {:.0f} px at ({:.0f}, {:.0f}), {:.1f} s "
               "(RTF {:.3f})",
               opt.video, opt.out, sum.clips, kept, T, static_cast<double>(kept) / opt.fps, crop.side, crop.x0, crop.y0,
               sum.wall_seconds, sum.rtf());
  return sum;
}

}  // namespace emogene::subject
