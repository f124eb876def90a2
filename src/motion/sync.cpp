// The landmark-audio sync expert: network (sync_net.h), training and scoring (sync.h).
#include "emogene/motion/sync.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "emogene/core/error.h"
#include "emogene/core/safetensors.h"
#include "emogene/core/tensor_io.h"
#include "emogene/dataset/dataset.h"
#include "emogene/motion/a2m.h"
#include "emogene/motion/a2m_io.h"
#include "emogene/motion/sync_net.h"
#include "emogene/train/train.h"
#include "motion/clips.h"

namespace emogene::motion {

namespace F = torch::nn::functional;
using torch::indexing::Slice;
using namespace detail;

// ---- network --------------------------------------------------------------------------------------

SyncConfig SyncConfig::from_json(const nlohmann::json& j, const std::string& where) {
  SyncConfig c;
  if (j.is_null()) return c;
  static const std::set<std::string> known = {"audio_dim", "window", "hidden", "embed"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key())) throw bad_input(where, "unknown setting model." + it.key());
  try {
    c.audio_dim = j.value("audio_dim", c.audio_dim);
    c.window = j.value("window", c.window);
    c.hidden = j.value("hidden", c.hidden);
    c.embed = j.value("embed", c.embed);
  } catch (const nlohmann::json::exception& e) {
    throw bad_input(where, std::string("a model setting has the wrong type (") + e.what() + ")");
  }
  if (c.window < 4 || c.window > 100) throw bad_input(where, "model.window must be 4-100 steps of 20 ms");
  if (c.hidden < 8 || c.embed < 8 || c.audio_dim < 1) throw bad_input(where, "model sizes must be positive");
  return c;
}

nlohmann::json SyncConfig::to_json() const {
  return {{"audio_dim", audio_dim}, {"window", window}, {"hidden", hidden}, {"embed", embed}};
}

SyncEncoderImpl::SyncEncoderImpl(std::int64_t in, std::int64_t hidden, std::int64_t window, std::int64_t embed) {
  proj = register_module("proj", torch::nn::Conv1d(torch::nn::Conv1dOptions(in, hidden, 3).padding(1)));
  convs = register_module("convs", torch::nn::ModuleList());
  for (std::int64_t d : {1, 2, 4}) convs->push_back(torch::nn::Conv1d(torch::nn::Conv1dOptions(hidden, hidden, 3).dilation(d).padding(d)));
  head = register_module("head", torch::nn::Linear(hidden * window, embed));
}

torch::Tensor SyncEncoderImpl::forward(torch::Tensor x) {
  torch::Tensor h = F::gelu(proj(x.transpose(1, 2)));
  for (const auto& m : *convs) h = h + F::gelu(m->as<torch::nn::Conv1d>()->forward(h));
  return F::normalize(head(h.flatten(1)), F::NormalizeFuncOptions().dim(1).eps(1e-6));
}

SyncNetImpl::SyncNetImpl(const SyncConfig& c) : cfg(c) {
  audio_enc = register_module("audio_enc", SyncEncoder(c.audio_dim, c.hidden, c.window, c.embed));
  mouth_enc = register_module("mouth_enc", SyncEncoder(kSyncMouthDims, c.hidden, c.window, c.embed));
  logit_scale = register_parameter("logit_scale", torch::full({1}, 10.f));
  logit_bias = register_parameter("logit_bias", torch::full({1}, -5.f));
  audio_mean = register_buffer("audio_mean", torch::zeros({c.audio_dim}));
  audio_std = register_buffer("audio_std", torch::ones({c.audio_dim}));
  mouth_std = register_buffer("mouth_std", torch::ones({kSyncMouthDims}));
}

torch::Tensor mouth_xy(torch::Tensor disp) {
  auto sizes = disp.sizes().vec();
  sizes.back() = 68;
  sizes.push_back(3);
  torch::Tensor p = disp.reshape(sizes).narrow(-2, 48, 20).narrow(-1, 0, 2);
  sizes.pop_back();
  sizes.back() = kSyncMouthDims;
  return p.reshape(sizes);
}

