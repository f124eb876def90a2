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
  explicit FaceFinder(const face::Intrinsics& K) : K_(K) {}
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

// ---- the run: a state filled by the stages of prepare(), in order -------------------------------

struct ClipPlan {
  std::string id;
  std::int64_t first, count;
};

// The face outline of one frame in output pixels: the landmark hull, the projected head with hair,
// the chin.
struct Outline {
  std::vector<Vector2f> face, head;
  float chin = 0, jaw_width = 0;
  Vector2f chin_xy{0, 0};
};

// Everything one run of prepare() carries from stage to stage; each block is filled by the stages
// named above it.
struct PrepareState {
  explicit PrepareState(const PrepareOptions& o) : opt(o) {}
  const PrepareOptions& opt;
  std::chrono::steady_clock::time_point t_start = std::chrono::steady_clock::now(), t_faces, t_vad, t_pose, t_canon, t_bg,
                                        t_frames;
  PrepareSummary sum;

  // open_input: the video's audio, a reader for pass 1, the prior intrinsics; the predictor loading.
  double duration = 0;
  std::future<face::LandmarkPredictor> lp_loading;
  std::optional<face::LandmarkPredictor> lp;
  audio::Waveform wave;
  std::optional<video::VideoReader> reader;
  int W = 0, H = 0;
  face::Intrinsics K0;
  std::int64_t T_est = 0;  // frames expected from the duration (0: unknown)

  // find_faces (pass 1): a landmark track per frame, background samples.
  int B = 0;  // frames per decoded batch (both passes)
  std::vector<Track> tracks;
  double sample_scale = 1;
  std::vector<std::pair<std::int64_t, Image>> samples;
  std::int64_t T = 0;  // frames decoded

  // bridge_gaps, smooth_landmarks: the kept frames, their 2D landmarks, the runs of kept frames.
  std::vector<std::uint8_t> keep;
  std::vector<Points2> pts;
  std::vector<Stretch> runs;
  std::int64_t kept = 0;
  std::vector<Points2> kept_pts;

  // detect_idle
  std::vector<std::uint8_t> idle;
  std::vector<std::int64_t> rest_frames;  // the kept idle frames (all kept frames when under a second)

  // fit_focal_and_poses, to_canonical_space, measure_blinks
  face::Intrinsics K;
  std::vector<float> poses;
  landmarks::Sequence canon;
  landmarks::Shape neutral;
  std::vector<float> blink;

  // crop_and_background, plan_clips
  CropWindow crop;
  face::Intrinsics Ko;
  std::vector<Vector3d> ring;
  Image background;
  std::vector<ClipPlan> plan;
};

void check_options(const PrepareOptions& opt) {
  if (opt.size < 64 || opt.size > 2048 || opt.size % 2)
    throw bad_input("--size " + std::to_string(opt.size), "must be even, from 64 to 2048");
  if (!(opt.fps > 0) || opt.fps > 120) throw bad_input("--fps", "must be in (0, 120]");
  if (opt.video.empty()) throw bad_input("--video", "no video given");
  if (!file_exists(opt.video)) throw bad_input(opt.video, "no such file");
  if (is_directory(opt.video)) throw bad_input(opt.video, "is a folder, expected a video file");
}

// Checks before any output exists; the audio, a reader, the prior intrinsics.
void open_input(PrepareState& st) {
  const PrepareOptions& opt = st.opt;
  video::MediaInfo info = video::probe_media(opt.video);
  bool has_video = false, has_audio = false;
  st.duration = info.duration;
  for (const auto& s : info.streams) {
    if (s.type == "video") has_video = true, st.duration = s.duration > 0 ? s.duration : st.duration;
    if (s.type == "audio") has_audio = true;
  }
  if (!has_video) throw bad_input(opt.video, "has no video stream");
  if (!has_audio) throw bad_input(opt.video, "has no audio track (prepare keeps the subject's speech for training and idle detection)");
  if (st.duration > 0 && st.duration < kMinSeconds)
    throw bad_input(opt.video, "is too short (" + std::to_string(st.duration).substr(0, 4) + " s; at least " +
                                   std::to_string(kMinSeconds).substr(0, 3) + " s needed)");
  // dlib's models load (~0.7 s: the 68-point predictor, and the detector's embedded model) while
  // the audio and the first frames decode and the face size is probed.
  if (face::find_shape_predictor().empty()) face::LandmarkPredictor missing{""};  // bad_input now, before any work
  st.lp_loading = std::async(std::launch::async, [] {
    face::FaceDetector warm(0);
    return face::LandmarkPredictor();
  });
  st.wave = audio::load_audio(opt.video);

  st.reader.emplace(opt.video, video::ReaderOptions{opt.fps, 0, 0});
  st.W = st.reader->width(), st.H = st.reader->height();
  st.sum.focal_prior = face::focal_prior(st.W, st.H);
  st.K0 = face::Intrinsics{st.sum.focal_prior, st.sum.focal_prior, st.W / 2.0, st.H / 2.0};
  st.T_est = st.duration > 0 ? landmarks::frame_count(st.duration, opt.fps) : 0;
}

