// prepare's pieces that need no video: crop window, resampling, zero-lag smoothing, background
// model, masks, stretches and the pose bank. See prepare.h.
#include <Eigen/Dense>
#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>

#include "emogene/core/error.h"
#include "emogene/dataset/dataset.h"
#include "emogene/subject/prepare.h"
#include "subject/internal.h"

namespace emogene::subject {

face::Intrinsics CropWindow::apply(const face::Intrinsics& K) const {
  const double s = scale();
  return {K.fx * s, K.fy * s, (K.cx - x0) * s, (K.cy - y0) * s};
}

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  const std::size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m), v.end());
  return v[m];
}

}  // namespace

CropWindow choose_crop(const std::vector<face::Points2>& faces, int width, int height, int size) {
  if (faces.empty() || width <= 0 || height <= 0) throw internal_error("choose_crop", "no faces");
  std::vector<double> jaw, cx, ey;
  for (const auto& p : faces) {
    jaw.push_back(std::hypot(p[16][0] - p[0][0], p[16][1] - p[0][1]));
    double x = 0, y = 0;
    for (int i = 36; i < 48; ++i) x += p[static_cast<std::size_t>(i)][0], y += p[static_cast<std::size_t>(i)][1];
    cx.push_back(x / 12);
    ey.push_back(y / 12);
  }
  const double w = median(jaw);
  auto pct = [](std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(std::lround(q * static_cast<double>(v.size() - 1)))];
  };
  // The extremes of the motion (1st-99th percentile: a stray frame does not widen the window).
  const double x_lo = pct(cx, 0.01), x_hi = pct(cx, 0.99), y_lo = pct(ey, 0.01), y_hi = pct(ey, 0.99);
  // Framing: face (jaw width) 40% of the side; a head with hair is ~1.6 jaw widths wide and
  // reaches ~1.2 jaw widths above the eyes: keep that inside at every position.
  double side = std::max({w / 0.40, (x_hi - x_lo) + 2.0 * w, (y_hi - y_lo) + 2.5 * w});
  side = std::min(side, static_cast<double>(std::min(width, height)));
  CropWindow c;
  c.size = size;
  c.side = side;
  c.x0 = 0.5 * (x_lo + x_hi) - 0.5 * side;
  c.y0 = 0.5 * (y_lo + y_hi) - 0.40 * side;
  c.x0 = std::clamp(c.x0, 0.0, width - side);
  c.y0 = std::clamp(c.y0, 0.0, height - side);
  return c;
}

namespace {

// One axis of a separable resampling: for each output pixel, input indices and weights.
struct Taps {
  std::vector<int> first, count;
  std::vector<float> w;  // count[i] weights from offset[i]
  std::vector<int> offset;
};

Taps make_taps(double x0, double side, int in_size, int out_size) {
  Taps t;
  const double scale = side / out_size;  // input pixels per output pixel
  const double radius = std::max(1.0, scale);
  for (int o = 0; o < out_size; ++o) {
    const double centre = x0 + (o + 0.5) * scale;  // input continuous coordinate
    const int lo = static_cast<int>(std::floor(centre - radius - 0.5)), hi = static_cast<int>(std::ceil(centre + radius - 0.5));
    t.offset.push_back(static_cast<int>(t.w.size()));
    int n = 0;
    double sum = 0;
    std::vector<std::pair<int, double>> taps;
    for (int i = lo; i <= hi; ++i) {
      const double d = std::fabs(i + 0.5 - centre) / radius;
      if (d >= 1) continue;
      const int ic = std::clamp(i, 0, in_size - 1);
      taps.push_back({ic, 1 - d});
      sum += 1 - d;
    }
    if (taps.empty()) taps.push_back({std::clamp(static_cast<int>(centre), 0, in_size - 1), 1.0}), sum = 1;
    for (auto& [i, wt] : taps) {
      t.w.push_back(static_cast<float>(wt / sum));
      t.first.push_back(i);
      ++n;
    }
    t.count.push_back(n);
  }
  return t;
}

}  // namespace

