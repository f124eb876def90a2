// The synthetic subject's appearance: a real public-domain photograph (skimage's `astronaut.png`,
// Eileen Collins, NASA, public domain) located by dlib's 68 landmarks, and the map between its
// pixels and the canonical head space of DESIGN §4 (orthographic, eyes levelled).
#pragma once

#include <array>
#include <string>

#include "emogene/core/image.h"
#include "emogene/face/face.h"
#include "emogene/landmarks/landmarks.h"

namespace emogene::synth {

// Where the photo is looked for: $EMOGENE_FACE_PHOTO, data/external/astronaut.png of the resource
// directories (tools/setup extracts it there from Debian's python3-skimage package), then the
// installed python3-skimage. Empty when none exists.
std::string find_face_photo();

struct FacePhoto {
  std::string path;
  Image image;                  // RGB
  face::Points2 points{};       // dlib's 68 landmarks, pixels
  face::FaceBox box;
  // Photo pixel (u, v) = origin + scale · R(angle) · (x, −y) for canonical (x, y) of the photo's own
  // face (unit: its outer eye-corner distance; origin: the midpoint of its inner eye corners).
  std::array<float, 2> origin{};
  float scale = 1, angle = 0;
  landmarks::Shape canonical;   // the photo's landmarks in canonical units, z from the mean face

  std::array<float, 2> to_photo(float x, float y) const;
  std::array<float, 2> to_canonical(float u, float v) const;
};

// Loads the photo, finds the face and its landmarks with dlib. Throws bad_input naming the file
// when it is missing, unreadable or shows no face.
FacePhoto load_face_photo(const std::string& path, const face::LandmarkPredictor& predictor);

}  // namespace emogene::synth