torch::Tensor SyncNetImpl::normalise_audio(torch::Tensor audio) const { return (audio - audio_mean) / audio_std; }

torch::Tensor SyncNetImpl::normalise_mouth(torch::Tensor mouth) const {
  if (mouth.size(-1) == 204) mouth = mouth_xy(mouth);
  return mouth / mouth_std;
}

torch::Tensor SyncNetImpl::cosine(torch::Tensor audio, torch::Tensor mouth) {
  return (audio_enc(normalise_audio(audio)) * mouth_enc(normalise_mouth(mouth))).sum(1);
}

torch::Tensor SyncNetImpl::forward(torch::Tensor audio, torch::Tensor mouth) {
  return logit_scale * cosine(audio, mouth) + logit_bias;
}

namespace {

NamedTensors all_tensors(SyncNet& net) {
  NamedTensors all;
  for (auto& p : net->named_parameters()) all.emplace_back(p.key(), p.value());
  for (auto& b : net->named_buffers()) all.emplace_back(b.key(), b.value());
  return all;
}

}  // namespace

SyncNet load_sync_net(const std::string& path, features::FrontEndInfo* fe) {
  SafetensorsFile f(path);
  check_checkpoint(f, "sync", kSyncFormat);
  nlohmann::json cfg, fj;
  try {
    cfg = nlohmann::json::parse(f.meta("emogene.config"));
    fj = nlohmann::json::parse(f.meta("emogene.frontend"));
  } catch (const nlohmann::json::exception&) {
    throw bad_input(path, "its config or front-end metadata is not valid JSON");
  }
  SyncNet net(SyncConfig::from_json(cfg.value("model", nlohmann::json::object()), path));
  load_into(f, all_tensors(net));
  net->eval();
  for (auto& p : net->parameters()) p.set_requires_grad(false);
  if (fe) *fe = front_end_from_json(fj);
  return net;
}

// ---- scoring --------------------------------------------------------------------------------------

