// synth --kind subject: rendered frames that a real face detector accepts, exact masks, the
// dataset layout of DESIGN §3, the mouth interior, determinism.
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "emogene/core/error.h"
#include "emogene/core/image.h"
#include "emogene/dataset/dataset.h"
#include "emogene/face/face.h"
#include "emogene/synth/render.h"
#include "emogene/synth/subject.h"
#include "emogene/synth/texture.h"
#include "emogene/synth/world.h"
#include "testutil.h"

using namespace emogene;
namespace fs = std::filesystem;

namespace {


std::array<float, 2> project(const landmarks::Shape& s, int i, const float* P, const std::array<double, 4>& K) {
  float x = 0, y = 0, z = 0;
  for (int c = 0; c < 3; ++c) {
    x += P[c] * s(i, c);
    y += P[4 + c] * s(i, c);
    z += P[8 + c] * s(i, c);
  }
  x += P[3], y += P[7], z += P[11];
  return {static_cast<float>(K[2] + K[0] * x / -z), static_cast<float>(K[3] - K[1] * y / -z)};
}

// A take of ~12 s (EMOGENE_SUBJECT_SECONDS overrides, for the figures of the issue note).
class Subject : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("emogene-subject-" + std::to_string(::getpid()))).string();
    synth::SynthOptions o;
    o.out = dir_;
    o.kind = "subject";
    const char* env = std::getenv("EMOGENE_SUBJECT_SECONDS");
    o.seconds = env ? std::atof(env) : 12;
    o.emotions = "happy,sad,surprised,angry";
    o.seed = 5;
    o.force = true;
    summary_ = synth::run_synth(o);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string dir_;
  static synth::SynthSummary summary_;
};
std::string Subject::dir_;
synth::SynthSummary Subject::summary_;

}  // namespace

TEST_F(Subject, DatasetHasFramesMasksAndBackground) {
  dataset::Dataset ds(dir_);
  const auto& m = ds.meta();
  EXPECT_EQ(m.kind, "subject");
  EXPECT_EQ(m.size[0], 256);
  EXPECT_NEAR(m.intrinsics[0], 560, 1e-9);
  ASSERT_GE(m.clips.size(), 1u);
  Image bg = read_png(ds.background_path());
  double start = 0;
  std::int64_t on_head = 0, total_pts = 0, bg_exact = 0, bg_px = 0;
  for (std::size_t c = 0; c < m.clips.size(); ++c) {
    EXPECT_TRUE(m.clips[c].has_frames);
    EXPECT_NEAR(m.clips[c].start, start, 1e-9);  // consecutive clips of one take
    start += m.clips[c].duration;
    dataset::ClipData d = ds.load_clip(c, false);
    for (std::int64_t t = 0; t < d.frames(); t += 7) {
      Image f = read_png(ds.clip_frame_path(c, t));
      Image k = read_png(ds.clip_mask_path(c, t), 1);
      ASSERT_EQ(f.width, 256);
      ASSERT_EQ(k.width, 256);
      int seen[3] = {0, 0, 0};
      for (std::size_t i = 0; i < k.pixels.size(); ++i) {
        ASSERT_LE(k.pixels[i], 2);
        seen[k.pixels[i]]++;
        if (k.pixels[i] == 0) {
          bg_px++;
          bg_exact += f.pixels[i * 3] == bg.pixels[i * 3] && f.pixels[i * 3 + 1] == bg.pixels[i * 3 + 1] &&
                      f.pixels[i * 3 + 2] == bg.pixels[i * 3 + 2];
        }
      }
      EXPECT_GT(seen[0], 0);
      EXPECT_GT(seen[1], 2000);  // torso
      EXPECT_GT(seen[2], 8000);  // head
      // Every inner-face landmark lands on the head label.
      for (int i = 17; i < 68; ++i) {
        auto uv = project(d.landmarks.frame(t), i, &d.poses[static_cast<std::size_t>(t) * 16], m.intrinsics);
        int x = static_cast<int>(uv[0]), y = static_cast<int>(uv[1]);
        total_pts++;
        on_head += x >= 0 && y >= 0 && x < 256 && y < 256 && k.pixels[static_cast<std::size_t>(y) * 256 + x] == 2;
      }
    }
  }
  EXPECT_EQ(on_head, total_pts);
  // Background pixels are the background image (edge pixels are blends, hence not all).
  EXPECT_GT(static_cast<double>(bg_exact) / static_cast<double>(bg_px), 0.97);
}

