// dlib behind face.h: the HOG detector and the 68-point shape predictor.
#include "emogene/face/face.h"

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/serialize.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "emogene/core/error.h"
#include "emogene/core/fileio.h"

namespace emogene::face {

namespace {

// A dlib view of our image, converted once (dlib's pixel types need their own storage).
dlib::array2d<dlib::rgb_pixel> to_dlib(const Image& img) {
  if (img.width <= 0 || img.height <= 0 || img.pixels.size() < static_cast<std::size_t>(img.width) * img.height * img.channels)
    throw bad_input("image", "empty or inconsistent image given to the face detector");
  dlib::array2d<dlib::rgb_pixel> out(img.height, img.width);
  const int c = img.channels;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const std::uint8_t* p = &img.pixels[(static_cast<std::size_t>(y) * img.width + x) * c];
      out[y][x] = c >= 3 ? dlib::rgb_pixel(p[0], p[1], p[2]) : dlib::rgb_pixel(p[0], p[0], p[0]);
    }
  return out;
}

}  // namespace

// dlib builds its detector by decompressing an embedded model, which costs about 0.3 s: do it
// once per process and copy it for every detector.
const dlib::frontal_face_detector& detector_prototype() {
  static const dlib::frontal_face_detector d = dlib::get_frontal_face_detector();
  return d;
}

struct FaceDetector::Impl {
  dlib::frontal_face_detector detector = detector_prototype();
  int upsample = 0;
};

FaceDetector::FaceDetector(int upsample) : impl_(std::make_unique<Impl>()) {
  if (upsample < 0 || upsample > 3) throw bad_input("face detector", "upsample must be 0-3");
  impl_->upsample = upsample;
}
FaceDetector::~FaceDetector() = default;
FaceDetector::FaceDetector(FaceDetector&&) noexcept = default;
FaceDetector& FaceDetector::operator=(FaceDetector&&) noexcept = default;

std::vector<FaceBox> FaceDetector::detect(const Image& img) const {
  dlib::array2d<dlib::rgb_pixel> im = to_dlib(img);
  double scale = 1;
  for (int i = 0; i < impl_->upsample; ++i) {
    dlib::pyramid_up(im);
    scale *= 2;
  }
  std::vector<dlib::rect_detection> dets;
  impl_->detector(im, dets, 0.0);
  std::vector<FaceBox> out;
  for (const auto& d : dets) {
    // dlib rectangles are inclusive pixel indices; as continuous coordinates the box spans
    // [left, right + 1) × [top, bottom + 1).
    FaceBox b;
    b.left = d.rect.left() / scale;
    b.top = d.rect.top() / scale;
    b.right = (d.rect.right() + 1) / scale;
    b.bottom = (d.rect.bottom() + 1) / scale;
    b.score = d.detection_confidence;
    out.push_back(b);
  }
  std::stable_sort(out.begin(), out.end(), [](const FaceBox& a, const FaceBox& b) { return a.score > b.score; });
  return out;
}

std::string find_shape_predictor() {
  const char* name = "shape_predictor_68_face_landmarks.dat";
  if (const char* env = std::getenv("EMOGENE_DLIB_MODEL"); env && *env) return env;
  std::string d;
  try {
    d = resource_dir("data");
  } catch (const Error&) {
  }
  if (!d.empty() && std::filesystem::exists(d + "/dlib/" + name)) return d + "/dlib/" + name;
  std::string sys = std::string("/usr/share/dlib/") + name;
  if (std::filesystem::exists(sys)) return sys;
  return {};
}

struct LandmarkPredictor::Impl {
  dlib::shape_predictor sp;
};

LandmarkPredictor::LandmarkPredictor(const std::string& path) : impl_(std::make_unique<Impl>()) {
  if (path.empty())
    throw bad_input("shape_predictor_68_face_landmarks.dat",
                    "not found (install Debian's libdlib-data, or set EMOGENE_DLIB_MODEL)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw bad_input(path, "cannot open the dlib shape predictor: " + errno_text(errno));
  try {
    dlib::deserialize(impl_->sp, in);
  } catch (const std::exception& e) {
    throw bad_input(path, std::string("not a dlib shape predictor (") + e.what() + ")");
  }
  if (impl_->sp.num_parts() != 68)
    throw bad_input(path, "shape predictor has " + std::to_string(impl_->sp.num_parts()) + " parts, expected 68");
}
LandmarkPredictor::~LandmarkPredictor() = default;
LandmarkPredictor::LandmarkPredictor(LandmarkPredictor&&) noexcept = default;
LandmarkPredictor& LandmarkPredictor::operator=(LandmarkPredictor&&) noexcept = default;

Points2 LandmarkPredictor::predict(const Image& img, const FaceBox& box) const {
  dlib::array2d<dlib::rgb_pixel> im = to_dlib(img);
  dlib::rectangle r(std::lround(box.left), std::lround(box.top), std::lround(box.right) - 1, std::lround(box.bottom) - 1);
  dlib::full_object_detection det = impl_->sp(im, r);
  Points2 out{};
  // dlib points are pixel indices (centre of pixel i at i); ours put centres at i + 0.5.
  for (unsigned i = 0; i < 68; ++i)
    out[i] = {static_cast<float>(det.part(i).x()) + 0.5f, static_cast<float>(det.part(i).y()) + 0.5f};
  return out;
}

}  // namespace emogene::face
