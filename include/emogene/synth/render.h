// The synthetic subject's frames: a CPU rasteriser of a textured 3D mesh driven by the landmarks
// (DESIGN §5). The mesh is the 68 points plus forehead, cheek, hair-outline, neck and torso
// vertices, triangulated once; its texture is a real photograph (texture.h) mapped through dlib's
// landmarks of that photo, so the rendered face carries its features exactly where the landmarks
// put them. The photo's own expression is painted out of the texture (a smile's cheeks, folds,
// lid bulges and crow's feet; its teeth); the frame's action units add the furrows and bulges
// of the expression as shading that follows the mesh; the eye openings show eyeballs fixed to the
// skull (so raised lids show sclera); the mouth interior (cavity, teeth that ride on the skull and
// the jaw) is generated; eyelids close by the landmarks. Perspective camera and poses of
// DESIGN §4; a torso that follows the head only partly; exact masks.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "emogene/core/image.h"
#include "emogene/landmarks/landmarks.h"
#include "emogene/synth/texture.h"
#include "emogene/synth/world.h"

namespace emogene::synth {

struct Camera {
  int width = 256, height = 256;
  float fx = 560, fy = 560, cx = 128, cy = 128;  // DESIGN §4: pixel centres at integer + 0.5
};

// Mask labels (DESIGN §3).
enum MaskLabel : std::uint8_t { kBackground = 0, kTorso = 1, kHead = 2 };

// A 4×4 row-major rigid transform (canonical → camera).
using Pose = std::array<float, 16>;

// The body's pose for a head pose: it turns 30% of the head's rotation about the base of the
// neck and follows 35% of its displacement from `rest` (a real torso moves far less than the head).
Pose body_pose(const Pose& head, const Pose& rest);

// A static studio backdrop (soft gradient and low-frequency mottling), deterministic in the seed.
Image make_background(int width, int height, std::uint64_t seed);

class SubjectRenderer {
 public:
  // `neutral`: the identity's neutral shape (canonical units). The photo is neutralised once here
  // (its teeth painted over with lip colour, its expression's shading painted out of the cheeks
  // and eye corners). Throws bad_input for a photo without a usable face.
  SubjectRenderer(const FacePhoto& photo, const landmarks::Shape& neutral);

  // Renders `shape` (canonical landmarks as shown) with the appearance of the action units `au`
  // (the ones that made the shape) at `head` pose over `background` (the camera's size). rgb: RGB;
  // mask: 1 channel, MaskLabel values. 2×2 supersampled; parallel over rows (OpenMP, the
  // project's threading layer); byte-identical for any thread count.
  void render(const landmarks::Shape& shape, const AUVector& au, const Pose& head, const Pose& body, const Camera& cam,
              const Image& background, Image& rgb, Image& mask) const;

  std::size_t vertex_count() const { return rest_.size(); }
  std::size_t triangle_count() const { return tris_.size(); }
  // Triangles whose three vertices are inner-lip points; and whether edge (a, b) of landmark
  // indices exists in the mesh (tests check the lip and eye contours are edges).
  bool has_edge(int a, int b) const;

  enum Material : std::uint8_t { kSkin = 0, kMouth = 1, kEyeRight = 2, kEyeLeft = 3, kLips = 4 };
  struct Triangle {
    std::array<int, 3> v;
    Material material;
    MaskLabel label;
  };

 private:
  struct Vertex {
    std::array<float, 2> uv;  // texture coordinate (photo pixels)
    float head_weight;        // 1 follows the head pose, 0 the body pose
    float rest_shade;         // the photo's own lighting at this vertex (divided out)
  };
  std::vector<std::array<float, 3>> build_vertices(const landmarks::Shape& shape, const landmarks::Shape& neutral,
                                                   float width_scale) const;

  Image texture_;
  std::array<std::array<float, 3>, 2> eye_colours_{};  // iris, sclera (appearance.h)
  std::array<float, 3> lip_colour_{};
  std::vector<std::array<float, 3>> neutral_pos_;      // each vertex on the identity's neutral face
  landmarks::Shape neutral_;
  landmarks::Shape photo_shape_;
  float width_scale_ = 1;
  std::vector<Vertex> rest_;
  std::vector<Triangle> tris_;
};

}  // namespace emogene::synth
