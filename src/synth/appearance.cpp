// The skin's appearance beyond the photo's texture (appearance.h): a neutral base, the furrows and
// bulges of the action units, and eyeballs.
//
// Where the appearance changes come from: the FACS manual's descriptions of each action unit
// (P. Ekman, W. V. Friesen, J. C. Hager, "Facial Action Coding System", 2002): AU1 raises the
// inner brows and wrinkles the middle of the forehead; AU2 the outer brows, wrinkling the forehead
// laterally; AU4 lowers and draws the brows together, with vertical furrows at the glabella and a
// bulge over the inner brows that shades the upper lids; AU6 raises the cheeks, bulging the skin
// below the lower lid, deepening the infraorbital furrow and making crow's feet at the outer eye
// corners; AU7 tightens and bulges the lower lid; AU9 wrinkles the sides and root of the nose and
// deepens the upper nasolabial furrow; AU10 raises the upper lip and deepens the nasolabial furrow;
// AU12 pulls the lip corners up and out, deepening the whole nasolabial furrow and pushing the
// cheek up; AU14 makes a dimple beside the lip corner; AU15 turns the corners down with a wrinkle
// or bulge below them; AU17 pushes the chin boss up, with dimpling of the chin skin and a furrow
// under the lower lip; AU20 stretches the lips sideways with short lines beyond the corners;
// AU23/AU24 tighten and press the lips, bulging the skin above and below them.
// Depths are a few millimetres for the nasolabial furrow and about a millimetre for the fine
// lines (1 canonical unit ≈ 90 mm, the adult outer-canthal width); the iris is 11.7 mm across.
#include "synth/appearance.h"

#include <algorithm>
#include <cmath>

namespace emogene::synth::detail {

using landmarks::Shape;
using V2 = std::array<float, 2>;

bool inside_polygon(const std::vector<V2>& poly, V2 p) {
  bool in = false;
  for (std::size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++) {
    const V2 &a = poly[i], &b = poly[j];
    if ((a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0]) in = !in;
  }
  return in;
}

namespace {

constexpr float kMm = 1.f / 90.f;  // one millimetre in canonical units

float distance_to_polygon(const std::vector<V2>& poly, V2 p) {
  float best = 1e30f;
  for (std::size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++) {
    const V2 &a = poly[j], &b = poly[i];
    const float ex = b[0] - a[0], ey = b[1] - a[1];
    const float t = std::clamp(((p[0] - a[0]) * ex + (p[1] - a[1]) * ey) / std::max(1e-12f, ex * ex + ey * ey), 0.f, 1.f);
    best = std::min(best, std::hypot(p[0] - a[0] - t * ex, p[1] - a[1] - t * ey));
  }
  return best;
}

// Separable Gaussian blur of a float RGB image (clamped edges).
std::vector<float> blur(const std::vector<float>& img, int W, int H, float sigma) {
  const int r = std::max(1, static_cast<int>(std::ceil(3 * sigma)));
  std::vector<float> k(static_cast<std::size_t>(2 * r + 1));
  float sum = 0;
  for (int i = -r; i <= r; ++i) sum += k[static_cast<std::size_t>(i + r)] = std::exp(-0.5f * static_cast<float>(i * i) / (sigma * sigma));
  for (float& v : k) v /= sum;
  std::vector<float> tmp(img.size()), out(img.size());
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < 3; ++c) {
        float a = 0;
        for (int i = -r; i <= r; ++i)
          a += k[static_cast<std::size_t>(i + r)] * img[(static_cast<std::size_t>(y) * W + std::clamp(x + i, 0, W - 1)) * 3 + c];
        tmp[(static_cast<std::size_t>(y) * W + x) * 3 + c] = a;
      }
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < 3; ++c) {
        float a = 0;
        for (int i = -r; i <= r; ++i)
          a += k[static_cast<std::size_t>(i + r)] * tmp[(static_cast<std::size_t>(std::clamp(y + i, 0, H - 1)) * W + x) * 3 + c];
        out[(static_cast<std::size_t>(y) * W + x) * 3 + c] = a;
      }
  return out;
}

