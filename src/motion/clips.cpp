// Private to motion/: training clips and shared checkpoint metadata (clips.h).
#include "motion/clips.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <cmath>
#include <ctime>
#include <mutex>
#include <random>

#include <ATen/Parallel.h>

#include "emogene/audio/audio.h"
#include "emogene/core/build_info.h"
#include "emogene/core/error.h"
#include "emogene/core/progress.h"
#include "emogene/motion/a2m_io.h"
#include "emogene/train/train.h"

namespace emogene::motion::detail {

using landmarks::Shape;

features::FrontEndInfo front_end_from_json(const nlohmann::json& fe) {
  features::FrontEndInfo i;
  i.extractor = fe.value("extractor", std::string());
  i.weights = fe.value("weights", std::string());
  i.weights_hash = fe.value("weights_hash", std::string());
  i.layer = fe.value("layer", -1);
  i.normalize = fe.value("normalize", false);
  i.dim = fe.value("dim", std::int64_t{0});
  return i;
}

nlohmann::json front_end_json(const features::FrontEndInfo& i) {
  return {{"extractor", i.extractor}, {"weights", i.weights}, {"weights_hash", i.weights_hash}, {"layer", i.layer}, {"normalize", i.normalize},
          {"dim", i.dim}, {"frame_rate", i.frame_rate}};
}

features::ExtractorOptions extractor_options(const nlohmann::json& cfg, const std::string& where) {
  features::ExtractorOptions o;
  if (!cfg.contains("features")) return o;
  const auto& f = cfg.at("features");
  try {
    o.kind = f.value("extractor", o.kind);
    o.weights = f.value("weights", o.weights);
    o.layer = f.value("layer", o.layer);
    if (f.contains("normalize")) o.normalize = f.at("normalize").get<bool>() ? features::Normalize::On : features::Normalize::Off;
  } catch (const nlohmann::json::exception& e) {
    throw bad_input(where, std::string("a features setting has the wrong type (") + e.what() + ")");
  }
  return o;
}

audio::AugmentOptions augment_options(const nlohmann::json& j) {
  audio::AugmentOptions a;
  if (j.is_null()) return a;
  a.p_speed = j.value("p_speed", a.p_speed);
  a.speed_min = j.value("speed_min", a.speed_min);
  a.speed_max = j.value("speed_max", a.speed_max);
  a.p_pitch = j.value("p_pitch", a.p_pitch);
  a.pitch_semitones = j.value("pitch_semitones", a.pitch_semitones);
  a.p_noise = j.value("p_noise", a.p_noise);
  a.snr_min = j.value("snr_min", a.snr_min);
  a.snr_max = j.value("snr_max", a.snr_max);
  a.p_reverb = j.value("p_reverb", a.p_reverb);
  a.rt60_min = j.value("rt60_min", a.rt60_min);
  a.rt60_max = j.value("rt60_max", a.rt60_max);
  a.p_eq = j.value("p_eq", a.p_eq);
  a.eq_db = j.value("eq_db", a.eq_db);
  return a;
}


void disp_at(const landmarks::Sequence& s, const Shape& neutral, double fps, double t, float* out) {
  const std::int64_t T = s.frames();
  double x = std::clamp(t * fps - 0.5, 0.0, static_cast<double>(T - 1));
  auto i0 = static_cast<std::int64_t>(std::floor(x));
  std::int64_t i1 = std::min(i0 + 1, T - 1);
  const float a = static_cast<float>(x - static_cast<double>(i0));
  const float* p0 = s.data.data() + i0 * 204;
  const float* p1 = s.data.data() + i1 * 204;
  for (int d = 0; d < 204; ++d) out[d] = (1 - a) * p0[d] + a * p1[d] - neutral.data()[d];
}

std::vector<Clip> load_clips(const dataset::Dataset& ds, const std::string& split, const features::FeatureExtractor& ex,
                             int variants, const audio::AugmentOptions& aug, float closure, std::uint64_t seed) {
  const auto idx = ds.clips_in_split(split);
  if (idx.empty()) throw bad_input(ds.dir(), "has no clips in the '" + split + "' split");
  std::vector<std::vector<Clip>> per(idx.size());
  Progress progress("motion data", static_cast<std::int64_t>(idx.size()), "clips");
  std::mutex mu;
  std::atomic<std::int64_t> done{0};
  std::exception_ptr failure;
  const auto n_clips = static_cast<std::int64_t>(idx.size());
  // Each clip's work depends only on its index and seed: the result is the same for any thread count.
  // On LibTorch's thread pool (DESIGN §2: one threading layer, so --threads is the whole budget).
  at::parallel_for(0, n_clips, 1, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t n = first; n < last; ++n) {
      try {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (failure) return;
        }
        const std::size_t ci = idx[static_cast<std::size_t>(n)];
        dataset::ClipData c = ds.load_clip(ci, true);
        if (c.landmarks_neutral.data.empty())
          throw bad_input(ds.dir(), "clip " + ds.meta().clips[ci].id + " has no landmarks_neutral.npy (motion models train on synthetic corpora)");
        const Shape neutral = ds.neutral_shape(ds.meta().clips[ci].identity);
        std::vector<float> mono = audio::resample(audio::to_mono(c.audio), c.audio.sample_rate, 16000);
        for (int v = 0; v <= variants; ++v) {
          std::vector<float> x = mono;
          double speed = 1;
          if (v > 0) {
            std::mt19937_64 rng(train::step_seed(seed, static_cast<std::int64_t>(ci * 131 + static_cast<std::size_t>(v))));
            speed = audio::augment(x, 16000, aug, rng);
          }
          features::Features f = ex.extract(x);
          const double dur = static_cast<double>(x.size()) / 16000.0;
          Clip k;
          k.frames = static_cast<std::int64_t>(std::floor(dur * kInternalRate));
          if (k.frames < 8) continue;
          std::vector<double> times(static_cast<std::size_t>(k.frames));
          for (std::int64_t i = 0; i < k.frames; ++i) times[static_cast<std::size_t>(i)] = (static_cast<double>(i) + 0.5) / kInternalRate;
          k.feats = features_at(f, times);
          k.disp.resize(static_cast<std::size_t>(k.frames) * 204);
          std::vector<float> gap(static_cast<std::size_t>(k.frames));
          for (std::int64_t i = 0; i < k.frames; ++i) {
            float* d = k.disp.data() + i * 204;
            disp_at(c.landmarks_neutral, neutral, ds.meta().fps, times[static_cast<std::size_t>(i)] * speed, d);
            Shape s;
            for (int q = 0; q < 204; ++q) s.data()[q] = d[q] + neutral.data()[q];
            gap[static_cast<std::size_t>(i)] = landmarks::lip_gap(s);
          }
          const float gmax = *std::max_element(gap.begin(), gap.end());
          k.weight.resize(gap.size());
          for (std::size_t i = 0; i < gap.size(); ++i) k.weight[i] = 1.f + (gap[i] < 0.15f * gmax ? closure : 0.f);
          per[static_cast<std::size_t>(n)].push_back(std::move(k));
        }
        const std::int64_t d = ++done;
        std::lock_guard<std::mutex> lock(mu);
        progress.update(std::max(d, progress.done()));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failure) failure = std::current_exception();
      }
    }
  });
  if (failure) std::rethrow_exception(failure);
  progress.finish();
  std::vector<Clip> out;
  for (auto& v : per)
    for (auto& k : v) out.push_back(std::move(k));
  if (out.empty()) throw bad_input(ds.dir(), "no clip in the '" + split + "' split is long enough to train on");
  return out;
}

