// The synthetic subject's rasteriser (render.h): mesh construction, triangulation, texture
// neutralisation, and a 2×2-supersampled z-buffer rasteriser with deferred shading.
#include "emogene/synth/render.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "emogene/core/error.h"
#include "synth/appearance.h"

namespace emogene::synth {

using landmarks::Shape;
using V2 = std::array<float, 2>;
using V3 = std::array<float, 3>;

using detail::inside_polygon;

namespace {

// ---- geometry helpers ----------------------------------------------------------------------------

double orient(const V2& a, const V2& b, const V2& c) {
  return (static_cast<double>(b[0]) - a[0]) * (static_cast<double>(c[1]) - a[1]) -
         (static_cast<double>(b[1]) - a[1]) * (static_cast<double>(c[0]) - a[0]);
}

// Delaunay triangulation (Bowyer-Watson; n is a few hundred at most). Triangles counter-clockwise.
std::vector<std::array<int, 3>> delaunay(const std::vector<V2>& pts) {
  const int n = static_cast<int>(pts.size());
  std::vector<V2> p = pts;
  float lo[2] = {1e30f, 1e30f}, hi[2] = {-1e30f, -1e30f};
  for (const V2& q : pts)
    for (int k = 0; k < 2; ++k) {
      lo[k] = std::min(lo[k], q[static_cast<std::size_t>(k)]);
      hi[k] = std::max(hi[k], q[static_cast<std::size_t>(k)]);
    }
  const float span = std::max(hi[0] - lo[0], hi[1] - lo[1]) * 20.f, mx = (lo[0] + hi[0]) / 2, my = (lo[1] + hi[1]) / 2;
  p.push_back({mx - span, my - span});
  p.push_back({mx + span, my - span});
  p.push_back({mx, my + span});
  std::vector<std::array<int, 3>> tris = {{n, n + 1, n + 2}};
  auto in_circle = [&](const std::array<int, 3>& t, const V2& d) {
    const V2 &a = p[static_cast<std::size_t>(t[0])], &b = p[static_cast<std::size_t>(t[1])], &c = p[static_cast<std::size_t>(t[2])];
    const double ax = a[0] - d[0], ay = a[1] - d[1], bx = b[0] - d[0], by = b[1] - d[1], cx = c[0] - d[0], cy = c[1] - d[1];
    const double det = (ax * ax + ay * ay) * (bx * cy - cx * by) - (bx * bx + by * by) * (ax * cy - cx * ay) +
                       (cx * cx + cy * cy) * (ax * by - bx * ay);
    return det > 0;  // counter-clockwise triangles
  };
  for (int i = 0; i < n; ++i) {
    const V2& d = p[static_cast<std::size_t>(i)];
    std::vector<std::array<int, 3>> keep, bad;
    for (const auto& t : tris) (in_circle(t, d) ? bad : keep).push_back(t);
    std::vector<std::array<int, 2>> edges;
    for (const auto& t : bad)
      for (int e = 0; e < 3; ++e) {
        std::array<int, 2> ed = {t[static_cast<std::size_t>(e)], t[static_cast<std::size_t>((e + 1) % 3)]};
        bool shared = false;
        for (const auto& u : bad) {
          if (&u == &t) continue;
          for (int f = 0; f < 3; ++f)
            if (u[static_cast<std::size_t>(f)] == ed[1] && u[static_cast<std::size_t>((f + 1) % 3)] == ed[0]) shared = true;
        }
        if (!shared) edges.push_back(ed);
      }
    for (const auto& ed : edges) keep.push_back({ed[0], ed[1], i});
    tris.swap(keep);
  }
  std::vector<std::array<int, 3>> out;
  for (const auto& t : tris)
    if (t[0] < n && t[1] < n && t[2] < n) out.push_back(t);
  return out;
}

bool segments_cross(const V2& a, const V2& b, const V2& c, const V2& d) {
  return orient(a, b, c) * orient(a, b, d) < 0 && orient(c, d, a) * orient(c, d, b) < 0;
}

// Makes edge (a, b) part of the triangulation by flipping the edges that cross it (Lawson's
// edge flips, as in constrained Delaunay insertion). Returns false when it cannot.
bool recover_edge(std::vector<std::array<int, 3>>& tris, const std::vector<V2>& p, int a, int b) {
  auto P = [&](int i) { return p[static_cast<std::size_t>(i)]; };
  for (int iter = 0; iter < 200; ++iter) {
    bool found = false, flipped = false;
    for (std::size_t i = 0; i < tris.size() && !flipped; ++i)
      for (int e = 0; e < 3 && !flipped; ++e) {
        const int c = tris[i][static_cast<std::size_t>(e)], d = tris[i][static_cast<std::size_t>((e + 1) % 3)];
        if ((c == a && d == b) || (c == b && d == a)) return true;
        if (c == a || c == b || d == a || d == b || !segments_cross(P(a), P(b), P(c), P(d))) continue;
        found = true;
        const int f1 = tris[i][static_cast<std::size_t>((e + 2) % 3)];
        for (std::size_t j = 0; j < tris.size(); ++j) {
          if (j == i) continue;
          for (int g = 0; g < 3; ++g)
            if (tris[j][static_cast<std::size_t>(g)] == d && tris[j][static_cast<std::size_t>((g + 1) % 3)] == c) {
              const int f2 = tris[j][static_cast<std::size_t>((g + 2) % 3)];
              if (!segments_cross(P(c), P(d), P(f1), P(f2))) break;  // not convex: try another edge
              tris[i] = {f1, c, f2};
              tris[j] = {f2, d, f1};
              for (auto* t : {&tris[i], &tris[j]})
                if (orient(P((*t)[0]), P((*t)[1]), P((*t)[2])) < 0) std::swap((*t)[1], (*t)[2]);
              flipped = true;
              break;
            }
          if (flipped) break;
        }
      }
    if (!found) break;
    if (!flipped) return false;
  }
  for (const auto& t : tris)
    for (int e = 0; e < 3; ++e) {
      const int c = t[static_cast<std::size_t>(e)], d = t[static_cast<std::size_t>((e + 1) % 3)];
      if ((c == a && d == b) || (c == b && d == a)) return true;
    }
  return false;
}

V3 sub(const V3& a, const V3& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
V3 cross(const V3& a, const V3& b) { return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]}; }

std::vector<V3> vertex_normals(const std::vector<V3>& pos, const std::vector<SubjectRenderer::Triangle>& tris) {
  std::vector<V3> nrm(pos.size(), V3{0, 0, 0});
  for (const auto& t : tris) {
    V3 n = cross(sub(pos[static_cast<std::size_t>(t.v[1])], pos[static_cast<std::size_t>(t.v[0])]),
                 sub(pos[static_cast<std::size_t>(t.v[2])], pos[static_cast<std::size_t>(t.v[0])]));
    for (int k = 0; k < 3; ++k)
      for (int c = 0; c < 3; ++c) nrm[static_cast<std::size_t>(t.v[static_cast<std::size_t>(k)])][static_cast<std::size_t>(c)] += n[static_cast<std::size_t>(c)];
  }
  for (V3& n : nrm) {
    float l = std::sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
    if (l > 0)
      for (float& c : n) c /= l;
    else
      n = {0, 0, 1};
  }
  return nrm;
}

// Light in camera space (front, above, from the camera's left); ambient + Lambert.
float lambert(const V3& n) {
  static const V3 L = [] {
    V3 l{0.25f, 0.35f, 1.f};
    float s = std::sqrt(l[0] * l[0] + l[1] * l[1] + l[2] * l[2]);
    return V3{l[0] / s, l[1] / s, l[2] / s};
  }();
  return 0.45f + 0.55f * std::max(0.f, n[0] * L[0] + n[1] * L[1] + n[2] * L[2]);
}

// ---- the mesh beyond the 68 points (canonical units of the photo's face) -------------------------

constexpr int kForehead1 = 68;                 // 6 points above the brows
constexpr int kForehead2 = kForehead1 + 6;     // 5 points at the hairline
constexpr int kCheeks = kForehead2 + 5;        // 6 cheek points
constexpr int kHair = kCheeks + 6;             // the head outline (hair)
const V2 kHairRing[] = {{-0.84f, -0.42f}, {-1.0f, -0.22f}, {-1.11f, 0.05f}, {-1.15f, 0.40f}, {-1.07f, 0.70f},
                        {-0.89f, 1.00f},  {-0.62f, 1.23f},  {-0.33f, 1.41f}, {0.05f, 1.46f},  {0.43f, 1.41f},
                        {0.78f, 1.25f},   {1.05f, 1.00f},   {1.20f, 0.70f},  {1.23f, 0.30f},  {1.15f, -0.05f},
                        {1.02f, -0.28f},  {0.86f, -0.40f}};
constexpr int kHairCount = sizeof(kHairRing) / sizeof(kHairRing[0]);
constexpr int kNeck = kHair + kHairCount;      // 3 rings × 5
constexpr int kNeckCols = 5;
constexpr int kTorsoFirst = kNeck + 3 * kNeckCols;  // the torso outline, then its interior grid
// The suit's outline in the photo (collar ring and shoulders), clockwise from the lower left.
const V2 kTorsoOutline[] = {{-3.6f, -6.0f},  {-3.3f, -3.5f},  {-2.55f, -2.2f}, {-1.95f, -1.75f}, {-1.68f, -1.3f},
                            {-1.48f, -1.04f}, {-1.2f, -0.92f}, {-0.95f, -0.86f}, {-0.3f, -0.97f}, {0.3f, -1.0f},
                            {0.72f, -1.16f},  {0.96f, -1.36f}, {1.15f, -1.62f}, {1.28f, -2.05f},   {1.42f, -2.4f},
                            {2.0f, -2.75f},   {2.3f, -3.6f},   {2.6f, -6.0f}};
constexpr int kTorsoOutlineCount = sizeof(kTorsoOutline) / sizeof(kTorsoOutline[0]);

float torso_z(float x, float y) { return -0.9f + 0.5f * std::clamp((-y - 1.f) / 1.5f, 0.f, 1.f) - 0.06f * x * x; }

std::vector<V2> torso_points() {
  std::vector<V2> pts(std::begin(kTorsoOutline), std::end(kTorsoOutline));
  std::vector<V2> outline = pts;
  for (float y = -1.0f; y > -6.0f; y -= 0.45f)
    for (float x = -3.4f; x < 2.6f; x += 0.45f) {
      V2 q{x + (static_cast<int>(std::lround(y / 0.45f)) % 2 ? 0.2f : 0.f), y};
      if (!inside_polygon(outline, q)) continue;
      float dmin = 1e9f;
      for (std::size_t i = 0; i < outline.size(); ++i) {
        const V2 &a = outline[i], &b = outline[(i + 1) % outline.size()];
        float ex = b[0] - a[0], ey = b[1] - a[1], t = std::clamp(((q[0] - a[0]) * ex + (q[1] - a[1]) * ey) / (ex * ex + ey * ey), 0.f, 1.f);
        dmin = std::min(dmin, std::hypot(q[0] - a[0] - t * ex, q[1] - a[1] - t * ey));
      }
      if (dmin > 0.15f) pts.push_back(q);
    }
  return pts;
}

}  // namespace