// Pass 1's working set: the finder, a detector per thread (made once the face size is known).
struct FaceSearch {
  explicit FaceSearch(const face::Intrinsics& K) : finder(K) {}
  FaceFinder finder;
  std::vector<face::FaceDetector> detectors;
  int S = 1;  // detector every S frames
  int nthreads = 1;
  bool probed = false;
  std::atomic<std::int64_t> multi{0};
  std::int64_t sample_stride = 1;
};

// Finds the face size once, then detects at a scale where faces are ~120 px wide (fast on large
// frames, an upsampling step on small faces).
void probe_face_size(const PrepareState& st, FaceSearch& fs, const std::vector<video::Frame>& batch) {
  const auto n = static_cast<std::int64_t>(batch.size());
  const double s0 = std::min(1.0, 640.0 / std::max(st.W, st.H));
  fs.finder.set_detection_scale(s0, std::min(st.W, st.H) * s0 < 360 ? 1 : 0);
  face::FaceDetector probe_det(fs.finder.upsample());
  for (std::int64_t i = 0; i < n; i += 4) {
    face::FaceBox b;
    int nf = 0;
    if (!fs.finder.detect(probe_det, batch[static_cast<std::size_t>(i)], b, nf)) continue;
    const double fw = b.width();
    const double sc = fw > 140 ? 120.0 / fw : 1.0;
    fs.finder.set_detection_scale(sc, fw * sc < 90 ? 1 : 0);
    spdlog::debug("prepare: face ~{:.0f} px wide; detector at scale {:.2f}, upsample {}", fw, sc, fs.finder.upsample());
    fs.probed = true;
    break;
  }
  fs.detectors.clear();
  for (int i = 0; i < fs.nthreads; ++i) fs.detectors.emplace_back(fs.finder.upsample());
}

// Landmark tracks of one batch (frames base, base + 1, ...): per segment of S frames, the first
// detection tracked forwards and backwards; then through detector misses from the frame before.
void track_batch(PrepareState& st, FaceSearch& fs, const std::vector<video::Frame>& batch, std::int64_t base) {
  const auto n = static_cast<std::int64_t>(batch.size());
  const int S = fs.S;
  const FaceFinder& finder = fs.finder;
  std::vector<Track>& tracks = st.tracks;
  const std::int64_t nseg = (n + S - 1) / S;
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t sgi = 0; sgi < nseg; ++sgi) {
    const face::FaceDetector& det = fs.detectors[static_cast<std::size_t>(omp_get_thread_num()) % fs.detectors.size()];
    const std::int64_t a = sgi * S, e = std::min(n, a + S);
    std::int64_t k = -1;
    for (std::int64_t i = a; i < e && k < 0; ++i) {
      face::FaceBox b;
      int nf = 0;
      if (!finder.detect(det, batch[static_cast<std::size_t>(i)], b, nf)) continue;
      if (nf > 1) fs.multi++;
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
}

// Background samples: every sample_stride-th frame, thinned out when there are too many.
void take_background_samples(PrepareState& st, FaceSearch& fs, const std::vector<video::Frame>& batch, std::int64_t base) {
  const auto n = static_cast<std::int64_t>(batch.size());
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t g = base + i;
    if (g % fs.sample_stride) continue;
    const video::Frame& f = batch[static_cast<std::size_t>(i)];
    Image img = st.sample_scale == 1.0
                    ? Image{f.width, f.height, 3, f.rgb}
                    : resample_region(f.rgb.data(), f.width, f.height, 0, 0, f.width, f.height,
                                      static_cast<int>(std::lround(f.width * st.sample_scale)),
                                      static_cast<int>(std::lround(f.height * st.sample_scale)));
    st.samples.emplace_back(g, std::move(img));
    if (st.samples.size() > 96) {  // the duration was underestimated: thin out
      std::vector<std::pair<std::int64_t, Image>> kept;
      fs.sample_stride *= 2;
      for (auto& s : st.samples)
        if (s.first % fs.sample_stride == 0) kept.push_back(std::move(s));
      st.samples = std::move(kept);
    }
  }
}

