// Training and evaluating the subject NeRF (nerf_train.h).
#include "emogene/render/nerf_train.h"

#include <spdlog/spdlog.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>

#include "emogene/core/build_info.h"
#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/core/image.h"
#include "emogene/core/progress.h"
#include "emogene/core/safetensors.h"
#include "emogene/dataset/dataset.h"
#include "emogene/eval/image_metrics.h"
#include "emogene/render/condition_window.h"
#include "emogene/render/nerf_config.h"
#include "emogene/render/nerf_state.h"
#include "emogene/render/subject_model.h"
#include "emogene/train/train.h"

namespace fs = std::filesystem;

namespace emogene::render {

namespace {

constexpr const char* kWhere = "train nerf";

// A subject take in memory: every frame's landmarks, pose, idle flag, clip and split; the pixels
// of the frames that are trained on.
struct Take {
  int width = 0, height = 0;
  double fps = 25;
  Intrinsics K;
  torch::Tensor background;  // [H, W, 3] u8
  torch::Tensor neutral;     // [68, 3]
  torch::Tensor landmarks;   // [T, 68, 3]
  torch::Tensor poses;       // [T, 4, 4]
  std::vector<std::uint8_t> idle, split;
  std::vector<std::int32_t> clip;
  std::vector<std::int64_t> clip_first, clip_last;  // per frame: its clip's first and last frame
  std::vector<std::int64_t> train;                  // frames trained on (take indices)
  std::vector<std::int64_t> frame_index;            // per frame: its latent code, or −1
  torch::Tensor images;  // [F, H, W, 3] u8, F = train.size()
  torch::Tensor masks;   // [F, H, W] u8 (0 background, 1 torso, 2 head)
  std::vector<eval::Box> face, mouth, eyes;  // per training frame
  std::int64_t frames() const { return poses.size(0); }
};

std::uint8_t split_code(const std::string& s) { return s == "train" ? 0 : s == "val" ? 1 : 2; }

std::vector<Eigen::Vector2f> to_points(const torch::Tensor& uv) {
  const torch::Tensor c = uv.to(torch::kFloat).contiguous();
  std::vector<Eigen::Vector2f> p(static_cast<std::size_t>(c.size(0)));
  const float* d = c.data_ptr<float>();
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = {d[2 * i], d[2 * i + 1]};
  return p;
}

Take load_take(const std::string& dir, bool with_pixels) {
  dataset::Dataset ds(dir);
  const auto& m = ds.meta();
  if (m.kind != "subject") throw bad_input(dir, "is a '" + m.kind + "' dataset; the NeRF trains on a subject dataset (synth --kind subject or prepare)");
  if (m.clips.empty()) throw bad_input(dir, "has no clips");
  Take t;
  t.width = m.size[0];
  t.height = m.size[1];
  t.fps = m.fps;
  t.K = {m.intrinsics[0], m.intrinsics[1], m.intrinsics[2], m.intrinsics[3]};
  if (!(t.K.fx > 0 && t.K.fy > 0)) throw bad_input(dir, "dataset.json has no valid intrinsics");
  const Image bg = read_png(ds.background_path(), 3);
  if (bg.width != t.width || bg.height != t.height)
    throw bad_input(ds.background_path(), "is " + std::to_string(bg.width) + "x" + std::to_string(bg.height) +
                                              ", the dataset's size is " + std::to_string(t.width) + "x" + std::to_string(t.height));
  t.background = torch::from_blob(const_cast<std::uint8_t*>(bg.pixels.data()), {t.height, t.width, 3}, torch::kUInt8).clone();
  const landmarks::Shape neutral = ds.neutral_shape(m.clips[0].identity);
  t.neutral = torch::from_blob(const_cast<float*>(neutral.data()), {68, 3}, torch::kFloat).clone();
  std::vector<torch::Tensor> lms, poses;
  std::vector<std::pair<std::size_t, std::int64_t>> train_src;  // (clip, frame in clip)
  std::int64_t base = 0;
  for (std::size_t c = 0; c < m.clips.size(); ++c) {
    const auto& cm = m.clips[c];
    if (!cm.has_frames) throw bad_input(dir, "clip '" + cm.id + "' has no frames; the NeRF needs the video frames");
    dataset::ClipData d = ds.load_clip(c, false);
    const std::int64_t T = d.frames();
    if (T == 0) throw bad_input(dir, "clip '" + cm.id + "' has no frames");
    lms.push_back(torch::from_blob(d.landmarks.data.data(), {T, 68, 3}, torch::kFloat).clone());
    poses.push_back(torch::from_blob(d.poses.data(), {T, 4, 4}, torch::kFloat).clone());
    for (std::int64_t i = 0; i < T; ++i) {
      t.idle.push_back(d.idle.empty() ? 0 : d.idle[static_cast<std::size_t>(i)]);
      t.split.push_back(split_code(cm.split));
      t.clip.push_back(static_cast<std::int32_t>(c));
      t.clip_first.push_back(base);
      t.clip_last.push_back(base + T - 1);
      if (cm.split == "train") {
        t.frame_index.push_back(static_cast<std::int64_t>(t.train.size()));
        t.train.push_back(base + i);
        train_src.emplace_back(c, i);
      } else {
        t.frame_index.push_back(-1);
      }
    }
    base += T;
  }
  t.landmarks = torch::cat(lms);
  t.poses = torch::cat(poses);
  if (t.train.empty()) throw bad_input(dir, "has no 'train' clips to learn from");
  // Boxes of every training frame from its projected landmarks.
  for (std::int64_t g : t.train) {
    const auto p = to_points(project_points(t.landmarks[g], t.poses[g], t.K));
    t.face.push_back(eval::face_box(p, t.width, t.height));
    t.mouth.push_back(eval::mouth_box(p, t.width, t.height));
    t.eyes.push_back(eval::eyes_box(p, t.width, t.height));
  }
  if (!with_pixels) return t;
  const std::int64_t F = static_cast<std::int64_t>(t.train.size());
  t.images = torch::empty({F, t.height, t.width, 3}, torch::kUInt8);
  t.masks = torch::empty({F, t.height, t.width}, torch::kUInt8);
  Progress progress("load frames", F, "frames");
  std::string error;
  std::mutex error_mutex;
  at::parallel_for(0, F, 8, [&](std::int64_t lo, std::int64_t hi) {
    for (std::int64_t i = lo; i < hi; ++i) {
      try {
        const auto [c, k] = train_src[static_cast<std::size_t>(i)];
        const Image img = read_png(ds.clip_frame_path(c, k), 3);
        const Image msk = read_png(ds.clip_mask_path(c, k), 1);
        if (img.width != t.width || img.height != t.height || msk.width != t.width || msk.height != t.height)
          throw bad_input(ds.clip_frame_path(c, k), "frame or mask size differs from the dataset's " + std::to_string(t.width) +
                                                        "x" + std::to_string(t.height));
        std::memcpy(t.images[i].data_ptr<std::uint8_t>(), img.pixels.data(), img.pixels.size());
        std::memcpy(t.masks[i].data_ptr<std::uint8_t>(), msk.pixels.data(), msk.pixels.size());
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (error.empty()) error = e.what();
      }
    }
  });
  if (!error.empty()) throw bad_input(dir, error);
  progress.finish();
  return t;
}

// The condition window of take frame g (condition_window.h: clamped to its clip). → [W, 68, 3]
torch::Tensor window_of(const Take& t, std::int64_t g, std::int64_t W) {
  const std::vector<std::int64_t> idx =
      condition_window_indices(g, W, t.clip_first[static_cast<std::size_t>(g)], t.clip_last[static_cast<std::size_t>(g)]);
  return t.landmarks.index_select(0, torch::tensor(idx, torch::kLong));
}

SubjectInfo subject_info(const Take& t, const std::string& source) {
  SubjectInfo s;
  s.width = t.width;
  s.height = t.height;
  s.fps = t.fps;
  s.intrinsics = t.K;
  s.source = source;
  s.background = t.background;
  s.neutral_shape = t.neutral;
  s.landmarks = t.landmarks;
  s.poses = t.poses;
  s.idle = torch::tensor(std::vector<std::int64_t>(t.idle.begin(), t.idle.end())).to(torch::kUInt8);
  s.clip = torch::tensor(std::vector<std::int64_t>(t.clip.begin(), t.clip.end())).to(torch::kInt);
  s.split = torch::tensor(std::vector<std::int64_t>(t.split.begin(), t.split.end())).to(torch::kUInt8);
  s.frame_index = torch::tensor(t.frame_index, torch::kLong);
  return s;
}

struct TrainSettings {
  std::int64_t frames = 4, rays = 4096;
  double face_share = 0.5, mouth_share = 0.2, eye_share = 0.0;
  // Error-weighted rays (instant-ngp's error map): a share drawn from cells of a per-frame grid in
  // proportion to the colour error last seen there.
  double error_share = 0.0;
  std::int64_t error_cells = 16;  // cells on each side of a frame's error grid
  // Coarse to fine: the targeted shares (face, mouth, eyes, error) grow linearly from 0 over the
  // first focus_ramp steps; until then the rest are drawn over the whole frame.
  std::int64_t focus_ramp = 0;
  double w_rgb = 1, w_head_mask = 0.1, w_torso_mask = 0.1, w_ambient = 1e-4, w_latent = 1e-4;
  double grid_lr_scale = 10, weight_decay = 0, beta1 = 0.9, beta2 = 0.99, eps = 1e-15;
  bool save_f16 = true;
};

TrainSettings settings_from(const nlohmann::json& cfg, const std::string& where) {
  TrainSettings s;
  auto section = [&](const char* name, const std::set<std::string>& known) {
    const nlohmann::json j = cfg.value(name, nlohmann::json::object());
    if (!j.is_object()) throw bad_input(where, std::string(name) + " must be an object");
    for (auto it = j.begin(); it != j.end(); ++it)
      if (!known.count(it.key())) throw bad_input(where, std::string("unknown key '") + name + "." + it.key() + "'");
    return j;
  };
  try {
    const auto d = section("data", {"frames", "rays", "face_share", "mouth_share", "eye_share", "error_share", "error_cells", "focus_ramp"});
    s.frames = d.value("frames", s.frames);
    s.rays = d.value("rays", s.rays);
    s.face_share = d.value("face_share", s.face_share);
    s.mouth_share = d.value("mouth_share", s.mouth_share);
    s.eye_share = d.value("eye_share", s.eye_share);
    s.error_share = d.value("error_share", s.error_share);
    s.error_cells = d.value("error_cells", s.error_cells);
    s.focus_ramp = d.value("focus_ramp", s.focus_ramp);
    const auto l = section("loss", {"rgb", "head_mask", "torso_mask", "ambient", "latent"});
    s.w_rgb = l.value("rgb", s.w_rgb);
    s.w_head_mask = l.value("head_mask", s.w_head_mask);
    s.w_torso_mask = l.value("torso_mask", s.w_torso_mask);
    s.w_ambient = l.value("ambient", s.w_ambient);
    s.w_latent = l.value("latent", s.w_latent);
    const auto o = section("optim", {"grid_lr_scale", "weight_decay", "beta1", "beta2", "eps"});
    s.grid_lr_scale = o.value("grid_lr_scale", s.grid_lr_scale);
    s.weight_decay = o.value("weight_decay", s.weight_decay);
    s.beta1 = o.value("beta1", s.beta1);
    s.beta2 = o.value("beta2", s.beta2);
    s.eps = o.value("eps", s.eps);
    s.save_f16 = cfg.value("save_f16", s.save_f16);
  } catch (const nlohmann::json::exception& e) {
    throw bad_input(where, std::string("bad value in the nerf config: ") + e.what());
  }
  if (s.frames < 1 || s.rays < s.frames) throw bad_input(where, "data.frames must be >= 1 and data.rays >= data.frames");
  if (s.face_share < 0 || s.mouth_share < 0 || s.eye_share < 0 || s.error_share < 0 ||
      s.face_share + s.mouth_share + s.eye_share + s.error_share > 1)
    throw bad_input(where, "data.face_share, data.mouth_share, data.eye_share and data.error_share must be >= 0 and sum to at most 1");
  if (s.error_cells < 1 || s.error_cells > 256) throw bad_input(where, "data.error_cells must be 1-256");
  if (s.focus_ramp < 0) throw bad_input(where, "data.focus_ramp must be >= 0");
  return s;
}


Image side_by_side(const Image& a, const Image& b) {
  Image o;
  o.width = a.width + b.width;
  o.height = std::max(a.height, b.height);
  o.channels = 3;
  o.pixels.assign(static_cast<std::size_t>(o.width) * static_cast<std::size_t>(o.height) * 3, 0);
  auto blit = [&](const Image& s, int x0) {
    for (int y = 0; y < s.height; ++y)
      std::memcpy(&o.pixels[(static_cast<std::size_t>(y) * static_cast<std::size_t>(o.width) + static_cast<std::size_t>(x0)) * 3],
                  &s.pixels[static_cast<std::size_t>(y) * static_cast<std::size_t>(s.width) * 3], static_cast<std::size_t>(s.width) * 3);
  };
  blit(a, 0);
  blit(b, a.width);
  return o;
}

}  // namespace

TrainNerfReport train_nerf(const TrainNerfOptions& opt) {
  const std::string where = opt.config_name.empty() ? "nerf config" : opt.config_name;
  nlohmann::json cfg = opt.config;
  if (opt.steps > 0) cfg["train"]["steps"] = opt.steps;
  const train::LoopOptions lo = train::loop_options(cfg, where);
  const TrainSettings ts = settings_from(cfg, where);
  Take take = load_take(opt.subject, true);
  NerfConfig nc = NerfConfig::from_json(cfg.value("model", nlohmann::json::object()), where);
  nc.frames = static_cast<std::int64_t>(take.train.size());
  cfg["model"] = nc.to_json();
  const std::int64_t F = nc.frames, Wc = nc.condition.window;
  spdlog::info("train nerf: {} training frames of {} ({}x{}, {} frames in the take), {} rays over {} frames a step", F,
               opt.subject, take.width, take.height, take.frames(), ts.rays, ts.frames);

  torch::manual_seed(lo.seed);
  NerfNetwork net(nc);
  net->train();
  {
    // The condition's normalisation: statistics of the frontal (x, y) over the training frames.
    torch::NoGradGuard ng;
    const torch::Tensor xy = take.landmarks.index_select(0, torch::tensor(take.train, torch::kLong)).narrow(2, 0, 2).reshape({F, 136});
    net->condition->mean.copy_(xy.mean(0));
    net->condition->stdev.copy_(xy.std(0).clamp_min(1e-3));
  }
  auto grid = std::make_shared<OccupancyGrid>(nc.occupancy, nc.step());
  const std::string occupancy_path = opt.out + ".occupancy";
  if (opt.resume && fs::exists(occupancy_path)) {
    // The occupancy grid is not a parameter: it comes back from the file written with OUT.train.
    load_occupancy_state(SafetensorsFile(occupancy_path), *grid);
  } else if (opt.resume && fs::exists(opt.out)) {
    SafetensorsFile f(opt.out);  // development checkpoints kept the density in the model file
    if (f.find("occupancy.density")) load_occupancy_state(f, *grid);
  }
  NamedTensors grids, nets;
  for (auto& p : net->named_parameters()) {
    const std::string& k = p.key();
    if (k.size() >= 5 && k.compare(k.size() - 5, 5, "table") == 0)
      grids.emplace_back(k, p.value());
    else
      nets.emplace_back(k, p.value());
  }
  train::GroupOptions gopt, nopt;
  gopt.lr_scale = ts.grid_lr_scale;
  gopt.weight_decay = 0;
  nopt.weight_decay = ts.weight_decay;
  for (auto* o : {&gopt, &nopt}) {
    o->beta1 = ts.beta1;
    o->beta2 = ts.beta2;
    o->eps = ts.eps;
  }
  train::AdamW optimiser({train::ParamGroup{"grid", grids, gopt}, train::ParamGroup{"net", nets, nopt}});

  const MarchSettings march_base = MarchSettings::from_config(nc);
  const torch::Tensor bg_f = take.background.to(torch::kFloat).div(255.0).reshape({-1, 3});
  const std::int64_t HW = static_cast<std::int64_t>(take.width) * take.height;
  // The error map [F, G, G]: an exponential average of the colour error of the rays that fell in
  // each cell (1 everywhere at the start: uniform). Kept with the occupancy state for --resume.
  const std::int64_t Ge = ts.error_cells;
  torch::Tensor errmap = torch::ones({F, Ge, Ge});
  if (opt.resume && fs::exists(occupancy_path)) {
    SafetensorsFile f(occupancy_path);
    if (const TensorView* v = f.find("errormap"); v && v->numel() == errmap.numel()) {
      const std::vector<float> e = v->to_float();
      std::copy(e.begin(), e.end(), errmap.data_ptr<float>());
    }
  }

  train::Hooks hooks;
  hooks.step = [&](std::int64_t step, at::Generator&) {
    // Every random draw of the step (frames, pixels, jitter, occupancy cells) follows the step's
    // seed, so a resumed run repeats the uninterrupted one.
    torch::manual_seed(train::step_seed(lo.seed ^ 0x4E52ull, step));
    std::mt19937_64 rng(train::step_seed(lo.seed ^ 0x4E53ull, step));
    if (step % nc.occupancy.update_every == 0) {
      torch::NoGradGuard ng;
      const std::int64_t g = take.train[std::uniform_int_distribution<std::size_t>(0, take.train.size() - 1)(rng)];
      const torch::Tensor cond = net->condition->forward(window_of(take, g, Wc).unsqueeze(0));
      HeadFieldImpl* head = net->head.get();
      // instant-ngp: every cell during the first 256 steps (a cold grid knows nothing yet), then a
      // random subset.
      const std::int64_t G = nc.occupancy.resolution;
      const std::int64_t cells = step < 256 ? G * G * G : nc.occupancy.update_cells;
      grid->update([&](const torch::Tensor& x) { return head->density(x, cond); }, cells);
    }
    if (step == lo.schedule.steps - 1) {
      // Before the last checkpoint: every cell under the conditions of 8 training frames, so the
      // grid that rendering uses covers every mouth and eye state, not only the last few updates'.
      torch::NoGradGuard ng;
      const std::int64_t G = nc.occupancy.resolution;
      HeadFieldImpl* head = net->head.get();
      for (int k = 0; k < 8; ++k) {
        const std::int64_t g = take.train[static_cast<std::size_t>(k) * take.train.size() / 8];
        const torch::Tensor cond = net->condition->forward(window_of(take, g, Wc).unsqueeze(0));
        grid->update([&](const torch::Tensor& x) { return head->density(x, cond); }, G * G * G);
      }
    }
    // Frames and rays (the targeted shares ramp in over focus_ramp steps: coarse to fine).
    const double focus = ts.focus_ramp > 0 ? std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(ts.focus_ramp)) : 1.0;
    const std::int64_t n_face = std::llround(static_cast<double>(ts.rays) * ts.face_share * focus);
    const std::int64_t n_mouth = std::llround(static_cast<double>(ts.rays) * ts.mouth_share * focus);
    const std::int64_t n_eyes = std::llround(static_cast<double>(ts.rays) * ts.eye_share * focus);
    const std::int64_t n_err = std::llround(static_cast<double>(ts.rays) * ts.error_share * focus);
    std::vector<std::int64_t> fi(static_cast<std::size_t>(ts.frames));
    for (auto& f : fi) f = std::uniform_int_distribution<std::int64_t>(0, F - 1)(rng);
    std::vector<torch::Tensor> windows, uvs, origins, dirs, frame_of, anchors;
    std::vector<std::int64_t> pix_all;
    for (std::int64_t b = 0; b < ts.frames; ++b) {
      const std::int64_t f = fi[static_cast<std::size_t>(b)], g = take.train[static_cast<std::size_t>(f)];
      const std::int64_t n = ts.rays / ts.frames + (b < ts.rays % ts.frames ? 1 : 0);
      const std::int64_t nf = n_face * n / ts.rays, nm = n_mouth * n / ts.rays, ne = n_eyes * n / ts.rays, nr = n_err * n / ts.rays;
      std::vector<float> uv;
      uv.reserve(static_cast<std::size_t>(2 * n));
      auto draw = [&](const eval::Box& box, std::int64_t count) {
        std::uniform_int_distribution<int> ux(box.x0, std::max(box.x0, box.x1 - 1)), uy(box.y0, std::max(box.y0, box.y1 - 1));
        for (std::int64_t k = 0; k < count; ++k) {
          const int x = ux(rng), y = uy(rng);
          uv.push_back(static_cast<float>(x) + 0.5f);
          uv.push_back(static_cast<float>(y) + 0.5f);
          pix_all.push_back(f * HW + static_cast<std::int64_t>(y) * take.width + x);
        }
      };
      const eval::Box& fb = take.face[static_cast<std::size_t>(f)];
      const eval::Box& mb = take.mouth[static_cast<std::size_t>(f)];
      draw(fb.empty() ? eval::whole_frame(take.width, take.height) : fb, nf);
      draw(mb.empty() ? eval::whole_frame(take.width, take.height) : mb, nm);
      if (ne > 0) {
        const eval::Box& eb = take.eyes[static_cast<std::size_t>(f)];
        draw(eb.empty() ? eval::whole_frame(take.width, take.height) : eb, ne);
      }
      if (nr > 0) {
        // Cells in proportion to their error, with a floor of a tenth of the frame's mean so no
        // cell is starved; the pixel uniform in the cell.
        const torch::Tensor e = errmap[f].flatten();
        const torch::Tensor cells = torch::multinomial(e + 0.1 * e.mean(), nr, true);
        const auto* cp = cells.data_ptr<std::int64_t>();
        for (std::int64_t k = 0; k < nr; ++k) {
          const std::int64_t cy = cp[k] / Ge, cx = cp[k] % Ge;
          eval::Box cb;
          cb.x0 = static_cast<int>(cx * take.width / Ge), cb.x1 = static_cast<int>((cx + 1) * take.width / Ge);
          cb.y0 = static_cast<int>(cy * take.height / Ge), cb.y1 = static_cast<int>((cy + 1) * take.height / Ge);
          draw(cb, 1);
        }
      }
      draw(eval::whole_frame(take.width, take.height), n - nf - nm - ne - nr);
      const torch::Tensor uvt = torch::from_blob(uv.data(), {n, 2}, torch::kFloat).clone();
      const torch::Tensor pose = take.poses[g];
      const Rays r = head_rays(uvt, take.K, pose);
      uvs.push_back(uvt);
      origins.push_back(r.origins);
      dirs.push_back(r.dirs);
      frame_of.push_back(torch::full({n}, b, torch::kLong));
      windows.push_back(window_of(take, g, Wc));
      if (net->torso) anchors.push_back(net->torso_anchors(pose, take.K.fx, take.K.fy, take.K.cx, take.K.cy, take.width, take.height));
    }
    const torch::Tensor batch_frames = torch::tensor(fi, torch::kLong);  // [B] latent codes
    const torch::Tensor ray_frame = torch::cat(frame_of);                // [R] → batch slot
    const torch::Tensor cond = net->condition->forward(torch::stack(windows));  // [B, C]
    const torch::Tensor hlat = net->head_latents.index_select(0, batch_frames);
    torch::Tensor ambient;
    HeadFieldImpl* head = net->head.get();
    const FieldFn field = [&](const torch::Tensor& x, const torch::Tensor& d, const torch::Tensor& ray) {
      const torch::Tensor slot = ray_frame.index_select(0, ray);
      const HeadSamples h = head->forward(x, d, cond.index_select(0, slot), hlat.index_select(0, slot));
      ambient = h.ambient;
      return FieldValues{h.sigma, h.rgb};
    };
    MarchSettings ms = march_base;
    ms.jitter = true;
    const Rays rays{torch::cat(origins), torch::cat(dirs)};
    const RayColours hc = render_rays(rays, field, grid.get(), ms);
    const torch::Tensor uv = torch::cat(uvs);
    const torch::Tensor pix = torch::tensor(pix_all, torch::kLong);
    const torch::Tensor truth = take.images.view({-1, 3}).index_select(0, pix).to(torch::kFloat).div(255.0);
    const torch::Tensor label = take.masks.view({-1}).index_select(0, pix);
    const torch::Tensor bg = bg_f.index_select(0, pix.remainder(HW));
    torch::Tensor under = bg, torso_alpha;
    if (net->torso) {
      const torch::Tensor a = torch::cat(anchors).index_select(0, ray_frame);
      const torch::Tensor tl = net->torso_latents.index_select(0, batch_frames).index_select(0, ray_frame);
      const TorsoSamples tsm = render_torso(*net, uv, a, tl, take.width, take.height);
      torso_alpha = tsm.alpha;
      under = tsm.alpha.unsqueeze(1) * tsm.rgb + (1 - tsm.alpha).unsqueeze(1) * bg;
    }
    const torch::Tensor pred = hc.rgb + (1 - hc.alpha).unsqueeze(1) * under;
    const torch::Tensor l_rgb = (pred - truth).pow(2).mean();
    if (ts.error_share > 0) {
      // The error map: each touched cell moves halfway to the mean error of this step's rays in it.
      torch::NoGradGuard ng;
      const torch::Tensor err = (pred - truth).pow(2).mean(1).detach();
      const torch::Tensor px = pix.remainder(HW), fr = pix.div(HW, "floor");
      const torch::Tensor cell = fr * Ge * Ge + (px.div(take.width, "floor") * Ge).div(take.height, "floor") * Ge +
                                 (px.remainder(take.width) * Ge).div(take.width, "floor");
      torch::Tensor sum = torch::zeros({errmap.numel()}), cnt = torch::zeros({errmap.numel()});
      sum.index_add_(0, cell, err);
      cnt.index_add_(0, cell, torch::ones_like(err));
      const torch::Tensor flat = errmap.view({-1});
      const torch::Tensor hit = cnt > 0;
      flat.copy_(torch::where(hit, 0.5 * flat + 0.5 * sum / cnt.clamp_min(1), flat));
    }
    const torch::Tensor is_head = (label == 2).to(torch::kFloat);
    const torch::Tensor l_head = (hc.alpha - is_head).pow(2).mean();
    torch::Tensor l_torso = torch::zeros({});
    if (torso_alpha.defined()) {
      const torch::Tensor not_head = 1 - is_head;
      l_torso = ((torso_alpha - (label == 1).to(torch::kFloat)).pow(2) * not_head).sum() / not_head.sum().clamp_min(1);
    }
    const torch::Tensor l_amb = ambient.defined() && ambient.numel() > 0 ? ambient.abs().mean() : torch::zeros({});
    torch::Tensor l_lat = hlat.pow(2).mean();
    if (net->torso) l_lat = l_lat + net->torso_latents.index_select(0, batch_frames).pow(2).mean();
    train::StepResult r;
    r.loss = ts.w_rgb * l_rgb + ts.w_head_mask * l_head + ts.w_torso_mask * l_torso + ts.w_ambient * l_amb + ts.w_latent * l_lat;
    const double m = l_rgb.item<double>();
    r.parts = {{"rgb_mse", m},
               {"psnr", m > 0 ? -10 * std::log10(m) : 100.0},
               {"head_mask", l_head.item<double>()},
               {"torso_mask", l_torso.item<double>()},
               {"ambient", l_amb.item<double>()},
               {"samples_per_ray", static_cast<double>(hc.samples) / static_cast<double>(ts.rays)},
               {"occupied", grid->occupied_fraction()}};
    return r;
  };
  const SubjectInfo info = subject_info(take, opt.subject);
  hooks.save = [&](const std::string& path, std::int64_t step) {
    save_subject(path, *net, *grid, info, cfg, train::provenance(opt.subject, step, opt.config_name), ts.save_f16);
    NamedTensors state = occupancy_state(*grid);
    state.emplace_back("errormap", errmap);
    write_tensors(occupancy_path, state, {{"emogene.kind", "train-occupancy"}, {"step", std::to_string(step)}});
  };
  // Preview: the first held-out frame (else the first training frame), truth | render.
  std::int64_t pv = take.train.front();
  for (std::int64_t g = 0; g < take.frames(); ++g)
    if (take.split[static_cast<std::size_t>(g)] != 0) {
      pv = g;
      break;
    }
  hooks.preview = [&](std::int64_t) {
    PlainRenderer r(net, grid);
    FrameRequest q;
    q.landmarks = window_of(take, pv, Wc);
    q.pose = take.poses[pv];
    q.latent = take.frame_index[static_cast<std::size_t>(pv)];
    q.background = take.background.to(torch::kFloat).div(255.0);
    q.intrinsics = take.K;
    q.width = take.width;
    q.height = take.height;
    const Image out = to_image(r.render(q).rgb);
    net->train();
    std::int64_t f = -1;
    for (std::size_t i = 0; i < take.train.size(); ++i)
      if (take.train[i] == pv) f = static_cast<std::int64_t>(i);
    if (f >= 0) return side_by_side(to_image(take.images[f].to(torch::kFloat).div(255.0)), out);
    return out;
  };
  const train::RunInfo ri = train::run_loop(opt.out, lo, cfg, optimiser, hooks, opt.resume, opt.force);
  TrainNerfReport rep;
  rep.steps = ri.last_step;
  rep.seconds = ri.seconds;
  rep.steps_per_second = ri.seconds > 0 ? static_cast<double>(ri.last_step - ri.first_step) / ri.seconds : 0;
  const bool has_val = std::find(take.split.begin(), take.split.end(), std::uint8_t{1}) != take.split.end();
  if (has_val) {
    SubjectModel trained(opt.out);
    NerfEvalOptions eo;
    eo.split = "val";
    eo.stride = 5;
    eo.max_frames = 40;
    rep.val = evaluate_nerf(trained, opt.subject, eo);
    spdlog::info("nerf validation ({} frames): PSNR face {:.2f} dB, mouth {:.2f} dB, frame {:.2f} dB; SSIM face {:.4f}", rep.val.frames,
                 rep.val.psnr_face, rep.val.psnr_mouth, rep.val.psnr_frame, rep.val.ssim_face);
  }
  return rep;
}

