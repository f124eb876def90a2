// The photograph the synthetic subject wears, and its placement in canonical head space.
#include "emogene/synth/texture.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "emogene/core/error.h"
#include "emogene/core/fileio.h"

namespace emogene::synth {

std::string find_face_photo() {
  if (const char* env = std::getenv("EMOGENE_FACE_PHOTO"); env && *env) return env;
  std::string d;
  try {
    d = resource_dir("data");
  } catch (const Error&) {
  }
  if (!d.empty() && std::filesystem::exists(d + "/external/astronaut.png")) return d + "/external/astronaut.png";
  const char* sys = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png";
  if (std::filesystem::exists(sys)) return sys;
  return {};
}

std::array<float, 2> FacePhoto::to_photo(float x, float y) const {
  const float c = std::cos(angle), s = std::sin(angle);
  const float px = x, py = -y;
  return {origin[0] + scale * (c * px - s * py), origin[1] + scale * (s * px + c * py)};
}

std::array<float, 2> FacePhoto::to_canonical(float u, float v) const {
  const float c = std::cos(angle), s = std::sin(angle);
  const float dx = (u - origin[0]) / scale, dy = (v - origin[1]) / scale;
  return {c * dx + s * dy, -(-s * dx + c * dy)};
}

FacePhoto load_face_photo(const std::string& path, const face::LandmarkPredictor& predictor) {
  if (path.empty())
    throw bad_input("astronaut.png", "the face photo is missing (run tools/setup, or set EMOGENE_FACE_PHOTO)");
  FacePhoto ph;
  ph.path = path;
  ph.image = read_png(path, 3);
  face::FaceDetector det;
  auto faces = det.detect(ph.image);
  if (faces.empty()) throw bad_input(path, "dlib finds no face in the photo");
  ph.box = faces[0];
  ph.points = predictor.predict(ph.image, ph.box);
  const auto& p = ph.points;
  ph.origin = {(p[39][0] + p[42][0]) / 2, (p[39][1] + p[42][1]) / 2};
  const float dx = p[45][0] - p[36][0], dy = p[45][1] - p[36][1];
  ph.scale = std::hypot(dx, dy);
  ph.angle = std::atan2(dy, dx);
  const auto& mf = landmarks::mean_face();
  for (int i = 0; i < landmarks::kPoints; ++i) {
    auto c = ph.to_canonical(p[static_cast<std::size_t>(i)][0], p[static_cast<std::size_t>(i)][1]);
    ph.canonical(i, 0) = c[0];
    ph.canonical(i, 1) = c[1];
    ph.canonical(i, 2) = mf(i, 2);
  }
  return ph;
}

}  // namespace emogene::synth