Image resample_region(const std::uint8_t* rgb, int width, int height, double x0, double y0, double sw, double sh, int ow,
                      int oh) {
  if (sw == ow && sh == oh && x0 == std::floor(x0) && y0 == std::floor(y0) && x0 >= 0 && y0 >= 0 && x0 + ow <= width &&
      y0 + oh <= height) {  // a plain cut-out at the same scale
    Image img;
    img.width = ow, img.height = oh, img.channels = 3;
    img.pixels.resize(static_cast<std::size_t>(ow) * oh * 3);
    for (int y = 0; y < oh; ++y)
      std::copy_n(rgb + (static_cast<std::size_t>(y + static_cast<int>(y0)) * width + static_cast<std::size_t>(x0)) * 3,
                  static_cast<std::size_t>(ow) * 3, &img.pixels[static_cast<std::size_t>(y) * ow * 3]);
    return img;
  }
  Taps tx = make_taps(x0, sw, width, ow), ty = make_taps(y0, sh, height, oh);
  // Rows first (only the input rows the output needs), then columns.
  int row_lo = height, row_hi = -1;
  for (int v : ty.first) row_lo = std::min(row_lo, v), row_hi = std::max(row_hi, v);
  const int nrows = row_hi - row_lo + 1;
  std::vector<float> tmp(static_cast<std::size_t>(nrows) * ow * 3);
  for (int r = 0; r < nrows; ++r) {
    const std::uint8_t* in = rgb + static_cast<std::size_t>(r + row_lo) * width * 3;
    float* out = &tmp[static_cast<std::size_t>(r) * ow * 3];
    for (int o = 0; o < ow; ++o) {
      float a = 0, b = 0, d = 0;
      for (int k = 0; k < tx.count[static_cast<std::size_t>(o)]; ++k) {
        const int j = tx.offset[static_cast<std::size_t>(o)] + k;
        const std::uint8_t* p = in + static_cast<std::size_t>(tx.first[static_cast<std::size_t>(j)]) * 3;
        const float wt = tx.w[static_cast<std::size_t>(j)];
        a += wt * p[0], b += wt * p[1], d += wt * p[2];
      }
      out[o * 3] = a, out[o * 3 + 1] = b, out[o * 3 + 2] = d;
    }
  }
  Image img;
  img.width = ow;
  img.height = oh;
  img.channels = 3;
  img.pixels.resize(static_cast<std::size_t>(ow) * oh * 3);
  for (int o = 0; o < oh; ++o) {
    std::uint8_t* out = &img.pixels[static_cast<std::size_t>(o) * ow * 3];
    for (int x = 0; x < ow * 3; ++x) {
      float a = 0;
      for (int k = 0; k < ty.count[static_cast<std::size_t>(o)]; ++k) {
        const int j = ty.offset[static_cast<std::size_t>(o)] + k;
        a += ty.w[static_cast<std::size_t>(j)] * tmp[static_cast<std::size_t>(ty.first[static_cast<std::size_t>(j)] - row_lo) * ow * 3 + x];
      }
      out[x] = static_cast<std::uint8_t>(std::clamp(a, 0.f, 255.f) + 0.5f);  // round half up (a >= 0)
    }
  }
  return img;
}

Image crop_resample(const std::uint8_t* rgb, int width, int height, const CropWindow& c) {
  return resample_region(rgb, width, height, c.x0, c.y0, c.side, c.side, c.size, c.size);
}

std::vector<double> smooth_zero_lag(const std::vector<double>& x, int dim, int half) {
  if (dim <= 0 || x.size() % static_cast<std::size_t>(dim)) throw internal_error("smooth_zero_lag", "bad dimensions");
  const auto T = static_cast<int>(x.size() / static_cast<std::size_t>(dim));
  std::vector<double> y(x.size());
  std::vector<double> wts;
  for (int t = 0; t < T; ++t) {
    const int a = std::max(0, t - half), b = std::min(T - 1, t + half), n = b - a + 1;
    // Weights of the local polynomial fit's value at t: w = e0ᵀ (AᵀA)⁻¹ Aᵀ, A = [1, s, s²].
    const int order = std::min(2, n - 1);
    Eigen::MatrixXd A(n, order + 1);
    for (int k = 0; k < n; ++k) {
      const double s = a + k - t;
      for (int c = 0; c <= order; ++c) A(k, c) = std::pow(s, c);
    }
    const Eigen::MatrixXd AtA = A.transpose() * A;
    const Eigen::VectorXd e0 = Eigen::VectorXd::Unit(order + 1, 0);
    const Eigen::VectorXd w = A * AtA.ldlt().solve(e0);
    for (int d = 0; d < dim; ++d) {
      double v = 0;
      for (int k = 0; k < n; ++k) v += w(k) * x[static_cast<std::size_t>(a + k) * dim + d];
      y[static_cast<std::size_t>(t) * dim + d] = v;
    }
  }
  return y;
}