TEST_F(Subject, DlibFindsTheFaceAndItsLandmarks) {
  dataset::Dataset ds(dir_);
  const auto& m = ds.meta();
  face::FaceDetector det;
  face::LandmarkPredictor lp;
  std::int64_t frames = 0, found = 0;
  double err_inner = 0, err_jaw = 0;
  std::int64_t measured = 0;
  float max_yaw = 0;
  for (std::size_t c = 0; c < m.clips.size(); ++c) {
    dataset::ClipData d = ds.load_clip(c, false);
    for (std::int64_t t = 0; t < d.frames(); t += 3) {
      const float* P = &d.poses[static_cast<std::size_t>(t) * 16];
      const float yaw = std::atan2(P[2], P[10]) * 57.29578f;
      if (std::fabs(yaw) > 25) continue;
      max_yaw = std::max(max_yaw, std::fabs(yaw));
      frames++;
      Image f = read_png(ds.clip_frame_path(c, t));
      auto faces = det.detect(f);
      if (faces.empty()) continue;
      found++;
      auto p = lp.predict(f, faces[0]);
      const landmarks::Shape s = d.landmarks.frame(t);
      auto g36 = project(s, 36, P, m.intrinsics), g45 = project(s, 45, P, m.intrinsics);
      const double iod = std::hypot(g45[0] - g36[0], g45[1] - g36[1]);
      double ei = 0, ej = 0;
      for (int i = 0; i < 68; ++i) {
        auto g = project(s, i, P, m.intrinsics);
        double e = std::hypot(p[static_cast<std::size_t>(i)][0] - g[0], p[static_cast<std::size_t>(i)][1] - g[1]) / iod;
        (i < 17 ? ej : ei) += e;
      }
      err_inner += ei / 51;
      err_jaw += ej / 17;
      measured++;
    }
  }
  ASSERT_GT(frames, 20);
  const double rate = static_cast<double>(found) / static_cast<double>(frames);
  std::printf("[ figures ] dlib on %lld rendered frames (|yaw| <= 25°, max %.1f°): detected %.1f%%; landmark error "
              "points 17-67 %.2f%% IOD, jaw 0-16 %.2f%% IOD\n",
              static_cast<long long>(frames), max_yaw, 100 * rate, 100 * err_inner / measured, 100 * err_jaw / measured);
  EXPECT_GE(rate, 0.95);
  EXPECT_LE(err_inner / measured, 0.05);

  // The take's own head motion is mostly near frontal: sweep yaw over ±25° and pitch over ±10°
  // on the take's expressions (speech, emotions, blinks) with the same renderer.
  face::LandmarkPredictor lp2;
  synth::FacePhoto ph = synth::load_face_photo(synth::find_face_photo(), lp2);
  synth::SubjectRenderer r(ph, ds.neutral_shape("id000"));
  synth::Camera cam = synth::subject_camera(256);
  Image bg = read_png(ds.background_path());
  dataset::ClipData d = ds.load_clip(0, false);
  std::int64_t n = 0, hit = 0, k = 0;
  double ei_sum = 0, ej_sum = 0;
  for (int yaw = -25; yaw <= 25; yaw += 5)
    for (int pitch = -10; pitch <= 10; pitch += 10) {
      const landmarks::Shape s = d.landmarks.frame((k++ * 37) % d.frames());
      synth::Pose h = synth::frontal_pose(static_cast<float>(yaw), static_cast<float>(pitch));
      Image rgb, mask;
      r.render(s, {}, h, synth::body_pose(h, synth::frontal_pose(0, 0)), cam, bg, rgb, mask);
      n++;
      auto faces = det.detect(rgb);
      if (faces.empty()) continue;
      hit++;
      auto p = lp.predict(rgb, faces[0]);
      auto g36 = project(s, 36, h.data(), m.intrinsics), g45 = project(s, 45, h.data(), m.intrinsics);
      const double iod = std::hypot(g45[0] - g36[0], g45[1] - g36[1]);
      double ei = 0, ej = 0;
      for (int i = 0; i < 68; ++i) {
        auto g = project(s, i, h.data(), m.intrinsics);
        (i < 17 ? ej : ei) += std::hypot(p[static_cast<std::size_t>(i)][0] - g[0], p[static_cast<std::size_t>(i)][1] - g[1]) / iod;
      }
      ei_sum += ei / 51;
      ej_sum += ej / 17;
    }
  std::printf("[ figures ] dlib on a yaw sweep -25°..25° × pitch -10°..10° (%lld frames): detected %.1f%%; landmark "
              "error points 17-67 %.2f%% IOD, jaw 0-16 %.2f%% IOD\n",
              static_cast<long long>(n), 100.0 * hit / n, 100 * ei_sum / hit, 100 * ej_sum / hit);
  EXPECT_GE(static_cast<double>(hit) / n, 0.95);
  EXPECT_LE(ei_sum / hit, 0.05);
}