// Pass 1: faces and landmarks over the whole video, in batches; the frame count and face checks.
void find_faces(PrepareState& st) {
  const PrepareOptions& opt = st.opt;
  FaceSearch fs(st.K0);
  fs.S = std::max(1, opt.detect_every);
  const std::size_t frame_bytes = static_cast<std::size_t>(st.W) * st.H * 3;
  st.B = fs.S * std::clamp(static_cast<int>((96u << 20) / std::max<std::size_t>(frame_bytes, 1) / fs.S), 2, 16);
  fs.nthreads = std::max(1, omp_get_max_threads());
  spdlog::debug("prepare: {} OpenMP threads", fs.nthreads);
  // Background samples: up to ~48 frames spread over the take (kept at ≤ 1280 px on the long side).
  st.sample_scale = std::min(1.0, 1280.0 / std::max(st.W, st.H));
  fs.sample_stride = std::max<std::int64_t>(1, st.T_est / 48);
  Progress prog1("prepare: faces", st.T_est, "frames");
  std::vector<video::Frame> batch;
  std::int64_t base = 0;
  for (;;) {
    throw_if_interrupted("prepare");
    batch.resize(static_cast<std::size_t>(st.B));
    std::size_t got = 0;
    while (got < batch.size() && st.reader->read(batch[got])) ++got;
    batch.resize(got);
    if (got == 0) break;
    st.tracks.resize(static_cast<std::size_t>(base) + got);
    if (!fs.probed) probe_face_size(st, fs, batch);
    if (!st.lp) {
      st.lp.emplace(st.lp_loading.get());  // rethrows a loading error
      fs.finder.set_predictor(&*st.lp);
    }
    track_batch(st, fs, batch, base);
    take_background_samples(st, fs, batch, base);
    base += static_cast<std::int64_t>(got);
    prog1.update(base);
    if (got < static_cast<std::size_t>(st.B)) break;
  }
  prog1.finish();
  st.t_faces = std::chrono::steady_clock::now();
  batch.clear();
  batch.shrink_to_fit();
  const std::int64_t T = st.T = base;
  st.sum.frames = T;
  st.sum.seconds = static_cast<double>(T) / opt.fps;
  st.sum.multi_face = fs.multi.load();
  if (st.sum.seconds < kMinSeconds)
    throw bad_input(opt.video, "is too short (" + std::to_string(T) + " frames at " + std::to_string(opt.fps).substr(0, 5) +
                                   " fps; at least " + std::to_string(kMinSeconds).substr(0, 3) + " s needed)");
  std::int64_t found = 0;
  for (const auto& t : st.tracks) found += t.valid;
  st.sum.detected = found;
  if (found == 0) throw bad_input(opt.video, "no face found in the video");
  if (st.sum.multi_face > 0)
    spdlog::warn("prepare: {}: several faces in {} detections; the largest was taken", opt.video, st.sum.multi_face);
}

