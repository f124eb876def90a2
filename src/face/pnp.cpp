// Head pose by PnP: Levenberg–Marquardt on the reprojection error with Huber weights (IRLS), a
// weak-perspective start, and the clip-level MAP focal length. See pnp.h.
#include "emogene/face/pnp.h"

#include <Eigen/Dense>
#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <limits>

namespace emogene::face {

namespace {

using Eigen::Matrix3d;
using Eigen::Vector2d;
using Eigen::Vector3d;

Matrix3d skew(const Vector3d& v) {
  Matrix3d m;
  m << 0, -v.z(), v.y(), v.z(), 0, -v.x(), -v.y(), v.x(), 0;
  return m;
}

Matrix3d exp_so3(const Vector3d& w) {
  const double a = w.norm();
  if (a < 1e-12) return Matrix3d::Identity() + skew(w);
  return Eigen::AngleAxisd(a, w / a).toRotationMatrix();
}

double iod_px(const Points2& uv) {
  return std::hypot(uv[36][0] - uv[45][0], uv[36][1] - uv[45][1]);
}

// d(u, v)/d(p_cam) of the pinhole projection at camera point p (w = -p.z).
Eigen::Matrix<double, 2, 3> projection_jacobian(const Vector3d& p, const Intrinsics& K) {
  const double w = -p.z();
  Eigen::Matrix<double, 2, 3> d;
  d << K.fx / w, 0, K.fx * p.x() / (w * w), 0, -K.fy / w, -K.fy * p.y() / (w * w);
  return d;
}

// d(p_cam)/d(ω, t) for the left perturbation R ← exp(ω) R, t ← t + δt, at RX = R X.
Eigen::Matrix<double, 3, 6> pose_jacobian(const Vector3d& RX) {
  Eigen::Matrix<double, 3, 6> d;
  d.leftCols<3>() = -skew(RX);
  d.rightCols<3>() = Matrix3d::Identity();
  return d;
}

// Huber cost of the reprojection residuals and, optionally, the normal equations of the
// IRLS-weighted Gauss-Newton step in (ω, t) (left perturbation R ← exp(ω) R).
double evaluate(const Points2& uv, const landmarks::Shape& X, const Intrinsics& K, const HeadPose& P, int first,
                const std::vector<double>& pw, double delta, Eigen::Matrix<double, 6, 6>* JtJ, Eigen::Matrix<double, 6, 1>* Jtr, bool* in_front) {
  double cost = 0;
  if (JtJ) JtJ->setZero();
  if (Jtr) Jtr->setZero();
  if (in_front) *in_front = true;
  for (int i = first; i < landmarks::kPoints; ++i) {
    const Vector3d Xi(X(i, 0), X(i, 1), X(i, 2));
    const Vector3d RX = P.R * Xi;
    const Vector3d p = RX + P.t;
    const double w = -p.z();
    if (!(w > 1e-6)) {
      if (in_front) *in_front = false;
      return std::numeric_limits<double>::infinity();
    }
    const Vector2d r(K.cx + K.fx * p.x() / w - uv[static_cast<std::size_t>(i)][0],
                     K.cy - K.fy * p.y() / w - uv[static_cast<std::size_t>(i)][1]);
    const double e = r.norm(), pwi = pw[static_cast<std::size_t>(i)];
    if (pwi <= 0) continue;
    const double wt = pwi * (e <= delta ? 1.0 : delta / e);
    cost += pwi * (e <= delta ? 0.5 * e * e : delta * (e - 0.5 * delta));
    if (!JtJ) continue;
    const Eigen::Matrix<double, 2, 6> J = projection_jacobian(p, K) * pose_jacobian(RX);
    *JtJ += wt * J.transpose() * J;
    *Jtr += wt * J.transpose() * r;
  }
  return cost;
}

PnpResult lm(const Points2& uv, const landmarks::Shape& X, const Intrinsics& K, HeadPose P, const PnpOptions& opt) {
  const double delta = std::max(1e-3, opt.huber * iod_px(uv));
  const std::vector<double>& pw = opt.weights.size() == 68 ? opt.weights : pnp_point_weights();
  Eigen::Matrix<double, 6, 6> A;
  Eigen::Matrix<double, 6, 1> g;
  bool front = true;
  double cost = evaluate(uv, X, K, P, opt.first_point, pw, delta, &A, &g, &front);
  PnpResult res;
  if (!std::isfinite(cost)) return res;
  double lambda = 1e-3;
  int it = 0;
  for (; it < opt.max_iterations; ++it) {
    bool improved = false;
    for (int tries = 0; tries < 10 && !improved; ++tries) {
      Eigen::Matrix<double, 6, 6> H = A;
      for (int k = 0; k < 6; ++k) H(k, k) += lambda * std::max(A(k, k), 1e-9);
      const Eigen::Matrix<double, 6, 1> step = -H.ldlt().solve(g);
      HeadPose Q;
      Q.R = exp_so3(step.head<3>()) * P.R;
      Q.t = P.t + step.tail<3>();
      Eigen::Matrix<double, 6, 6> A2;
      Eigen::Matrix<double, 6, 1> g2;
      const double c2 = evaluate(uv, X, K, Q, opt.first_point, pw, delta, &A2, &g2, &front);
      if (std::isfinite(c2) && c2 < cost) {
        const double rel = (cost - c2) / std::max(cost, 1e-12);
        P = Q, A = A2, g = g2, cost = c2;
        lambda = std::max(lambda / 4, 1e-9);
        improved = true;
        if (rel < 1e-9 || step.norm() < 1e-10) {
          it = opt.max_iterations;  // converged
          break;
        }
      } else {
        lambda *= 8;
      }
    }
    if (!improved) break;
  }
  // Re-orthonormalise (accumulated products drift by rounding only).
  Eigen::JacobiSVD<Matrix3d> svd(P.R, Eigen::ComputeFullU | Eigen::ComputeFullV);
  P.R = svd.matrixU() * svd.matrixV().transpose();
  double ss = 0;
  int n = 0;
  for (int i = opt.first_point; i < landmarks::kPoints; ++i) {
    const Vector3d p = P.R * Vector3d(X(i, 0), X(i, 1), X(i, 2)) + P.t;
    const Vector2d q = project(p, K);
    ss += (q - Vector2d(uv[static_cast<std::size_t>(i)][0], uv[static_cast<std::size_t>(i)][1])).squaredNorm();
    ++n;
  }
  res.pose = P;
  res.rms = std::sqrt(ss / std::max(n, 1));
  res.rms_iod = res.rms / std::max(iod_px(uv), 1e-9);
  res.iterations = std::min(it, opt.max_iterations);
  res.ok = front && P.t.z() < 0;
  return res;
}

// Scaled-orthographic start: an affine fit of the centred model to the centred normalised image
// points, its rows orthonormalised into the first two rows of R; depth from the scale.
HeadPose weak_perspective(const Points2& uv, const landmarks::Shape& X, const Intrinsics& K, int first) {
  const int n = landmarks::kPoints - first;
  Eigen::MatrixXd M(n, 3), Y(n, 2);
  Vector3d mX = Vector3d::Zero();
  Vector2d my = Vector2d::Zero();
  for (int i = first; i < landmarks::kPoints; ++i) {
    mX += Vector3d(X(i, 0), X(i, 1), X(i, 2));
    my += Vector2d((uv[static_cast<std::size_t>(i)][0] - K.cx) / K.fx, -(uv[static_cast<std::size_t>(i)][1] - K.cy) / K.fy);
  }
  mX /= n, my /= n;
  for (int i = first; i < landmarks::kPoints; ++i) {
    M.row(i - first) = Vector3d(X(i, 0), X(i, 1), X(i, 2)) - mX;
    Y.row(i - first) =
        Vector2d((uv[static_cast<std::size_t>(i)][0] - K.cx) / K.fx, -(uv[static_cast<std::size_t>(i)][1] - K.cy) / K.fy) - my;
  }
  const Eigen::Matrix<double, 3, 2> A = M.colPivHouseholderQr().solve(Y);  // Y ≈ M A
  Vector3d a1 = A.col(0), a2 = A.col(1);
  const double s = 0.5 * (a1.norm() + a2.norm());
  HeadPose P;
  if (!(s > 1e-9) || !std::isfinite(s)) return P;
  Vector3d r1 = a1.normalized();
  Vector3d r2 = (a2 - r1.dot(a2) * r1).normalized();
  Vector3d r3 = r1.cross(r2);
  P.R.row(0) = r1;
  P.R.row(1) = r2;
  P.R.row(2) = r3;
  const double d = 1.0 / s;
  P.t = Vector3d(my.x() * d - r1.dot(mX), my.y() * d - r2.dot(mX), -d - r3.dot(mX));
  return P;
}

}  // namespace

const std::vector<double>& pnp_point_weights() {
  static const std::vector<double> w = [] {
    std::vector<double> v(68, 0.0);
    for (int i = 17; i < 27; ++i) v[static_cast<std::size_t>(i)] = 0.3;
    for (int i = 27; i < 48; ++i) v[static_cast<std::size_t>(i)] = 1.0;
    // The nose ridge points are spaced along the ridge, not anatomical fixed points: they slide.
    for (int i = 27; i < 30; ++i) v[static_cast<std::size_t>(i)] = 0.2;
    for (int i = 48; i < 68; ++i) v[static_cast<std::size_t>(i)] = 0.25;
    return v;
  }();
  return w;
}

std::array<float, 16> HeadPose::matrix() const {
  std::array<float, 16> m{};
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) m[static_cast<std::size_t>(r * 4 + c)] = static_cast<float>(R(r, c));
    m[static_cast<std::size_t>(r * 4 + 3)] = static_cast<float>(t(r));
  }
  m[15] = 1;
  return m;
}