std::vector<float> smooth_poses(const std::vector<float>& poses, int half) {
  const std::size_t T = poses.size() / 16;
  std::vector<double> q(T * 7);
  Eigen::Quaterniond prev(1, 0, 0, 0);
  for (std::size_t t = 0; t < T; ++t) {
    face::HeadPose P = face::HeadPose::from_matrix(&poses[t * 16]);
    Eigen::Quaterniond r(P.R);
    if (t > 0 && r.coeffs().dot(prev.coeffs()) < 0) r.coeffs() = -r.coeffs();
    prev = r;
    for (int k = 0; k < 4; ++k) q[t * 7 + static_cast<std::size_t>(k)] = r.coeffs()(k);
    for (int k = 0; k < 3; ++k) q[t * 7 + 4 + static_cast<std::size_t>(k)] = P.t(k);
  }
  std::vector<double> s = smooth_zero_lag(q, 7, half);
  std::vector<float> out(poses.size());
  for (std::size_t t = 0; t < T; ++t) {
    Eigen::Quaterniond r;
    r.coeffs() << s[t * 7], s[t * 7 + 1], s[t * 7 + 2], s[t * 7 + 3];
    r.normalize();
    face::HeadPose P;
    P.R = r.toRotationMatrix();
    P.t = Eigen::Vector3d(s[t * 7 + 4], s[t * 7 + 5], s[t * 7 + 6]);
    auto m = P.matrix();
    std::copy(m.begin(), m.end(), out.begin() + static_cast<std::ptrdiff_t>(t * 16));
  }
  return out;
}

namespace {

// Fills the pixels with weight 0 from the others: a pyramid of weighted 2×2 averages, then each
// level's unknown pixels take the coarser level's value (push-pull).
void push_pull(std::vector<float>& val, std::vector<float>& wt, int w, int h, int ch) {
  if (w <= 1 && h <= 1) return;
  const int w2 = (w + 1) / 2, h2 = (h + 1) / 2;
  std::vector<float> v2(static_cast<std::size_t>(w2) * h2 * ch, 0.f), k2(static_cast<std::size_t>(w2) * h2, 0.f);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * w + x, j = static_cast<std::size_t>(y / 2) * w2 + x / 2;
      k2[j] += wt[i];
      for (int c = 0; c < ch; ++c) v2[j * ch + c] += wt[i] * val[i * ch + c];
    }
  for (std::size_t j = 0; j < k2.size(); ++j)
    if (k2[j] > 0) {
      for (int c = 0; c < ch; ++c) v2[j * ch + c] /= k2[j];
      k2[j] = std::min(1.f, k2[j]);
    }
  bool any_missing = false;
  for (float k : k2) any_missing |= k <= 0;
  if (any_missing) push_pull(v2, k2, w2, h2, ch);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * w + x;
      if (wt[i] > 0) continue;
      // Bilinear from the coarse level (centres at (2j + 1) / 2 in fine pixels).
      const float fx = std::clamp((x + 0.5f) / 2 - 0.5f, 0.f, static_cast<float>(w2 - 1));
      const float fy = std::clamp((y + 0.5f) / 2 - 0.5f, 0.f, static_cast<float>(h2 - 1));
      const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
      const int x1 = std::min(x0 + 1, w2 - 1), y1 = std::min(y0 + 1, h2 - 1);
      const float ax = fx - x0, ay = fy - y0;
      for (int c = 0; c < ch; ++c) {
        auto at = [&](int xx, int yy) { return v2[(static_cast<std::size_t>(yy) * w2 + xx) * ch + c]; };
        val[i * ch + c] = (1 - ay) * ((1 - ax) * at(x0, y0) + ax * at(x1, y0)) + ay * ((1 - ax) * at(x0, y1) + ax * at(x1, y1));
      }
      wt[i] = 1;
    }
}

}  // namespace