TEST(SubjectRender, MouthOpensOnTeethAndCavityAndClosesOnLips) {
  face::LandmarkPredictor lp;
  synth::FacePhoto ph = synth::load_face_photo(synth::find_face_photo(), lp);
  std::mt19937_64 rng(3);
  landmarks::Shape N = synth::make_identity(rng);
  synth::SubjectRenderer r(ph, N);
  for (int a = 60; a < 68; ++a) EXPECT_TRUE(r.has_edge(a, a == 67 ? 60 : a + 1)) << a;
  for (int a = 48; a < 60; ++a) EXPECT_TRUE(r.has_edge(a, a == 59 ? 48 : a + 1)) << a;
  for (int a = 36; a < 48; ++a) EXPECT_TRUE(r.has_edge(a, a == 41 ? 36 : (a == 47 ? 42 : a + 1))) << a;
  synth::Camera cam = synth::subject_camera(256);
  Image bg = synth::make_background(256, 256, 1);
  synth::Pose h = synth::frontal_pose(0, 0);
  auto mouth_stats = [&](const landmarks::Shape& s, int& bright, int& dark, int& total) {
    Image rgb, mask;
    r.render(s, {}, h, synth::body_pose(h, h), cam, bg, rgb, mask);
    std::array<double, 4> K{cam.fx, cam.fy, cam.cx, cam.cy};
    float x0 = 1e9f, x1 = -1e9f, y0 = 1e9f, y1 = -1e9f;
    for (int i = 60; i < 68; ++i) {
      auto uv = project(s, i, h.data(), K);
      x0 = std::min(x0, uv[0]), x1 = std::max(x1, uv[0]), y0 = std::min(y0, uv[1]), y1 = std::max(y1, uv[1]);
    }
    bright = dark = total = 0;
    for (int y = static_cast<int>(y0) + 1; y < static_cast<int>(y1); ++y)
      for (int x = static_cast<int>(x0) + 1; x < static_cast<int>(x1); ++x) {
        const std::uint8_t* p = &rgb.pixels[(static_cast<std::size_t>(y) * 256 + x) * 3];
        total++;
        bright += p[0] > 180 && p[1] > 170 && p[2] > 150;
        dark += p[0] < 70 && p[1] < 50;
      }
  };
  int bright, dark, total;
  mouth_stats(synth::pose_face(N, synth::viseme_of("a"), {}, 1), bright, dark, total);
  std::printf("[ figures ] open mouth ('a'): %d px inside the inner lips, %d teeth-bright, %d cavity-dark\n", total, bright, dark);
  EXPECT_GT(bright, 5);
  EXPECT_GT(dark, 20);
  mouth_stats(synth::pose_face(N, synth::viseme_of("m"), {}, 1), bright, dark, total);
  EXPECT_EQ(dark, 0);  // closed lips: no cavity, and the photo's teeth never show
  EXPECT_LE(bright, 1);
  // Thread count does not change a byte.
  const synth::AUVector au = synth::emotion_prototype(emotion::Emotion::Surprised);
  landmarks::Shape s = synth::pose_face(N, synth::viseme_of("O"), au, 0.3f);
  synth::Pose h2 = synth::frontal_pose(17, -5);
  Image a1, m1, a2, m2;
  omp_set_num_threads(1);
  r.render(s, au, h2, synth::body_pose(h2, h), cam, bg, a1, m1);
  omp_set_num_threads(2);
  r.render(s, au, h2, synth::body_pose(h2, h), cam, bg, a2, m2);
  EXPECT_EQ(a1.pixels, a2.pixels);
  EXPECT_EQ(m1.pixels, m2.pixels);
}

