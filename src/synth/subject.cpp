// `synth --kind subject`: one identity performing a take of minutes (speech in several emotions with
// idle stretches between sentences), rendered to frames and masks, stored as consecutive clips
// (DESIGN §3: test = the take's last clips, validation the ones before them).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "emogene/core/error.h"
#include "emogene/core/interrupt.h"
#include "emogene/core/progress.h"
#include "emogene/dataset/dataset.h"
#include "emogene/synth/render.h"
#include "emogene/synth/subject.h"
#include "emogene/synth/synth.h"
#include "synth/clip.h"
#include "synth/sentences.h"

namespace emogene::synth {

using emotion::Emotion;
using landmarks::Shape;
using namespace detail;

Camera subject_camera(int size) {
  Camera cam;
  cam.width = cam.height = size;
  cam.fx = cam.fy = 560.f * static_cast<float>(size) / 256.f;
  cam.cx = cam.cy = static_cast<float>(size) / 2.f;
  return cam;
}

Pose frontal_pose(float yaw_deg, float pitch_deg) {
  Eigen::Matrix3f R = (Eigen::AngleAxisf(yaw_deg * static_cast<float>(M_PI) / 180.f, Eigen::Vector3f::UnitY()) *
                       Eigen::AngleAxisf(pitch_deg * static_cast<float>(M_PI) / 180.f, Eigen::Vector3f::UnitX()))
                          .toRotationMatrix();
  Pose p{};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) p[static_cast<std::size_t>(r * 4 + c)] = R(r, c);
  p[3] = 0;
  p[7] = kSubjectEyeHeight;
  p[11] = -kCameraDistance;
  p[15] = 1;
  return p;
}

Image subject_contact_sheet(const SubjectRenderer& r, const Shape& neutral, const Camera& cam, const Image& background) {
  // Rows 1-8: the 8 emotions (neutral angry contempt disgusted fear happy sad surprised) at
  // intensity 1/3, 2/3 and 1 with the mouth at rest, then at full intensity speaking "a" and "O".
  // Row 9: eyes shut, yaw −25° and +25°, pitch +12° and −12°.
  struct Cell {
    const char* phone;
    int emotion;
    float level, eyes, yaw, pitch;
  };
  std::vector<Cell> cells;
  for (int e = 0; e < 8; ++e) {
    for (float level : {1.f / 3, 2.f / 3, 1.f}) cells.push_back({"_", e, level, 1, 0, 0});
    cells.push_back({"a", e, 1, 1, 0, 0});
    cells.push_back({"O", e, 1, 1, 0, 0});
  }
  cells.push_back({"_", 0, 0, 0, 0, 0});
  cells.push_back({"_", 0, 0, 1, -25, 0});
  cells.push_back({"_", 0, 0, 1, 25, 0});
  cells.push_back({"_", 0, 0, 1, 0, 12});
  cells.push_back({"_", 0, 0, 1, 0, -12});
  const int cols = 5, rows = static_cast<int>((cells.size() + cols - 1) / cols);
  Image sheet;
  sheet.width = cam.width * cols;
  sheet.height = cam.height * rows;
  sheet.channels = 3;
  sheet.pixels.assign(static_cast<std::size_t>(sheet.width) * sheet.height * 3, 0);
  const Pose rest = frontal_pose(0, 0);
  for (std::size_t k = 0; k < cells.size(); ++k) {
    const Cell& c = cells[k];
    AUVector au = emotion_prototype(static_cast<Emotion>(c.emotion));
    for (float& a : au) a *= c.level;
    Shape s = pose_face(neutral, viseme_of(c.phone), au, c.eyes);
    Pose h = frontal_pose(c.yaw, c.pitch);
    Image rgb, mask;
    r.render(s, au, h, body_pose(h, rest), cam, background, rgb, mask);
    const int ox = static_cast<int>(k % cols) * cam.width, oy = static_cast<int>(k / cols) * cam.height;
    for (int y = 0; y < cam.height; ++y)
      std::copy_n(&rgb.pixels[static_cast<std::size_t>(y) * cam.width * 3], cam.width * 3,
                  &sheet.pixels[(static_cast<std::size_t>(oy + y) * sheet.width + ox) * 3]);
  }
  return sheet;
}