// The photo's lower face, where a smile lives (raised cheeks, nasolabial folds, creases at the
// mouth corners, bulged lower lids, crow's feet), in the photo's canonical units: from under the
// lower lids and out past the outer eye corners, down the face inside its contour to above the chin,
// around the nose (its own shading stays). The lips are inside it: they are drawn from their colour.
std::vector<V2> lower_face_region(const Shape& P) {
  std::vector<V2> r;
  auto at = [&](int i, float dx, float dy) { r.push_back({P(i, 0) + dx, P(i, 1) + dy}); };
  float mx = 0, my = 0;
  for (int i = 48; i < 60; ++i) mx += P(i, 0) / 12, my += P(i, 1) / 12;
  // The face contour pulled in towards the mouth by 0.045 (away from the hair and the background).
  auto inset = [&](int j) {
    const float dx = mx - P(j, 0), dy = my - P(j, 1), l = std::max(1e-4f, std::hypot(dx, dy));
    r.push_back({P(j, 0) + 0.045f * dx / l, P(j, 1) + 0.045f * dy / l});
  };
  at(40, 0.f, -0.05f);  // under the right eye, inner to outer
  at(41, 0.f, -0.045f);
  at(36, -0.02f, -0.03f);
  at(36, -0.07f, 0.05f);  // crow's feet
  at(36, -0.19f, 0.06f);
  at(36, -0.22f, -0.06f);
  for (int j = 2; j <= 14; ++j) inset(j);
  at(45, 0.22f, -0.06f);
  at(45, 0.19f, 0.06f);
  at(45, 0.07f, 0.05f);
  at(45, 0.02f, -0.03f);
  at(46, 0.f, -0.045f);
  at(47, 0.f, -0.05f);
  // Around the nose: down its left side, under it, up its right side.
  at(35, 0.05f, P(30, 1) - P(35, 1));
  at(35, 0.05f, 0.f);
  at(33, 0.f, -0.03f);
  at(31, -0.05f, 0.f);
  at(31, -0.05f, P(30, 1) - P(31, 1));
  return r;
}

}  // namespace

