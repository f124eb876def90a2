// Audio-to-motion training, checkpoints and prediction (a2m_io.h).
#include "emogene/motion/a2m_io.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <random>

#include "emogene/audio/audio.h"
#include "emogene/audio/augment.h"
#include "emogene/core/build_info.h"
#include "emogene/core/error.h"
#include "emogene/core/progress.h"
#include "emogene/core/tensor_io.h"
#include "emogene/dataset/dataset.h"
#include "emogene/eval/landmark_metrics.h"
#include "emogene/motion/a2m.h"
#include "emogene/motion/sync_net.h"
#include "emogene/train/train.h"
#include "motion/clips.h"

namespace emogene::motion {

using landmarks::Shape;
using namespace detail;
namespace F = torch::nn::functional;

std::vector<float> features_at(const features::Features& f, const std::vector<double>& times) {
  std::vector<float> out(times.size() * static_cast<std::size_t>(f.dim), 0.f);
  if (f.frames == 0) return out;
  for (std::size_t k = 0; k < times.size(); ++k) {
    // frame j is centred at 0.02 j + 0.0125 s
    double x = std::clamp((times[k] - 0.0125) * features::kFrameRate, 0.0, static_cast<double>(f.frames - 1));
    auto j0 = static_cast<std::int64_t>(std::floor(x));
    std::int64_t j1 = std::min(j0 + 1, f.frames - 1);
    const float a = static_cast<float>(x - static_cast<double>(j0));
    for (std::int64_t d = 0; d < f.dim; ++d)
      out[k * static_cast<std::size_t>(f.dim) + static_cast<std::size_t>(d)] = (1 - a) * f.at(j0, d) + a * f.at(j1, d);
  }
  return out;
}


// ---- training -------------------------------------------------------------------------------------

TrainA2MReport train_a2m(const TrainA2MOptions& opt) {
  nlohmann::json cfg = opt.config;
  if (opt.steps > 0) cfg["train"]["steps"] = opt.steps;
  const std::string where = opt.config_name.empty() ? "a2m config" : opt.config_name;
  train::LoopOptions lo = train::loop_options(cfg, where);
  const nlohmann::json loss_cfg = cfg.value("loss", nlohmann::json::object());
  const double w_mouth = loss_cfg.value("mouth", 3.0), w_closure = loss_cfg.value("closure", 4.0);
  const double w_cont = loss_cfg.value("continuity", 0.5), w_kl = loss_cfg.value("kl", 0.4), w_rec = loss_cfg.value("recon", 1.0);
  const double kl_warmup = loss_cfg.value("kl_warmup", 1000.0);
  const nlohmann::json data_cfg = cfg.value("data", nlohmann::json::object());
  const int batch = data_cfg.value("batch", 8), variants = data_cfg.value("variants", 2);
  const double crop_s = data_cfg.value("crop_seconds", 2.56);
  const std::string split = data_cfg.value("split", std::string("train"));

  dataset::Dataset ds(opt.data);
  auto ex = features::make_extractor(extractor_options(cfg, where));
  A2MConfig mc = A2MConfig::from_json(cfg.value("model", nlohmann::json::object()), where);
  mc.audio_dim = ex->dim();
  cfg["model"] = mc.to_json();
  std::vector<Clip> clips = load_clips(ds, split, *ex, variants, augment_options(data_cfg.value("augment", nlohmann::json())),
                                       static_cast<float>(w_closure), lo.seed);
  spdlog::info("a2m: {} training sequences from {} ({}), features {} × {}", clips.size(), opt.data, split, ex->name(), ex->dim());

  torch::manual_seed(lo.seed);
  AudioToMotion model(mc);
  model->train();
  double ss = 0, sn = 0;
  for (const auto& c : clips)
    for (float v : c.disp) {
      ss += static_cast<double>(v) * v;
      sn += 1;
    }
  const double scale = std::sqrt(ss / std::max(1.0, sn)) + 1e-8;
  model->motion_scale.fill_(scale);
  spdlog::info("a2m: motion scale (RMS displacement) {:.4g} canonical units", scale);
  NamedTensors params;
  for (auto& p : model->named_parameters()) params.emplace_back(p.key(), p.value());
  train::AdamW optimiser({train::ParamGroup{"a2m", params, {}}});

  const std::int64_t crop = padded_length(static_cast<std::int64_t>(crop_s * kInternalRate), mc.down);
  const std::int64_t D = mc.audio_dim;
  // Per-coordinate weights: the mouth (48-67) counts `mouth` times.
  torch::Tensor dimw = torch::ones({204});
  dimw.index_put_({torch::indexing::Slice(48 * 3, 68 * 3)}, w_mouth);
  dimw = dimw / dimw.mean();
  const features::FrontEndInfo fe = ex->info();
  // Optional lip-sync loss from a frozen sync expert (config "sync": {"checkpoint", "weight", "windows"}).
  const nlohmann::json sync_cfg = cfg.value("sync", nlohmann::json::object());
  const std::string sync_path = sync_cfg.value("checkpoint", std::string());
  const double w_sync = sync_cfg.value("weight", 0.1);
  const int sync_windows = sync_cfg.value("windows", 4);
  SyncNet sync_net{nullptr};
  if (!sync_path.empty() && w_sync > 0) {
    features::FrontEndInfo sfe;
    sync_net = load_sync_net(sync_path, &sfe);
    check_front_end(sfe, fe, sync_path);
    if (sync_net->cfg.window > crop) throw bad_input(sync_path, "its window is longer than the a2m training crop");
    spdlog::info("a2m: sync loss from {} (weight {}, {} windows per sequence)", sync_path, w_sync, sync_windows);
  }

  train::Hooks hooks;
  hooks.step = [&](std::int64_t step, at::Generator& gen) {
    std::mt19937_64 rng(train::step_seed(lo.seed ^ 0xBA7C4ull, step));
    torch::Tensor audio = torch::zeros({batch, crop, D}), target = torch::zeros({batch, crop, 204});
    torch::Tensor mask = torch::zeros({batch, crop}), fw = torch::zeros({batch, crop});
    std::vector<std::int64_t> lens(static_cast<std::size_t>(batch));
    for (int b = 0; b < batch; ++b) {
      const Clip& c = clips[std::uniform_int_distribution<std::size_t>(0, clips.size() - 1)(rng)];
      const std::int64_t len = std::min(crop, c.frames);
      lens[static_cast<std::size_t>(b)] = len;
      const std::int64_t start = std::uniform_int_distribution<std::int64_t>(0, c.frames - len)(rng);
      audio[b].narrow(0, 0, len).copy_(torch::from_blob(const_cast<float*>(c.feats.data()) + start * D, {len, D}, torch::kFloat));
      target[b].narrow(0, 0, len).copy_(torch::from_blob(const_cast<float*>(c.disp.data()) + start * 204, {len, 204}, torch::kFloat));
      fw[b].narrow(0, 0, len).copy_(torch::from_blob(const_cast<float*>(c.weight.data()) + start, {len}, torch::kFloat));
      mask[b].narrow(0, 0, len).fill_(1.f);
    }
    A2MOutput o = model->forward(audio, target, mask, gen);
    const torch::Tensor valid = mask.sum().clamp_min(1);
    // errors in units of the motion scale
    torch::Tensor err = ((o.recon - target) / scale).pow(2) * dimw;            // [B, T, 204]
    torch::Tensor rec = (err.mean(-1) * fw * mask).sum() / (fw * mask).sum().clamp_min(1);
    torch::Tensor vel_p = o.recon.narrow(1, 1, crop - 1) - o.recon.narrow(1, 0, crop - 1);
    torch::Tensor vel_t = target.narrow(1, 1, crop - 1) - target.narrow(1, 0, crop - 1);
    torch::Tensor m2 = mask.narrow(1, 1, crop - 1) * mask.narrow(1, 0, crop - 1);
    torch::Tensor cont = (((vel_p - vel_t) / scale).pow(2).mean(-1) * m2).sum() / m2.sum().clamp_min(1);
    const double klw = w_kl * std::min(1.0, static_cast<double>(step + 1) / std::max(1.0, kl_warmup));
    train::StepResult r;
    r.loss = w_rec * rec + w_cont * cont + klw * o.kl;
    r.parts = {{"recon", rec.item<double>()}, {"continuity", cont.item<double>()}, {"kl", o.kl.item<double>()}};
    if (sync_net) {
      const std::int64_t W = sync_net->cfg.window;
      std::vector<torch::Tensor> aw, mw;
      for (int b = 0; b < batch; ++b) {
        const std::int64_t len = lens[static_cast<std::size_t>(b)];
        if (len < W) continue;
        for (int k = 0; k < sync_windows; ++k) {
          const std::int64_t s0 = std::uniform_int_distribution<std::int64_t>(0, len - W)(rng);
          aw.push_back(audio[b].narrow(0, s0, W));
          mw.push_back(o.recon[b].narrow(0, s0, W));
        }
      }
      if (!aw.empty()) {
        torch::Tensor sl = F::softplus(-sync_net->forward(torch::stack(aw), torch::stack(mw))).mean();
        r.loss = r.loss + w_sync * sl;
        r.parts["sync"] = sl.item<double>();
      }
    }
    (void)valid;
    return r;
  };
  hooks.save = [&](const std::string& path, std::int64_t step) {
    NamedTensors all;
    std::vector<std::string> names;
    for (auto& p : model->named_parameters()) {
      all.emplace_back(p.key(), p.value());
      names.push_back(p.key());
    }
    for (auto& b : model->named_buffers()) all.emplace_back(b.key(), b.value());
    std::map<std::string, std::string> meta = {{"emogene.kind", "a2m"},
                                               {"emogene.format", std::to_string(kA2MFormat)},
                                               {"emogene.landmark_space", std::to_string(landmarks::kSpaceVersion)},
                                               {"emogene.config", cfg.dump()},
                                               {"emogene.frontend", front_end_json(fe).dump()},
                                               {"emogene.provenance", provenance(opt.data, step, opt.config_name)}};
    write_tensors(path, all, meta, f16_names(cfg, names));
  };
  hooks.preview = [&](std::int64_t) {
    torch::NoGradGuard ng;
    model->eval();
    const Clip& c = clips.front();
    const std::int64_t T = padded_length(c.frames, mc.down);
    torch::Tensor audio = torch::zeros({1, T, D});
    audio[0].narrow(0, 0, c.frames).copy_(torch::from_blob(const_cast<float*>(c.feats.data()), {c.frames, D}, torch::kFloat));
    torch::Tensor mask = torch::zeros({1, T});
    mask[0].narrow(0, 0, c.frames).fill_(1.f);
    at::Generator g = at::detail::createCPUGenerator(1);
    torch::Tensor pred = model->infer(audio, mask, 0.0, g)[0].contiguous();
    model->train();
    std::vector<float> gt, gp;
    for (std::int64_t i = 0; i < c.frames; ++i) {
      Shape st, sp;
      for (int q = 0; q < 204; ++q) {
        st.data()[q] = c.disp[static_cast<std::size_t>(i * 204 + q)];
        sp.data()[q] = pred[i][q].item<float>();
      }
      // lip gap of a displacement alone is relative; both tracks share the offset
      gt.push_back(st(66, 1) - st(62, 1));
      gp.push_back(sp(66, 1) - sp(62, 1));
    }
    for (auto* v : {&gt, &gp})
      for (float& x : *v) x = -x;
    float lo_v = 1e9f;
    for (float x : gt) lo_v = std::min(lo_v, x);
    for (float x : gp) lo_v = std::min(lo_v, x);
    for (auto* v : {&gt, &gp})
      for (float& x : *v) x -= lo_v;
    return line_plot(gt, gp);
  };
  train::RunInfo info = train::run_loop(opt.out, lo, cfg, optimiser, hooks, opt.resume, opt.force);
  if (!ds.clips_in_split("test").empty()) {
    A2MModel trained(opt.out);
    A2MEval ev = evaluate_a2m(trained, opt.data, "test", *ex, 0.0);
    spdlog::info("a2m held-out (test split, {} clips, temperature 0): M-LMD {:.4f} IOD ({:.2f} px at 256²), F-LMD {:.4f} IOD, "
                 "lip-gap r {:.3f}, lips closed at {:.1f}% of {} p/b/m",
                 ev.clips, ev.m_lmd, ev.m_lmd_px, ev.f_lmd, ev.lip_gap_r, 100 * ev.closed_at_bilabials, ev.bilabials);
  }
  TrainA2MReport rep;
  rep.steps = info.last_step;
  rep.seconds = info.seconds;
  rep.final_recon = info.last_parts.count("recon") ? info.last_parts.at("recon") : 0;
  rep.final_kl = info.last_parts.count("kl") ? info.last_parts.at("kl") : 0;
  return rep;
}

// ---- inference ------------------------------------------------------------------------------------

struct A2MModel::Impl {
  AudioToMotion model{nullptr};
  std::int64_t chunk_steps = 3000;  // 60 s at the internal rate
  features::FrontEndInfo fe;
  torch::Device device = torch::kCPU;
  std::string path;
};

A2MModel::A2MModel(const std::string& path, const std::string& device) : impl_(std::make_unique<Impl>()) {
  SafetensorsFile f(path);
  check_checkpoint(f, "a2m", kA2MFormat);
  nlohmann::json cfg, fe;
  try {
    cfg = nlohmann::json::parse(f.meta("emogene.config"));
    fe = nlohmann::json::parse(f.meta("emogene.frontend"));
  } catch (const nlohmann::json::exception&) {
    throw bad_input(path, "its config or front-end metadata is not valid JSON");
  }
  impl_->path = path;
  impl_->fe = front_end_from_json(fe);
  impl_->model = AudioToMotion(A2MConfig::from_json(cfg.value("model", nlohmann::json::object()), path));
  NamedTensors targets;
  for (auto& p : impl_->model->named_parameters()) targets.emplace_back(p.key(), p.value());
  for (auto& b : impl_->model->named_buffers()) targets.emplace_back(b.key(), b.value());
  load_into(f, targets);
  impl_->model->eval();
  if (device == "cuda" || (device == "auto" && torch::cuda::is_available())) impl_->device = torch::kCUDA;
  impl_->model->to(impl_->device);
}

A2MModel::~A2MModel() = default;
A2MModel::A2MModel(A2MModel&&) noexcept = default;

const features::FrontEndInfo& A2MModel::front_end() const { return impl_->fe; }

void A2MModel::set_chunk_seconds(double seconds) {
  impl_->chunk_steps = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::lround(seconds * kInternalRate)));
}