HeadPose HeadPose::from_matrix(const float* m) {
  HeadPose P;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) P.R(r, c) = m[r * 4 + c];
    P.t(r) = m[r * 4 + 3];
  }
  return P;
}

Eigen::Vector2d project(const Eigen::Vector3d& p, const Intrinsics& K) {
  const double w = -p.z();
  return {K.cx + K.fx * p.x() / w, K.cy - K.fy * p.y() / w};
}

PnpResult solve_pnp(const Points2& uv, const landmarks::Shape& model, const Intrinsics& K, const HeadPose* init,
                    const PnpOptions& opt) {
  if (init) {
    PnpResult r = lm(uv, model, K, *init, opt);
    if (r.ok) return r;
  }
  HeadPose wp = weak_perspective(uv, model, K, opt.first_point);
  PnpResult best = lm(uv, model, K, wp, opt);
  // A frontal start at the weak-perspective translation guards against the depth-flip ambiguity
  // of the scaled-orthographic fit.
  HeadPose fr;
  fr.t = wp.t;
  PnpResult alt = lm(uv, model, K, fr, opt);
  if (alt.ok && (!best.ok || alt.rms < best.rms)) best = alt;
  return best;
}

double focal_prior(int width, int height) { return 2.0 * std::max(width, height); }

FocalFit refine_focal(const std::vector<Points2>& frames, const landmarks::Shape& model, double cx, double cy,
                      double prior, double prior_log_std, int max_frames, double correlation) {
  FocalFit fit;
  fit.prior = prior;
  fit.focal = prior;
  fit.posterior_log_std = prior_log_std;
  fit.data_log_std = std::numeric_limits<double>::infinity();
  if (frames.empty() || !(prior > 0)) return fit;
  std::vector<const Points2*> use;
  const std::size_t n = frames.size(), m = std::min<std::size_t>(n, static_cast<std::size_t>(std::max(1, max_frames)));
  for (std::size_t k = 0; k < m; ++k) use.push_back(&frames[k * n / m]);
  fit.frames_used = static_cast<int>(use.size());
  PnpOptions opt;
  std::vector<HeadPose> warm(use.size());
  std::vector<bool> have(use.size(), false);
  // Sum of squared reprojection residuals over the frames at focal f (poses re-solved per frame).
  std::size_t residuals = 0;
  auto data_cost = [&](double f) {
    Intrinsics K{f, f, cx, cy};
    double c = 0;
    residuals = 0;
    for (std::size_t k = 0; k < use.size(); ++k) {
      PnpResult r = solve_pnp(*use[k], model, K, have[k] ? &warm[k] : nullptr, opt);
      if (!r.ok) continue;
      if (!have[k]) warm[k] = r.pose, have[k] = true;
      // Clamp outlier frames (a failed track) so one cannot pull the focal length.
      const double rr = std::min(r.rms_iod, 0.1) * iod_px(*use[k]);
      c += rr * rr * (landmarks::kPoints - opt.first_point) * 2;
      residuals += static_cast<std::size_t>(landmarks::kPoints - opt.first_point) * 2;
    }
    return c;
  };
  const double l0 = std::log(prior);
  const double c0 = data_cost(prior);
  if (residuals == 0) return fit;
  const double sigma2 = std::max(c0 / static_cast<double>(residuals), 1e-6);
  auto data_term = [&](double lf) { return data_cost(std::exp(lf)) / (2 * sigma2 * correlation); };
  auto objective = [&](double lf) {
    const double d = (lf - l0) / prior_log_std;
    return data_term(lf) + 0.5 * d * d;
  };
  // Golden-section search over log f.
  double a = l0 - 3 * prior_log_std, b = l0 + 3 * prior_log_std;
  const double gr = 0.5 * (std::sqrt(5.0) - 1);
  double x1 = b - gr * (b - a), x2 = a + gr * (b - a);
  double f1 = objective(x1), f2 = objective(x2);
  while (b - a > 2e-3) {
    if (f1 < f2) {
      b = x2, x2 = x1, f2 = f1;
      x1 = b - gr * (b - a);
      f1 = objective(x1);
    } else {
      a = x1, x1 = x2, f1 = f2;
      x2 = a + gr * (b - a);
      f2 = objective(x2);
    }
  }
  const double lf = 0.5 * (a + b);
  fit.focal = std::exp(lf);
  // Curvatures by central differences: posterior and data alone.
  const double h = 0.05;
  const double dm = data_term(lf - h), d0 = data_term(lf), dp = data_term(lf + h);
  const double data_curv = (dp - 2 * d0 + dm) / (h * h);
  const double post_curv = data_curv + 1 / (prior_log_std * prior_log_std);
  fit.data_log_std = data_curv > 1e-12 ? 1 / std::sqrt(data_curv) : std::numeric_limits<double>::infinity();
  fit.posterior_log_std = post_curv > 1e-12 ? 1 / std::sqrt(post_curv) : prior_log_std;
  return fit;
}

