// The performer (performer.h).
#include "emogene/pose/performer.h"

#include <Eigen/Dense>
#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "emogene/core/error.h"

namespace emogene::pose {

namespace {

constexpr const char* kWhere = "performer";

struct Rigid {
  Eigen::Quaterniond q = Eigen::Quaterniond::Identity();
  Eigen::Vector3d t = Eigen::Vector3d::Zero();
};

Rigid rigid_at(const std::vector<float>& poses, std::int64_t i) {
  const float* m = poses.data() + i * 16;
  Eigen::Matrix3d R;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) R(r, c) = m[r * 4 + c];
  Rigid p;
  p.q = Eigen::Quaterniond(R).normalized();
  p.t = {m[3], m[7], m[11]};
  return p;
}

void put_rigid(std::vector<float>& poses, std::int64_t i, const Rigid& p) {
  float* m = poses.data() + i * 16;
  const Eigen::Matrix3d R = p.q.normalized().toRotationMatrix();
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) m[r * 4 + c] = static_cast<float>(R(r, c));
    m[r * 4 + 3] = static_cast<float>(p.t[r]);
  }
  m[12] = m[13] = m[14] = 0;
  m[15] = 1;
}

Rigid compose(const Rigid& a, const Rigid& b) { return {a.q * b.q, a.q * b.t + a.t}; }
Rigid inverse(const Rigid& a) {
  const Eigen::Quaterniond qi = a.q.conjugate();
  return {qi, -(qi * a.t)};
}

// Distance between poses: rotation angle (radians) plus translation in canonical units.
double pose_distance(const Rigid& a, const Rigid& b) { return a.q.angularDistance(b.q) + (a.t - b.t).norm(); }

double smoothstep(double u) {
  u = std::clamp(u, 0.0, 1.0);
  return u * u * (3 - 2 * u);
}

// Mirrored (ping-pong) index k of a run of n frames: 0 1 .. n-1 n-2 .. 0 1 ..
std::int64_t mirrored(std::int64_t k, std::int64_t n) {
  if (n <= 1) return 0;
  const std::int64_t period = 2 * (n - 1);
  const std::int64_t m = k % period;
  return m < n ? m : period - m;
}

double eye_openness(const float* s) {
  auto d = [&](int a, int b) {
    const double dx = s[a * 3] - s[b * 3], dy = s[a * 3 + 1] - s[b * 3 + 1];
    return std::sqrt(dx * dx + dy * dy);
  };
  const double l = (d(37, 41) + d(38, 40)) / (2 * d(36, 39) + 1e-9);
  const double r = (d(43, 47) + d(44, 46)) / (2 * d(42, 45) + 1e-9);
  return 0.5 * (l + r);
}

// Closes the eyelids of a shape by b ∈ [0, 1] (1 open): the upper lid travels 80% of the way to
// the eye's midline between the lids, the lower lid 20%.
void apply_blink(float* s, double b) {
  const int pairs[4][2] = {{37, 41}, {38, 40}, {43, 47}, {44, 46}};
  const double c = 1 - std::clamp(b, 0.0, 1.0);
  for (const auto& p : pairs) {
    float* up = s + p[0] * 3;
    float* lo = s + p[1] * 3;
    for (int k = 0; k < 3; ++k) {
      const double gap = up[k] - lo[k];
      up[k] = static_cast<float>(up[k] - 0.8 * c * gap);
      lo[k] = static_cast<float>(lo[k] + 0.2 * c * gap);
    }
  }
}

}  // namespace

std::vector<Run> runs_of(const std::vector<std::uint8_t>& idle, const std::vector<std::int32_t>& clip) {
  std::vector<Run> out;
  const std::int64_t T = static_cast<std::int64_t>(idle.size());
  for (std::int64_t i = 0; i < T;) {
    std::int64_t j = i + 1;
    while (j < T && (idle[static_cast<std::size_t>(j)] != 0) == (idle[static_cast<std::size_t>(i)] != 0) &&
           (clip.empty() || clip[static_cast<std::size_t>(j)] == clip[static_cast<std::size_t>(i)]))
      ++j;
    out.push_back({i, j - i, idle[static_cast<std::size_t>(i)] != 0});
    i = j;
  }
  return out;
}

