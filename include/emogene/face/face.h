// Face detection and the 68 iBUG landmarks with dlib (Debian libdlib-dev; the shape predictor
// `shape_predictor_68_face_landmarks.dat` from libdlib-data, whose training data, iBUG 300-W, is
// licensed for non-commercial use only). dlib stays behind this header.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "emogene/core/image.h"

namespace emogene::face {

struct FaceBox {
  double left = 0, top = 0, right = 0, bottom = 0;  // pixels, pixel centres at integer + 0.5
  double score = 0;                                  // detector confidence (higher is surer)
  double width() const { return right - left; }
  double height() const { return bottom - top; }
};

// 68 points in pixel coordinates (x right, y down; pixel centres at integer + 0.5, as DESIGN §4).
using Points2 = std::array<std::array<float, 2>, 68>;

// dlib's HOG frontal face detector. Finds faces about 80 px wide and larger at upsample 0;
// each upsample step halves that (and costs ~4×). Not thread-safe: one per thread.
class FaceDetector {
 public:
  explicit FaceDetector(int upsample = 0);
  ~FaceDetector();
  FaceDetector(FaceDetector&&) noexcept;
  FaceDetector& operator=(FaceDetector&&) noexcept;
  // Faces, best first. RGB or grey images.
  std::vector<FaceBox> detect(const Image& img) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Where the shape predictor is looked for: $EMOGENE_DLIB_MODEL, then data/dlib/ of the resource
// directories, then /usr/share/dlib/ (libdlib-data). Empty when none exists.
std::string find_shape_predictor();

// dlib's 68-point shape predictor (an ensemble of regression trees). Loading takes ~1 s;
// prediction is thread-safe (const).
class LandmarkPredictor {
 public:
  // Throws bad_input naming the file when it is missing or not a shape predictor.
  explicit LandmarkPredictor(const std::string& path = find_shape_predictor());
  ~LandmarkPredictor();
  LandmarkPredictor(LandmarkPredictor&&) noexcept;
  LandmarkPredictor& operator=(LandmarkPredictor&&) noexcept;
  Points2 predict(const Image& img, const FaceBox& box) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emogene::face