// ---- construction ------------------------------------------------------------------------------------

std::vector<V3> SubjectRenderer::build_vertices(const Shape& S, const Shape& N, float ws) const {
  std::vector<V3> v;
  v.reserve(rest_.empty() ? 200 : rest_.size());
  for (int i = 0; i < 68; ++i) v.push_back({S(i, 0), S(i, 1), S(i, 2)});
  // Forehead above the brows: the skin follows half of the brows' movement.
  const int fk[6] = {17, 19, 21, 22, 24, 26};
  for (int k : fk)
    v.push_back({N(k, 0) + 0.5f * (S(k, 0) - N(k, 0)), N(k, 1) + 0.33f + 0.5f * (S(k, 1) - N(k, 1)), N(k, 2) - 0.06f});
  const float brow_top = std::max(N(19, 1), N(24, 1));
  for (int j = 0; j < 5; ++j) {
    float x = (-0.62f + 0.31f * static_cast<float>(j)) * ws;
    v.push_back({x, brow_top + 0.68f, -0.12f - 0.35f * x * x});
  }
  // Cheeks, between the jaw line and the eyes, nose and mouth corners; they move with the jaw.
  auto mix = [&](int a, int b, float bulge) {
    return V3{(S(a, 0) + S(b, 0)) / 2, (S(a, 1) + S(b, 1)) / 2, (S(a, 2) + S(b, 2)) / 2 + bulge};
  };
  v.push_back(mix(1, 40, 0.2f));
  v.push_back(mix(2, 31, 0.2f));
  v.push_back(mix(4, 48, 0.12f));
  v.push_back(mix(15, 47, 0.2f));
  v.push_back(mix(14, 35, 0.2f));
  v.push_back(mix(12, 54, 0.12f));
  // The head outline (hair), rigid with the skull.
  for (const V2& h : kHairRing) {
    float x = h[0] * ws, y = h[1];
    float r = std::min(1.f, (x * x) / 1.4f + std::max(0.f, y - 0.3f) * std::max(0.f, y - 0.3f) / 1.4f);
    v.push_back({x, y, -0.3f - 0.4f * r});
  }
  // Neck: a ring under the jaw (with the head), one midway, one at its base (with the body).
  for (int ring = 0; ring < 3; ++ring)
    for (int c = 0; c < kNeckCols; ++c) {
      float xn = -1.f + 2.f * static_cast<float>(c) / (kNeckCols - 1), x = 0.56f * xn * ws;
      float y = ring == 0 ? -0.82f - 0.33f * (1 - xn * xn) : (ring == 1 ? -1.45f : -1.85f);
      float z = (ring == 0 ? -0.45f : -0.38f) - 0.32f * xn * xn;
      v.push_back({x, y, z});
    }
  for (const V2& q : torso_points()) v.push_back({q[0] * ws, q[1], torso_z(q[0], q[1])});
  return v;
}