// Gaps: short ones bridged by interpolation, long ones dropped; runs under a second dropped.
void bridge_gaps(PrepareState& st) {
  const PrepareOptions& opt = st.opt;
  const std::int64_t T = st.T;
  std::vector<std::uint8_t>& keep = st.keep;
  std::vector<Points2>& pts = st.pts;
  keep.assign(static_cast<std::size_t>(T), 0);
  const auto max_gap = static_cast<std::int64_t>(std::floor(opt.max_gap * opt.fps));
  pts.resize(static_cast<std::size_t>(T));
  {
    std::int64_t last = -1;
    for (std::int64_t t = 0; t < T; ++t) {
      if (!st.tracks[static_cast<std::size_t>(t)].valid) continue;
      pts[static_cast<std::size_t>(t)] = st.tracks[static_cast<std::size_t>(t)].p;
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
  st.runs = stretches(keep, 1, 1);
  {
    const auto min_run = static_cast<std::int64_t>(std::ceil(1.0 * opt.fps));
    std::vector<Stretch> ok;
    for (const Stretch& r : st.runs) {
      if (r.count >= min_run) ok.push_back(r);
      else
        for (std::int64_t t = r.first; t < r.first + r.count; ++t) keep[static_cast<std::size_t>(t)] = 0;
    }
    st.runs = ok;
  }
  std::int64_t kept = 0;
  for (const Stretch& r : st.runs) kept += r.count;
  if (static_cast<double>(kept) / opt.fps < kMinSeconds)
    throw bad_input(opt.video, "a face was found in only " + std::to_string(static_cast<double>(kept) / opt.fps).substr(0, 4) +
                                   " s of " + std::to_string(st.sum.seconds).substr(0, 5) + " s; at least " +
                                   std::to_string(kMinSeconds).substr(0, 3) + " s with a face needed");
  if (kept < T)
    spdlog::warn("prepare: {}: {} of {} frames have no usable face and were dropped", opt.video, T - kept, T);
  st.kept = st.sum.kept = kept;
}

// Zero-lag smoothing of the 2D landmarks within each run; the kept frames' landmarks.
void smooth_landmarks(PrepareState& st) {
  std::vector<Points2>& pts = st.pts;
  for (const Stretch& r : st.runs) {
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
  for (std::int64_t t = 0; t < st.T; ++t)
    if (st.keep[static_cast<std::size_t>(t)]) st.kept_pts.push_back(pts[static_cast<std::size_t>(t)]);
}

// Idle from voice activity; the rest frames (the face at rest, for the neutral shape): the kept
// idle frames, all kept frames when they are under a second.
void detect_idle(PrepareState& st) {
  const std::int64_t T = st.T;
  st.t_vad = std::chrono::steady_clock::now();
  const std::vector<float> mono16 = audio::resample(audio::to_mono(st.wave), st.wave.sample_rate, audio::kModelRate);
  st.idle = audio::idle_mask(audio::detect_speech(mono16, audio::kModelRate), T, st.opt.fps);
  std::vector<std::int64_t>& use = st.rest_frames;
  for (std::int64_t t = 0; t < T; ++t)
    if (st.keep[static_cast<std::size_t>(t)] && st.idle[static_cast<std::size_t>(t)]) use.push_back(t);
  if (static_cast<double>(use.size()) < st.opt.fps) {
    use.clear();
    for (std::int64_t t = 0; t < T; ++t)
      if (st.keep[static_cast<std::size_t>(t)]) use.push_back(t);
  }
}

// Poses by PnP against `model`, smoothed without lag within each run of frames.
std::vector<float> solve_poses(const PrepareState& st, const landmarks::Shape& model, const face::Intrinsics& K) {
  const std::int64_t T = st.T;
  std::vector<float> poses(static_cast<std::size_t>(T) * 16, 0.f);
#pragma omp parallel for schedule(dynamic, 16)
  for (std::int64_t t = 0; t < T; ++t) {
    if (!st.keep[static_cast<std::size_t>(t)]) continue;
    face::PnpResult r = face::solve_pnp(st.pts[static_cast<std::size_t>(t)], model, K);
    auto m = r.pose.matrix();
    std::copy(m.begin(), m.end(), poses.begin() + t * 16);
  }
  for (const Stretch& r : st.runs) {
    std::vector<float> p(poses.begin() + r.first * 16, poses.begin() + (r.first + r.count) * 16);
    p = smooth_poses(p, 4);
    std::copy(p.begin(), p.end(), poses.begin() + r.first * 16);
  }
  return poses;
}

// Canonical landmarks: frontal x, y by back-projection onto the model's depth z.
landmarks::Sequence canonical_of(const PrepareState& st, const std::vector<float>& poses, const landmarks::Shape& model,
                                 const face::Intrinsics& K) {
  const std::int64_t T = st.T;
  landmarks::Sequence canon = landmarks::Sequence::zeros(T);
#pragma omp parallel for schedule(static)
  for (std::int64_t t = 0; t < T; ++t) {
    if (!st.keep[static_cast<std::size_t>(t)]) continue;
    face::HeadPose P = face::HeadPose::from_matrix(&poses[static_cast<std::size_t>(t) * 16]);
    auto s = canon.frame(t);
    for (int i = 0; i < 68; ++i) {
      const auto& q = st.pts[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)];
      Eigen::Vector2d xy = back_project(q[0], q[1], P, model(i, 2), K);
      s(i, 0) = static_cast<float>(xy.x()), s(i, 1) = static_cast<float>(xy.y()), s(i, 2) = model(i, 2);
    }
  }
  return canon;
}

// The neutral shape: per-point median over the rest frames.
landmarks::Shape neutral_of(const PrepareState& st, const landmarks::Sequence& canon) {
  const std::vector<std::int64_t>& use = st.rest_frames;
  landmarks::Shape n;
  std::vector<float> v(use.size());
  for (int i = 0; i < 68; ++i)
    for (int c = 0; c < 3; ++c) {
      for (std::size_t k = 0; k < use.size(); ++k) v[k] = canon.frame(use[k])(i, c);
      std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
      n(i, c) = v[v.size() / 2];
    }
  return n;
}

// Identity: the mean face's proportions fitted to the subject (face::fit_identity) over up to
// 96 frames spread over the idle stretches (the mouth at rest; all kept frames when there is
// under a second of idle). Against the mean face alone, a subject's longer nose or lower face
// reads as a constant pitch of the head.
landmarks::Shape fit_identity(const PrepareState& st) {
  const std::vector<std::int64_t>& cand = st.rest_frames;
  std::vector<Points2> sel;
  const std::size_t m = std::min<std::size_t>(cand.size(), 96);
  for (std::size_t k = 0; k < m; ++k) sel.push_back(st.pts[static_cast<std::size_t>(cand[k * cand.size() / m])]);
  const face::IdentityFit idfit = face::fit_identity(sel, st.K0);
  std::string zs;
  for (int k = 0; k < landmarks::kProportions; ++k)
    zs += fmt::format("{}{} {:+.2f}", k ? ", " : "", landmarks::proportion_name(k), idfit.z[static_cast<std::size_t>(k)]);
  spdlog::info("prepare: identity over {} frames (sd units): {}; reprojection {:.2f}% IOD (mean face {:.2f}%)", sel.size(), zs,
               100 * idfit.rms_iod, 100 * idfit.rms_iod_mean_face);
  return idfit.shape;
}

// Pass A: the identity at the prior focal gives a first neutral shape; its frontal x, y (with the
// identity's depth) become the clip's own model. Pass B: the focal length refined for that model,
// then the final poses, canonical landmarks and neutral shape.
void fit_focal_and_poses(PrepareState& st) {
  st.t_pose = std::chrono::steady_clock::now();
  const landmarks::Shape base_shape = fit_identity(st);
  landmarks::Shape model = neutral_of(st, canonical_of(st, solve_poses(st, base_shape, st.K0), base_shape, st.K0));
  model.col(2) = base_shape.col(2);
  face::FocalFit ff = face::refine_focal(st.kept_pts, model, st.W / 2.0, st.H / 2.0, st.sum.focal_prior);
  st.sum.focal = ff.focal;
  spdlog::info("prepare: focal {:.0f} px (prior {:.0f}; log-spread {:.2f} from the data alone, {:.2f} after)", ff.focal,
               ff.prior, ff.data_log_std, ff.posterior_log_std);
  st.K = face::Intrinsics{ff.focal, ff.focal, st.W / 2.0, st.H / 2.0};
  st.poses = solve_poses(st, model, st.K);
  st.canon = canonical_of(st, st.poses, model, st.K);
  st.neutral = neutral_of(st, st.canon);
  st.t_canon = std::chrono::steady_clock::now();
}

// Canonical space (DESIGN §4): origin between the neutral's inner eye corners, unit its outer
// eye-corner distance. Poses take the inverse, scaled with the camera space (projection unchanged).
void to_canonical_space(PrepareState& st) {
  const landmarks::IdentityFrame idf = landmarks::identity_frame(st.neutral);
  const double s_id = idf.scale;
  st.neutral = landmarks::normalise_identity(st.neutral);
  for (std::int64_t t = 0; t < st.T; ++t) {
    if (!st.keep[static_cast<std::size_t>(t)]) continue;
    auto s = st.canon.frame(t);
    for (int i = 0; i < 68; ++i) s.row(i) = (s.row(i) - idf.origin.transpose()) / idf.scale;
    face::HeadPose P = face::HeadPose::from_matrix(&st.poses[static_cast<std::size_t>(t) * 16]);
    P.t = (P.R * idf.origin.cast<double>() + P.t) / s_id;
    auto m = P.matrix();
    std::copy(m.begin(), m.end(), st.poses.begin() + t * 16);
  }
}

// Blink: eye openness over the take's open eyes (its 90th percentile), 1 on dropped frames.
void measure_blinks(PrepareState& st) {
  const std::int64_t T = st.T;
  st.blink.assign(static_cast<std::size_t>(T), 1.f);
  std::vector<float> ear;
  for (std::int64_t t = 0; t < T; ++t)
    if (st.keep[static_cast<std::size_t>(t)]) ear.push_back(landmarks::eye_openness(st.canon.frame(t)));
  std::sort(ear.begin(), ear.end());
  const float open = std::max(1e-3f, ear[static_cast<std::size_t>(0.9 * static_cast<double>(ear.size() - 1))]);
  for (std::int64_t t = 0; t < T; ++t)
    if (st.keep[static_cast<std::size_t>(t)])
      st.blink[static_cast<std::size_t>(t)] = std::clamp(landmarks::eye_openness(st.canon.frame(t)) / open, 0.f, 1.f);
}

// Frame t's outline in output pixels.
Outline outline(const PrepareState& st, std::int64_t t) {
  Outline o;
  std::vector<Vector2f> fp;
  for (int i = 0; i < 27; ++i) {
    Eigen::Vector2d q = st.crop.to_output(st.pts[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)][0],
                                          st.pts[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)][1]);
    fp.push_back(q.cast<float>());
  }
  o.face = convex_hull(fp);
  face::HeadPose P = face::HeadPose::from_matrix(&st.poses[static_cast<std::size_t>(t) * 16]);
  std::vector<Vector2f> hp = fp;
  for (const Vector3d& r : st.ring) hp.push_back(face::project(P.R * r + P.t, st.Ko).cast<float>());
  o.head = convex_hull(hp);
  for (int i = 5; i <= 11; ++i) o.chin = std::max(o.chin, fp[static_cast<std::size_t>(i)].y());
  o.chin_xy = fp[8];
  o.jaw_width = (fp[16] - fp[0]).norm();
  return o;
}