namespace {

// Embeddings of every window start p in [0, T - W]: [T - W + 1, E] for audio and mouth tracks at the
// internal rate (feats [T, D], disp [T, 204]).
std::pair<torch::Tensor, torch::Tensor> embed_all(SyncNet& net, const std::vector<float>& feats, const std::vector<float>& disp,
                                                  std::int64_t T, std::int64_t D) {
  const std::int64_t W = net->cfg.window, n = T - W + 1;
  torch::Tensor a = torch::from_blob(const_cast<float*>(feats.data()), {T, D}, torch::kFloat);
  torch::Tensor m = torch::from_blob(const_cast<float*>(disp.data()), {T, 204}, torch::kFloat);
  // unfold: [n, D, W] → [n, W, D]
  torch::Tensor aw = a.unfold(0, W, 1).transpose(1, 2).contiguous();
  torch::Tensor mw = m.unfold(0, W, 1).transpose(1, 2).contiguous();
  std::vector<torch::Tensor> ea, em;
  for (std::int64_t s = 0; s < n; s += 512) {
    const std::int64_t k = std::min<std::int64_t>(512, n - s);
    ea.push_back(net->audio_enc(net->normalise_audio(aw.narrow(0, s, k))));
    em.push_back(net->mouth_enc(net->normalise_mouth(mw.narrow(0, s, k))));
  }
  return {torch::cat(ea), torch::cat(em)};
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

void finish_score(SyncScore& s) {
  if (s.cosine.empty()) return;
  const auto it = std::max_element(s.cosine.begin(), s.cosine.end());
  s.best_offset = s.offsets[static_cast<std::size_t>(it - s.cosine.begin())];
  s.margin = *it - median(s.cosine);
}

}  // namespace

SyncScore combine(const std::vector<SyncScore>& parts) {
  SyncScore out;
  for (const auto& p : parts) {
    if (p.windows == 0) continue;
    if (out.offsets.empty()) {
      out.offsets = p.offsets;
      out.cosine.assign(p.cosine.size(), 0.0);
    }
    if (p.offsets != out.offsets) throw internal_error("sync", "combining scores over different offsets");
    for (std::size_t k = 0; k < p.cosine.size(); ++k) out.cosine[k] += p.cosine[k] * static_cast<double>(p.windows);
    out.confidence += p.confidence * static_cast<double>(p.windows);
    out.windows += p.windows;
  }
  if (out.windows == 0) return out;
  for (double& c : out.cosine) c /= static_cast<double>(out.windows);
  out.confidence /= static_cast<double>(out.windows);
  finish_score(out);
  return out;
}

struct SyncExpert::Impl {
  SyncNet net{nullptr};
  features::FrontEndInfo fe;
  std::string path;
};

SyncExpert::SyncExpert(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->net = load_sync_net(path, &impl_->fe);
  impl_->path = path;
}
SyncExpert::~SyncExpert() = default;
SyncExpert::SyncExpert(SyncExpert&&) noexcept = default;
const features::FrontEndInfo& SyncExpert::front_end() const { return impl_->fe; }
void SyncExpert::check_front_end(const features::FrontEndInfo& a) const { detail::check_front_end(impl_->fe, a, impl_->path); }
const std::string& SyncExpert::path() const { return impl_->path; }

SyncScore SyncExpert::score(const features::Features& f, const landmarks::Sequence& lm, const landmarks::Shape& neutral,
                            double fps, int max_offset) const {
  if (f.dim != impl_->fe.dim)
    throw bad_input(impl_->path, "expects " + std::to_string(impl_->fe.dim) + "-dimensional features, got " + std::to_string(f.dim));
  torch::InferenceMode guard;
  SyncScore s;
  for (int o = -max_offset; o <= max_offset; ++o) s.offsets.push_back(o);
  s.cosine.assign(s.offsets.size(), 0.0);
  const std::int64_t frames = lm.frames();
  const auto T = static_cast<std::int64_t>(std::floor(static_cast<double>(frames) / fps * kInternalRate));
  const std::int64_t W = impl_->net->cfg.window;
  const int step = static_cast<int>(std::lround(kInternalRate / fps));  // internal steps per video frame
  const std::int64_t reach = static_cast<std::int64_t>(max_offset) * step;
  if (T < W + 2 * reach + 1) return s;
  std::vector<double> times(static_cast<std::size_t>(T));
  for (std::int64_t i = 0; i < T; ++i) times[static_cast<std::size_t>(i)] = (static_cast<double>(i) + 0.5) / kInternalRate;
  std::vector<float> feats = features_at(f, times);
  std::vector<float> d = lm.data;
  for (std::int64_t i = 0; i < frames; ++i)
    for (int q = 0; q < 204; ++q) d[static_cast<std::size_t>(i * 204 + q)] -= neutral.data()[q];
  std::vector<float> disp = landmarks::resample_linear(d, 204, fps, kInternalRate, T);
  auto [ea, em] = embed_all(impl_->net, feats, disp, T, f.dim);
  // audio windows p in [reach, n - reach), compared with mouth windows p + o·step
  const std::int64_t n = T - W + 1, count = n - 2 * reach;
  torch::Tensor a = ea.narrow(0, reach, count);
  for (std::size_t k = 0; k < s.offsets.size(); ++k) {
    torch::Tensor cos = (a * em.narrow(0, reach + s.offsets[k] * step, count)).sum(1);
    s.cosine[k] = cos.mean().item<double>();
    if (s.offsets[k] == 0)
      s.confidence = torch::sigmoid(impl_->net->logit_scale * cos + impl_->net->logit_bias).mean().item<double>();
  }
  s.windows = count;
  finish_score(s);
  return s;
}

SyncCurve SyncExpert::curve(const std::string& data, const std::string& split, const features::FeatureExtractor& ex,
                            const std::vector<int>& offsets) const {
  check_front_end(ex.info());
  dataset::Dataset ds(data);
  const auto idx = ds.clips_in_split(split);
  if (idx.empty()) throw bad_input(data, "has no clips in the '" + split + "' split");
  torch::InferenceMode guard;
  SyncCurve c;
  c.offsets = offsets;
  std::vector<double> right(offsets.size(), 0.0);
  int reach_frames = 0;
  for (int o : offsets) reach_frames = std::max(reach_frames, std::abs(o));
  const double fps = ds.meta().fps;
  const int step = static_cast<int>(std::lround(kInternalRate / fps));
  const std::int64_t W = impl_->net->cfg.window, reach = static_cast<std::int64_t>(reach_frames) * step;
  for (std::size_t ci : idx) {
    dataset::ClipData clip = ds.load_clip(ci, true);
    if (clip.landmarks_neutral.data.empty()) continue;
    const landmarks::Shape n0 = ds.neutral_shape(ds.meta().clips[ci].identity);
    features::Features f = ex.extract(clip.audio);
    const auto T = static_cast<std::int64_t>(std::floor(static_cast<double>(clip.frames()) / fps * kInternalRate));
    if (T < W + 2 * reach + 1) continue;
    std::vector<double> times(static_cast<std::size_t>(T));
    for (std::int64_t i = 0; i < T; ++i) times[static_cast<std::size_t>(i)] = (static_cast<double>(i) + 0.5) / kInternalRate;
    std::vector<float> feats = features_at(f, times), disp(static_cast<std::size_t>(T) * 204);
    for (std::int64_t i = 0; i < T; ++i) disp_at(clip.landmarks_neutral, n0, fps, times[static_cast<std::size_t>(i)], disp.data() + i * 204);
    auto [ea, em] = embed_all(impl_->net, feats, disp, T, f.dim);
    const std::int64_t count = T - W + 1 - 2 * reach;
    torch::Tensor a = ea.narrow(0, reach, count);
    for (std::size_t k = 0; k < offsets.size(); ++k) {
      torch::Tensor cos = (a * em.narrow(0, reach + offsets[k] * step, count)).sum(1);
      torch::Tensor in_sync = (impl_->net->logit_scale * cos + impl_->net->logit_bias) > 0;
      right[k] += (offsets[k] == 0 ? in_sync : in_sync.logical_not()).sum().item<double>();
    }
    c.windows += count;
  }
  c.accuracy.assign(offsets.size(), 0.0);
  double off = 0, zero = 0;
  int n_off = 0;
  for (std::size_t k = 0; k < offsets.size(); ++k) {
    c.accuracy[k] = c.windows ? right[k] / static_cast<double>(c.windows) : 0.0;
    if (offsets[k] == 0) {
      zero = c.accuracy[k];
    } else {
      off += c.accuracy[k];
      n_off++;
    }
  }
  c.auc_like = 0.5 * (zero + (n_off ? off / n_off : 0.0));
  return c;
}

// ---- training -------------------------------------------------------------------------------------

TrainSyncReport train_sync(const TrainSyncOptions& opt) {
  nlohmann::json cfg = opt.config;
  if (opt.steps > 0) cfg["train"]["steps"] = opt.steps;
  const std::string where = opt.config_name.empty() ? "sync config" : opt.config_name;
  train::LoopOptions lo = train::loop_options(cfg, where);
  const nlohmann::json data_cfg = cfg.value("data", nlohmann::json::object());
  const nlohmann::json neg = cfg.value("negatives", nlohmann::json::object());
  const int batch = data_cfg.value("batch", 64), variants = data_cfg.value("variants", 1);
  const std::string split = data_cfg.value("split", std::string("train"));
  const double p_shift = neg.value("p_shift", 0.7);
  const int min_shift = neg.value("min_shift", 2), max_shift = neg.value("max_shift", 25);
  if (min_shift < 1 || max_shift < min_shift) throw bad_input(where, "negatives need 1 <= min_shift <= max_shift");

  dataset::Dataset ds(opt.data);
  auto ex = features::make_extractor(extractor_options(cfg, where));
  SyncConfig sc = SyncConfig::from_json(cfg.value("model", nlohmann::json::object()), where);
  sc.audio_dim = ex->dim();
  cfg["model"] = sc.to_json();
  std::vector<Clip> all = load_clips(ds, split, *ex, variants, augment_options(data_cfg.value("augment", nlohmann::json())), 0.f,
                                     lo.seed);
  std::vector<Clip> clips;
  for (auto& c : all)
    if (c.frames >= sc.window + 2) clips.push_back(std::move(c));
  if (clips.empty()) throw bad_input(opt.data, "no clip is longer than the sync window");
  spdlog::info("sync: {} training sequences from {} ({}), features {} × {}, window {} ms", clips.size(), opt.data, split,
               ex->name(), ex->dim(), sc.window * 20);

  torch::manual_seed(lo.seed);
  SyncNet net(sc);
  net->train();
  {  // input normalisation from the training data
    const std::int64_t D = sc.audio_dim;
    std::vector<double> s1(static_cast<std::size_t>(D)), s2(static_cast<std::size_t>(D)), m2(kSyncMouthDims);
    double n = 0;
    for (const auto& c : clips)
      for (std::int64_t t = 0; t < c.frames; ++t) {
        for (std::int64_t d = 0; d < D; ++d) {
          const double v = c.feats[static_cast<std::size_t>(t * D + d)];
          s1[static_cast<std::size_t>(d)] += v;
          s2[static_cast<std::size_t>(d)] += v * v;
        }
        for (int p = 0; p < 20; ++p)
          for (int k = 0; k < 2; ++k) {
            const double v = c.disp[static_cast<std::size_t>(t * 204 + (48 + p) * 3 + k)];
            m2[static_cast<std::size_t>(p * 2 + k)] += v * v;
          }
        n += 1;
      }
    torch::NoGradGuard ng;
    for (std::int64_t d = 0; d < D; ++d) {
      const double mean = s1[static_cast<std::size_t>(d)] / n;
      net->audio_mean[d] = mean;
      net->audio_std[d] = std::sqrt(std::max(1e-8, s2[static_cast<std::size_t>(d)] / n - mean * mean));
    }
    double mean_m = 0;
    for (double v : m2) mean_m += std::sqrt(v / n) / kSyncMouthDims;
    for (int k = 0; k < kSyncMouthDims; ++k)
      net->mouth_std[k] = std::max(std::sqrt(m2[static_cast<std::size_t>(k)] / n), 0.1 * mean_m + 1e-6);
  }
  NamedTensors params;
  for (auto& p : net->named_parameters()) params.emplace_back(p.key(), p.value());
  train::AdamW optimiser({train::ParamGroup{"sync", params, {}}});
  const std::int64_t W = sc.window, D = sc.audio_dim;
  const features::FrontEndInfo fe = ex->info();

  train::Hooks hooks;
  hooks.step = [&](std::int64_t step, at::Generator&) {
    std::mt19937_64 rng(train::step_seed(lo.seed ^ 0x5C4Cull, step));
    std::uniform_real_distribution<double> u(0, 1);
    torch::Tensor audio = torch::empty({batch, W, D}), mouth = torch::empty({batch, W, 204}), label = torch::empty({batch});
    for (int b = 0; b < batch; ++b) {
      const std::size_t ci = std::uniform_int_distribution<std::size_t>(0, clips.size() - 1)(rng);
      const Clip& c = clips[ci];
      const std::int64_t s = std::uniform_int_distribution<std::int64_t>(0, c.frames - W)(rng);
      const Clip* mc = &c;
      std::int64_t m = s;
      bool positive = u(rng) < 0.5;
      if (!positive) {
        bool shifted = false;
        if (u(rng) < p_shift) {
          for (int tries = 0; tries < 8 && !shifted; ++tries) {
            const int mag = std::uniform_int_distribution<int>(min_shift, max_shift)(rng);
            const std::int64_t cand = s + (u(rng) < 0.5 ? -mag : mag);
            if (cand >= 0 && cand <= c.frames - W) {
              m = cand;
              shifted = true;
            }
          }
        }
        if (!shifted) {
          mc = &clips[std::uniform_int_distribution<std::size_t>(0, clips.size() - 1)(rng)];
          m = std::uniform_int_distribution<std::int64_t>(0, mc->frames - W)(rng);
          if (mc == &c && std::abs(m - s) < min_shift) positive = true;  // drew itself: label honestly
        }
      }
      audio[b].copy_(torch::from_blob(const_cast<float*>(c.feats.data()) + s * D, {W, D}, torch::kFloat));
      mouth[b].copy_(torch::from_blob(const_cast<float*>(mc->disp.data()) + m * 204, {W, 204}, torch::kFloat));
      label[b] = positive ? 1.f : 0.f;
    }
    torch::Tensor logit = net->forward(audio, mouth);
    torch::Tensor loss = F::binary_cross_entropy_with_logits(logit, label);
    const double acc = ((logit > 0).to(torch::kFloat) == label).to(torch::kFloat).mean().item<double>();
    train::StepResult r;
    r.loss = loss;
    r.parts = {{"bce", loss.item<double>()}, {"accuracy", acc}};
    return r;
  };
  hooks.save = [&](const std::string& path, std::int64_t step) {
    std::map<std::string, std::string> meta = {{"emogene.kind", "sync"},
                                               {"emogene.format", std::to_string(kSyncFormat)},
                                               {"emogene.landmark_space", std::to_string(landmarks::kSpaceVersion)},
                                               {"emogene.config", cfg.dump()},
                                               {"emogene.frontend", front_end_json(fe).dump()},
                                               {"emogene.provenance", provenance(opt.data, step, opt.config_name)}};
    std::vector<std::string> names;
    for (auto& p : net->named_parameters()) names.push_back(p.key());
    write_tensors(path, all_tensors(net), meta, f16_names(cfg, names));
  };
  hooks.preview = [&](std::int64_t) {
    // Mean cosine against offset (-25..25 steps of 20 ms) on the first training sequences: blue the
    // curve, red a spike at zero for scale. A good expert peaks at zero.
    torch::NoGradGuard ng;
    net->eval();
    std::vector<float> curve, zero;
    const int reach = 25;
    for (int o = -reach; o <= reach; ++o) {
      double sum = 0;
      std::int64_t n = 0;
      for (std::size_t k = 0; k < std::min<std::size_t>(8, clips.size()); ++k) {
        const Clip& c = clips[k];
        if (c.frames < W + 2 * reach + 1) continue;
        auto [ea, em] = embed_all(net, c.feats, c.disp, c.frames, D);
        const std::int64_t count = c.frames - W + 1 - 2 * reach;
        sum += (ea.narrow(0, reach, count) * em.narrow(0, reach + o, count)).sum(1).sum().item<double>();
        n += count;
      }
      curve.push_back(static_cast<float>(n ? 1.0 + sum / static_cast<double>(n) : 0.0));
      zero.push_back(o == 0 ? 2.f : 0.f);
    }
    net->train();
    return line_plot(curve, zero);
  };
  train::RunInfo info = train::run_loop(opt.out, lo, cfg, optimiser, hooks, opt.resume, opt.force);
  if (!ds.clips_in_split("test").empty()) {
    SyncExpert trained(opt.out);
    SyncCurve c = trained.curve(opt.data, "test", *ex);
    std::string line;
    for (std::size_t k = 0; k < c.offsets.size(); ++k)
      line += fmt::format("{}{:+d}: {:.1f}%", k ? ", " : "", c.offsets[k], 100 * c.accuracy[k]);
    spdlog::info("sync held-out (test split, {} windows): accuracy by offset in frames {}", c.windows, line);
  }
  TrainSyncReport rep;
  rep.steps = info.last_step;
  rep.seconds = info.seconds;
  return rep;
}

}  // namespace emogene::motion