SubjectRenderer::SubjectRenderer(const FacePhoto& photo, const Shape& neutral)
    : texture_(photo.image), neutral_(neutral), photo_shape_(photo.canonical) {
  const float photo_w = photo_shape_(16, 0) - photo_shape_(0, 0), id_w = neutral(16, 0) - neutral(0, 0);
  if (!(photo_w > 0.5f && id_w > 0.5f)) throw bad_input(photo.path, "the face landmarks of the photo are degenerate");
  width_scale_ = id_w / photo_w;
  // Rest layout: the photo's own face, in canonical units; texture coordinates are its pixels.
  std::vector<V3> rest = build_vertices(photo_shape_, photo_shape_, 1.f);
  rest_.resize(rest.size());
  for (std::size_t i = 0; i < rest.size(); ++i) {
    rest_[i].uv = photo.to_photo(rest[i][0], rest[i][1]);
    const int ii = static_cast<int>(i);
    rest_[i].head_weight = ii < kNeck ? 1.f : (ii < kNeck + kNeckCols ? 1.f : (ii < kNeck + 2 * kNeckCols ? 0.5f : 0.f));
  }
  // Head: Delaunay over landmarks, forehead, cheeks and hair ring, kept inside the head outline.
  std::vector<V2> hp;
  for (int i = 0; i < kNeck; ++i) hp.push_back({rest[static_cast<std::size_t>(i)][0], rest[static_cast<std::size_t>(i)][1]});
  std::vector<V2> outline;
  for (int i = 0; i < kHairCount; ++i) outline.push_back(hp[static_cast<std::size_t>(kHair + i)]);
  for (int j = 13; j >= 3; --j) outline.push_back(hp[static_cast<std::size_t>(j)]);
  std::vector<V2> mouth, lips, eye_r, eye_l;
  for (int i = 60; i < 68; ++i) mouth.push_back(hp[static_cast<std::size_t>(i)]);
  for (int i = 48; i < 60; ++i) lips.push_back(hp[static_cast<std::size_t>(i)]);
  for (int i = 36; i < 42; ++i) eye_r.push_back(hp[static_cast<std::size_t>(i)]);
  for (int i = 42; i < 48; ++i) eye_l.push_back(hp[static_cast<std::size_t>(i)]);
  std::vector<std::array<int, 3>> head_tris = delaunay(hp);
  // The contours that must be edges: lips, eyes, the head outline.
  auto loop = [&](int first, int count, bool closed) {
    for (int i = 0; i + (closed ? 0 : 1) < count; ++i)
      if (!recover_edge(head_tris, hp, first + i, first + (i + 1) % count))
        throw internal_error("synth mesh", "cannot make contour edge " + std::to_string(first + i) + "-" +
                                               std::to_string(first + (i + 1) % count) + " of the face mesh");
  };
  loop(60, 8, true);
  loop(48, 12, true);
  loop(36, 6, true);
  loop(42, 6, true);
  loop(kHair, kHairCount, false);
  loop(3, 11, false);
  for (const auto& t : head_tris) {
    V2 c{(hp[static_cast<std::size_t>(t[0])][0] + hp[static_cast<std::size_t>(t[1])][0] + hp[static_cast<std::size_t>(t[2])][0]) / 3,
         (hp[static_cast<std::size_t>(t[0])][1] + hp[static_cast<std::size_t>(t[1])][1] + hp[static_cast<std::size_t>(t[2])][1]) / 3};
    if (!inside_polygon(outline, c)) continue;
    const Material m = inside_polygon(mouth, c)   ? kMouth
                       : inside_polygon(lips, c)  ? kLips
                       : inside_polygon(eye_r, c) ? kEyeRight
                       : inside_polygon(eye_l, c) ? kEyeLeft
                                                  : kSkin;
    tris_.push_back({t, m, kHead});
  }
  // Neck: a grid of quads.
  for (int ring = 0; ring < 2; ++ring)
    for (int c = 0; c + 1 < kNeckCols; ++c) {
      int a = kNeck + ring * kNeckCols + c, b = a + 1, d = a + kNeckCols, e = d + 1;
      tris_.push_back({{a, d, e}, kSkin, MaskLabel::kTorso});
      tris_.push_back({{a, e, b}, kSkin, MaskLabel::kTorso});
    }
  // Torso: Delaunay of its outline and interior grid, kept inside the outline.
  std::vector<V2> tp;
  for (std::size_t i = kTorsoFirst; i < rest.size(); ++i) tp.push_back({rest[i][0], rest[i][1]});
  std::vector<V2> toutline(tp.begin(), tp.begin() + kTorsoOutlineCount);
  for (const auto& t : delaunay(tp)) {
    V2 c{(tp[static_cast<std::size_t>(t[0])][0] + tp[static_cast<std::size_t>(t[1])][0] + tp[static_cast<std::size_t>(t[2])][0]) / 3,
         (tp[static_cast<std::size_t>(t[0])][1] + tp[static_cast<std::size_t>(t[1])][1] + tp[static_cast<std::size_t>(t[2])][1]) / 3};
    if (inside_polygon(toutline, c)) tris_.push_back({{t[0] + kTorsoFirst, t[1] + kTorsoFirst, t[2] + kTorsoFirst}, kSkin, MaskLabel::kTorso});
  }
  // Counter-clockwise in canonical (x right, y up) so that normals face the camera.
  for (auto& t : tris_) {
    const V3 &a = rest[static_cast<std::size_t>(t.v[0])], &b = rest[static_cast<std::size_t>(t.v[1])], &c = rest[static_cast<std::size_t>(t.v[2])];
    if (orient({a[0], a[1]}, {b[0], b[1]}, {c[0], c[1]}) < 0) std::swap(t.v[1], t.v[2]);
  }
  std::vector<V3> nrm = vertex_normals(rest, tris_);
  for (std::size_t i = 0; i < rest.size(); ++i) rest_[i].rest_shade = lambert(nrm[i]);
  neutral_pos_ = build_vertices(neutral_, neutral_, width_scale_);
  const detail::EyeColours eyes = detail::sample_eye_colours(texture_, photo);
  eye_colours_ = {eyes.iris, eyes.sclera};
  lip_colour_ = detail::sample_lip_colour(texture_, photo);
  detail::neutralise_expression(texture_, photo);

  // Neutralise the photo: the smile shows teeth between the inner lips; paint that opening (grown
  // by 2 px) with the surrounding lip colour by harmonic fill, so lip triangles never sample teeth.
  std::vector<V2> inner;
  for (int i = 60; i < 68; ++i) inner.push_back(photo.points[static_cast<std::size_t>(i)]);
  V2 ctr{0, 0};
  for (const V2& q : inner) ctr = {ctr[0] + q[0] / 8, ctr[1] + q[1] / 8};
  std::vector<V2> grown;
  for (const V2& q : inner) {
    float dx = q[0] - ctr[0], dy = q[1] - ctr[1], l = std::max(1e-3f, std::hypot(dx, dy));
    grown.push_back({q[0] + 2.f * dx / l, q[1] + 2.f * dy / l});
  }
  int x0 = texture_.width, x1 = 0, y0 = texture_.height, y1 = 0;
  for (const V2& q : grown) {
    x0 = std::min(x0, static_cast<int>(q[0]) - 1);
    x1 = std::max(x1, static_cast<int>(q[0]) + 2);
    y0 = std::min(y0, static_cast<int>(q[1]) - 1);
    y1 = std::max(y1, static_cast<int>(q[1]) + 2);
  }
  x0 = std::max(x0, 1), y0 = std::max(y0, 1), x1 = std::min(x1, texture_.width - 2), y1 = std::min(y1, texture_.height - 2);
  const int W = texture_.width;
  std::vector<std::uint8_t> hole(static_cast<std::size_t>(W) * texture_.height, 0);
  std::vector<float> val(static_cast<std::size_t>(W) * texture_.height * 3);
  for (std::size_t i = 0; i < val.size(); ++i) val[i] = texture_.pixels[i];
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x)
      if (inside_polygon(grown, {x + 0.5f, y + 0.5f})) hole[static_cast<std::size_t>(y) * W + x] = 1;
  for (int it = 0; it < 400; ++it)
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        std::size_t i = static_cast<std::size_t>(y) * W + x;
        if (!hole[i]) continue;
        for (int c = 0; c < 3; ++c)
          val[i * 3 + c] = 0.25f * (val[(i - 1) * 3 + c] + val[(i + 1) * 3 + c] + val[(i - W) * 3 + c] + val[(i + W) * 3 + c]);
      }
  for (std::size_t i = 0; i < hole.size(); ++i)
    if (hole[i])
      for (int c = 0; c < 3; ++c) texture_.pixels[i * 3 + c] = static_cast<std::uint8_t>(std::lround(std::clamp(val[i * 3 + c], 0.f, 255.f)));
}