namespace {

// Per-frame blocks of the identity fit's normal equations (scaled by the frame's 1/σ² and 1/N).
struct FrameBlocks {
  Eigen::Matrix<double, 6, 6> A;
  Eigen::Matrix<double, 6, landmarks::kProportions> B;
  Eigen::Matrix<double, landmarks::kProportions, landmarks::kProportions> C;
  Eigen::Matrix<double, 6, 1> gp;
  Eigen::Matrix<double, landmarks::kProportions, 1> gz;
};

using ShapeJacobian = std::array<Eigen::Matrix<double, 3, landmarks::kProportions>, landmarks::kPoints>;

// d(point)/d(score) by central differences (the model is nearly linear in the scores).
ShapeJacobian shape_jacobian(const landmarks::ProportionScores& z) {
  ShapeJacobian J;
  const float h = 0.05f;
  for (int k = 0; k < landmarks::kProportions; ++k) {
    landmarks::ProportionScores a = z, b = z;
    a[static_cast<std::size_t>(k)] += h;
    b[static_cast<std::size_t>(k)] -= h;
    const landmarks::Shape sa = landmarks::apply_proportions(a), sb = landmarks::apply_proportions(b);
    for (int i = 0; i < landmarks::kPoints; ++i)
      for (int c = 0; c < 3; ++c) J[static_cast<std::size_t>(i)](c, k) = (static_cast<double>(sa(i, c)) - sb(i, c)) / (2.0 * h);
  }
  return J;
}

// One frame's Huber cost (already scaled) and, with `blk`, its blocks.
double frame_cost(const Points2& uv, const landmarks::Shape& X, const ShapeJacobian* dX, const Intrinsics& K, const HeadPose& P,
                  const PnpOptions& opt, const std::vector<double>& pw, double scale, double delta, FrameBlocks* blk) {
  double cost = 0;
  if (blk) {
    blk->A.setZero();
    blk->B.setZero();
    blk->C.setZero();
    blk->gp.setZero();
    blk->gz.setZero();
  }
  for (int i = opt.first_point; i < landmarks::kPoints; ++i) {
    const double pwi = pw[static_cast<std::size_t>(i)];
    if (pwi <= 0) continue;
    const Vector3d RX = P.R * Vector3d(X(i, 0), X(i, 1), X(i, 2));
    const Vector3d p = RX + P.t;
    const double w = -p.z();
    if (!(w > 1e-6)) return std::numeric_limits<double>::infinity();
    const Vector2d r(K.cx + K.fx * p.x() / w - uv[static_cast<std::size_t>(i)][0], K.cy - K.fy * p.y() / w - uv[static_cast<std::size_t>(i)][1]);
    const double e = r.norm();
    cost += scale * pwi * (e <= delta ? 0.5 * e * e : delta * (e - 0.5 * delta));
    if (!blk) continue;
    const double wt = scale * pwi * (e <= delta ? 1.0 : delta / e);
    const Eigen::Matrix<double, 2, 3> dproj = projection_jacobian(p, K);
    const Eigen::Matrix<double, 2, 6> Jp = dproj * pose_jacobian(RX);
    const Eigen::Matrix<double, 2, landmarks::kProportions> Jz = dproj * P.R * (*dX)[static_cast<std::size_t>(i)];
    blk->A += wt * Jp.transpose() * Jp;
    blk->B += wt * Jp.transpose() * Jz;
    blk->C += wt * Jz.transpose() * Jz;
    blk->gp += wt * Jp.transpose() * r;
    blk->gz += wt * Jz.transpose() * r;
  }
  return cost;
}

}  // namespace