void A2MModel::check_front_end(const features::FrontEndInfo& a) const { detail::check_front_end(impl_->fe, a, impl_->path); }

landmarks::Sequence A2MModel::predict(const features::Features& f, const Shape& neutral, double fps, std::int64_t frames,
                                      double temperature, std::uint64_t seed) const {
  if (f.dim != impl_->fe.dim)
    throw bad_input(impl_->path, "expects " + std::to_string(impl_->fe.dim) + "-dimensional features, got " + std::to_string(f.dim));
  torch::InferenceMode guard;
  const auto& cfg = impl_->model->cfg;
  const auto Ti = static_cast<std::int64_t>(std::ceil(static_cast<double>(frames) / fps * kInternalRate));
  const std::int64_t Tp = padded_length(std::max<std::int64_t>(Ti, 1), cfg.down);
  std::vector<double> times(static_cast<std::size_t>(Ti));
  for (std::int64_t i = 0; i < Ti; ++i) times[static_cast<std::size_t>(i)] = (static_cast<double>(i) + 0.5) / kInternalRate;
  std::vector<float> feats = features_at(f, times);
  torch::Tensor audio = torch::zeros({1, Tp, f.dim});
  torch::Tensor mask = torch::zeros({1, Tp});
  if (Ti > 0) {
    audio[0].narrow(0, 0, Ti).copy_(torch::from_blob(feats.data(), {Ti, f.dim}, torch::kFloat));
    mask[0].narrow(0, 0, Ti).fill_(1.f);
  }
  // One noise sequence for the whole clip; decoded in chunks of chunk_steps with the model's receptive
  // field as context on both sides, so the chunks join without seams (equal to one pass).
  at::Generator g = at::detail::createCPUGenerator(seed);
  torch::Tensor noise = torch::randn({1, cfg.latent, Tp / cfg.down}, g, torch::TensorOptions().dtype(torch::kFloat));
  const std::int64_t D = cfg.down, rf = impl_->model->receptive_field();
  const std::int64_t chunk = std::max<std::int64_t>(D, impl_->chunk_steps / D * D);
  torch::Tensor out = torch::empty({Tp, 204});
  for (std::int64_t s0 = 0; s0 < Tp; s0 += chunk) {
    const std::int64_t s1 = std::min(Tp, s0 + chunk), a = std::max<std::int64_t>(0, s0 - rf), b = std::min(Tp, s1 + rf);
    torch::Tensor part = impl_->model->infer_with_noise(audio.narrow(1, a, b - a).to(impl_->device), mask.narrow(1, a, b - a).to(impl_->device),
                                                        temperature, noise.narrow(2, a / D, (b - a) / D).to(impl_->device));
    out.narrow(0, s0, s1 - s0).copy_(part[0].narrow(0, s0 - a, s1 - s0).to(torch::kCPU));
  }
  torch::Tensor disp = out.narrow(0, 0, std::max<std::int64_t>(Ti, 1)).contiguous();
  std::vector<float> d(disp.data_ptr<float>(), disp.data_ptr<float>() + disp.numel());
  std::vector<float> r = landmarks::resample_linear(d, 204, kInternalRate, fps, frames);
  landmarks::Sequence s{std::move(r)};
  for (std::int64_t i = 0; i < frames; ++i) s.frame(i) += neutral;
  return s;
}