// The prior of a background sample (nonzero: maybe face or body): the head grown by 15% about its
// centre, and a cone under the chin for neck and shoulders.
Image body_prior(const Outline& o, int size) {
  std::vector<std::uint8_t> m(static_cast<std::size_t>(size) * size, 0);
  Vector2f c(0, 0);
  for (const auto& q : o.head) c += q;
  c /= static_cast<float>(o.head.size());
  std::vector<Vector2f> grown;
  for (const auto& q : o.head) grown.push_back(c + 1.15f * (q - c));
  fill_polygon(m, size, size, grown, 1);
  const float top = o.chin - 0.15f * o.jaw_width, big = 10.f * size;
  fill_polygon(m, size, size,
               {{o.chin_xy.x() - 0.8f * o.jaw_width, top},
                {o.chin_xy.x() + 0.8f * o.jaw_width, top},
                {o.chin_xy.x() + 0.8f * o.jaw_width + 1.6f * big, top + big},
                {o.chin_xy.x() - 0.8f * o.jaw_width - 1.6f * big, top + big}},
               1);
  Image pm;
  pm.width = pm.height = size, pm.channels = 1, pm.pixels = std::move(m);
  return pm;
}

// The crop window, the output intrinsics, and the background from the samples with a face.
void crop_and_background(PrepareState& st) {
  const PrepareOptions& opt = st.opt;
  st.crop = choose_crop(st.kept_pts, st.W, st.H, opt.size);
  st.Ko = st.crop.apply(st.K);
  st.ring = skull_ring();
  std::vector<Image> frames, priors;
  CropWindow sc = st.crop;
  sc.x0 *= st.sample_scale, sc.y0 *= st.sample_scale, sc.side *= st.sample_scale;
  for (auto& [t, img] : st.samples) {
    if (!st.keep[static_cast<std::size_t>(t)]) continue;
    frames.push_back(crop_resample(img.pixels.data(), img.width, img.height, sc));
    priors.push_back(body_prior(outline(st, t), opt.size));
  }
  st.samples.clear();
  if (frames.empty()) throw internal_error("prepare", "no background samples with a face");
  st.background = estimate_background(frames, priors);
  st.t_bg = std::chrono::steady_clock::now();
}