void neutralise_expression(Image& texture, const FacePhoto& photo) {
  const int W = texture.width, H = texture.height;
  if (W < 8 || H < 8) return;
  std::vector<float> img(texture.pixels.begin(), texture.pixels.end());
  const std::vector<float> low = blur(img, W, H, std::max(0.8f, 0.012f * photo.scale));
  const float feather = 0.03f;
  {
    const std::vector<V2> region = lower_face_region(photo.canonical);
    // The region in photo pixels, and its soft weight (1 inside, feathered to 0 at its edge).
    int x0 = W, x1 = 0, y0 = H, y1 = 0;
    for (const V2& q : region) {
      const V2 p = photo.to_photo(q[0], q[1]);
      x0 = std::min(x0, static_cast<int>(p[0]) - 1);
      x1 = std::max(x1, static_cast<int>(p[0]) + 2);
      y0 = std::min(y0, static_cast<int>(p[1]) - 1);
      y1 = std::max(y1, static_cast<int>(p[1]) + 2);
    }
    x0 = std::max(x0, 1), y0 = std::max(y0, 1), x1 = std::min(x1, W - 2), y1 = std::min(y1, H - 2);
    if (x0 >= x1 || y0 >= y1) return;
    const int bw = x1 - x0 + 1, bh = y1 - y0 + 1;
    std::vector<float> w(static_cast<std::size_t>(bw) * bh, 0.f);
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        const V2 c = photo.to_canonical(x + 0.5f, y + 0.5f);
        if (!inside_polygon(region, c)) continue;
        w[static_cast<std::size_t>(y - y0) * bw + (x - x0)] = std::min(1.f, distance_to_polygon(region, c) / feather);
      }
    // Harmonic fill of the region from its boundary (successive over-relaxation, raster order:
    // deterministic), started from the boundary's mean.
    std::vector<float> fill(img);
    double mean[3] = {0, 0, 0};
    int nb = 0;
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        if (w[static_cast<std::size_t>(y - y0) * bw + (x - x0)] > 0) continue;
        for (int c = 0; c < 3; ++c) mean[c] += img[(static_cast<std::size_t>(y) * W + x) * 3 + c];
        ++nb;
      }
    if (nb == 0) return;
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x)
        if (w[static_cast<std::size_t>(y - y0) * bw + (x - x0)] > 0)
          for (int c = 0; c < 3; ++c) fill[(static_cast<std::size_t>(y) * W + x) * 3 + c] = static_cast<float>(mean[c] / nb);
    const int iterations = std::max(200, 3 * std::max(bw, bh));
    for (int it = 0; it < iterations; ++it)
      for (int y = y0; y <= y1; ++y)
        for (int x = x0; x <= x1; ++x) {
          if (w[static_cast<std::size_t>(y - y0) * bw + (x - x0)] <= 0) continue;
          const std::size_t i = static_cast<std::size_t>(y) * W + x;
          for (std::size_t c = 0; c < 3; ++c) {
            const float avg = 0.25f * (fill[(i - 1) * 3 + c] + fill[(i + 1) * 3 + c] + fill[(i - W) * 3 + c] + fill[(i + W) * 3 + c]);
            fill[i * 3 + c] += 1.9f * (avg - fill[i * 3 + c]);
          }
        }
    // The fill carries the low and middle frequencies; the photo's finest detail stays, except on
    // and around the lips (their edges and the teeth are no skin grain).
    std::vector<V2> lips;
    for (int i = 48; i < 60; ++i) lips.push_back({photo.canonical(i, 0), photo.canonical(i, 1)});
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        const float a = w[static_cast<std::size_t>(y - y0) * bw + (x - x0)];
        if (a <= 0) continue;
        const std::size_t i = static_cast<std::size_t>(y) * W + x;
        const V2 cp = photo.to_canonical(x + 0.5f, y + 0.5f);
        const float keep = inside_polygon(lips, cp) ? 0.f : std::min(1.f, distance_to_polygon(lips, cp) / 0.04f);
        for (std::size_t c = 0; c < 3; ++c) {
          // Skin grain is a few levels; the edges of folds and creases are more: clip them.
          const float v = fill[i * 3 + c] + keep * std::clamp(img[i * 3 + c] - low[i * 3 + c], -4.f, 4.f);
          texture.pixels[i * 3 + c] =
              static_cast<std::uint8_t>(std::lround(std::clamp((1 - a) * img[i * 3 + c] + a * v, 0.f, 255.f)));
        }
      }
  }
}

EyeColours sample_eye_colours(const Image& texture, const FacePhoto& photo) {
  EyeColours out;
  std::vector<std::array<float, 4>> iris_px, eye_px;  // luminance, r, g, b
  for (int side = 0; side < 2; ++side) {
    std::vector<V2> poly;
    float cx = 0, cy = 0;
    for (int i = 36 + 6 * side; i < 42 + 6 * side; ++i) {
      poly.push_back(photo.points[static_cast<std::size_t>(i)]);
      cx += photo.points[static_cast<std::size_t>(i)][0] / 6;
      cy += photo.points[static_cast<std::size_t>(i)][1] / 6;
    }
    const float r = std::max(1.f, 0.045f * photo.scale);
    for (int y = static_cast<int>(cy - 3 * r); y <= static_cast<int>(cy + 3 * r); ++y)
      for (int x = static_cast<int>(cx - 4 * r); x <= static_cast<int>(cx + 4 * r); ++x) {
        if (x < 0 || y < 0 || x >= texture.width || y >= texture.height || !inside_polygon(poly, {x + 0.5f, y + 0.5f})) continue;
        const std::uint8_t* p = &texture.pixels[(static_cast<std::size_t>(y) * texture.width + x) * 3];
        const std::array<float, 4> v{0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2], static_cast<float>(p[0]), static_cast<float>(p[1]),
                                     static_cast<float>(p[2])};
        eye_px.push_back(v);
        if (std::hypot(x + 0.5f - cx, y + 0.5f - cy) < r) iris_px.push_back(v);
      }
  }
  auto mean_of = [](std::vector<std::array<float, 4>> v, float lo, float hi) {
    std::array<float, 3> m{0, 0, 0};
    if (v.empty()) return m;
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a[0] < b[0]; });
    const auto a = static_cast<std::size_t>(lo * static_cast<float>(v.size()));
    const auto b = std::max(a + 1, static_cast<std::size_t>(hi * static_cast<float>(v.size())));
    for (std::size_t i = a; i < b && i < v.size(); ++i)
      for (int c = 0; c < 3; ++c) m[static_cast<std::size_t>(c)] += v[i][static_cast<std::size_t>(c + 1)] / static_cast<float>(b - a);
    return m;
  };
  if (!iris_px.empty()) {
    // The darker half of the eye's centre (iris and pupil), lifted a little (the pupil is drawn).
    const auto m = mean_of(iris_px, 0.0f, 0.5f);
    for (int c = 0; c < 3; ++c) out.iris[static_cast<std::size_t>(c)] = std::clamp(1.25f * m[static_cast<std::size_t>(c)], 25.f, 170.f);
  }
  if (eye_px.size() >= 8) {
    // The brightest sixth of the opening is sclera; kept light (a photo's eyes are often shaded).
    const auto m = mean_of(eye_px, 5.f / 6.f, 1.f);
    const float lum = 0.299f * m[0] + 0.587f * m[1] + 0.114f * m[2];
    const float gain = lum > 1 ? std::clamp(215.f / lum, 1.f, 1.6f) : 1.f;
    for (int c = 0; c < 3; ++c) out.sclera[static_cast<std::size_t>(c)] = std::clamp(gain * m[static_cast<std::size_t>(c)], 150.f, 240.f);
  }
  return out;
}