std::vector<double> A2MModel::kl_per_dim(const features::Features& f, const landmarks::Sequence& truth, const Shape& neutral,
                                         double fps) const {
  torch::InferenceMode guard;
  const auto& cfg = impl_->model->cfg;
  const auto Ti = static_cast<std::int64_t>(std::floor(static_cast<double>(truth.frames()) / fps * kInternalRate));
  if (Ti < cfg.down) return std::vector<double>(static_cast<std::size_t>(cfg.latent), 0.0);
  const std::int64_t Tp = padded_length(Ti, cfg.down);
  std::vector<double> times(static_cast<std::size_t>(Ti));
  for (std::int64_t i = 0; i < Ti; ++i) times[static_cast<std::size_t>(i)] = (static_cast<double>(i) + 0.5) / kInternalRate;
  std::vector<float> feats = features_at(f, times), disp(static_cast<std::size_t>(Ti) * 204);
  for (std::int64_t i = 0; i < Ti; ++i) disp_at(truth, neutral, fps, times[static_cast<std::size_t>(i)], disp.data() + i * 204);
  torch::Tensor audio = torch::zeros({1, Tp, f.dim}), target = torch::zeros({1, Tp, 204}), mask = torch::zeros({1, Tp});
  audio[0].narrow(0, 0, Ti).copy_(torch::from_blob(feats.data(), {Ti, f.dim}, torch::kFloat));
  target[0].narrow(0, 0, Ti).copy_(torch::from_blob(disp.data(), {Ti, 204}, torch::kFloat));
  mask[0].narrow(0, 0, Ti).fill_(1.f);
  at::Generator g = at::detail::createCPUGenerator(1);
  A2MOutput o = impl_->model->forward(audio.to(impl_->device), target.to(impl_->device), mask.to(impl_->device), g);
  torch::Tensor k = o.kl_per_dim.to(torch::kCPU).to(torch::kDouble).contiguous();
  return std::vector<double>(k.data_ptr<double>(), k.data_ptr<double>() + k.numel());
}