bool SubjectRenderer::has_edge(int a, int b) const {
  for (const auto& t : tris_)
    for (int k = 0; k < 3; ++k)
      if ((t.v[static_cast<std::size_t>(k)] == a && t.v[static_cast<std::size_t>((k + 1) % 3)] == b) ||
          (t.v[static_cast<std::size_t>(k)] == b && t.v[static_cast<std::size_t>((k + 1) % 3)] == a))
        return true;
  return false;
}

// ---- poses and backdrop ------------------------------------------------------------------------------

Pose body_pose(const Pose& head, const Pose& rest) {
  Eigen::Matrix3f Rh, Rr;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) {
      Rh(r, c) = head[static_cast<std::size_t>(r * 4 + c)];
      Rr(r, c) = rest[static_cast<std::size_t>(r * 4 + c)];
    }
  Eigen::Vector3f th(head[3], head[7], head[11]), tr(rest[3], rest[7], rest[11]);
  Eigen::Quaternionf qh(Rh), qr(Rr);
  Eigen::Matrix3f Rb = qr.slerp(0.3f, qh).toRotationMatrix();
  const Eigen::Vector3f pivot(0.f, -1.9f, -0.45f);  // base of the neck, canonical units
  Eigen::Vector3f ph = Rh * pivot + th, pr = Rr * pivot + tr;
  Eigen::Vector3f pb = pr + 0.35f * (ph - pr);
  Eigen::Vector3f tb = pb - Rb * pivot;
  Pose out{};
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) out[static_cast<std::size_t>(r * 4 + c)] = Rb(r, c);
    out[static_cast<std::size_t>(r * 4 + 3)] = tb(r);
  }
  out[15] = 1;
  return out;
}