std::array<float, 3> eye_colour(const EyeColours& c, const Shape& N, const Shape& S, int side, float x, float y) {
  const int o = side == 0 ? 36 : 42;
  // The eyeball, rigid with the skull: centred between the neutral corners, at the neutral
  // opening's mid-height; iris 11.7 mm across, pupil 4 mm.
  const float cx = (N(o, 0) + N(o + 3, 0)) / 2;
  const float cy = (N(o + 1, 1) + N(o + 2, 1) + N(o + 4, 1) + N(o + 5, 1)) / 4;
  const float half_width = std::max(1e-3f, std::fabs(N(o + 3, 0) - N(o, 0)) / 2);
  const float ri = 5.85f * kMm, rp = 2.f * kMm, edge = 0.7f * kMm;
  const float d = std::hypot(x - cx, y - cy);
  std::array<float, 3> sclera;
  const float corner = std::min(1.f, std::fabs(x - cx) / half_width);
  for (int k = 0; k < 3; ++k)
    sclera[static_cast<std::size_t>(k)] = c.sclera[static_cast<std::size_t>(k)] * (1.f - 0.22f * corner * corner) +
                                          (k == 0 ? 12.f : 0.f) * corner * corner;  // pinker towards the corners
  std::array<float, 3> out = sclera;
  if (d < ri + edge) {
    std::array<float, 3> iris;
    const float t = std::clamp((d - rp) / (ri - rp), 0.f, 1.f);
    const float limbus = t > 0.8f ? 1.f - 1.5f * (t - 0.8f) : 1.f;  // the darker ring at its edge
    for (int k = 0; k < 3; ++k)
      iris[static_cast<std::size_t>(k)] = d < rp ? 18.f : c.iris[static_cast<std::size_t>(k)] * (0.8f + 0.35f * t) * limbus;
    const float a = std::clamp((ri + edge - d) / (2 * edge), 0.f, 1.f);
    for (int k = 0; k < 3; ++k) out[static_cast<std::size_t>(k)] = a * iris[static_cast<std::size_t>(k)] + (1 - a) * sclera[static_cast<std::size_t>(k)];
  }
  // Catch light of the key light (up and to the camera's left).
  const float hl = std::hypot(x - (cx - 1.8f * kMm), y - (cy + 2.2f * kMm));
  if (hl < 1.1f * kMm) {
    const float a = 0.85f * std::clamp((1.1f * kMm - hl) / (0.5f * kMm), 0.f, 1.f);
    for (float& v : out) v = a * 250.f + (1 - a) * v;
  }
  // The lids' shadows: the upper lid and lashes shade the eyeball below them, the lower lid a little.
  auto lid_y = [&](const int (&idx)[4]) {
    // Piecewise linear through the lid's points of the shape as shown, in x order.
    float px[4], py[4];
    for (int k = 0; k < 4; ++k) px[k] = S(idx[k], 0), py[k] = S(idx[k], 1);
    if (px[0] > px[3]) {
      std::reverse(px, px + 4);
      std::reverse(py, py + 4);
    }
    if (x <= px[0]) return py[0];
    for (int k = 0; k < 3; ++k)
      if (x <= px[k + 1]) return py[k] + (py[k + 1] - py[k]) * (x - px[k]) / std::max(1e-6f, px[k + 1] - px[k]);
    return py[3];
  };
  const int up[4] = {o, o + 1, o + 2, o + 3}, low[4] = {o + 3, o + 4, o + 5, o};
  const float du = std::max(0.f, lid_y(up) - y), dl = std::max(0.f, y - lid_y(low));
  const float shade = (1.f - 0.45f * std::exp(-du / (1.6f * kMm))) * (1.f - 0.15f * std::exp(-dl / (0.9f * kMm)));
  for (float& v : out) v *= shade;
  return out;
}

