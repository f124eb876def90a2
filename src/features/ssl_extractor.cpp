// SslExtractor: HuBERT / wav2vec 2.0 behind the FeatureExtractor interface: options, device, input
// normalisation over the whole utterance, the layer, chunking of long audio, stage timings.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/features/ssl.h"
#include "features/ssl_model.h"

namespace emogene::features {

namespace {

constexpr std::int64_t kConvChunkFrames = 100;  // 2 s of audio per conv pass: buffers stay ~26 MB

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

at::Device pick_device(const std::string& d) {
  if (d == "cpu") return at::kCPU;
  if (d == "cuda") {
    check_input(torch::cuda::is_available(), "--device", "cuda asked for, but LibTorch sees no CUDA device");
    return at::kCUDA;
  }
  if (d == "auto" || d.empty()) return torch::cuda::is_available() ? at::Device(at::kCUDA) : at::Device(at::kCPU);
  throw bad_input("--device", "unknown device '" + d + "' (cpu, cuda or auto)");
}

void check_finite(const float* x, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) throw bad_input("audio input", "sample " + std::to_string(i) + " is not finite (NaN or infinity)");
}

Features to_features(const at::Tensor& t) {
  at::Tensor c = t.to(at::kCPU).contiguous();
  Features f;
  f.frames = c.size(0);
  f.dim = c.size(1);
  f.data.resize(static_cast<std::size_t>(c.numel()));
  if (c.numel()) std::memcpy(f.data.data(), c.data_ptr<float>(), f.data.size() * sizeof(float));
  return f;
}

}  // namespace

struct SslExtractor::Impl {
  ExtractorOptions opt;
  std::string weights_hash;
  SslConfig cfg;
  std::unique_ptr<SslModel> model;
  int layer = 0;
  bool normalize = false;
  mutable std::mutex mu;  // the model's scratch buffers: one extraction at a time
  mutable SslTimings timings;

  void setup(SslConfig c, SslWeights w, at::Device dev) {
    cfg = std::move(c);
    const std::int64_t L = cfg.layers;
    if (opt.layer < 0) {
      layer = static_cast<int>(L);
    } else {
      check_input(opt.layer <= L, "--layer",
                  std::to_string(opt.layer) + " is out of range: the model has " + std::to_string(L) +
                      " transformer layers (hidden_states 0-" + std::to_string(L) + ")");
      layer = opt.layer;
    }
    normalize = opt.normalize == Normalize::Auto ? cfg.normalize : opt.normalize == Normalize::On;
    model = std::make_unique<SslModel>(cfg, std::move(w), dev);
  }

  // Zero mean, unit variance over the whole utterance (Hugging Face's Wav2Vec2FeatureExtractor:
  // (x - mean) / sqrt(var + 1e-7), population variance), in double.
  std::vector<float> normalised(const float* x, std::int64_t n) const {
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i) sum += x[i];
    const double mean = n ? sum / static_cast<double>(n) : 0.0;
    double ss = 0.0;
    for (std::int64_t i = 0; i < n; ++i) ss += (x[i] - mean) * (x[i] - mean);
    const double inv = 1.0 / std::sqrt((n ? ss / static_cast<double>(n) : 0.0) + 1e-7);
    std::vector<float> y(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) y[static_cast<std::size_t>(i)] = static_cast<float>((x[i] - mean) * inv);
    return y;
  }

  at::Tensor conv(const float* x, std::int64_t n, std::int64_t chunk) const {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<float> xn;
    if (normalize) {
      xn = normalised(x, n);
      x = xn.data();
    }
    timings.normalise = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    at::Tensor f = model->conv_features(x, n, chunk);
    timings.conv = seconds_since(t0);
    return f;
  }
};

SslExtractor::SslExtractor(const ExtractorOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->opt = options;
  SslConfig cfg = inspect_ssl_checkpoint(options.weights);
  if (!cfg.family.empty() && cfg.family != options.kind)
    throw bad_input(options.weights, "is a " + cfg.family + " checkpoint (" +
                                         (cfg.has_config_json ? std::string("config.json model_type") : std::string("its keys")) +
                                         "), not " + options.kind + ": use --extractor " + cfg.family);
  if (cfg.family.empty()) cfg.family = options.kind;
  const at::Device dev = pick_device(options.device);
  c10::InferenceMode guard;
  SslWeights w = load_ssl_weights(cfg, options.weights, dev);
  impl_->weights_hash = content_hash(options.weights);
  impl_->setup(std::move(cfg), std::move(w), dev);
}