// Consecutive clips of ~clip_seconds over each run of kept frames.
void plan_clips(PrepareState& st) {
  const PrepareOptions& opt = st.opt;
  for (const Stretch& r : st.runs) {
    const auto n = std::max<std::int64_t>(1, std::llround(static_cast<double>(r.count) / (opt.clip_seconds * opt.fps)));
    for (std::int64_t k = 0; k < n; ++k) {
      char id[32];
      std::snprintf(id, sizeof id, "c%05zu", st.plan.size());
      const std::int64_t a = r.first + r.count * k / n, e = r.first + r.count * (k + 1) / n;
      st.plan.push_back({id, a, e - a});
    }
  }
}

// The preview: 12 kept frames evenly spread, with landmarks and pose axes, on a 4 × 3 sheet.
struct Preview {
  std::vector<std::int64_t> at;
  int cell = 0;
  Image sheet;
};

Preview plan_preview(const PrepareState& st) {
  const std::int64_t T = st.T;
  Preview pv;
  for (int k = 0; k < 12; ++k) {
    std::int64_t idx = st.kept * (2 * k + 1) / 24, t = 0;
    for (std::int64_t seen = -1; t < T; ++t)
      if (st.keep[static_cast<std::size_t>(t)] && ++seen == idx) break;
    pv.at.push_back(std::min(t, T - 1));
  }
  pv.cell = std::min(st.opt.size, 256);
  pv.sheet.width = pv.cell * 4, pv.sheet.height = pv.cell * 3, pv.sheet.channels = 3;
  pv.sheet.pixels.assign(static_cast<std::size_t>(pv.sheet.width) * pv.sheet.height * 3, 0);
  return pv;
}