Image estimate_background(const std::vector<Image>& frames, const std::vector<Image>& prior, std::vector<std::uint8_t>* seen) {
  if (frames.empty() || frames.size() != prior.size()) throw internal_error("estimate_background", "no frames");
  const int W = frames[0].width, H = frames[0].height;
  const std::size_t N = static_cast<std::size_t>(W) * H;
  std::vector<float> val(N * 3, 0.f), wt(N, 0.f);
  std::vector<std::uint8_t> buf[3];
  for (std::size_t i = 0; i < N; ++i) {
    for (auto& b : buf) b.clear();
    for (std::size_t f = 0; f < frames.size(); ++f) {
      if (prior[f].pixels[i]) continue;
      for (int c = 0; c < 3; ++c) buf[c].push_back(frames[f].pixels[i * 3 + static_cast<std::size_t>(c)]);
    }
    if (buf[0].empty()) continue;
    for (int c = 0; c < 3; ++c) {
      auto mid = buf[c].begin() + static_cast<std::ptrdiff_t>(buf[c].size() / 2);
      std::nth_element(buf[c].begin(), mid, buf[c].end());
      val[i * 3 + static_cast<std::size_t>(c)] = *mid;
    }
    wt[i] = 1;
  }
  if (seen) {
    seen->assign(N, 0);
    for (std::size_t i = 0; i < N; ++i) (*seen)[i] = wt[i] > 0;
  }
  bool any = false;
  for (float k : wt) any |= k > 0;
  if (!any) std::fill(val.begin(), val.end(), 128.f), std::fill(wt.begin(), wt.end(), 1.f);
  push_pull(val, wt, W, H, 3);
  Image bg;
  bg.width = W, bg.height = H, bg.channels = 3;
  bg.pixels.resize(N * 3);
  for (std::size_t i = 0; i < N * 3; ++i) bg.pixels[i] = static_cast<std::uint8_t>(std::clamp(std::lround(val[i]), 0L, 255L));
  return bg;
}

std::vector<Eigen::Vector2f> convex_hull(std::vector<Eigen::Vector2f> p) {
  std::sort(p.begin(), p.end(), [](const Eigen::Vector2f& a, const Eigen::Vector2f& b) {
    return a.x() < b.x() || (a.x() == b.x() && a.y() < b.y());
  });
  if (p.size() < 3) return p;
  auto cross = [](const Eigen::Vector2f& o, const Eigen::Vector2f& a, const Eigen::Vector2f& b) {
    return (a.x() - o.x()) * (b.y() - o.y()) - (a.y() - o.y()) * (b.x() - o.x());
  };
  std::vector<Eigen::Vector2f> h(2 * p.size());
  std::size_t k = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    while (k >= 2 && cross(h[k - 2], h[k - 1], p[i]) <= 0) --k;
    h[k++] = p[i];
  }
  for (std::size_t i = p.size() - 1, t = k + 1; i > 0; --i) {
    while (k >= t && cross(h[k - 2], h[k - 1], p[i - 1]) <= 0) --k;
    h[k++] = p[i - 1];
  }
  h.resize(k - 1);
  return h;
}

void fill_polygon(std::vector<std::uint8_t>& m, int W, int H, const std::vector<Eigen::Vector2f>& poly, std::uint8_t value) {
  if (poly.size() < 3) return;
  std::vector<float> xs;
  for (int y = 0; y < H; ++y) {
    const float yc = y + 0.5f;
    xs.clear();
    for (std::size_t i = 0; i < poly.size(); ++i) {
      const Eigen::Vector2f& a = poly[i];
      const Eigen::Vector2f& b = poly[(i + 1) % poly.size()];
      if ((a.y() <= yc) == (b.y() <= yc)) continue;
      xs.push_back(a.x() + (yc - a.y()) / (b.y() - a.y()) * (b.x() - a.x()));
    }
    std::sort(xs.begin(), xs.end());
    for (std::size_t k = 0; k + 1 < xs.size(); k += 2) {
      const int x0 = std::max(0, static_cast<int>(std::ceil(xs[k] - 0.5f)));
      const int x1 = std::min(W - 1, static_cast<int>(std::floor(xs[k + 1] - 0.5f)));
      for (int x = x0; x <= x1; ++x) m[static_cast<std::size_t>(y) * W + x] = value;
    }
  }
}