Image make_background(int width, int height, std::uint64_t seed) {
  // A studio backdrop: a vertical gradient of a muted colour with a few soft light blobs.
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  const float base_h = u(rng);
  float top[3], bottom[3];
  for (int c = 0; c < 3; ++c) {
    float hue = 0.5f + 0.5f * std::cos(6.2831853f * (base_h + static_cast<float>(c) / 3.f));
    top[c] = 150.f + 60.f * hue;
    bottom[c] = 80.f + 50.f * hue;
  }
  struct Blob {
    float x, y, r, a;
  };
  std::vector<Blob> blobs;
  for (int i = 0; i < 6; ++i) blobs.push_back({u(rng), u(rng), 0.15f + 0.3f * u(rng), (u(rng) - 0.4f) * 30.f});
  Image img;
  img.width = width;
  img.height = height;
  img.channels = 3;
  img.pixels.resize(static_cast<std::size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      float fx = (x + 0.5f) / width, fy = (y + 0.5f) / height, add = 0;
      for (const Blob& b : blobs) {
        float d2 = ((fx - b.x) * (fx - b.x) + (fy - b.y) * (fy - b.y)) / (b.r * b.r);
        add += b.a * std::exp(-d2);
      }
      for (int c = 0; c < 3; ++c) {
        float v = top[c] + (bottom[c] - top[c]) * fy + add;
        img.pixels[(static_cast<std::size_t>(y) * width + x) * 3 + static_cast<std::size_t>(c)] =
            static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.f, 255.f)));
      }
    }
  return img;
}

