// PSNR, SSIM and the face and mouth boxes (image_metrics.h).
#include "emogene/eval/image_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "emogene/core/error.h"

namespace emogene::eval {

namespace {

constexpr const char* kWhere = "image metrics";

struct Extent {
  float lx, ly, hx, hy;
};

Extent extent(const std::vector<Eigen::Vector2f>& p, int first, int last) {
  check_input(static_cast<int>(p.size()) >= last, kWhere, "boxes need the 68 landmarks");
  Extent e{std::numeric_limits<float>::max(), std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
           -std::numeric_limits<float>::max()};
  for (int i = first; i < last; ++i) {
    const Eigen::Vector2f& q = p[static_cast<std::size_t>(i)];
    e.lx = std::min(e.lx, q.x());
    e.hx = std::max(e.hx, q.x());
    e.ly = std::min(e.ly, q.y());
    e.hy = std::max(e.hy, q.y());
  }
  return e;
}

Box grown(const Extent& e, double gx, double gy, int width, int height) {
  Box b;
  b.x0 = std::clamp(static_cast<int>(std::floor(e.lx - gx)), 0, width);
  b.x1 = std::clamp(static_cast<int>(std::ceil(e.hx + gx)), 0, width);
  b.y0 = std::clamp(static_cast<int>(std::floor(e.ly - gy)), 0, height);
  b.y1 = std::clamp(static_cast<int>(std::ceil(e.hy + gy)), 0, height);
  return b;
}

void check_pair(const Image& a, const Image& b, const Box& box) {
  check_input(a.width == b.width && a.height == b.height && a.channels == 3 && b.channels == 3, kWhere,
              "images must be RGB of the same size");
  check_input(box.x0 >= 0 && box.y0 >= 0 && box.x1 <= a.width && box.y1 <= a.height && !box.empty(), kWhere,
              "the box must be a non-empty part of the frame");
}

}  // namespace

Box whole_frame(int width, int height) { return {0, 0, width, height}; }

Box face_box(const std::vector<Eigen::Vector2f>& p, int width, int height) {
  const Extent f = extent(p, 0, 68);
  return grown(f, 0.1 * (f.hx - f.lx), 0.1 * (f.hy - f.ly), width, height);
}

Box mouth_box(const std::vector<Eigen::Vector2f>& p, int width, int height) {
  const Extent f = extent(p, 0, 68);
  return grown(extent(p, 48, 68), 0.1 * (f.hx - f.lx), 0.1 * (f.hy - f.ly), width, height);
}

Box eyes_box(const std::vector<Eigen::Vector2f>& p, int width, int height) {
  const Extent f = extent(p, 0, 68);
  return grown(extent(p, 36, 48), 0.05 * (f.hx - f.lx), 0.05 * (f.hy - f.ly), width, height);
}

double mse(const Image& a, const Image& b, const Box& box) {
  check_pair(a, b, box);
  double s = 0;
  for (int y = box.y0; y < box.y1; ++y) {
    const std::size_t row = static_cast<std::size_t>(y) * static_cast<std::size_t>(a.width) * 3;
    for (int x = box.x0 * 3; x < box.x1 * 3; ++x) {
      const double d = (static_cast<double>(a.pixels[row + static_cast<std::size_t>(x)]) -
                        static_cast<double>(b.pixels[row + static_cast<std::size_t>(x)])) / 255.0;
      s += d * d;
    }
  }
  return s / (3.0 * box.width() * box.height());
}

double psnr(const Image& a, const Image& b, const Box& box) {
  const double m = mse(a, b, box);
  return m <= 1e-10 ? 100.0 : -10.0 * std::log10(m);
}

double ssim(const Image& a, const Image& b, const Box& box) {
  check_pair(a, b, box);
  constexpr int kWin = 7;
  const int W = box.width(), H = box.height();
  if (W < kWin || H < kWin) return std::numeric_limits<double>::quiet_NaN();
  auto luma = [&](const Image& im) {
    std::vector<double> l(static_cast<std::size_t>(W) * static_cast<std::size_t>(H));
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        const std::size_t i = (static_cast<std::size_t>(y + box.y0) * static_cast<std::size_t>(im.width) +
                               static_cast<std::size_t>(x + box.x0)) * 3;
        l[static_cast<std::size_t>(y) * static_cast<std::size_t>(W) + static_cast<std::size_t>(x)] =
            (0.299 * im.pixels[i] + 0.587 * im.pixels[i + 1] + 0.114 * im.pixels[i + 2]) / 255.0;
      }
    return l;
  };
  const std::vector<double> la = luma(a), lb = luma(b);
  const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03, n = kWin * kWin, cov_norm = n / (n - 1);
  double total = 0;
  std::int64_t count = 0;
  for (int y = 0; y + kWin <= H; ++y)
    for (int x = 0; x + kWin <= W; ++x) {
      double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
      for (int dy = 0; dy < kWin; ++dy)
        for (int dx = 0; dx < kWin; ++dx) {
          const std::size_t i = static_cast<std::size_t>(y + dy) * static_cast<std::size_t>(W) + static_cast<std::size_t>(x + dx);
          sa += la[i];
          sb += lb[i];
          saa += la[i] * la[i];
          sbb += lb[i] * lb[i];
          sab += la[i] * lb[i];
        }
      const double ma = sa / n, mb = sb / n;
      const double va = cov_norm * (saa / n - ma * ma), vb = cov_norm * (sbb / n - mb * mb),
                   vab = cov_norm * (sab / n - ma * mb);
      total += ((2 * ma * mb + c1) * (2 * vab + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      ++count;
    }
  return total / static_cast<double>(count);
}

void PsnrAccumulator::add(double frame_mse) {
  sum_mse += frame_mse;
  sum_psnr += frame_mse <= 1e-10 ? 100.0 : -10.0 * std::log10(frame_mse);
  ++frames;
}

double PsnrAccumulator::psnr_of_mean() const {
  if (frames == 0) return 0;
  const double m = sum_mse / static_cast<double>(frames);
  return m <= 1e-10 ? 100.0 : -10.0 * std::log10(m);
}

double PsnrAccumulator::mean_psnr() const { return frames ? sum_psnr / static_cast<double>(frames) : 0; }

}  // namespace emogene::eval