std::array<float, 3> sample_lip_colour(const Image& texture, const FacePhoto& photo) {
  std::vector<V2> outer, inner;
  for (int i = 48; i < 60; ++i) outer.push_back(photo.points[static_cast<std::size_t>(i)]);
  for (int i = 60; i < 68; ++i) inner.push_back(photo.points[static_cast<std::size_t>(i)]);
  float x0 = 1e9f, x1 = -1e9f, y0 = 1e9f, y1 = -1e9f;
  for (const V2& q : outer) x0 = std::min(x0, q[0]), x1 = std::max(x1, q[0]), y0 = std::min(y0, q[1]), y1 = std::max(y1, q[1]);
  std::vector<std::array<float, 4>> px;
  for (int y = std::max(0, static_cast<int>(y0)); y <= std::min(texture.height - 1, static_cast<int>(y1)); ++y)
    for (int x = std::max(0, static_cast<int>(x0)); x <= std::min(texture.width - 1, static_cast<int>(x1)); ++x) {
      const V2 c{x + 0.5f, y + 0.5f};
      if (!inside_polygon(outer, c) || inside_polygon(inner, c) || distance_to_polygon(inner, c) < 1.5f || distance_to_polygon(outer, c) < 1.f) continue;
      const std::uint8_t* p = &texture.pixels[(static_cast<std::size_t>(y) * texture.width + x) * 3];
      // Redness orders them: the lip's own colour, not the skin or teeth the landmarks may graze.
      px.push_back({static_cast<float>(p[0]) - 0.5f * (p[1] + p[2]), static_cast<float>(p[0]), static_cast<float>(p[1]),
                    static_cast<float>(p[2])});
    }
  std::array<float, 3> out{175, 100, 100};
  if (px.size() < 8) return out;
  std::sort(px.begin(), px.end(), [](const auto& a, const auto& b) { return a[0] < b[0]; });
  // The redder half, averaged.
  out = {0, 0, 0};
  const std::size_t a = px.size() / 2;
  for (std::size_t i = a; i < px.size(); ++i)
    for (int c = 0; c < 3; ++c) out[static_cast<std::size_t>(c)] += px[i][static_cast<std::size_t>(c + 1)] / static_cast<float>(px.size() - a);
  return out;
}

namespace {

// The inner lip curves at x, piecewise linear: upper (60-64) and lower (64-67, 60).
std::array<float, 2> inner_lips_at(const Shape& S, float x) {
  auto curve_y = [&](std::initializer_list<int> idx) {
    std::vector<V2> c;
    for (int i : idx) c.push_back({S(i, 0), S(i, 1)});
    std::sort(c.begin(), c.end(), [](const V2& a, const V2& b) { return a[0] < b[0]; });
    if (x <= c.front()[0]) return c.front()[1];
    for (std::size_t k = 0; k + 1 < c.size(); ++k)
      if (x <= c[k + 1][0]) return c[k][1] + (c[k + 1][1] - c[k][1]) * (x - c[k][0]) / std::max(1e-6f, c[k + 1][0] - c[k][0]);
    return c.back()[1];
  };
  return {curve_y({60, 61, 62, 63, 64}), curve_y({64, 65, 66, 67, 60})};
}

}  // namespace

