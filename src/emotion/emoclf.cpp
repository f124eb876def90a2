// The landmark emotion classifier (emoclf.h).
#include "emogene/emotion/emoclf.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "emogene/core/error.h"
#include "emogene/core/safetensors.h"
#include "emogene/core/tensor_io.h"
#include "emogene/dataset/dataset.h"
#include "emogene/emotion/m2e.h"
#include "emogene/train/train.h"
#include "emotion/model_common.h"

namespace emogene::emotion {

using namespace detail;
namespace F = torch::nn::functional;

namespace {

struct ClfConfig {
  std::int64_t window = 25;  // frames (1 s at 25 fps)
  std::int64_t hidden = 64;
  std::int64_t layers = 3;   // residual convolutions, dilations 1, 2, 4, ...
  std::int64_t kernel = 5;
  double dropout = 0.1;
  static ClfConfig from_json(const nlohmann::json& j, const std::string& where) {
    ClfConfig c;
    if (j.is_null()) return c;
    static const std::set<std::string> known = {"window", "hidden", "layers", "kernel", "dropout"};
    for (auto it = j.begin(); it != j.end(); ++it)
      if (!known.count(it.key())) throw bad_input(where, "unknown setting model." + it.key());
    try {
      c.window = j.value("window", c.window);
      c.hidden = j.value("hidden", c.hidden);
      c.layers = j.value("layers", c.layers);
      c.kernel = j.value("kernel", c.kernel);
      c.dropout = j.value("dropout", c.dropout);
    } catch (const nlohmann::json::exception& e) {
      throw bad_input(where, std::string("a model setting has the wrong type (") + e.what() + ")");
    }
    if (c.window < 2 || c.hidden < 4 || c.layers < 0 || c.kernel < 1 || c.kernel % 2 == 0)
      throw bad_input(where, "model.window >= 2, model.hidden >= 4, model.layers >= 0 and an odd model.kernel are needed");
    if (!(c.dropout >= 0 && c.dropout < 1)) throw bad_input(where, "model.dropout must lie in [0, 1)");
    return c;
  }
  nlohmann::json to_json() const {
    return {{"window", window}, {"hidden", hidden}, {"layers", layers}, {"kernel", kernel}, {"dropout", dropout}};
  }
};

struct ClfNetImpl : torch::nn::Module {
  explicit ClfNetImpl(const ClfConfig& c) : cfg(c) {
    in = register_module("in", torch::nn::Conv1d(torch::nn::Conv1dOptions(204, c.hidden, c.kernel).padding(c.kernel / 2)));
    convs = register_module("convs", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < c.layers; ++i) {
      const std::int64_t d = std::int64_t{1} << std::min<std::int64_t>(i, 4);
      convs->push_back(torch::nn::Conv1d(torch::nn::Conv1dOptions(c.hidden, c.hidden, c.kernel).dilation(d).padding(d * (c.kernel / 2))));
    }
    head = register_module("head", torch::nn::Linear(2 * c.hidden, kNumEmotions));
    scale = register_buffer("scale", torch::ones({1}));
  }
  // disp [B, W, 204] (landmarks − neutral shape, canonical units) → logits [B, 8].
  torch::Tensor forward(const torch::Tensor& disp, at::Generator* gen) {
    torch::Tensor x = F::gelu(in->forward((disp / scale).transpose(1, 2)));
    for (const auto& m : *convs) x = x + gen_dropout(F::gelu(m->as<torch::nn::Conv1d>()->forward(x)), cfg.dropout, gen, is_training());
    torch::Tensor pooled = torch::cat({x.mean(2), std::get<0>(x.max(2))}, 1);
    return head->forward(gen_dropout(pooled, cfg.dropout, gen, is_training()));
  }
  ClfConfig cfg;
  torch::nn::Conv1d in{nullptr};
  torch::nn::ModuleList convs{nullptr};
  torch::nn::Linear head{nullptr};
  torch::Tensor scale;
};
TORCH_MODULE(ClfNet);

NamedTensors all_tensors(ClfNet& m) {
  NamedTensors all;
  for (auto& p : m->named_parameters()) all.emplace_back(p.key(), p.value());
  for (auto& b : m->named_buffers()) all.emplace_back(b.key(), b.value());
  return all;
}

// Mean softmax over windows of `disp` [T, 204].
std::array<float, kNumEmotions> classify(ClfNet& net, const std::vector<float>& disp, std::int64_t T, const torch::Device& device) {
  torch::InferenceMode guard;
  std::array<float, kNumEmotions> p{};
  if (T == 0) {
    p[0] = 1;
    return p;
  }
  const std::int64_t W = net->cfg.window;
  torch::Tensor x = torch::from_blob(const_cast<float*>(disp.data()), {T, 204}, torch::kFloat);
  torch::Tensor windows;
  if (T <= W) {
    windows = x.unsqueeze(0);
  } else {
    const std::int64_t hop = std::max<std::int64_t>(1, W / 2);
    std::vector<torch::Tensor> ws;
    for (std::int64_t s = 0;; s += hop) {
      const std::int64_t s0 = std::min(s, T - W);
      ws.push_back(x.narrow(0, s0, W));
      if (s0 == T - W) break;
    }
    windows = torch::stack(ws);
  }
  torch::Tensor prob = torch::softmax(net->forward(windows.to(device), nullptr), 1).mean(0).to(torch::kCPU).contiguous();
  for (int k = 0; k < kNumEmotions; ++k) p[static_cast<std::size_t>(k)] = prob[k].item<float>();
  return p;
}

int argmax(const std::array<float, kNumEmotions>& p) {
  return static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
}

}  // namespace

// ---- classifier -----------------------------------------------------------------------------------

struct EmoClassifier::Impl {
  ClfNet net{nullptr};
  std::string path;
  double fps = 25;
  torch::Device device = torch::kCPU;
};

EmoClassifier::EmoClassifier(const std::string& path, const std::string& device) : impl_(std::make_unique<Impl>()) {
  SafetensorsFile f(path);
  check_checkpoint(f, "emoclf", kEmoClfFormat);
  nlohmann::json cfg;
  try {
    cfg = nlohmann::json::parse(f.meta("emogene.config"));
    impl_->fps = cfg.at("data").at("fps").get<double>();
  } catch (const nlohmann::json::exception&) {
    throw bad_input(path, "its config metadata is not valid JSON or lacks data.fps");
  }
  impl_->path = path;
  impl_->net = ClfNet(ClfConfig::from_json(cfg.value("model", nlohmann::json::object()), path));
  load_into(f, all_tensors(impl_->net));
  impl_->net->eval();
  if (device == "cuda" || (device == "auto" && torch::cuda::is_available())) impl_->device = torch::kCUDA;
  impl_->net->to(impl_->device);
}

EmoClassifier::~EmoClassifier() = default;
EmoClassifier::EmoClassifier(EmoClassifier&&) noexcept = default;
const std::string& EmoClassifier::path() const { return impl_->path; }
std::int64_t EmoClassifier::window() const { return impl_->net->cfg.window; }
double EmoClassifier::fps() const { return impl_->fps; }

std::array<float, kNumEmotions> EmoClassifier::probabilities(const landmarks::Sequence& lm, const landmarks::Shape& neutral) const {
  std::vector<float> disp(lm.data);
  for (std::size_t k = 0; k < disp.size(); ++k) disp[k] -= neutral.data()[k % 204];
  return classify(impl_->net, disp, lm.frames(), impl_->device);
}

Emotion EmoClassifier::predict(const landmarks::Sequence& lm, const landmarks::Shape& neutral) const {
  return static_cast<Emotion>(argmax(probabilities(lm, neutral)));
}

EmoClfEval evaluate_emoclf(const EmoClassifier& clf, const std::string& data, const std::string& split, const std::string& source) {
  if (source != "emotional" && source != "shown") throw bad_input("emoclf evaluation", "source must be 'emotional' or 'shown'");
  dataset::Dataset ds(data);
  const auto idx = ds.clips_in_split(split);
  if (idx.empty()) throw bad_input(data, "has no clips in the '" + split + "' split");
  EmoClfEval e;
  std::int64_t right = 0, strong_right = 0;
  for (std::size_t ci : idx) {
    const dataset::ClipMeta& m = ds.meta().clips[ci];
    dataset::ClipData c = ds.load_clip(ci, false);
    const landmarks::Sequence& lm = source == "shown" ? c.landmarks : c.landmarks_emotional;
    if (lm.data.empty())
      throw bad_input(data, "clip " + m.id + " has no landmarks_emotional.npy (the classifier is measured on synthetic corpora)");
    const int truth = emotion_index(parse_emotion(m.emotion, data + ": clip " + m.id));
    const int pred = emotion_index(clf.predict(lm, ds.neutral_shape(m.identity)));
    e.confusion[static_cast<std::size_t>(truth)][static_cast<std::size_t>(pred)]++;
    e.clips++;
    right += pred == truth;
    if (truth != 0 && m.intensity >= 2.0 / 3.0 - 1e-3) {
      e.strong_clips++;
      strong_right += pred == truth;
    }
  }
  e.accuracy = e.clips ? static_cast<double>(right) / static_cast<double>(e.clips) : 0.0;
  e.strong_accuracy = e.strong_clips ? static_cast<double>(strong_right) / static_cast<double>(e.strong_clips) : 0.0;
  return e;
}

// ---- training -------------------------------------------------------------------------------------

TrainEmoClfReport train_emoclf(const TrainEmoClfOptions& opt) {
  nlohmann::json cfg = opt.config;
  if (opt.steps > 0) cfg["train"]["steps"] = opt.steps;
  const std::string where = opt.config_name.empty() ? "emoclf config" : opt.config_name;
  const train::LoopOptions lo = train::loop_options(cfg, where);
  const nlohmann::json data_cfg = cfg.value("data", nlohmann::json::object());
  const nlohmann::json optim_cfg = cfg.value("optim", nlohmann::json::object());
  int batch = 64;
  std::string split = "train";
  double weight_decay = 0.01, jitter = 0.05;
  try {
    batch = data_cfg.value("batch", batch);
    split = data_cfg.value("split", split);
    jitter = data_cfg.value("scale_jitter", jitter);
    weight_decay = optim_cfg.value("weight_decay", weight_decay);
  } catch (const nlohmann::json::exception& e) {
    throw bad_input(where, std::string("a data or optim setting has the wrong type (") + e.what() + ")");
  }
  if (batch < 1) throw bad_input(where, "data.batch must be >= 1");
  dataset::Dataset ds(opt.data);
  const ClfConfig cc = ClfConfig::from_json(cfg.value("model", nlohmann::json::object()), where);
  cfg["model"] = cc.to_json();
  cfg["data"]["fps"] = ds.meta().fps;
  const std::vector<PairClip> clips = load_pairs(ds, split, "emoclf");
  const std::int64_t W = cc.window;
  // Sources per class: emotional classes their clips' emotional tracks; neutral every clip's
  // speech-only track (and neutral clips' emotional tracks, the same thing).
  std::array<std::vector<std::size_t>, kNumEmotions> by_class;
  double ss = 0, sn = 0;
  for (std::size_t k = 0; k < clips.size(); ++k) {
    if (clips[k].frames < W) continue;
    if (clips[k].emotion != 0) by_class[static_cast<std::size_t>(clips[k].emotion)].push_back(k);
    by_class[0].push_back(k);
    for (std::size_t q = 0; q < clips[k].disp.size(); ++q) {
      const double v = clips[k].disp[q] + clips[k].delta[q];
      ss += v * v;
    }
    sn += static_cast<double>(clips[k].disp.size());
  }
  std::vector<int> classes;
  for (int k = 0; k < kNumEmotions; ++k)
    if (!by_class[static_cast<std::size_t>(k)].empty()) classes.push_back(k);
  if (classes.size() < 2)
    throw bad_input(opt.data, "the '" + split + "' split needs clips of at least two emotions, each at least " + std::to_string(W) + " frames long");
  const double scale = std::sqrt(ss / std::max(1.0, sn)) + 1e-8;
  spdlog::info("emoclf: {} clips of {} ({}), {} classes, windows of {} frames", clips.size(), opt.data, split, classes.size(), W);

  torch::manual_seed(lo.seed);
  ClfNet net(cc);
  net->train();
  net->scale.fill_(scale);
  NamedTensors params;
  for (auto& p : net->named_parameters()) params.emplace_back(p.key(), p.value());
  train::GroupOptions go;
  go.weight_decay = weight_decay;
  train::AdamW optimiser({train::ParamGroup{"emoclf", params, go}});

  train::Hooks hooks;
  hooks.step = [&](std::int64_t step, at::Generator& gen) {
    std::mt19937_64 rng(train::step_seed(lo.seed ^ 0xC1F5ull, step));
    torch::Tensor x = torch::empty({batch, W, 204});
    torch::Tensor label = torch::empty({batch}, torch::kLong);
    std::uniform_real_distribution<double> u(-1, 1);
    for (int b = 0; b < batch; ++b) {
      const int cls = classes[std::uniform_int_distribution<std::size_t>(0, classes.size() - 1)(rng)];
      const auto& pool = by_class[static_cast<std::size_t>(cls)];
      const PairClip& c = clips[pool[std::uniform_int_distribution<std::size_t>(0, pool.size() - 1)(rng)]];
      const std::int64_t s = std::uniform_int_distribution<std::int64_t>(0, c.frames - W)(rng);
      torch::Tensor d = torch::from_blob(const_cast<float*>(c.disp.data()) + s * 204, {W, 204}, torch::kFloat);
      if (cls != 0) d = d + torch::from_blob(const_cast<float*>(c.delta.data()) + s * 204, {W, 204}, torch::kFloat);
      x[b].copy_(d * static_cast<float>(1.0 + jitter * u(rng)));  // a little amplitude jitter between identities
      label[b] = cls;
    }
    torch::Tensor logits = net->forward(x, &gen);
    torch::Tensor loss = F::cross_entropy(logits, label);
    const double acc = (logits.argmax(1) == label).to(torch::kFloat).mean().item<double>();
    train::StepResult r;
    r.loss = loss;
    r.parts = {{"ce", loss.item<double>()}, {"accuracy", acc}};
    return r;
  };
  hooks.save = [&](const std::string& path, std::int64_t step) {
    std::map<std::string, std::string> meta = {{"emogene.kind", "emoclf"},
                                               {"emogene.format", std::to_string(kEmoClfFormat)},
                                               {"emogene.landmark_space", std::to_string(landmarks::kSpaceVersion)},
                                               {"emogene.config", cfg.dump()},
                                               {"emogene.provenance", provenance(opt.data, step, opt.config_name)}};
    write_tensors(path, all_tensors(net), meta);
  };
  train::RunInfo info = train::run_loop(opt.out, lo, cfg, optimiser, hooks, opt.resume, opt.force);
  TrainEmoClfReport rep;
  rep.steps = info.last_step;
  rep.seconds = info.seconds;
  rep.final_loss = info.last_parts.count("ce") ? info.last_parts.at("ce") : 0;
  EmoClassifier trained(opt.out);
  for (const char* s : {"val", "test"}) {
    if (ds.clips_in_split(s).empty()) continue;
    EmoClfEval ev = evaluate_emoclf(trained, opt.data, s);
    spdlog::info("emoclf {} ({} clips, ground truth): accuracy {:.1f}%, at intensity >= 2/3 {:.1f}% of {}", s, ev.clips,
                 100 * ev.accuracy, 100 * ev.strong_accuracy, ev.strong_clips);
    (std::string(s) == "val" ? rep.val : rep.test) = ev;
  }
  return rep;
}

}  // namespace emogene::emotion