std::string provenance(const std::string& data, std::int64_t steps, const std::string& config_name) {
  return train::provenance(data, steps, config_name);
}

void check_front_end(const features::FrontEndInfo& e, const features::FrontEndInfo& a, const std::string& path) {
  if (a.extractor != e.extractor || a.layer != e.layer || a.normalize != e.normalize || a.dim != e.dim)
    throw bad_input(path, "was trained on " + e.extractor + " features (layer " + std::to_string(e.layer) + ", dim " +
                                     std::to_string(e.dim) + (e.normalize ? ", normalised" : "") + "), not " + a.extractor +
                                     " (layer " + std::to_string(a.layer) + ", dim " + std::to_string(a.dim) +
                                     (a.normalize ? ", normalised" : "") + "): use --extractor " + e.extractor);
  if (!e.weights_hash.empty() && !a.weights_hash.empty() && e.weights_hash != a.weights_hash)
    throw bad_input(path, "was trained with other " + e.extractor + " weights (content hash " + e.weights_hash + ", from " +
                              e.weights + ") than " + a.weights + " (" + a.weights_hash + ")");
}

std::vector<std::string> f16_names(const nlohmann::json& cfg, const std::vector<std::string>& params) {
  return cfg.value("save_f16", false) ? params : std::vector<std::string>{};
}

Image line_plot(const std::vector<float>& truth, const std::vector<float>& pred) {
  Image img;
  img.width = 480;
  img.height = 140;
  img.pixels.assign(static_cast<std::size_t>(img.width) * img.height * 3, 255);
  float mx = 1e-6f;
  for (float v : truth) mx = std::max(mx, v);
  for (float v : pred) mx = std::max(mx, v);
  auto plot = [&](const std::vector<float>& s, std::array<std::uint8_t, 3> c) {
    for (std::size_t i = 0; i < s.size(); ++i) {
      int x = static_cast<int>(static_cast<double>(i) * (img.width - 1) / std::max<std::size_t>(1, s.size() - 1));
      int y = img.height - 6 - static_cast<int>(std::clamp(s[i] / mx, 0.f, 1.f) * static_cast<float>(img.height - 12));
      for (int dy = -1; dy <= 1; ++dy)
        for (int k = 0; k < 3; ++k) img.pixels[(static_cast<std::size_t>(y + dy) * img.width + x) * 3 + static_cast<std::size_t>(k)] = c[static_cast<std::size_t>(k)];
    }
  };
  plot(truth, {40, 60, 200});
  plot(pred, {210, 40, 40});
  return img;
}

}  // namespace emogene::motion::detail