Image make_mask(const Image& frame, const Image& bg, const std::vector<Eigen::Vector2f>& face_hull,
                const std::vector<Eigen::Vector2f>& head_region, float chin_v) {
  const int W = frame.width, H = frame.height;
  const std::size_t N = static_cast<std::size_t>(W) * H;
  std::vector<std::uint8_t> fg(N), head(N, 0), face(N, 0), out(N, 0);
  for (std::size_t i = 0; i < N; ++i) {
    int d = 0, s = 0;
    for (int c = 0; c < 3; ++c) {
      const int e = std::abs(static_cast<int>(frame.pixels[i * 3 + static_cast<std::size_t>(c)]) - bg.pixels[i * 3 + static_cast<std::size_t>(c)]);
      d = std::max(d, e);
      s += e;
    }
    fg[i] = d > 22 || s > 40;
  }
  // A 3×3 majority vote removes isolated specks (compression noise) and fills pinholes. The 3×3
  // count (edges replicated) as a row pass then a column pass.
  std::vector<std::uint8_t> rows(N), clean(N);
  for (int y = 0; y < H; ++y) {
    const std::uint8_t* f = &fg[static_cast<std::size_t>(y) * W];
    std::uint8_t* r = &rows[static_cast<std::size_t>(y) * W];
    for (int x = 0; x < W; ++x) r[x] = static_cast<std::uint8_t>(f[std::max(x - 1, 0)] + f[x] + f[std::min(x + 1, W - 1)]);
  }
  for (int y = 0; y < H; ++y) {
    const std::uint8_t* a = &rows[static_cast<std::size_t>(std::max(y - 1, 0)) * W];
    const std::uint8_t* b = &rows[static_cast<std::size_t>(y) * W];
    const std::uint8_t* c = &rows[static_cast<std::size_t>(std::min(y + 1, H - 1)) * W];
    std::uint8_t* o = &clean[static_cast<std::size_t>(y) * W];
    for (int x = 0; x < W; ++x) o[x] = a[x] + b[x] + c[x] >= 5;
  }
  fill_polygon(head, W, H, head_region, 1);
  fill_polygon(face, W, H, face_hull, 1);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * W + x;
      if (face[i] || (head[i] && clean[i] && y + 0.5f <= chin_v)) out[i] = 2;
      else if (clean[i] && y + 0.5f > chin_v - 0.05f * H) out[i] = 1;
    }
  Image m;
  m.width = W, m.height = H, m.channels = 1;
  m.pixels = std::move(out);
  return m;
}

std::vector<Stretch> stretches(const std::vector<std::uint8_t>& mask, std::uint8_t value, std::int64_t min_frames) {
  std::vector<Stretch> out;
  const auto T = static_cast<std::int64_t>(mask.size());
  for (std::int64_t t = 0; t < T;) {
    if (mask[static_cast<std::size_t>(t)] != value) {
      ++t;
      continue;
    }
    std::int64_t e = t;
    while (e < T && mask[static_cast<std::size_t>(e)] == value) ++e;
    if (e - t >= min_frames) out.push_back({t, e - t});
    t = e;
  }
  return out;
}

PoseBank PoseBank::from_dataset(const dataset::Dataset& ds, double min_stretch_seconds) {
  PoseBank b;
  b.fps = ds.meta().fps;
  const auto min_frames = std::max<std::int64_t>(1, std::llround(min_stretch_seconds * b.fps));
  std::vector<std::size_t> order(ds.meta().clips.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t c) { return ds.meta().clips[a].start < ds.meta().clips[c].start; });
  double end_prev = -1;
  for (std::size_t i : order) {
    dataset::ClipData d = ds.load_clip(i, false);
    const std::int64_t off = b.frames();
    const bool contiguous = std::fabs(ds.meta().clips[i].start - end_prev) < 0.5 / b.fps;
    b.poses.insert(b.poses.end(), d.poses.begin(), d.poses.end());
    b.idle.insert(b.idle.end(), d.idle.begin(), d.idle.end());
    // Stretches of this clip, merged with the previous clip's last one when the take runs on.
    for (std::uint8_t v : {std::uint8_t{1}, std::uint8_t{0}}) {
      auto& list = v ? b.idle_stretches : b.speech_stretches;
      for (Stretch s : stretches(d.idle, v, 1)) {
        s.first += off;
        if (contiguous && !list.empty() && list.back().first + list.back().count == s.first) list.back().count += s.count;
        else list.push_back(s);
      }
    }
    end_prev = ds.meta().clips[i].start + ds.meta().clips[i].duration;
  }
  for (auto* list : {&b.idle_stretches, &b.speech_stretches})
    list->erase(std::remove_if(list->begin(), list->end(), [&](const Stretch& s) { return s.count < min_frames; }), list->end());
  return b;
}

}  // namespace emogene::subject