BlinkStats measure_blinks(const landmarks::Sequence& take, double fps, double dip) {
  BlinkStats st;
  const std::int64_t T = take.frames();
  if (T < 3 || !(fps > 0)) return st;
  std::vector<double> ear(static_cast<std::size_t>(T));
  for (std::int64_t t = 0; t < T; ++t) ear[static_cast<std::size_t>(t)] = eye_openness(take.data.data() + t * 204);
  std::vector<double> sorted = ear;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2), sorted.end());
  const double thr = dip * sorted[sorted.size() / 2];
  std::vector<std::int64_t> onsets;
  double dur = 0;
  for (std::int64_t t = 0; t < T;) {
    if (ear[static_cast<std::size_t>(t)] >= thr) {
      ++t;
      continue;
    }
    std::int64_t e = t;
    while (e < T && ear[static_cast<std::size_t>(e)] < thr) ++e;
    onsets.push_back(t);
    dur += static_cast<double>(e - t) / fps;
    t = e;
  }
  if (onsets.size() >= 2) {
    st.blinks = static_cast<std::int64_t>(onsets.size());
    st.mean_interval = static_cast<double>(onsets.back() - onsets.front()) / fps / static_cast<double>(onsets.size() - 1);
    // A dip below the threshold is the shut part; the whole blink is about twice as long.
    st.mean_duration = std::clamp(2.0 * dur / static_cast<double>(onsets.size()), 0.1, 0.5);
  }
  return st;
}