IdentityFit fit_identity(const std::vector<Points2>& frames, const Intrinsics& K, double noise_iod, const PnpOptions& opt) {
  constexpr int Z = landmarks::kProportions;
  IdentityFit fit;
  fit.shape = landmarks::mean_face();
  const std::size_t n = frames.size();
  fit.poses.resize(n);
  if (n == 0) return fit;
  const std::vector<double>& pw = opt.weights.size() == 68 ? opt.weights : pnp_point_weights();
  std::vector<double> scale(n), delta(n);
  std::vector<bool> use(n, false);
  for (std::size_t k = 0; k < n; ++k) {
    const double d = std::max(iod_px(frames[k]), 1e-3);
    const double sigma = noise_iod * d;
    scale[k] = 1.0 / (sigma * sigma * static_cast<double>(n));
    delta[k] = std::max(1e-3, opt.huber * d);
    PnpResult r = solve_pnp(frames[k], fit.shape, K, nullptr, opt);
    fit.poses[k] = r.pose;
    use[k] = r.ok;
  }
  auto rms_of = [&](const landmarks::Shape& X, const std::vector<HeadPose>& P) {
    double s = 0;
    int m = 0;
    for (std::size_t k = 0; k < n; ++k) {
      if (!use[k]) continue;
      double ss = 0;
      for (int i = opt.first_point; i < landmarks::kPoints; ++i) {
        const Vector2d q = project(P[k].R * Vector3d(X(i, 0), X(i, 1), X(i, 2)) + P[k].t, K);
        ss += (q - Vector2d(frames[k][static_cast<std::size_t>(i)][0], frames[k][static_cast<std::size_t>(i)][1])).squaredNorm();
      }
      s += std::sqrt(ss / (landmarks::kPoints - opt.first_point)) / std::max(iod_px(frames[k]), 1e-9);
      ++m;
    }
    return m ? s / m : 0.0;
  };
  fit.rms_iod_mean_face = rms_of(fit.shape, fit.poses);
  landmarks::ProportionScores z{};
  auto total = [&](const landmarks::ProportionScores& zz, const std::vector<HeadPose>& P, std::vector<FrameBlocks>* blocks) {
    const landmarks::Shape X = landmarks::apply_proportions(zz);
    const ShapeJacobian dX = blocks ? shape_jacobian(zz) : ShapeJacobian{};
    double c = 0;
    for (int k = 0; k < Z; ++k) c += 0.5 * static_cast<double>(zz[static_cast<std::size_t>(k)]) * zz[static_cast<std::size_t>(k)];
    for (std::size_t k = 0; k < n; ++k) {
      if (!use[k]) continue;
      c += frame_cost(frames[k], X, &dX, K, P[k], opt, pw, scale[k], delta[k], blocks ? &(*blocks)[k] : nullptr);
    }
    return c;
  };
  std::vector<FrameBlocks> blocks(n);
  double cost = total(z, fit.poses, &blocks);
  double lambda = 1e-3;
  int it = 0;
  for (; it < 50 && std::isfinite(cost); ++it) {
    bool improved = false;
    for (int tries = 0; tries < 10 && !improved; ++tries) {
      // Schur complement on the scores: S dz = rhs, then each frame's pose step.
      Eigen::Matrix<double, Z, Z> S = Eigen::Matrix<double, Z, Z>::Identity();
      Eigen::Matrix<double, Z, 1> rhs;
      for (int k = 0; k < Z; ++k) rhs(k) = -static_cast<double>(z[static_cast<std::size_t>(k)]);
      std::vector<Eigen::Matrix<double, 6, 6>> Ainv(n);
      for (std::size_t k = 0; k < n; ++k) {
        if (!use[k]) continue;
        const FrameBlocks& b = blocks[k];
        Eigen::Matrix<double, 6, 6> A = b.A;
        for (int q = 0; q < 6; ++q) A(q, q) += lambda * std::max(A(q, q), 1e-12);
        Ainv[k] = A.inverse();
        S += b.C - b.B.transpose() * Ainv[k] * b.B;
        rhs += -b.gz + b.B.transpose() * Ainv[k] * b.gp;
      }
      for (int q = 0; q < Z; ++q) S(q, q) += lambda * S(q, q);
      const Eigen::Matrix<double, Z, 1> dz = S.ldlt().solve(rhs);
      landmarks::ProportionScores z2 = z;
      for (int k = 0; k < Z; ++k) z2[static_cast<std::size_t>(k)] += static_cast<float>(dz(k));
      std::vector<HeadPose> P2 = fit.poses;
      double step = dz.norm();
      for (std::size_t k = 0; k < n; ++k) {
        if (!use[k]) continue;
        const Eigen::Matrix<double, 6, 1> dp = Ainv[k] * (-blocks[k].gp - blocks[k].B * dz);
        P2[k].R = exp_so3(dp.head<3>()) * fit.poses[k].R;
        P2[k].t = fit.poses[k].t + dp.tail<3>();
        step += dp.norm();
      }
      std::vector<FrameBlocks> b2(n);
      const double c2 = total(z2, P2, &b2);
      if (std::isfinite(c2) && c2 < cost) {
        const double rel = (cost - c2) / std::max(cost, 1e-12);
        z = z2, fit.poses = std::move(P2), blocks = std::move(b2), cost = c2;
        lambda = std::max(lambda / 4, 1e-9);
        improved = true;
        if (rel < 1e-9 || step < 1e-10) it = 1000;  // converged
      } else {
        lambda *= 8;
      }
    }
    if (!improved) break;
  }
  for (auto& P : fit.poses) {
    Eigen::JacobiSVD<Matrix3d> svd(P.R, Eigen::ComputeFullU | Eigen::ComputeFullV);
    P.R = svd.matrixU() * svd.matrixV().transpose();
  }
  fit.z = z;
  fit.shape = landmarks::apply_proportions(z);
  fit.rms_iod = rms_of(fit.shape, fit.poses);
  fit.iterations = std::min(it, 50);
  return fit;
}

}  // namespace emogene::face