float lip_opening(const Shape& S, float x) {
  const auto c = inner_lips_at(S, x);
  return c[0] - c[1];
}

std::array<float, 3> lip_colour(const std::array<float, 3>& lip, const Shape& S, float x, float y) {
  const auto seam = inner_lips_at(S, x);
  const float up = seam[0], low = seam[1];
  const bool upper = y >= 0.5f * (up + low);
  const float d = upper ? std::max(0.f, y - up) : std::max(0.f, low - y);  // from the seam
  float f = upper ? 0.84f : 1.0f;
  if (!upper) {
    // A soft highlight across the middle of the lower lip's height (about 3 mm below the seam).
    const float u = (d - 3.f * kMm) / (2.f * kMm);
    f += 0.12f * std::exp(-u * u) * std::max(0.f, 1.f - std::fabs(x - S(57, 0)) / std::max(1e-3f, 0.6f * (S(54, 0) - S(48, 0))));
  }
  f *= 1.f - 0.5f * std::exp(-d / (0.7f * kMm));
  return {lip[0] * f, lip[1] * f, lip[2] * f};
}

void ExpressionField::groove(V2 a, V2 b, float width, float depth) {
  if (depth <= 1e-6f) return;
  Feature f{Feature::kGroove, a, b, width, depth, {}, {}};
  for (int k = 0; k < 2; ++k) {
    f.lo[k] = std::min(a[static_cast<std::size_t>(k)], b[static_cast<std::size_t>(k)]) - 3 * width;
    f.hi[k] = std::max(a[static_cast<std::size_t>(k)], b[static_cast<std::size_t>(k)]) + 3 * width;
  }
  features_.push_back(f);
}

void ExpressionField::bump(V2 c, V2 r, float h) {
  if (std::fabs(h) <= 1e-6f) return;
  Feature f{Feature::kBump, c, r, 0, h, {}, {}};
  for (int k = 0; k < 2; ++k) {
    f.lo[k] = c[static_cast<std::size_t>(k)] - 3 * r[static_cast<std::size_t>(k)];
    f.hi[k] = c[static_cast<std::size_t>(k)] + 3 * r[static_cast<std::size_t>(k)];
  }
  features_.push_back(f);
}