A2MEval evaluate_a2m(const A2MModel& model, const std::string& data, const std::string& split,
                     const features::FeatureExtractor& ex, double temperature, const SyncExpert* sync) {
  model.check_front_end(ex.info());
  if (sync) sync->check_front_end(ex.info());
  std::vector<SyncScore> scores;
  dataset::Dataset ds(data);
  const auto idx = ds.clips_in_split(split);
  if (idx.empty()) throw bad_input(data, "has no clips in the '" + split + "' split");
  A2MEval e;
  std::vector<float> all_p, all_t;
  // Pixels at 256²: IOD of the frontal projection (fx scaled to 256, camera distance 8 units).
  const double fx256 = ds.meta().intrinsics[0] > 0 ? ds.meta().intrinsics[0] * 256.0 / ds.meta().size[0] : 560.0;
  for (std::size_t ci : idx) {
    dataset::ClipData c = ds.load_clip(ci, true);
    if (c.landmarks_neutral.data.empty()) continue;
    const Shape n = ds.neutral_shape(ds.meta().clips[ci].identity);
    features::Features f = ex.extract(c.audio);
    landmarks::Sequence p = model.predict(f, n, ds.meta().fps, c.frames(), temperature, 1);
    const landmarks::Sequence& t = c.landmarks_neutral;
    e.m_lmd += eval::mouth_lmd(p, t);
    e.f_lmd += eval::face_lmd(p, t);
    e.m_lmd_px += eval::mouth_lmd(p, t) * landmarks::iod(n) * fx256 / 8.0;
    e.seed_diff += eval::face_lmd(model.predict(f, n, ds.meta().fps, c.frames(), temperature, 2), p);
    const std::vector<double> kl = model.kl_per_dim(f, t, n, ds.meta().fps);
    if (e.kl_per_dim.empty()) e.kl_per_dim.assign(kl.size(), 0.0);
    for (std::size_t k = 0; k < kl.size(); ++k) e.kl_per_dim[k] += kl[k];
    if (sync) scores.push_back(sync->score(f, p, n, ds.meta().fps));
    std::vector<float> gp = eval::lip_gap_track(p), gt = eval::lip_gap_track(t);
    all_p.insert(all_p.end(), gp.begin(), gp.end());
    all_t.insert(all_t.end(), gt.begin(), gt.end());
    const float gmax = *std::max_element(gt.begin(), gt.end());
    for (const auto& ph : c.phonemes) {
      const std::string name = ph.value("phone", std::string());
      if (name != "p" && name != "b" && name != "m") continue;
      const double mid = 0.5 * (ph.value("start", 0.0) + ph.value("end", 0.0));
      const auto i = std::min<std::int64_t>(c.frames() - 1, static_cast<std::int64_t>(mid * ds.meta().fps));
      e.bilabials++;
      e.closed_at_bilabials += gp[static_cast<std::size_t>(i)] <= 0.15f * gmax ? 1 : 0;
    }
    e.clips++;
    e.frames += c.frames();
  }
  if (e.clips) {
    e.m_lmd /= static_cast<double>(e.clips);
    e.f_lmd /= static_cast<double>(e.clips);
    e.m_lmd_px /= static_cast<double>(e.clips);
    e.seed_diff /= static_cast<double>(e.clips);
    for (double& k : e.kl_per_dim) k /= static_cast<double>(e.clips);
  }
  if (sync) e.sync = combine(scores);
  if (e.bilabials) e.closed_at_bilabials /= static_cast<double>(e.bilabials);
  e.lip_gap_r = eval::pearson(all_p, all_t);
  return e;
}

