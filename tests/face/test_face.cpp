// face/: dlib's detector and 68-point predictor on a real photograph (skimage's astronaut.png,
// public domain), and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "emogene/core/error.h"
#include "emogene/face/face.h"
#include "emogene/synth/texture.h"
#include "testutil.h"

using namespace emogene;

TEST(Face, FindsTheAstronautAndHerLandmarks) {
  std::string photo = synth::find_face_photo();
  ASSERT_FALSE(photo.empty()) << "astronaut.png missing: run tools/setup";
  Image img = read_png(photo);
  face::FaceDetector det;
  auto faces = det.detect(img);
  ASSERT_EQ(faces.size(), 1u);
  const auto& b = faces[0];
  std::printf("[ figures ] astronaut face box %.0f,%.0f-%.0f,%.0f (%.0f px wide) score %.2f\n", b.left, b.top, b.right,
              b.bottom, b.width(), b.score);
  EXPECT_NEAR(b.width(), 87, 15);
  // Her face is left of the image centre, in the upper half.
  EXPECT_GT(b.left, 150);
  EXPECT_LT(b.right, 300);
  EXPECT_LT(b.bottom, 220);
  face::LandmarkPredictor lp;
  auto p = lp.predict(img, b);
  // iBUG layout: right eye (36-41) on the image left, left eye (42-47) on the image right;
  // brows above eyes above nose tip above mouth above chin.
  auto mean = [&](int a, int e, int c) {
    double s = 0;
    for (int i = a; i < e; ++i) s += p[static_cast<std::size_t>(i)][static_cast<std::size_t>(c)];
    return s / (e - a);
  };
  EXPECT_LT(mean(36, 42, 0), mean(42, 48, 0));
  EXPECT_LT(mean(17, 27, 1), mean(36, 48, 1));
  EXPECT_LT(mean(36, 48, 1), p[30][1]);
  EXPECT_LT(p[30][1], mean(48, 68, 1));
  EXPECT_LT(mean(48, 68, 1), p[8][1]);
  // Every point inside a box a little larger than the detection.
  for (const auto& q : p) {
    EXPECT_GT(q[0], b.left - 0.3 * b.width());
    EXPECT_LT(q[0], b.right + 0.3 * b.width());
    EXPECT_GT(q[1], b.top - 0.3 * b.height());
    EXPECT_LT(q[1], b.bottom + 0.3 * b.height());
  }
  // She smiles with her teeth showing: the inner lips are apart.
  double gap = (p[66][1] - p[62][1]);
  double iod = std::hypot(p[45][0] - p[36][0], p[45][1] - p[36][1]);
  std::printf("[ figures ] astronaut IOD %.1f px, inner-lip gap %.2f IOD\n", iod, gap / iod);
  EXPECT_GT(gap / iod, 0.05);
}

TEST(Face, NoFaceInAFlatImage) {
  Image img;
  img.width = img.height = 200;
  img.pixels.assign(200 * 200 * 3, 128);
  face::FaceDetector det;
  EXPECT_TRUE(det.detect(img).empty());
}

TEST(Face, BadPredictorFileIsBadInput) {
  std::string dir = test::temp_dir();
  std::string f = dir + "/not_a_model.dat";
  test::write_text(f, "this is not a shape predictor");
  try {
    face::LandmarkPredictor lp(f);
    FAIL() << "accepted a text file";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadInput);
    EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
  try {
    face::LandmarkPredictor lp(dir + "/missing.dat");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.dat"), std::string::npos) << e.what();
  }
}

TEST(Face, PhotoInCanonicalSpace) {
  std::string photo = synth::find_face_photo();
  ASSERT_FALSE(photo.empty());
  face::LandmarkPredictor lp;
  synth::FacePhoto ph = synth::load_face_photo(photo, lp);
  const auto& c = ph.canonical;
  EXPECT_NEAR((c(39, 0) + c(42, 0)) / 2, 0.f, 1e-4);
  EXPECT_NEAR((c.row(45) - c.row(36)).head<2>().norm(), 1.f, 1e-4);
  EXPECT_NEAR(c(36, 1), c(45, 1), 1e-4);  // levelled
  auto uv = ph.to_photo(c(30, 0), c(30, 1));
  EXPECT_NEAR(uv[0], ph.points[30][0], 1e-3);
  EXPECT_NEAR(uv[1], ph.points[30][1], 1e-3);
  std::printf("[ figures ] photo: origin %.1f,%.1f scale %.1f px angle %.2f deg\n", ph.origin[0], ph.origin[1], ph.scale,
              ph.angle * 57.2958);
}