// ---- rendering ---------------------------------------------------------------------------------------

namespace {

// The mouth interior at canonical (x, y): upper teeth fixed to the skull just under the neutral
// lip line, lower teeth riding on the jaw, a dark cavity and the tongue below.
std::array<float, 3> mouth_colour(float x, float y, float lip_line, float jaw_drop) {
  const float ax = std::fabs(x);
  const float upper_edge = lip_line - 0.04f, lower_edge = lip_line - 0.05f - jaw_drop;
  float side = std::clamp(1.f - 0.9f * (ax / 0.38f) * (ax / 0.38f), 0.1f, 1.f);
  auto tooth = [&](float width, float gum, float yy, float edge) {
    // Tooth boundaries: incisors near the middle are wider than the teeth beside them.
    float pos = ax / width, frac = pos - std::floor(pos);
    float gap = std::min(frac, 1 - frac) < 0.06f ? 0.7f : 1.f;
    float tip = std::clamp((std::fabs(yy - edge)) / 0.015f, 0.f, 1.f);  // rounded incisal edge
    float g = std::fabs(yy - edge) > gum ? 1.f : 0.f;
    std::array<float, 3> ivory{232, 226, 212}, pink{190, 95, 100};
    std::array<float, 3> c{};
    for (int k = 0; k < 3; ++k)
      c[static_cast<std::size_t>(k)] = (g ? pink[static_cast<std::size_t>(k)] : ivory[static_cast<std::size_t>(k)]) * gap * side *
                                       (0.8f + 0.2f * tip);
    return c;
  };
  if (y > upper_edge && ax < 0.36f) return tooth(0.09f, 0.12f, y, upper_edge);
  if (y < lower_edge && y > lower_edge - 0.11f && ax < 0.3f) return tooth(0.065f, 0.09f, y, lower_edge);
  float depth = std::clamp(1.f - ax / 0.35f, 0.f, 1.f);
  if (y < lower_edge - 0.06f) return {150.f - 60.f * depth, 62.f - 25.f * depth, 70.f - 25.f * depth};  // tongue
  return {75.f - 45.f * depth, 28.f - 18.f * depth, 32.f - 20.f * depth};
}

}  // namespace