NerfEval evaluate_nerf(const SubjectModel& model, const std::string& data, const NerfEvalOptions& opt) {
  const std::string& split = opt.split;
  const std::int64_t stride = opt.stride, max_frames = opt.max_frames;
  const std::string& write_dir = opt.write_dir;
  check_input(stride >= 1, "--stride", "must be at least 1");
  dataset::Dataset ds(data);
  const auto& m = ds.meta();
  if (m.kind != "subject") throw bad_input(data, "is a '" + m.kind + "' dataset; a NeRF is measured on a subject dataset");
  const std::vector<std::size_t> clips = ds.clips_in_split(split);
  if (clips.empty()) throw bad_input(data, "has no '" + split + "' clips to measure on");
  const SubjectInfo& si = model.info();
  const int W = m.size[0], H = m.size[1];
  const Intrinsics K{m.intrinsics[0], m.intrinsics[1], m.intrinsics[2], m.intrinsics[3]};
  std::unique_ptr<FrameRenderer> r = model.renderer(opt.renderer);
  const std::int64_t Wc = model.network()->cfg.condition.window;
  if (!write_dir.empty()) fs::create_directories(write_dir);
  eval::PsnrAccumulator pf, pm, pw;
  double ssim_face = 0, ssim_frame = 0, secs = 0, samples = 0;
  std::int64_t n = 0, seen = 0, total = 0;
  for (std::size_t c : clips) total += static_cast<std::int64_t>(std::ceil(ds.meta().clips[c].duration * m.fps)) / stride + 1;
  if (max_frames > 0) total = std::min(total, max_frames);
  Progress progress("eval nerf", total, "frames");
  torch::Tensor bg;
  if (W == si.width && H == si.height) {
    bg = si.background.to(torch::kFloat).div(255.0);
  } else {
    bg = model.request(torch::zeros({68, 3}), torch::eye(4), -1, W, H).background;
  }
  // The driving landmarks of another split, when asked for.
  std::vector<float> drive;
  if (!opt.drive_split.empty()) {
    const std::vector<std::size_t> dc = ds.clips_in_split(opt.drive_split);
    if (dc.empty()) throw bad_input(data, "has no '" + opt.drive_split + "' clips to drive with");
    for (std::size_t c : dc) {
      const dataset::ClipData d = ds.load_clip(c, false);
      drive.insert(drive.end(), d.landmarks.data.begin(), d.landmarks.data.end());
    }
  }
  const std::int64_t drive_frames = static_cast<std::int64_t>(drive.size() / 204);
  for (std::size_t c : clips) {
    const dataset::ClipData d = ds.load_clip(c, false);
    const std::int64_t T = d.frames();
    torch::Tensor lm = torch::from_blob(const_cast<float*>(d.landmarks.data.data()), {T, 68, 3}, torch::kFloat);
    if (drive_frames > 0) {
      std::vector<std::int64_t> src(static_cast<std::size_t>(T));
      for (std::int64_t i = 0; i < T; ++i) src[static_cast<std::size_t>(i)] = (seen + i) % drive_frames;
      lm = torch::from_blob(drive.data(), {drive_frames, 68, 3}, torch::kFloat).index_select(0, torch::tensor(src, torch::kLong));
    }
    const torch::Tensor poses = torch::from_blob(const_cast<float*>(d.poses.data()), {T, 4, 4}, torch::kFloat);
    for (std::int64_t i = 0; i < T; ++i, ++seen) {
      if (seen % stride != 0) continue;
      if (max_frames > 0 && n >= max_frames) break;
      const std::vector<std::int64_t> idx = condition_window_indices(i, Wc, 0, T - 1);
      FrameRequest q;
      q.landmarks = lm.index_select(0, torch::tensor(idx, torch::kLong));
      q.pose = poses[i];
      q.latent = -1;
      q.background = bg;
      q.intrinsics = K;
      q.width = W;
      q.height = H;
      const auto t0 = std::chrono::steady_clock::now();
      const FrameResult fr = r->render(q);
      secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      samples += static_cast<double>(fr.samples);
      const Image out = to_image(fr.rgb);
      const Image truth = read_png(ds.clip_frame_path(c, i), 3);
      const torch::Tensor px = project_points(lm[i], poses[i], K).contiguous();
      const auto p = to_points(px);
      if (opt.hook) opt.hook(out, lm[i].contiguous().data_ptr<float>(), px.data_ptr<float>());
      const eval::Box fb = eval::face_box(p, W, H), mb = eval::mouth_box(p, W, H), wb = eval::whole_frame(W, H);
      pf.add(eval::mse(out, truth, fb));
      pm.add(eval::mse(out, truth, mb));
      pw.add(eval::mse(out, truth, wb));
      ssim_face += eval::ssim(out, truth, fb);
      ssim_frame += eval::ssim(out, truth, wb);
      if (!write_dir.empty()) {
        char name[64];
        std::snprintf(name, sizeof name, "/%s_%06lld.png", ds.meta().clips[c].id.c_str(), static_cast<long long>(i));
        write_png(write_dir + name, side_by_side(truth, out));
      }
      ++n;
      progress.update(n);
    }
  }
  progress.finish();
  NerfEval e;
  e.frames = n;
  if (n == 0) return e;
  e.psnr_face = pf.psnr_of_mean();
  e.psnr_mouth = pm.psnr_of_mean();
  e.psnr_frame = pw.psnr_of_mean();
  e.ssim_face = ssim_face / static_cast<double>(n);
  e.ssim_frame = ssim_frame / static_cast<double>(n);
  e.samples_per_frame = samples / static_cast<double>(n);
  e.seconds_per_frame = secs / static_cast<double>(n);
  return e;
}

}  // namespace emogene::render