ExpressionField::ExpressionField(const Shape& N, const AUVector& au) {
  auto P = [&](int i) { return V2{N(i, 0), N(i, 1)}; };
  auto off = [&](int i, float s, float dx, float dy) { return V2{N(i, 0) + s * dx, N(i, 1) + dy}; };
  const float mm = kMm;
  const float a1 = au[AU1], a2 = au[AU2], a4 = au[AU4], a6 = au[AU6], a7 = au[AU7], a9 = au[AU9], a10 = au[AU10];
  const float a12 = au[AU12], a14 = au[AU14L], a15 = au[AU15], a17 = au[AU17], a20 = au[AU20], a23 = au[AU23], a24 = au[AU24];
  const float brow = std::max(N(21, 1), N(22, 1));
  // AU1: horizontal furrows in the middle of the forehead, bowed up at the midline.
  for (float dy : {0.12f, 0.20f, 0.28f}) {
    groove({-0.30f, brow + dy - 0.015f}, {0.f, brow + dy + 0.01f}, 1.6f * mm, 0.9f * mm * a1);
    groove({0.f, brow + dy + 0.01f}, {0.30f, brow + dy - 0.015f}, 1.6f * mm, 0.9f * mm * a1);
  }
  for (float s : {-1.f, 1.f}) {
    const int b_in = s < 0 ? 21 : 22, b_out = s < 0 ? 17 : 26, b_mid = s < 0 ? 19 : 24;
    const int inner = s < 0 ? 39 : 42, outer = s < 0 ? 36 : 45, up_out = s < 0 ? 37 : 44, up_in = s < 0 ? 38 : 43;
    const int lo_out = s < 0 ? 41 : 46, lo_in = s < 0 ? 40 : 47, nose = s < 0 ? 31 : 35, corner = s < 0 ? 48 : 54;
    // AU2: lateral forehead furrows following the brow's arch.
    for (float dy : {0.10f, 0.18f, 0.26f})
      groove({s * 0.16f, brow + dy + 0.005f}, {s * 0.55f, brow + dy - 0.07f}, 1.6f * mm, 0.9f * mm * a2);
    // AU4: vertical glabellar furrows, a bulge over the inner brow and its shadow on the upper lid.
    groove({s * 0.075f, N(b_in, 1) + 0.07f}, {s * 0.05f, N(27, 1) + 0.01f}, 1.6f * mm, 1.6f * mm * a4);
    bump({0.5f * (N(b_in, 0) + N(b_mid, 0)), N(b_in, 1) - 0.01f}, {0.11f, 0.035f}, 1.6f * mm * a4);
    groove({N(up_in, 0), 0.5f * (N(b_in, 1) + N(up_in, 1))}, {N(up_out, 0), 0.5f * (N(b_mid, 1) + N(up_out, 1))}, 3.f * mm,
           1.6f * mm * a4);
    // AU6: the cheek bulge, the infraorbital furrow below the lower lid, the lid bulge, crow's feet.
    bump({0.5f * (N(lo_in, 0) + N(lo_out, 0)) + s * 0.02f, N(lo_out, 1) - 0.15f}, {0.14f, 0.09f}, 3.f * mm * a6);
    groove(off(inner, s, -0.02f, -0.075f), off(outer, s, -0.02f, -0.10f), 2.f * mm, 1.2f * mm * a6);
    bump({0.5f * (N(lo_in, 0) + N(lo_out, 0)), 0.5f * (N(lo_in, 1) + N(lo_out, 1)) - 0.035f}, {0.09f, 0.025f},
         1.1f * mm * a6 + 0.9f * mm * a7);
    for (const auto& [d0, d1] : {std::pair{0.02f, 0.06f}, std::pair{-0.005f, -0.01f}, std::pair{-0.03f, -0.08f}})
      groove(off(outer, s, 0.05f, d0), off(outer, s, 0.15f, d1), 1.2f * mm, 0.8f * mm * a6);
    // AU9: wrinkles across the sides of the nose, and the top of the nasolabial furrow.
    for (float y : {N(28, 1), N(28, 1) - 0.05f, N(29, 1) - 0.02f})
      groove({s * 0.03f, y + 0.01f}, {s * 0.11f, y - 0.025f}, 1.8f * mm, 0.7f * mm * a9);
    groove(off(nose, s, 0.05f, 0.06f), off(nose, s, 0.09f, -0.06f), 2.f * mm, 1.6f * mm * a9);
    // AU10 / AU12: the nasolabial furrow (upper part for AU10, all of it for AU12), the cheek
    // pushed up beside it (AU12).
    const V2 f0 = off(nose, s, 0.05f, 0.07f), f1 = off(nose, s, 0.10f, -0.06f), f2 = off(corner, s, 0.07f, -0.03f),
             f3 = off(corner, s, 0.06f, -0.12f);
    const float fold_up = 1.6f * mm * a10 + 2.2f * mm * a12, fold_low = 0.6f * mm * a10 + 2.2f * mm * a12;
    groove(f0, f1, 2.5f * mm, fold_up);
    groove(f1, f2, 2.5f * mm, 0.5f * (fold_up + fold_low));
    groove(f2, f3, 2.5f * mm, 0.6f * fold_low);
    bump(off(nose, s, 0.19f, -0.02f), {0.11f, 0.09f}, 2.5f * mm * a12 + 0.8f * mm * a10);
    // AU15: the corners pulled down, a short furrow and a bulge below them.
    groove(off(corner, s, 0.02f, -0.03f), off(corner, s, 0.05f, -0.14f), 1.6f * mm, 1.3f * mm * a15);
    bump(off(corner, s, 0.035f, -0.07f), {0.045f, 0.045f}, 1.f * mm * a15);
    // AU20: short horizontal lines beyond the corners.
    groove(off(corner, s, 0.03f, 0.f), off(corner, s, 0.10f, -0.02f), 1.3f * mm, 0.9f * mm * a20);
  }
  // AU14 (one-sided, the subject's left): a dimple beside the corner.
  groove({N(54, 0) + 0.05f, N(54, 1) + 0.01f}, {N(54, 0) + 0.05f, N(54, 1) + 0.01f}, 1.8f * mm, 1.6f * mm * a14);
  groove({N(54, 0) + 0.045f, N(54, 1) + 0.045f}, {N(54, 0) + 0.055f, N(54, 1) - 0.04f}, 1.4f * mm, 1.f * mm * a14);
  // AU17: the chin boss pushed up, a furrow under the lower lip, dimpling of the chin's skin.
  const float chin_y = 0.5f * (N(57, 1) + N(8, 1));
  bump({0.f, chin_y}, {0.13f, 0.08f}, 2.5f * mm * a17);
  groove({-0.09f, N(57, 1) - 0.045f}, {0.09f, N(57, 1) - 0.045f}, 1.8f * mm, 1.4f * mm * a17);
  for (float x : {-0.05f, 0.f, 0.05f})
    for (float dy : {-0.03f, 0.f, 0.03f})
      groove({x + 0.3f * dy, chin_y + dy}, {x + 0.3f * dy, chin_y + dy}, 1.2f * mm, 0.5f * mm * a17);
  // AU23 / AU24: tightened, pressed lips bulge the skin above and below them.
  bump({0.f, N(51, 1) + 0.05f}, {0.14f, 0.03f}, 0.8f * mm * a23 + 1.f * mm * a24);
  bump({0.f, N(57, 1) - 0.04f}, {0.12f, 0.03f}, 0.6f * mm * a23 + 1.f * mm * a24);
  (void)P;
}