void SubjectRenderer::render(const Shape& shape, const AUVector& au, const Pose& head, const Pose& body, const Camera& cam,
                             const Image& background, Image& rgb, Image& mask) const {
  if (background.width != cam.width || background.height != cam.height || background.channels != 3)
    throw internal_error("synth render", "background does not match the camera");
  const std::vector<V3> canon = build_vertices(shape, neutral_, width_scale_);
  const std::size_t nv = canon.size();
  // Camera space: each vertex by its blend of head and body pose.
  std::vector<V3> camv(nv);
  for (std::size_t i = 0; i < nv; ++i) {
    const float w = rest_[i].head_weight;
    V3 a{}, b{};
    for (int r = 0; r < 3; ++r) {
      const auto rr = static_cast<std::size_t>(r * 4);
      a[static_cast<std::size_t>(r)] = head[rr] * canon[i][0] + head[rr + 1] * canon[i][1] + head[rr + 2] * canon[i][2] + head[rr + 3];
      b[static_cast<std::size_t>(r)] = body[rr] * canon[i][0] + body[rr + 1] * canon[i][1] + body[rr + 2] * canon[i][2] + body[rr + 3];
    }
    for (int r = 0; r < 3; ++r) camv[i][static_cast<std::size_t>(r)] = w * a[static_cast<std::size_t>(r)] + (1 - w) * b[static_cast<std::size_t>(r)];
  }
  std::vector<V3> nrm = vertex_normals(camv, tris_);
  std::vector<float> shade(nv);
  for (std::size_t i = 0; i < nv; ++i) shade[i] = std::clamp(lambert(nrm[i]) / rest_[i].rest_shade, 0.45f, 1.35f);
  // Supersampled screen positions (2×: sample (i, j) sits at ((i + 0.5) / 2, (j + 0.5) / 2) pixels).
  constexpr int SS = 2;
  const int W = cam.width * SS, H = cam.height * SS;
  std::vector<float> sx(nv), sy(nv), iw(nv);
  for (std::size_t i = 0; i < nv; ++i) {
    float z = -camv[i][2];
    if (z < 1e-3f) z = 1e-3f;  // never behind the camera in this world
    iw[i] = 1.f / z;
    sx[i] = SS * (cam.cx + cam.fx * camv[i][0] * iw[i]);
    sy[i] = SS * (cam.cy - cam.fy * camv[i][1] * iw[i]);
  }
  std::vector<float> depth(static_cast<std::size_t>(W) * H, 0.f);
  std::vector<int> tri_id(static_cast<std::size_t>(W) * H, -1);
  std::vector<std::array<float, 2>> bary(static_cast<std::size_t>(W) * H);
  const int ntri = static_cast<int>(tris_.size());
  constexpr int kBand = 16;
  const int nbands = (H + kBand - 1) / kBand;
#pragma omp parallel for schedule(static)
  for (int band = 0; band < nbands; ++band) {
    const int yb0 = band * kBand, yb1 = std::min(H, yb0 + kBand);
    for (int ti = 0; ti < ntri; ++ti) {
      const auto& t = tris_[static_cast<std::size_t>(ti)];
      const auto a = static_cast<std::size_t>(t.v[0]), b = static_cast<std::size_t>(t.v[1]), c = static_cast<std::size_t>(t.v[2]);
      const float area = (sx[b] - sx[a]) * (sy[c] - sy[a]) - (sy[b] - sy[a]) * (sx[c] - sx[a]);
      if (std::fabs(area) < 1e-8f) continue;
      const float ymin = std::min({sy[a], sy[b], sy[c]}), ymax = std::max({sy[a], sy[b], sy[c]});
      const float xmin = std::min({sx[a], sx[b], sx[c]}), xmax = std::max({sx[a], sx[b], sx[c]});
      int y0 = std::max(yb0, static_cast<int>(std::ceil(ymin - 0.5f))), y1 = std::min(yb1 - 1, static_cast<int>(std::floor(ymax - 0.5f)));
      int x0 = std::max(0, static_cast<int>(std::ceil(xmin - 0.5f))), x1 = std::min(W - 1, static_cast<int>(std::floor(xmax - 0.5f)));
      if (y0 > y1 || x0 > x1) continue;
      const float inv = 1.f / area;
      for (int y = y0; y <= y1; ++y) {
        const float py = y + 0.5f;
        for (int x = x0; x <= x1; ++x) {
          const float px = x + 0.5f;
          float w0 = ((sx[b] - px) * (sy[c] - py) - (sy[b] - py) * (sx[c] - px)) * inv;
          float w1 = ((sx[c] - px) * (sy[a] - py) - (sy[c] - py) * (sx[a] - px)) * inv;
          float w2 = 1.f - w0 - w1;
          if (w0 < 0 || w1 < 0 || w2 < 0) continue;
          const float d = w0 * iw[a] + w1 * iw[b] + w2 * iw[c];
          const std::size_t s = static_cast<std::size_t>(y) * W + x;
          if (d <= depth[s]) continue;
          depth[s] = d;
          tri_id[s] = ti;
          // Perspective-correct weights.
          const float p0 = w0 * iw[a] / d, p1 = w1 * iw[b] / d;
          bary[s] = {p0, p1};
        }
      }
    }
  }
  // Resolve: shade each covered sample, average 2×2 samples per pixel, label by majority.
  rgb.width = mask.width = cam.width;
  rgb.height = mask.height = cam.height;
  rgb.channels = 3;
  mask.channels = 1;
  rgb.pixels.assign(static_cast<std::size_t>(cam.width) * cam.height * 3, 0);
  mask.pixels.assign(static_cast<std::size_t>(cam.width) * cam.height, 0);
  const float lip_line = neutral_(62, 1), jaw_drop = std::max(0.f, neutral_(8, 1) - shape(8, 1));
  // The expression's furrows and bulges, lit by the scene's light turned into head space.
  const detail::ExpressionField field(neutral_, au);
  std::array<float, 3> light_head{};
  {
    const float l[3] = {0.25f, 0.35f, 1.f}, n = std::sqrt(l[0] * l[0] + l[1] * l[1] + l[2] * l[2]);
    for (int c = 0; c < 3; ++c)
      for (int r = 0; r < 3; ++r) light_head[static_cast<std::size_t>(c)] += head[static_cast<std::size_t>(r * 4 + c)] * l[r] / n;
  }
  const detail::EyeColours eyes{eye_colours_[0], eye_colours_[1]};
  const int TW = texture_.width, TH = texture_.height;
  auto texel = [&](float u, float v, int ch) {
    // Bilinear, pixel centres at integer + 0.5, clamped to the edge.
    float fx = std::clamp(u - 0.5f, 0.f, static_cast<float>(TW - 1)), fy = std::clamp(v - 0.5f, 0.f, static_cast<float>(TH - 1));
    int x0 = std::min(static_cast<int>(fx), TW - 2), y0 = std::min(static_cast<int>(fy), TH - 2);
    float ax = fx - x0, ay = fy - y0;
    auto at = [&](int x, int y) { return static_cast<float>(texture_.pixels[(static_cast<std::size_t>(y) * TW + x) * 3 + static_cast<std::size_t>(ch)]); };
    return (at(x0, y0) * (1 - ax) + at(x0 + 1, y0) * ax) * (1 - ay) + (at(x0, y0 + 1) * (1 - ax) + at(x0 + 1, y0 + 1) * ax) * ay;
  };
#pragma omp parallel for schedule(static)
  for (int y = 0; y < cam.height; ++y)
    for (int x = 0; x < cam.width; ++x) {
      float acc[3] = {0, 0, 0};
      int votes[3] = {0, 0, 0};
      for (int j = 0; j < SS; ++j)
        for (int i = 0; i < SS; ++i) {
          const std::size_t s = static_cast<std::size_t>(y * SS + j) * W + static_cast<std::size_t>(x * SS + i);
          const int ti = tri_id[s];
          if (ti < 0) {
            const std::uint8_t* bg = &background.pixels[(static_cast<std::size_t>(y) * cam.width + x) * 3];
            for (int c = 0; c < 3; ++c) acc[c] += bg[c];
            votes[kBackground]++;
            continue;
          }
          const auto& t = tris_[static_cast<std::size_t>(ti)];
          const float b0 = bary[s][0], b1 = bary[s][1], b2 = 1.f - b0 - b1;
          const auto a = static_cast<std::size_t>(t.v[0]), b = static_cast<std::size_t>(t.v[1]), c = static_cast<std::size_t>(t.v[2]);
          votes[t.label]++;
          if (t.material == kMouth) {
            const float cxp = b0 * canon[a][0] + b1 * canon[b][0] + b2 * canon[c][0];
            const float cyp = b0 * canon[a][1] + b1 * canon[b][1] + b2 * canon[c][1];
            auto m = mouth_colour(cxp, cyp, lip_line, jaw_drop);
            // Lips barely apart show the dark between them, not teeth (a relaxed mouth).
            const float vis = std::clamp((detail::lip_opening(shape, cxp) - 0.011f) / 0.028f, 0.f, 1.f);
            const float dark[3] = {48, 24, 26};
            for (int k = 0; k < 3; ++k) acc[k] += vis * m[static_cast<std::size_t>(k)] + (1 - vis) * dark[k];
            continue;
          }
          if (t.material == kLips) {
            const float cxp = b0 * canon[a][0] + b1 * canon[b][0] + b2 * canon[c][0];
            const float cyp = b0 * canon[a][1] + b1 * canon[b][1] + b2 * canon[c][1];
            const float sh = b0 * shade[a] + b1 * shade[b] + b2 * shade[c];
            auto e = detail::lip_colour(lip_colour_, shape, cxp, cyp);
            for (int k = 0; k < 3; ++k) acc[k] += e[static_cast<std::size_t>(k)] * sh;
            continue;
          }
          if (t.material == kEyeRight || t.material == kEyeLeft) {
            const float cxp = b0 * canon[a][0] + b1 * canon[b][0] + b2 * canon[c][0];
            const float cyp = b0 * canon[a][1] + b1 * canon[b][1] + b2 * canon[c][1];
            const float sh = b0 * shade[a] + b1 * shade[b] + b2 * shade[c];
            auto e = detail::eye_colour(eyes, neutral_, shape, t.material == kEyeRight ? 0 : 1, cxp, cyp);
            for (int k = 0; k < 3; ++k) acc[k] += e[static_cast<std::size_t>(k)] * sh;
            continue;
          }
          const float u = b0 * rest_[a].uv[0] + b1 * rest_[b].uv[0] + b2 * rest_[c].uv[0];
          const float v = b0 * rest_[a].uv[1] + b1 * rest_[b].uv[1] + b2 * rest_[c].uv[1];
          float sh = b0 * shade[a] + b1 * shade[b] + b2 * shade[c];
          if (!field.empty() && t.label == kHead) {
            const float nx = b0 * neutral_pos_[a][0] + b1 * neutral_pos_[b][0] + b2 * neutral_pos_[c][0];
            const float ny = b0 * neutral_pos_[a][1] + b1 * neutral_pos_[b][1] + b2 * neutral_pos_[c][1];
            sh *= field.shade(nx, ny, light_head);
          }
          for (int k = 0; k < 3; ++k) acc[k] += texel(u, v, k) * sh;
        }
      const std::size_t o = static_cast<std::size_t>(y) * cam.width + x;
      for (int k = 0; k < 3; ++k)
        rgb.pixels[o * 3 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(std::lround(std::clamp(acc[k] / (SS * SS), 0.f, 255.f)));
      int best = 0;
      for (int l = 1; l < 3; ++l)
        if (votes[l] >= votes[best]) best = l;
      mask.pixels[o] = static_cast<std::uint8_t>(best);
    }
}

}  // namespace emogene::synth