AudioEval evaluate_a2m_on_audio(const A2MModel& model, const std::vector<std::string>& files, const features::FeatureExtractor& ex,
                                double fps, double temperature, const SyncExpert* sync, int max_lag) {
  check_input(fps > 0, "--fps", "must be positive");
  AudioEval out;
  std::vector<SyncScore> scores;
  Progress progress("eval audio", static_cast<std::int64_t>(files.size()), "files");
  for (const std::string& p : files) {
    const std::vector<float> mono = audio::load_mono_16k(p);
    if (mono.empty()) throw bad_input(p, "has no audio samples");
    const features::Features f = ex.extract(mono);
    AudioFileEval fe;
    fe.file = p;
    fe.seconds = static_cast<double>(mono.size()) / 16000.0;
    const auto frames = static_cast<std::int64_t>(std::ceil(fe.seconds * fps));
    const landmarks::Sequence lm = model.predict(f, landmarks::mean_face(), fps, frames, temperature, 1);
    const eval::LagCorrelation lc =
        eval::lag_correlation(eval::audio_envelope(mono, 16000, fps, frames), eval::lip_gap_track(lm), max_lag);
    fe.r0 = lc.r0;
    fe.r_at_lag = lc.r_at_lag;
    fe.lag = lc.lag;
    if (sync) {
      fe.sync = sync->score(f, lm, landmarks::mean_face(), fps);
      scores.push_back(fe.sync);
    }
    out.mean_r0 += fe.r0 / static_cast<double>(files.size());
    out.mean_r_at_lag += fe.r_at_lag / static_cast<double>(files.size());
    out.mean_lag += fe.lag / static_cast<double>(files.size());
    out.files.push_back(fe);
    progress.update(static_cast<std::int64_t>(out.files.size()));
  }
  progress.finish();
  if (sync) out.sync = combine(scores);
  return out;
}

}  // namespace emogene::motion