SynthSummary run_subject(const SynthOptions& opt) {
  auto t0 = std::chrono::steady_clock::now();
  if (opt.size < kMinSubjectSize || opt.size > 2048 || opt.size % 2)
    throw bad_input("--size " + std::to_string(opt.size),
                    "a subject needs an even size from " + std::to_string(kMinSubjectSize) + " to 2048 (the face is ~40% of it)");
  if (!(opt.seconds >= 2)) throw bad_input("--seconds", "a subject take needs at least 2 seconds");
  if (!(opt.fps > 0) || opt.fps > 240) throw bad_input("--fps", "must be in (0, 240]");
  std::vector<Emotion> emotions = emotion::parse_emotion_list(opt.emotions, "--emotions");
  face::LandmarkPredictor predictor;
  FacePhoto photo = load_face_photo(find_face_photo(), predictor);
  dataset::DatasetWriter writer(opt.out, opt.force);

  std::mt19937_64 rng(mix(opt.seed, 0x5B1EC7));
  std::mt19937_64 irng(mix(opt.seed, 1000));
  const Shape neutral = make_identity(irng);
  writer.write_identity("id000", neutral);
  const std::vector<std::string> voices = all_voice_names();
  const std::string voice_name = voices[std::uniform_int_distribution<std::size_t>(0, voices.size() - 1)(rng)];
  Voice base{voice_name, std::uniform_int_distribution<int>(150, 185)(rng), std::uniform_int_distribution<int>(40, 60)(rng),
             std::uniform_int_distribution<int>(40, 65)(rng)};
  const std::vector<std::string> sentences = make_sentences(400, mix(opt.seed, 0x5e17));

  // The take: clips of about 10 s, each 2-4 sentences in one emotion, with short and long silences.
  std::vector<ClipDraft> drafts;
  std::vector<ClipSpec> specs;
  double total = 0;
  std::size_t next_sentence = 0;
  std::uniform_real_distribution<double> u(0, 1);
  Progress speech_progress("synth speech", static_cast<std::int64_t>(std::ceil(opt.seconds)), "s");
  for (int g = 0; total < opt.seconds; ++g) {
    throw_if_interrupted("synth");
    ClipSpec spec;
    char id[32];
    std::snprintf(id, sizeof id, "c%05d", g);
    spec.id = id;
    spec.voice = voice_name;
    // Emotions in turn, neutral between them; levels vary.
    const Emotion e = emotions[static_cast<std::size_t>(g) % emotions.size()];
    spec.emotion = e;
    spec.level = e == Emotion::Neutral ? 0 : std::uniform_int_distribution<int>(1, 3)(rng);
    const int n = std::uniform_int_distribution<int>(2, 3)(rng);
    for (int k = 0; k < n; ++k) {
      spec.sentences.push_back(sentences[next_sentence++ % sentences.size()]);
      if (k > 0) spec.gaps.push_back(u(rng) < 0.3 ? 2.0 + 2.0 * u(rng) : 0.3 + 0.9 * u(rng));
    }
    spec.seed = mix(opt.seed, 0xC0000 + static_cast<std::uint64_t>(g));
    std::mt19937_64 crng(spec.seed);
    drafts.push_back(draft_clip(spec, base, opt.fps, crng));
    specs.push_back(spec);
    total += drafts.back().clip.audio.duration();
    speech_progress.update(static_cast<std::int64_t>(std::min(total, opt.seconds)));
  }
  speech_progress.finish();

  // Blinks and head motion over the whole take, so they run on across clip boundaries.
  std::vector<std::uint8_t> idle;
  std::vector<float> envelope;
  for (const ClipDraft& d : drafts) {
    idle.insert(idle.end(), d.clip.idle.begin(), d.clip.idle.end());
    envelope.insert(envelope.end(), d.envelope.begin(), d.envelope.end());
  }
  const auto T_all = static_cast<std::int64_t>(idle.size());
  std::vector<float> blink = blink_track(T_all, opt.fps, rng);
  std::vector<float> poses = head_poses(idle, envelope, opt.fps, kCameraDistance, rng);
  for (std::int64_t i = 0; i < T_all; ++i) poses[static_cast<std::size_t>(i) * 16 + 7] += kSubjectEyeHeight - 0.25f;
  Pose rest = frontal_pose(0, 0);
  {
    double ty = 0, tx = 0, tz = 0;
    for (std::int64_t i = 0; i < T_all; ++i) {
      tx += poses[static_cast<std::size_t>(i) * 16 + 3];
      ty += poses[static_cast<std::size_t>(i) * 16 + 7];
      tz += poses[static_cast<std::size_t>(i) * 16 + 11];
    }
    rest[3] = static_cast<float>(tx / static_cast<double>(T_all));
    rest[7] = static_cast<float>(ty / static_cast<double>(T_all));
    rest[11] = static_cast<float>(tz / static_cast<double>(T_all));
  }

  const Camera cam = subject_camera(opt.size);
  const Image background = make_background(opt.size, opt.size, mix(opt.seed, 0xB6));
  writer.write_background(background);
  SubjectRenderer renderer(photo, neutral);

  const std::size_t n = drafts.size();
  const std::size_t n_test = n >= 3 ? std::max<std::size_t>(1, n / 10) : 0, n_val = n >= 3 ? std::max<std::size_t>(1, n / 10) : 0;
  Progress progress("synth frames", T_all, "frames");
  std::int64_t offset = 0, done = 0;
  double start = 0;
  SynthSummary sum;
  for (std::size_t g = 0; g < n; ++g) {
    ClipDraft& d = drafts[g];
    const auto T = static_cast<std::int64_t>(d.clip.idle.size());
    std::vector<float> b(blink.begin() + offset, blink.begin() + offset + T);
    std::vector<float> p(poses.begin() + offset * 16, poses.begin() + (offset + T) * 16);
    finish_clip(d, neutral, std::move(b), std::move(p));
    const ClipSpec& spec = specs[g];
    // Paths first (folders are created serially), then frames rendered and written in parallel.
    std::vector<std::string> fpaths(static_cast<std::size_t>(T)), mpaths(static_cast<std::size_t>(T));
    for (std::int64_t i = 0; i < T; ++i) {
      fpaths[static_cast<std::size_t>(i)] = writer.frame_path(spec.id, i);
      mpaths[static_cast<std::size_t>(i)] = writer.mask_path(spec.id, i);
    }
    std::atomic<bool> stop{false};
#pragma omp parallel for schedule(dynamic, 4)
    for (std::int64_t i = 0; i < T; ++i) {
      if (stop.load() || interrupted()) {
        stop = true;
        continue;
      }
      Pose h;
      std::copy_n(d.clip.poses.begin() + i * 16, 16, h.begin());
      Image rgb, mask;
      renderer.render(d.clip.landmarks.frame(i), d.au[static_cast<std::size_t>(i)], h, body_pose(h, rest), cam, background, rgb, mask);
      write_png(fpaths[static_cast<std::size_t>(i)], rgb);
      write_png(mpaths[static_cast<std::size_t>(i)], mask);
    }
    throw_if_interrupted("synth");
    done += T;
    progress.update(done);
    dataset::ClipMeta m;
    m.id = spec.id;
    m.identity = "id000";
    m.voice = voice_name;
    for (std::size_t k = 0; k < spec.sentences.size(); ++k) m.sentence += (k ? " " : "") + spec.sentences[k];
    m.split = g + n_test >= n ? "test" : (g + n_test + n_val >= n ? "val" : "train");
    m.start = start;
    m.duration = d.clip.audio.duration();
    m.emotion = emotion::emotion_name(spec.emotion);
    m.intensity = spec.level == 0 ? 0.0 : spec.level / 3.0;
    m.has_frames = true;
    writer.write_clip(m, d.clip);
    // Frame times run on across clips: each clip holds ceil(duration · fps) frames.
    start += m.duration;
    offset += T;
    sum.clips++;
    sum.audio_seconds += m.duration;
    d = ClipDraft{};  // release the clip's arrays
  }
  progress.finish();
  if (opt.preview) write_png(writer.temp_dir() + "/preview.png", subject_contact_sheet(renderer, neutral, cam, background));
  dataset::DatasetMeta meta;
  meta.kind = "subject";
  meta.fps = opt.fps;
  meta.size = {opt.size, opt.size};
  meta.intrinsics = {cam.fx, cam.fy, cam.cx, cam.cy};
  meta.sentence_split_seed = mix(opt.seed, 0x5e17);
  writer.finish(meta);
  sum.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("synth: subject take of {} clips, {:.1f} s, {} frames at {}×{} in {:.1f} s ({:.1f} frames/s) → {}", sum.clips,
               sum.audio_seconds, T_all, opt.size, opt.size, sum.wall_seconds,
               static_cast<double>(T_all) / sum.wall_seconds, opt.out);
  return sum;
}

}  // namespace emogene::synth
