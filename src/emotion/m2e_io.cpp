// Motion-to-emotion training, checkpoints, application and evaluation (m2e_io.h).
#include "emogene/emotion/m2e_io.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "emogene/core/error.h"
#include "emogene/core/safetensors.h"
#include "emogene/core/tensor_io.h"
#include "emogene/dataset/dataset.h"
#include "emogene/emotion/m2e.h"
#include "emogene/eval/landmark_metrics.h"
#include "emogene/train/train.h"
#include "emotion/model_common.h"

namespace emogene::emotion {

using namespace detail;
using landmarks::Sequence;
using landmarks::Shape;

namespace {

// Lip gap (mean vertical distance of the inner-lip pairs, DESIGN §7) of displacements [.., 204],
// in the displacement's units (canonical units are IOD units of the identity).
torch::Tensor gap_of(const torch::Tensor& d) {
  auto sizes = d.sizes().vec();
  sizes.back() = 68;
  sizes.push_back(3);
  torch::Tensor y = d.reshape(sizes).select(-1, 1);
  return (y.select(-1, 61) - y.select(-1, 67) + y.select(-1, 62) - y.select(-1, 66) + y.select(-1, 63) - y.select(-1, 65)) / 3.0;
}

NamedTensors all_tensors(MotionToEmotion& m) {
  NamedTensors all;
  for (auto& p : m->named_parameters()) all.emplace_back(p.key(), p.value());
  for (auto& b : m->named_buffers()) all.emplace_back(b.key(), b.value());
  return all;
}

Sequence to_sequence(const std::vector<float>& disp, const Shape& shape) {
  Sequence s{disp};
  for (std::int64_t t = 0; t < s.frames(); ++t) s.frame(t) += shape;
  return s;
}

// Runs the network on one clip (no dropout): displacement [T, 204] added to the input.
std::vector<float> run_delta(MotionToEmotion& model, const std::vector<float>& disp, const std::vector<float>& weights,
                             const std::vector<float>& intensity, std::int64_t T, const torch::Device& device) {
  torch::InferenceMode guard;
  auto f = [&](const std::vector<float>& v, std::int64_t d) {
    return torch::from_blob(const_cast<float*>(v.data()), {1, T, d}, torch::kFloat).to(device);
  };
  torch::Tensor inten = torch::from_blob(const_cast<float*>(intensity.data()), {1, T}, torch::kFloat).to(device);
  torch::Tensor mask = torch::ones({1, T}, torch::TensorOptions().device(device));
  torch::Tensor d = model->forward(f(disp, 204), f(weights, 8), inten, mask, nullptr)[0].to(torch::kCPU).contiguous();
  return std::vector<float>(d.data_ptr<float>(), d.data_ptr<float>() + d.numel());
}

}  // namespace

// ---- training -------------------------------------------------------------------------------------

TrainM2EReport train_m2e(const TrainM2EOptions& opt) {
  nlohmann::json cfg = opt.config;
  if (opt.steps > 0) cfg["train"]["steps"] = opt.steps;
  const std::string where = opt.config_name.empty() ? "m2e config" : opt.config_name;
  const train::LoopOptions lo = train::loop_options(cfg, where);
  const nlohmann::json loss_cfg = cfg.value("loss", nlohmann::json::object());
  const nlohmann::json data_cfg = cfg.value("data", nlohmann::json::object());
  const nlohmann::json optim_cfg = cfg.value("optim", nlohmann::json::object());
  double w_l2 = 1, w_mouth = 2, w_gap = 0.2, w_smooth = 0.5, weight_decay = 0.01;
  int batch = 16;
  std::int64_t crop = 96;
  std::string split = "train";
  try {
    w_l2 = loss_cfg.value("l2", w_l2);
    w_mouth = loss_cfg.value("mouth", w_mouth);
    w_gap = loss_cfg.value("lipgap", w_gap);
    w_smooth = loss_cfg.value("smooth", w_smooth);
    batch = data_cfg.value("batch", batch);
    crop = data_cfg.value("crop_frames", crop);
    split = data_cfg.value("split", split);
    weight_decay = optim_cfg.value("weight_decay", weight_decay);
  } catch (const nlohmann::json::exception& e) {
    throw bad_input(where, std::string("a loss, data or optim setting has the wrong type (") + e.what() + ")");
  }
  if (batch < 1 || crop < 2) throw bad_input(where, "data.batch must be >= 1 and data.crop_frames >= 2");
  if (w_mouth <= 0) throw bad_input(where, "loss.mouth must be positive");

  dataset::Dataset ds(opt.data);
  const M2EConfig mc = M2EConfig::from_json(cfg.value("model", nlohmann::json::object()), where);
  cfg["model"] = mc.to_json();
  cfg["data"]["fps"] = ds.meta().fps;  // the rate the model runs at
  std::vector<PairClip> all = load_pairs(ds, split, "m2e");
  if (mc.condition == "clip")
    for (auto& p : all) use_clip_condition(p);
  std::vector<PairClip> clips;
  double si = 0, so = 0, ni = 0, no = 0;
  for (auto& p : all) {
    for (float v : p.disp) si += static_cast<double>(v) * v;
    ni += static_cast<double>(p.disp.size());
    bool emotional = false;
    for (std::int64_t t = 0; t < p.frames; ++t) {
      if (p.intensity[static_cast<std::size_t>(t)] <= 0) continue;
      emotional = true;
      for (int q = 0; q < 204; ++q) {
        const double v = p.delta[static_cast<std::size_t>(t * 204 + q)];
        so += v * v;
      }
      no += 204;
    }
    if (emotional) clips.push_back(std::move(p));
  }
  if (clips.empty()) throw bad_input(opt.data, "the '" + split + "' split has no emotional frames (intensity > 0) to learn from");
  const double in_scale = std::sqrt(si / std::max(1.0, ni)) + 1e-8, out_scale = std::sqrt(so / std::max(1.0, no)) + 1e-8;
  spdlog::info("m2e: {} {} ({} condition{}) on {} emotional clips of {} ({}); input scale {:.4g}, delta scale {:.4g} canonical units", mc.kind,
               mc.kind == "mlp" ? "baseline" : "model", mc.condition,
               mc.kind == "mlp" || !mc.edges ? "" : ", outside frames at the edges", clips.size(), opt.data, split, in_scale, out_scale);

  torch::manual_seed(lo.seed);
  MotionToEmotion model(mc);
  model->train();
  model->in_scale.fill_(in_scale);
  model->out_scale.fill_(out_scale);
  NamedTensors params;
  for (auto& p : model->named_parameters()) params.emplace_back(p.key(), p.value());
  train::GroupOptions go;
  go.weight_decay = weight_decay;
  train::AdamW optimiser({train::ParamGroup{"m2e", params, go}});

  torch::Tensor dimw = torch::ones({204});
  dimw.index_put_({torch::indexing::Slice(48 * 3, 68 * 3)}, w_mouth);
  dimw = dimw / dimw.mean();
  const float os = static_cast<float>(out_scale);

  train::Hooks hooks;
  hooks.step = [&](std::int64_t step, at::Generator& gen) {
    std::mt19937_64 rng(train::step_seed(lo.seed ^ 0xE407ull, step));
    torch::Tensor disp = torch::zeros({batch, crop, 204}), delta = torch::zeros({batch, crop, 204});
    torch::Tensor w = torch::zeros({batch, crop, 8}), inten = torch::zeros({batch, crop}), mask = torch::zeros({batch, crop});
    for (int b = 0; b < batch; ++b) {
      const PairClip& c = clips[std::uniform_int_distribution<std::size_t>(0, clips.size() - 1)(rng)];
      const std::int64_t len = std::min(crop, c.frames);
      const std::int64_t s = std::uniform_int_distribution<std::int64_t>(0, c.frames - len)(rng);
      auto put = [&](torch::Tensor dst, const std::vector<float>& src, std::int64_t d) {
        dst[b].narrow(0, 0, len).copy_(torch::from_blob(const_cast<float*>(src.data()) + s * d, {len, d}, torch::kFloat));
      };
      put(disp, c.disp, 204);
      put(delta, c.delta, 204);
      put(w, c.weights, 8);
      inten[b].narrow(0, 0, len).copy_(torch::from_blob(const_cast<float*>(c.intensity.data()) + s, {len}, torch::kFloat));
      mask[b].narrow(0, 0, len).fill_(1.f);
    }
    torch::Tensor pred = model->forward(disp, w, inten, mask, &gen);
    torch::Tensor l2 = ((((pred - delta) / os).pow(2) * dimw).mean(-1) * mask).sum() / mask.sum().clamp_min(1);
    torch::Tensor m2 = mask.narrow(1, 1, crop - 1) * mask.narrow(1, 0, crop - 1);
    torch::Tensor gp = gap_of(pred) / os;
    torch::Tensor gap = ((gp.narrow(1, 1, crop - 1) - gp.narrow(1, 0, crop - 1)).pow(2) * m2).sum() / m2.sum().clamp_min(1);
    torch::Tensor vp = pred.narrow(1, 1, crop - 1) - pred.narrow(1, 0, crop - 1);
    torch::Tensor vt = delta.narrow(1, 1, crop - 1) - delta.narrow(1, 0, crop - 1);
    torch::Tensor smooth = (((vp - vt) / os).pow(2).mean(-1) * m2).sum() / m2.sum().clamp_min(1);
    train::StepResult r;
    r.loss = w_l2 * l2 + w_gap * gap + w_smooth * smooth;
    r.parts = {{"l2", l2.item<double>()}, {"lipgap", gap.item<double>()}, {"smooth", smooth.item<double>()}};
    return r;
  };
  hooks.save = [&](const std::string& path, std::int64_t step) {
    std::map<std::string, std::string> meta = {{"emogene.kind", "m2e"},
                                               {"emogene.format", std::to_string(kM2EFormat)},
                                               {"emogene.landmark_space", std::to_string(landmarks::kSpaceVersion)},
                                               {"emogene.config", cfg.dump()},
                                               {"emogene.provenance", provenance(opt.data, step, opt.config_name)}};
    write_tensors(path, all_tensors(model), meta);
  };
  // Preview: the most intense training clip at its apex and at its widest-open mouth; grey the
  // neutral input, blue the true emotional landmarks, red the output.
  std::size_t pv = 0;
  for (std::size_t k = 0; k < clips.size(); ++k)
    if (clips[k].level > clips[pv].level) pv = k;
  hooks.preview = [&](std::int64_t) {
    const PairClip& c = clips[pv];
    model->eval();
    std::vector<float> d = run_delta(model, c.disp, c.weights, c.intensity, c.frames, torch::kCPU);
    model->train();
    std::int64_t apex = 0, open = 0;
    double best_delta = -1;
    float best_gap = -1e9f;
    for (std::int64_t t = 0; t < c.frames; ++t) {
      double dn = 0;  // the apex: the largest true expression
      for (int q = 0; q < 204; ++q) dn += static_cast<double>(c.delta[static_cast<std::size_t>(t * 204 + q)]) * c.delta[static_cast<std::size_t>(t * 204 + q)];
      if (dn > best_delta) {
        best_delta = dn;
        apex = t;
      }
      const float* x = c.disp.data() + t * 204;
      const float g = x[61 * 3 + 1] - x[67 * 3 + 1] + x[62 * 3 + 1] - x[66 * 3 + 1];
      if (g > best_gap) {
        best_gap = g;
        open = t;
      }
    }
    std::vector<Image> panels;
    for (std::int64_t t : {apex, open}) {
      Shape in, truth, out;
      for (int q = 0; q < 204; ++q) {
        const auto k = static_cast<std::size_t>(t * 204 + q);
        in.data()[q] = c.shape.data()[q] + c.disp[k];
        truth.data()[q] = in.data()[q] + c.delta[k];
        out.data()[q] = in.data()[q] + d[k];
      }
      panels.push_back(overlay_panel({in, truth, out}, {{{150, 150, 150}}, {{40, 60, 200}}, {{210, 40, 40}}}));
    }
    return hstack(panels);
  };
  train::RunInfo info = train::run_loop(opt.out, lo, cfg, optimiser, hooks, opt.resume, opt.force);
  TrainM2EReport rep;
  rep.steps = info.last_step;
  rep.seconds = info.seconds;
  rep.final_l2 = info.last_parts.count("l2") ? info.last_parts.at("l2") : 0;
  rep.final_loss = w_l2 * rep.final_l2 + w_gap * (info.last_parts.count("lipgap") ? info.last_parts.at("lipgap") : 0) +
                   w_smooth * (info.last_parts.count("smooth") ? info.last_parts.at("smooth") : 0);
  if (!ds.clips_in_split("val").empty()) {
    M2EModel trained(opt.out);
    rep.val = evaluate_m2e(trained, opt.data, "val");
    spdlog::info("m2e validation ({} clips): F-LMD {:.4f} IOD, M-LMD {:.4f} IOD (input {:.4f} / {:.4f}), lip-gap r {:.3f}, "
                 "magnitude at 1/3, 2/3, 1: {:.4f} {:.4f} {:.4f}",
                 rep.val.clips, rep.val.f_lmd, rep.val.m_lmd, rep.val.f_lmd_input, rep.val.m_lmd_input, rep.val.lip_gap_r,
                 rep.val.magnitude[0], rep.val.magnitude[1], rep.val.magnitude[2]);
  }
  return rep;
}

// ---- application ----------------------------------------------------------------------------------

struct M2EModel::Impl {
  MotionToEmotion model{nullptr};
  std::string path, kind, condition;
  double fps = 25;
  torch::Device device = torch::kCPU;
};

M2EModel::M2EModel(const std::string& path, const std::string& device) : impl_(std::make_unique<Impl>()) {
  SafetensorsFile f(path);
  check_checkpoint(f, "m2e", kM2EFormat);
  nlohmann::json cfg;
  try {
    cfg = nlohmann::json::parse(f.meta("emogene.config"));
    impl_->fps = cfg.at("data").at("fps").get<double>();
  } catch (const nlohmann::json::exception&) {
    throw bad_input(path, "its config metadata is not valid JSON or lacks data.fps");
  }
  if (!(impl_->fps > 0)) throw bad_input(path, "its data.fps is not positive");
  const M2EConfig mc = M2EConfig::from_json(cfg.value("model", nlohmann::json::object()), path);
  impl_->path = path;
  impl_->kind = mc.kind;
  impl_->condition = mc.condition;
  impl_->model = MotionToEmotion(mc);
  load_into(f, all_tensors(impl_->model));
  impl_->model->eval();
  if (device == "cuda" || (device == "auto" && torch::cuda::is_available())) impl_->device = torch::kCUDA;
  impl_->model->to(impl_->device);
}

M2EModel::~M2EModel() = default;
M2EModel::M2EModel(M2EModel&&) noexcept = default;
const std::string& M2EModel::path() const { return impl_->path; }
const std::string& M2EModel::kind() const { return impl_->kind; }
const std::string& M2EModel::condition() const { return impl_->condition; }
double M2EModel::fps() const { return impl_->fps; }
std::int64_t M2EModel::receptive_field() const { return impl_->model->cfg.receptive_field(); }

Sequence M2EModel::apply(const Sequence& neutral_abs, const Shape& shape, const EmotionTrack& track, double fps) const {
  const std::int64_t T = neutral_abs.frames();
  if (track.frames != T || track.weights.size() != static_cast<std::size_t>(T) * kNumEmotions ||
      track.intensity.size() != static_cast<std::size_t>(T))
    throw bad_input(impl_->path, "the emotion track has " + std::to_string(track.frames) + " frames, the landmarks " +
                                     std::to_string(T));
  if (T == 0) return {};
  if (fps <= 0) fps = impl_->fps;
  std::vector<float> disp(neutral_abs.data);
  for (std::size_t k = 0; k < disp.size(); ++k) disp[k] -= shape.data()[k % 204];
  std::vector<float> delta;
  if (std::abs(fps - impl_->fps) < 1e-9) {
    delta = run_delta(impl_->model, disp, track.weights, track.intensity, T, impl_->device);
  } else {  // run at the model's rate (DESIGN §1)
    const std::int64_t Tm = std::max<std::int64_t>(1, landmarks::frame_count(static_cast<double>(T) / fps, impl_->fps));
    std::vector<float> dm = landmarks::resample_linear(disp, 204, fps, impl_->fps, Tm);
    std::vector<float> wm = landmarks::resample_linear(track.weights, kNumEmotions, fps, impl_->fps, Tm);
    std::vector<float> im = landmarks::resample_linear(track.intensity, 1, fps, impl_->fps, Tm);
    delta = landmarks::resample_linear(run_delta(impl_->model, dm, wm, im, Tm, impl_->device), 204, impl_->fps, fps, T);
  }
  Sequence out = neutral_abs;
  for (std::int64_t t = 0; t < T; ++t) {
    if (track.intensity[static_cast<std::size_t>(t)] <= 0) continue;  // neutral frames stay exactly as they came
    for (int q = 0; q < 204; ++q) out.data[static_cast<std::size_t>(t * 204 + q)] += delta[static_cast<std::size_t>(t * 204 + q)];
  }
  return out;
}

// ---- evaluation -----------------------------------------------------------------------------------

M2EEval evaluate_m2e(const M2EModel& model, const std::string& data, const std::string& split, const EmoClassifier* clf) {
  dataset::Dataset ds(data);
  std::vector<PairClip> pairs = load_pairs(ds, split, "m2e evaluation");
  if (model.condition() == "clip")
    for (auto& p : pairs) use_clip_condition(p);
  const double fps = ds.meta().fps;
  M2EEval e;
  std::vector<float> gap_out, gap_in;
  std::vector<double> ordinary;
  std::array<std::int64_t, 3> mag_n{};
  std::int64_t right = 0, right_truth = 0;
  for (const PairClip& p : pairs) {
    const std::int64_t T = p.frames;
    const Sequence neutral = to_sequence(p.disp, p.shape);
    Sequence truth = neutral;
    for (std::size_t k = 0; k < truth.data.size(); ++k) truth.data[k] += p.delta[k];
    EmotionTrack own;
    own.frames = static_cast<int>(T);
    own.weights = p.weights;
    own.intensity = p.intensity;
    const Sequence out = model.apply(neutral, p.shape, own, fps);
    e.f_lmd += eval::face_lmd(out, truth);
    e.m_lmd += eval::mouth_lmd(out, truth);
    e.f_lmd_input += eval::face_lmd(neutral, truth);
    e.m_lmd_input += eval::mouth_lmd(neutral, truth);
    const std::vector<float> go = eval::lip_gap_track(out), gi = eval::lip_gap_track(neutral);
    gap_out.insert(gap_out.end(), go.begin(), go.end());
    gap_in.insert(gap_in.end(), gi.begin(), gi.end());
    const Sequence out0 = model.apply(neutral, p.shape, make_track(parse_spec("neutral"), static_cast<int>(T), fps), fps);
    e.neutral_error = std::max(e.neutral_error, eval::face_lmd(out0, neutral));
    e.clips++;
    e.frames += T;
    if (p.emotion == 0) continue;
    const auto emo = static_cast<Emotion>(p.emotion);
    Sequence full;
    for (int k = 0; k < 3; ++k) {
      Spec s;
      s.keys.push_back(Key{0.0, mix_of(emo, static_cast<float>(k + 1) / 3.f)});
      Sequence o = model.apply(neutral, p.shape, make_track(s, static_cast<int>(T), fps), fps);
      e.magnitude[static_cast<std::size_t>(k)] += eval::face_lmd(o, neutral);
      mag_n[static_cast<std::size_t>(k)]++;
      if (k == 2) full = std::move(o);
    }
    for (std::int64_t t = 0; t + 1 < T; ++t)
      ordinary.push_back(frame_distance(full.data.data() + (t + 1) * 204, full.data.data() + t * 204, p.shape));
    // The change the transition adds: frame-to-frame motion of the delta (output − input).
    const double mid = std::floor(static_cast<double>(T) / fps * 0.5 * 100.0) / 100.0;
    Spec sched;
    sched.keys.push_back(Key{0.0, mix_of(Emotion::Neutral, 1.f)});
    sched.keys.push_back(Key{mid, mix_of(emo, 1.f)});
    const Sequence os = model.apply(neutral, p.shape, make_track(sched, static_cast<int>(T), fps), fps);
    const auto t0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(mid * fps)) - 1);
    const auto t1 = std::min<std::int64_t>(T - 1, static_cast<std::int64_t>(std::ceil((mid + kDefaultRampSeconds) * fps)) + 1);
    std::vector<float> d0(204), d1(204);
    for (std::int64_t t = t0; t < t1; ++t) {
      for (int q = 0; q < 204; ++q) {
        const auto k0 = static_cast<std::size_t>(t * 204 + q), k1 = k0 + 204;
        d0[static_cast<std::size_t>(q)] = os.data[k0] - neutral.data[k0];
        d1[static_cast<std::size_t>(q)] = os.data[k1] - neutral.data[k1];
      }
      e.transition_step = std::max(e.transition_step, frame_distance(d1.data(), d0.data(), p.shape));
    }
    if (clf && p.level >= 2.0 / 3.0 - 1e-3) {
      e.emotion_clips++;
      right += clf->predict(out, p.shape) == emo ? 1 : 0;
      right_truth += clf->predict(truth, p.shape) == emo ? 1 : 0;
    }
  }
  if (e.clips) {
    const auto n = static_cast<double>(e.clips);
    e.f_lmd /= n;
    e.m_lmd /= n;
    e.f_lmd_input /= n;
    e.m_lmd_input /= n;
  }
  for (std::size_t k = 0; k < 3; ++k)
    if (mag_n[k]) e.magnitude[k] /= static_cast<double>(mag_n[k]);
  e.monotonic = mag_n[0] > 0 && e.magnitude[0] < e.magnitude[1] && e.magnitude[1] < e.magnitude[2];
  e.lip_gap_r = eval::pearson(gap_out, gap_in);
  if (!ordinary.empty()) {
    double sum = 0;
    for (double v : ordinary) sum += v;
    e.ordinary_mean = sum / static_cast<double>(ordinary.size());
    const auto k = static_cast<std::size_t>(0.95 * static_cast<double>(ordinary.size() - 1));
    std::nth_element(ordinary.begin(), ordinary.begin() + static_cast<long>(k), ordinary.end());
    e.ordinary_step = ordinary[k];
  }
  if (clf) {
    e.emotion_accuracy = e.emotion_clips ? static_cast<double>(right) / static_cast<double>(e.emotion_clips) : 0.0;
    e.emotion_accuracy_truth = e.emotion_clips ? static_cast<double>(right_truth) / static_cast<double>(e.emotion_clips) : 0.0;
  }
  return e;
}

}  // namespace emogene::emotion
