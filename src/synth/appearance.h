// Private to synth/: the skin's appearance beyond the photo's texture (issue 19).
//
// 1. A neutral base. The photo the subject wears may smile (astronaut.png does): the landmarks
//    move its lips to the identity's neutral shape, but a smile also lives in shading — raised
//    cheeks, deep nasolabial folds, creases at the mouth corners, bulged lower lids, crow's feet.
//    `neutralise_expression` removes it from the texture: over the lower face (from under the
//    lower lids and past the outer eye corners down to the chin, around the nose) the photo's low
//    and middle frequencies are replaced by a harmonic fill from the region's boundary; its finest
//    detail (skin grain) is kept.
// 2. The appearance of expressions. `ExpressionField` is a height field over the identity's
//    neutral face (canonical units, so it moves with the mesh) built from the action units of a
//    frame: furrows and bulges as FACS describes each unit's appearance changes. It shades the
//    skin by the change it makes to a Lambertian normal under the scene's light, plus occlusion in
//    its grooves.
// 3. Lips of their own colour. A smiling photo's lips are stretched thin around its teeth; drawn
//    from their colour with the shading of a closed, relaxed mouth they carry no smile.
// 4. Eyes that are eyeballs. The eye opening shows a procedural eyeball fixed to the skull — sclera,
//    an iris of fixed size with the photo's iris colour, pupil, catch light and the upper lid's
//    shadow — so raising the lids (AU5) shows sclera above the iris and narrowing them covers it,
//    instead of stretching the photo's eye.
#pragma once

#include <array>
#include <vector>

#include "emogene/core/image.h"
#include "emogene/landmarks/landmarks.h"
#include "emogene/synth/texture.h"
#include "emogene/synth/world.h"

namespace emogene::synth::detail {

// Whether p lies inside the polygon (even-odd rule).
bool inside_polygon(const std::vector<std::array<float, 2>>& poly, std::array<float, 2> p);

// Paints over the photo's expression on the cheeks, lower lids and eye corners (see above).
// `points`: the photo's 68 landmarks in canonical units of the photo (FacePhoto::canonical).
void neutralise_expression(Image& texture, const FacePhoto& photo);

// The colours of the photo's eyes (iris and sclera), sampled once.
struct EyeColours {
  std::array<float, 3> iris{70, 50, 40}, sclera{226, 218, 212};
};
EyeColours sample_eye_colours(const Image& texture, const FacePhoto& photo);

// The eyeball's colour at canonical (x, y) inside eye `side` (0: points 36-41, 1: 42-47) of the
// shape as shown; `neutral` places the eyeball (rigid with the skull).
std::array<float, 3> eye_colour(const EyeColours& c, const landmarks::Shape& neutral, const landmarks::Shape& shown, int side,
                                float x, float y);

// Lips drawn from the photo's lip colour rather than its (smiling, stretched) lip texture: the
// upper lip turned from the light, the lower one with a soft highlight, both darkening into the
// seam between them; the colour at canonical (x, y) of the lip band of the shape as shown.
std::array<float, 3> sample_lip_colour(const Image& texture, const FacePhoto& photo);
std::array<float, 3> lip_colour(const std::array<float, 3>& lip, const landmarks::Shape& shown, float x, float y);
// How far the inner lips stand apart at canonical x (upper inner curve 60-64 minus the lower 64-67, 60).
float lip_opening(const landmarks::Shape& shown, float x);

// The height field of one frame's action units over the identity's neutral face.
class ExpressionField {
 public:
  ExpressionField(const landmarks::Shape& neutral, const AUVector& au);
  bool empty() const { return features_.empty(); }
  // Shading factor at neutral-face canonical (x, y) under the light `light` (unit vector in head
  // space, pointing towards the light).
  float shade(float x, float y, const std::array<float, 3>& light) const;
  // Height and gradient (canonical units), for tests.
  std::array<float, 3> height(float x, float y) const;

 private:
  struct Feature {
    enum Kind { kGroove, kBump } kind;
    std::array<float, 2> a, b;  // groove: segment a → b; bump: centre a, radii b
    float width, amp;           // groove: half-width, depth (> 0 carves); bump: unused, height
    float lo[2], hi[2];         // bounding box where it matters
  };
  struct Sample {
    float h = 0, hx = 0, hy = 0, groove = 0;  // height, its gradient, the grooves' depth
  };
  Sample sample(float x, float y) const;
  void groove(std::array<float, 2> a, std::array<float, 2> b, float width, float depth);
  void bump(std::array<float, 2> c, std::array<float, 2> r, float h);
  std::vector<Feature> features_;
};

}  // namespace emogene::synth::detail