// Output frame `img` of frame t into cell k of the sheet, with its landmarks and pose axes.
void draw_preview_cell(const PrepareState& st, Preview& pv, const Image& img, std::int64_t t, std::size_t k) {
  const int size = st.opt.size, cell = pv.cell;
  Image c = cell == size ? img : resample_region(img.pixels.data(), size, size, 0, 0, size, size, cell, cell);
  const float sc = static_cast<float>(cell) / static_cast<float>(size);
  std::vector<Vector2f> xy;
  for (const auto& q : st.pts[static_cast<std::size_t>(t)]) xy.push_back(st.crop.to_output(q[0], q[1]).cast<float>() * sc);
  const std::uint8_t green[3] = {40, 255, 60};
  landmarks::draw_landmarks(c.pixels.data(), cell, cell, xy, green, 1);
  face::HeadPose P = face::HeadPose::from_matrix(&st.poses[static_cast<std::size_t>(t) * 16]);
  const Vector2f o0 = face::project(P.t, st.Ko).cast<float>() * sc;
  const std::uint8_t cols[3][3] = {{255, 40, 40}, {40, 255, 40}, {60, 60, 255}};
  for (int ax = 0; ax < 3; ++ax) draw_line(c, o0, face::project(P.R.col(ax) * 0.8 + P.t, st.Ko).cast<float>() * sc, cols[ax]);
  const int ox = static_cast<int>(k % 4) * cell, oy = static_cast<int>(k / 4) * cell;
  for (int y = 0; y < cell; ++y)
    std::copy_n(&c.pixels[static_cast<std::size_t>(y) * cell * 3], cell * 3,
                &pv.sheet.pixels[(static_cast<std::size_t>(oy + y) * pv.sheet.width + ox) * 3]);
}

// Pass 2: the kept frames decoded again, cropped, masked and written in parallel; the preview.
void write_frames_and_masks(PrepareState& st, dataset::DatasetWriter& writer) {
  const PrepareOptions& opt = st.opt;
  const std::int64_t T = st.T;
  std::vector<std::int64_t> clip_of(static_cast<std::size_t>(T), -1);
  for (std::size_t c = 0; c < st.plan.size(); ++c)
    for (std::int64_t t = st.plan[c].first; t < st.plan[c].first + st.plan[c].count; ++t)
      clip_of[static_cast<std::size_t>(t)] = static_cast<std::int64_t>(c);
  std::vector<std::string> fpaths(static_cast<std::size_t>(T)), mpaths(static_cast<std::size_t>(T));
  for (std::int64_t t = 0; t < T; ++t) {
    const std::int64_t c = clip_of[static_cast<std::size_t>(t)];
    if (c < 0) continue;
    const ClipPlan& p = st.plan[static_cast<std::size_t>(c)];
    fpaths[static_cast<std::size_t>(t)] = writer.frame_path(p.id, t - p.first);
    mpaths[static_cast<std::size_t>(t)] = writer.mask_path(p.id, t - p.first);
  }
  Preview pv = plan_preview(st);
  {
    video::VideoReader r2(opt.video, {opt.fps, 0, 0});
    Progress prog2("prepare: frames", st.kept, "frames");
    std::vector<video::Frame> batch;
    std::int64_t t0 = 0, written = 0;
    for (;;) {
      throw_if_interrupted("prepare");
      batch.resize(static_cast<std::size_t>(st.B));
      std::size_t got = 0;
      while (got < batch.size() && t0 + static_cast<std::int64_t>(got) < T && r2.read(batch[got])) ++got;
      batch.resize(got);
      if (got == 0) break;
      std::atomic<std::int64_t> n_written{0};
#pragma omp parallel for schedule(dynamic, 2)
      for (std::int64_t i = 0; i < static_cast<std::int64_t>(got); ++i) {
        const std::int64_t t = t0 + i;
        if (!st.keep[static_cast<std::size_t>(t)] || clip_of[static_cast<std::size_t>(t)] < 0) continue;
        const video::Frame& f = batch[static_cast<std::size_t>(i)];
        Image img = crop_resample(f.rgb.data(), f.width, f.height, st.crop);
        Outline o = outline(st, t);
        Image mask = make_mask(img, st.background, o.face, o.head, o.chin);
        write_png(fpaths[static_cast<std::size_t>(t)], img);
        write_png(mpaths[static_cast<std::size_t>(t)], mask);
        n_written++;
        for (std::size_t k = 0; k < pv.at.size(); ++k)
          if (pv.at[k] == t) draw_preview_cell(st, pv, img, t, k);
      }
      written += n_written.load();
      prog2.update(written);
      t0 += static_cast<std::int64_t>(got);
      if (got < static_cast<std::size_t>(st.B)) break;
    }
    prog2.finish();
    if (t0 < T) throw bad_input(opt.video, "decoded differently on the second pass (" + std::to_string(t0) + " of " + std::to_string(T) + " frames)");
  }
  st.t_frames = std::chrono::steady_clock::now();
  if (opt.preview) write_png(writer.temp_dir() + "/preview.png", pv.sheet);
}