ExpressionField::Sample ExpressionField::sample(float x, float y) const {
  Sample r;
  for (const Feature& f : features_) {
    if (x < f.lo[0] || x > f.hi[0] || y < f.lo[1] || y > f.hi[1]) continue;
    float v, gx, gy;  // height, and its gradient over the height
    if (f.kind == Feature::kBump) {
      const float dx = x - f.a[0], dy = y - f.a[1];
      const float rx2 = f.b[0] * f.b[0], ry2 = f.b[1] * f.b[1];
      v = f.amp * std::exp(-(dx * dx / rx2 + dy * dy / ry2));
      gx = -2 * dx / rx2, gy = -2 * dy / ry2;
    } else {
      // A groove along the segment, tapering to nothing at its ends.
      const float ex = f.b[0] - f.a[0], ey = f.b[1] - f.a[1], len2 = ex * ex + ey * ey;
      float t = 0.5f, taper = 1;
      if (len2 > 1e-12f) {
        t = std::clamp(((x - f.a[0]) * ex + (y - f.a[1]) * ey) / len2, 0.f, 1.f);
        taper = std::sqrt(std::max(0.f, std::sin(static_cast<float>(M_PI) * t)));
      }
      const float dx = x - (f.a[0] + t * ex), dy = y - (f.a[1] + t * ey);
      const float w2 = f.width * f.width;
      v = -f.amp * taper * std::exp(-(dx * dx + dy * dy) / w2);
      gx = -2 * dx / w2, gy = -2 * dy / w2;
      r.groove -= v;
    }
    r.h += v;
    r.hx += v * gx;
    r.hy += v * gy;
  }
  return r;
}

std::array<float, 3> ExpressionField::height(float x, float y) const {
  const Sample r = sample(x, y);
  return {r.h, r.hx, r.hy};
}

float ExpressionField::shade(float x, float y, const std::array<float, 3>& L) const {
  const Sample r = sample(x, y);
  const float groove_depth = r.groove, hx = r.hx, hy = r.hy;
  if (groove_depth == 0 && hx == 0 && hy == 0) return 1.f;
  // The perturbed normal's Lambert term against the flat one's (the renderer's light model), and
  // occlusion in the grooves (e^−10·depth: a 2 mm furrow keeps 80% of the light).
  const float inv = 1.f / std::sqrt(1.f + hx * hx + hy * hy);
  const float nl = std::max(0.f, (-hx * L[0] - hy * L[1] + L[2]) * inv), nl0 = std::max(0.f, L[2]);
  const float lam = (0.45f + 0.55f * nl) / (0.45f + 0.55f * nl0);
  return lam * std::exp(-10.f * groove_depth);
}

}  // namespace emogene::synth::detail