SslExtractor::SslExtractor(const SslConfig& config, std::uint64_t seed, const ExtractorOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->opt = options;
  const at::Device dev = pick_device(options.device);
  c10::InferenceMode guard;
  impl_->setup(config, random_ssl_weights(config, seed, dev), dev);
}

SslExtractor::~SslExtractor() = default;

std::string SslExtractor::name() const { return impl_->cfg.family; }
std::int64_t SslExtractor::dim() const { return impl_->cfg.hidden; }
const SslConfig& SslExtractor::config() const { return impl_->cfg; }
int SslExtractor::layer() const { return impl_->layer; }
bool SslExtractor::normalize() const { return impl_->normalize; }

void SslExtractor::set_chunking(double chunk_seconds, double overlap_seconds) {
  impl_->opt.chunk_seconds = chunk_seconds;
  impl_->opt.overlap_seconds = overlap_seconds;
}

FrontEndInfo SslExtractor::info() const {
  FrontEndInfo i;
  i.extractor = name();
  i.weights = impl_->opt.weights;
  i.weights_hash = impl_->weights_hash;
  i.layer = impl_->layer;
  i.normalize = impl_->normalize;
  i.dim = dim();
  return i;
}

std::string SslExtractor::describe() const {
  const auto& o = impl_->opt;
  std::string s = impl_->cfg.describe() + "; hidden_states[" + std::to_string(impl_->layer) + "]";
  s += impl_->normalize != impl_->cfg.normalize ? std::string("; input normalisation ") + (impl_->normalize ? "on" : "off") + " (--normalize)" : "";
  s += "; device " + impl_->model->device().str();
  if (o.chunk_seconds > 0) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "; windows of %.4g s with %.4g s context", o.chunk_seconds, o.overlap_seconds);
    s += buf;
  }
  return s;
}

Features SslExtractor::extract(const float* samples, std::int64_t n) const { return extract_layer(samples, n, impl_->layer); }

Features SslExtractor::extract_layer(const float* samples, std::int64_t n, int layer) const {
  check_input(layer >= 0 && layer <= impl_->cfg.layers, "--layer",
              std::to_string(layer) + " is out of range (0-" + std::to_string(impl_->cfg.layers) + ")");
  check_finite(samples, n);
  Features out;
  out.dim = dim();
  out.frames = impl_->cfg.frames(n);
  if (out.frames == 0) return out;  // shorter than the 400-sample receptive field: no frame
  std::lock_guard<std::mutex> lock(impl_->mu);
  c10::InferenceMode guard;
  SslTimings& tm = impl_->timings;
  tm = SslTimings{};
  at::Tensor feats = impl_->conv(samples, n, kConvChunkFrames);
  auto t0 = std::chrono::steady_clock::now();
  at::Tensor x = impl_->model->project(feats);
  feats = at::Tensor();
  tm.projection = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  const auto& o = impl_->opt;
  const auto frames_of = [](double s) { return static_cast<std::int64_t>(std::llround(s * kFrameRate)); };
  at::Tensor y = impl_->model->transformer(x, layer, o.chunk_seconds > 0 ? frames_of(o.chunk_seconds) : 0,
                                           std::max<std::int64_t>(0, frames_of(o.overlap_seconds)), &tm.windows);
  x = at::Tensor();
  out = to_features(y);
  tm.transformer = seconds_since(t0);
  spdlog::debug("features: {} frames; normalise {:.3f} s, conv {:.3f} s, projection {:.3f} s, transformer {:.3f} s ({} windows)",
                out.frames, tm.normalise, tm.conv, tm.projection, tm.transformer, tm.windows);
  return out;
}

Features SslExtractor::conv_features(const float* samples, std::int64_t n, std::int64_t chunk_frames) const {
  check_finite(samples, n);
  std::lock_guard<std::mutex> lock(impl_->mu);
  c10::InferenceMode guard;
  return to_features(impl_->conv(samples, n, chunk_frames > 0 ? chunk_frames : kConvChunkFrames));
}

SslTimings SslExtractor::last_timings() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->timings;
}

}  // namespace emogene::features