// The arrays of clip c (DESIGN §3): landmarks, poses, neutral emotion, idle, blink, its audio.
dataset::ClipData clip_data(const PrepareState& st, const ClipPlan& p) {
  const audio::Waveform& wave = st.wave;
  const std::int64_t channels = wave.channels;
  dataset::ClipData d;
  d.landmarks.data.assign(st.canon.data.begin() + p.first * 204, st.canon.data.begin() + (p.first + p.count) * 204);
  d.poses.assign(st.poses.begin() + p.first * 16, st.poses.begin() + (p.first + p.count) * 16);
  d.emotion.assign(static_cast<std::size_t>(p.count) * 8, 0.f);
  for (std::int64_t t = 0; t < p.count; ++t) d.emotion[static_cast<std::size_t>(t) * 8] = 1.f;  // unknown: neutral
  d.intensity.assign(static_cast<std::size_t>(p.count), 0.f);
  d.idle.assign(st.idle.begin() + p.first, st.idle.begin() + p.first + p.count);
  d.blink.assign(st.blink.begin() + p.first, st.blink.begin() + p.first + p.count);
  d.audio.sample_rate = wave.sample_rate;
  d.audio.channels = wave.channels;
  const auto s0 = static_cast<std::int64_t>(std::llround(static_cast<double>(p.first) / st.opt.fps * wave.sample_rate));
  const auto s1 = static_cast<std::int64_t>(std::llround(static_cast<double>(p.first + p.count) / st.opt.fps * wave.sample_rate));
  d.audio.samples.assign(static_cast<std::size_t>((s1 - s0) * channels), 0.f);
  for (std::int64_t s = s0; s < std::min(s1, wave.frames()); ++s)
    for (std::int64_t ch = 0; ch < channels; ++ch)
      d.audio.samples[static_cast<std::size_t>((s - s0) * channels + ch)] = wave.samples[static_cast<std::size_t>(s * channels + ch)];
  return d;
}

// The clips' arrays and metadata (the last tenth test, the tenth before val), then the dataset's.
void write_clip_arrays(PrepareState& st, dataset::DatasetWriter& writer) {
  const PrepareOptions& opt = st.opt;
  const std::size_t nclips = st.plan.size();
  const std::size_t n_test = nclips >= 3 ? std::max<std::size_t>(1, nclips / 10) : 0, n_val = n_test;
  for (std::size_t c = 0; c < nclips; ++c) {
    const ClipPlan& p = st.plan[c];
    dataset::ClipData d = clip_data(st, p);
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
  meta.intrinsics = {st.Ko.fx, st.Ko.fy, st.Ko.cx, st.Ko.cy};
  writer.finish(meta);
  st.sum.clips = static_cast<int>(nclips);
}

void log_summary(PrepareState& st) {
  auto sec = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  const auto t_end = std::chrono::steady_clock::now();
  spdlog::info("prepare timings: faces {:.2f} s, gaps+smoothing {:.2f} s, voice activity {:.2f} s, poses+focal {:.2f} s, "
               "crop+background {:.2f} s, frames+masks {:.2f} s, arrays {:.2f} s",
               sec(st.t_start, st.t_faces), sec(st.t_faces, st.t_vad), sec(st.t_vad, st.t_pose), sec(st.t_pose, st.t_canon),
               sec(st.t_canon, st.t_bg), sec(st.t_bg, st.t_frames), sec(st.t_frames, t_end));
  st.sum.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - st.t_start).count();
  spdlog::info("prepare: {} → {}: {} clips, {} of {} frames kept ({:.1f} s), crop {:.0f} px at ({:.0f}, {:.0f}), {:.1f} s "
               "(RTF {:.3f})",
               st.opt.video, st.opt.out, st.sum.clips, st.kept, st.T, static_cast<double>(st.kept) / st.opt.fps, st.crop.side,
               st.crop.x0, st.crop.y0, st.sum.wall_seconds, st.sum.rtf());
}

}  // namespace

PrepareSummary prepare(const PrepareOptions& opt) {
  PrepareState st(opt);
  check_options(opt);
  open_input(st);
  find_faces(st);           // pass 1
  bridge_gaps(st);
  smooth_landmarks(st);
  detect_idle(st);
  fit_focal_and_poses(st);
  to_canonical_space(st);
  measure_blinks(st);
  crop_and_background(st);
  plan_clips(st);
  dataset::DatasetWriter writer(opt.out, opt.force);
  writer.write_identity("subject", st.neutral);
  writer.write_background(st.background);
  write_frames_and_masks(st, writer);  // pass 2
  write_clip_arrays(st, writer);
  log_summary(st);
  return st.sum;
}

}  // namespace emogene::subject