Performance perform(const landmarks::Sequence& emotional, const landmarks::Sequence& neutral,
                    const landmarks::Shape& neutral_shape, const std::vector<std::uint8_t>& idle_in, const SubjectTake& take,
                    const PerformerOptions& opt) {
  const std::int64_t T = emotional.frames();
  check_input(neutral.frames() == T && static_cast<std::int64_t>(idle_in.size()) == T, kWhere,
              "emotional landmarks, neutral landmarks and the idle mask must have the same length");
  check_input(take.frames() > 0 && static_cast<std::int64_t>(take.poses.size()) == 16 * take.frames(), kWhere,
              "the subject's take has no poses");
  check_input(take.landmarks.frames() == take.frames() && take.clip.size() == take.idle.size(), kWhere,
              "the subject's take has mismatched lengths");
  const double fps = take.fps;
  std::mt19937_64 rng(opt.seed ^ 0x5045524Full);
  Performance out;
  out.idle = opt.idle ? idle_in : std::vector<std::uint8_t>(static_cast<std::size_t>(T), 0);
  out.landmarks = emotional;
  out.poses.assign(static_cast<std::size_t>(T) * 16, 0.f);
  out.blink.assign(static_cast<std::size_t>(T), 1.f);
  if (T == 0) return out;

  // ---- poses: runs of the subject's own motion -------------------------------------------------
  const std::vector<Run> bank = runs_of(take.idle, take.clip);
  std::vector<const Run*> bank_idle, bank_speech;
  for (const Run& r : bank) (r.idle ? bank_idle : bank_speech).push_back(&r);
  if (bank_idle.empty()) bank_idle = bank_speech;
  if (bank_speech.empty()) bank_speech = bank_idle;
  std::vector<Rigid> P(static_cast<std::size_t>(T));
  const std::vector<Run> runs = runs_of(out.idle);
  const std::int64_t blend = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::lround(opt.blend_seconds * fps)));
  bool have_prev = false;
  Rigid prev_end;
  for (const Run& r : runs) {
    const auto& pool = r.idle ? bank_idle : bank_speech;
    // Candidates: (run, offset); the first run starts anywhere, later ones near the previous pose.
    const Run* best_run = pool.front();
    std::int64_t best_off = 0;
    double best_d = std::numeric_limits<double>::max();
    for (int c = 0; c < std::max(1, opt.candidates); ++c) {
      const Run* br = pool[std::uniform_int_distribution<std::size_t>(0, pool.size() - 1)(rng)];
      // A run long enough is read straight from a random offset; a shorter one back and forth
      // (mirrored) from a random phase.
      const std::int64_t off = br->count > r.count ? std::uniform_int_distribution<std::int64_t>(0, br->count - r.count)(rng)
                                                   : std::uniform_int_distribution<std::int64_t>(0, std::max<std::int64_t>(0, 2 * (br->count - 1) - 1))(rng);
      const std::int64_t first = br->first + (br->count > r.count ? off : mirrored(off, br->count));
      const double d = have_prev ? pose_distance(prev_end, rigid_at(take.poses, first)) : 0.0;
      if (d < best_d) {
        best_d = d;
        best_run = br;
        best_off = off;
      }
      if (!have_prev) break;
    }
    for (std::int64_t k = 0; k < r.count; ++k) {
      const std::int64_t src = best_run->first + (best_run->count > r.count ? best_off + k : mirrored(best_off + k, best_run->count));
      P[static_cast<std::size_t>(r.first + k)] = rigid_at(take.poses, src);
    }
    if (have_prev) {
      // Carry the run onto the previous end, and fade the correction out.
      const Rigid corr = compose(prev_end, inverse(P[static_cast<std::size_t>(r.first)]));
      for (std::int64_t k = 0; k < r.count && k < blend; ++k) {
        const double w = 1 - smoothstep(static_cast<double>(k + 1) / static_cast<double>(blend + 1));
        Rigid c;
        c.q = Eigen::Quaterniond::Identity().slerp(w, corr.q);
        c.t = w * corr.t;
        Rigid& p = P[static_cast<std::size_t>(r.first + k)];
        p = compose(c, p);
      }
    }
    prev_end = P[static_cast<std::size_t>(r.first + r.count - 1)];
    have_prev = true;
  }
  for (std::int64_t t = 0; t < T; ++t) put_rigid(out.poses, t, P[static_cast<std::size_t>(t)]);

  // ---- the subject's own range (LLE) ---------------------------------------------------------
  std::vector<std::int64_t> db;
  for (std::int64_t i = 0; i < take.frames(); ++i)
    if (take.in_database.empty() || take.in_database[static_cast<std::size_t>(i)]) db.push_back(i);
  const std::int64_t N = static_cast<std::int64_t>(db.size());
  const double iod = std::max(1e-6f, (neutral_shape.row(36) - neutral_shape.row(45)).norm());
  if (N > 0 && opt.lle_k > 0) {
    const int D = 136;
    Eigen::MatrixXf X(D, N);  // the database's frontal coordinates
    for (std::int64_t j = 0; j < N; ++j)
      for (int p = 0; p < 68; ++p) {
        X(2 * p, j) = take.landmarks.data[static_cast<std::size_t>(db[static_cast<std::size_t>(j)] * 204 + p * 3)];
        X(2 * p + 1, j) = take.landmarks.data[static_cast<std::size_t>(db[static_cast<std::size_t>(j)] * 204 + p * 3 + 1)];
      }
    const Eigen::VectorXf xn = X.colwise().squaredNorm().transpose();
    const int k = static_cast<int>(std::min<std::int64_t>(opt.lle_k, N));
    // Database spread: leave-one-out nearest distance of a sample of database frames.
    std::vector<double> spread;
    for (std::int64_t j = 0; j < N; j += std::max<std::int64_t>(1, N / 200)) {
      double best = std::numeric_limits<double>::max();
      for (std::int64_t i = 0; i < N; ++i)
        if (std::llabs(i - j) > static_cast<std::int64_t>(fps))  // not its own neighbours in time
          best = std::min(best, static_cast<double>((X.col(i) - X.col(j)).squaredNorm()));
      if (best < std::numeric_limits<double>::max()) spread.push_back(std::sqrt(best / 68.0) / iod);
    }
    std::vector<double> dist(static_cast<std::size_t>(T));
    const std::int64_t chunk = 256;
    for (std::int64_t t0 = 0; t0 < T; t0 += chunk) {
      const std::int64_t n = std::min(chunk, T - t0);
      Eigen::MatrixXf Q(D, n);
      for (std::int64_t t = 0; t < n; ++t)
        for (int p = 0; p < 68; ++p) {
          Q(2 * p, t) = out.landmarks.data[static_cast<std::size_t>((t0 + t) * 204 + p * 3)];
          Q(2 * p + 1, t) = out.landmarks.data[static_cast<std::size_t>((t0 + t) * 204 + p * 3 + 1)];
        }
      const Eigen::MatrixXf d2 = (xn.replicate(1, n) - 2.0f * X.transpose() * Q).rowwise() + Q.colwise().squaredNorm();
      for (std::int64_t t = 0; t < n; ++t) {
        std::vector<std::int64_t> idx(static_cast<std::size_t>(N));
        for (std::int64_t i = 0; i < N; ++i) idx[static_cast<std::size_t>(i)] = i;
        std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](std::int64_t a, std::int64_t b) {
          return d2(a, t) < d2(b, t) || (d2(a, t) == d2(b, t) && a < b);
        });
        dist[static_cast<std::size_t>(t0 + t)] = std::sqrt(std::max(0.0f, d2(idx[0], t)) / 68.0) / iod;
        // LLE weights: minimise |q − Σ w_i x_i|² with Σ w_i = 1 (regularised local Gram).
        Eigen::MatrixXd Z(D, k);
        for (int i = 0; i < k; ++i) Z.col(i) = (X.col(idx[static_cast<std::size_t>(i)]) - Q.col(t)).cast<double>();
        Eigen::MatrixXd G = Z.transpose() * Z;
        G.diagonal().array() += 1e-3 * std::max(1e-12, G.trace());
        Eigen::VectorXd w = G.ldlt().solve(Eigen::VectorXd::Ones(k));
        w /= w.sum();
        if (opt.lle_strength <= 0) continue;
        float* s = out.landmarks.data.data() + (t0 + t) * 204;
        for (int p = 0; p < 68; ++p)
          for (int c = 0; c < 3; ++c) {
            double rebuilt = 0;
            for (int i = 0; i < k; ++i)
              rebuilt += w[i] * take.landmarks.data[static_cast<std::size_t>(db[static_cast<std::size_t>(idx[static_cast<std::size_t>(i)])] * 204 + p * 3 + c)];
            s[p * 3 + c] = static_cast<float>((1 - opt.lle_strength) * s[p * 3 + c] + opt.lle_strength * rebuilt);
          }
      }
    }
    auto median = [](std::vector<double> v) {
      if (v.empty()) return 0.0;
      std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
      return v[v.size() / 2];
    };
    out.database_distance = median(dist);
    out.database_spread = median(spread);
    out.far_from_database = out.database_spread > 0 && out.database_distance > opt.far_ratio * out.database_spread;
  }

  // ---- relaxed closed mouth in idle stretches ------------------------------------------------
  if (opt.idle) {
    const std::int64_t fade = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::lround(opt.mouth_seconds * fps)));
    // w(t): 1 deep inside an idle run, fading to 0 over `fade` frames at its ends.
    std::vector<double> w(static_cast<std::size_t>(T), 0.0);
    for (const Run& r : runs) {
      if (!r.idle) continue;
      for (std::int64_t k = 0; k < r.count; ++k) {
        const std::int64_t edge = std::min(k + 1, r.count - k);
        w[static_cast<std::size_t>(r.first + k)] = smoothstep(static_cast<double>(edge) / static_cast<double>(fade));
      }
    }
    for (std::int64_t t = 0; t < T; ++t) {
      const double a = w[static_cast<std::size_t>(t)];
      if (a <= 0) continue;
      float* s = out.landmarks.data.data() + t * 204;
      const float* e = emotional.data.data() + t * 204;
      const float* n = neutral.data.data() + t * 204;
      for (int p = 48; p < 68; ++p)
        for (int c = 0; c < 3; ++c) {
          // The subject's neutral mouth plus the emotion's own change of it.
          const double relaxed = neutral_shape(p, c) + (e[p * 3 + c] - n[p * 3 + c]);
          s[p * 3 + c] = static_cast<float>((1 - a) * s[p * 3 + c] + a * relaxed);
        }
    }
  }

  // ---- blinks ----------------------------------------------------------------------------------
  if (opt.blinks) {
    const BlinkStats bs = measure_blinks(take.landmarks, fps);
    std::exponential_distribution<double> gap(1.0);
    std::normal_distribution<double> jitter(1.0, 0.15);
    double t = std::uniform_real_distribution<double>(0.3, 1.0)(rng) * bs.mean_interval;  // seconds
    const double total = static_cast<double>(T) / fps;
    while (t < total) {
      const double dur = std::clamp(bs.mean_duration * jitter(rng), 0.08, 0.6);
      const std::int64_t f0 = static_cast<std::int64_t>(std::floor(t * fps));
      for (std::int64_t f = f0; f < T && (static_cast<double>(f) + 0.5) / fps < t + dur; ++f) {
        const double u = ((static_cast<double>(f) + 0.5) / fps - t) / dur;  // 0..1 over the blink
        if (u < 0) continue;
        const double closed = std::sin(M_PI * std::clamp(u, 0.0, 1.0));     // shut at the middle
        out.blink[static_cast<std::size_t>(f)] = std::min(out.blink[static_cast<std::size_t>(f)], static_cast<float>(1 - closed));
      }
      // The next onset: a minimum refractory gap plus an exponential wait; fewer while speaking.
      const bool speaking = f0 < T && !out.idle[static_cast<std::size_t>(std::max<std::int64_t>(0, f0))];
      const double mean = bs.mean_interval / (speaking ? opt.speaking_blink_factor : 1.0);
      t += dur + 0.25 * mean + 0.75 * mean * gap(rng);
    }
    for (std::int64_t f = 0; f < T; ++f)
      if (out.blink[static_cast<std::size_t>(f)] < 1) apply_blink(out.landmarks.data.data() + f * 204, out.blink[static_cast<std::size_t>(f)]);
  }
  return out;
}

}  // namespace emogene::pose