// Contempt is one-sided (AU14 on the subject's left with a little AU12): dlib's mouth corners on
// the rendered ground truth must show it (issue 19's target: asymmetry at full intensity ≥ 3× neutral's),
// measured across the eye line so that head roll does not count.
TEST(SubjectRender, ContemptIsOneSidedToDlib) {
  face::LandmarkPredictor lp;
  face::FaceDetector det;
  synth::FacePhoto ph = synth::load_face_photo(synth::find_face_photo(), lp);
  // At 512² (dlib's points are whole pixels: one is 0.7% IOD here).
  const synth::Camera cam = synth::subject_camera(512);
  const Image bg = synth::make_background(512, 512, 1);
  const synth::Pose h = synth::frontal_pose(0, 0);
  auto asymmetry = [&](const synth::SubjectRenderer& r, const landmarks::Shape& N, emotion::Emotion e, float level) {
    synth::AUVector au = synth::emotion_prototype(e);
    for (float& a : au) a *= level;
    Image rgb, mask;
    r.render(synth::pose_face(N, synth::viseme_of("_"), au, 1), au, h, synth::body_pose(h, h), cam, bg, rgb, mask);
    auto faces = det.detect(rgb);
    EXPECT_FALSE(faces.empty());
    if (faces.empty()) return 0.0;
    auto p = lp.predict(rgb, faces[0]);
    const double ex = p[45][0] - p[36][0], ey = p[45][1] - p[36][1], iod = std::hypot(ex, ey);
    const double dx = p[54][0] - p[48][0], dy = p[54][1] - p[48][1];
    return std::fabs((-ey * dx + ex * dy) / iod) / iod;
  };
  double sum_n = 0, sum_c = 0, sum_c2 = 0;
  for (std::uint64_t seed : {3u, 11u, 29u}) {
    std::mt19937_64 rng(seed);
    const landmarks::Shape N = synth::make_identity(rng);
    const synth::SubjectRenderer r(ph, N);
    const double n = asymmetry(r, N, emotion::Emotion::Neutral, 0), c = asymmetry(r, N, emotion::Emotion::Contempt, 1);
    const double c2 = asymmetry(r, N, emotion::Emotion::Contempt, 2.f / 3);
    std::printf("[ figures ] identity %llu: dlib mouth-corner asymmetry neutral %.4f IOD, contempt 2/3 %.4f, contempt 1 %.4f "
                "(ratio %.1f)\n",
                static_cast<unsigned long long>(seed), n, c2, c, c / std::max(n, 1e-4));
    sum_n += n / 3, sum_c += c / 3, sum_c2 += c2 / 3;
  }
  // Means over the identities; a neutral under one pixel (0.7% IOD) counts as one pixel.
  std::printf("[ figures ] mean: neutral %.4f, contempt 2/3 %.4f, contempt 1 %.4f IOD\n", sum_n, sum_c2, sum_c);
  EXPECT_GT(sum_c, sum_c2);
  // Measured 3.0× (issue 19's target); the guard leaves room for a pixel of dlib's rounding.
  EXPECT_GE(sum_c / std::max(sum_n, 0.007), 2.5);
}

TEST(SynthSubject, SameSeedSameBytes) {
  std::string base = (fs::temp_directory_path() / ("emogene-subject-seed-" + std::to_string(::getpid()))).string();
  for (int k = 0; k < 2; ++k) {
    synth::SynthOptions o;
    o.out = base + std::to_string(k);
    o.kind = "subject";
    o.seconds = 2;
    o.size = 128;
    o.seed = 9;
    o.force = true;
    synth::run_synth(o);
  }
  dataset::Dataset a(base + "0"), b(base + "1");
  ASSERT_EQ(a.meta().clips.size(), b.meta().clips.size());
  dataset::ClipData d = a.load_clip(0, false);
  for (std::int64_t t = 0; t < d.frames(); t += 5) {
    EXPECT_EQ(test::read_text(a.clip_frame_path(0, t)), test::read_text(b.clip_frame_path(0, t))) << t;
    EXPECT_EQ(test::read_text(a.clip_mask_path(0, t)), test::read_text(b.clip_mask_path(0, t))) << t;
  }
  EXPECT_EQ(test::read_text(a.clip_audio_path(0)), test::read_text(b.clip_audio_path(0)));
  fs::remove_all(base + "0");
  fs::remove_all(base + "1");
}

TEST(SynthSubject, BadInputIsRefused) {
  std::string out = (fs::temp_directory_path() / ("emogene-subject-bad-" + std::to_string(::getpid()))).string();
  auto refuses = [&](synth::SynthOptions o, const std::string& needle) {
    o.out = out;
    o.kind = "subject";
    o.seconds = 2;
    try {
      synth::run_synth(o);
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::BadInput);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(out));
  };
  synth::SynthOptions o;
  o.size = 255;
  refuses(o, "--size 255");
  o.size = 64;
  refuses(o, "96");
  o.size = 256;
  setenv("EMOGENE_FACE_PHOTO", "/nonexistent/astronaut.png", 1);
  refuses(o, "/nonexistent/astronaut.png");
  unsetenv("EMOGENE_FACE_PHOTO");
}
