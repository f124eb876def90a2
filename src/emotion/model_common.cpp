// Private to emotion_model: training pairs and shared helpers (model_common.h).
#include "emotion/model_common.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "emogene/core/build_info.h"
#include "emogene/core/error.h"
#include "emogene/train/train.h"
#include "emogene/emotion/emotions.h"

namespace emogene::emotion::detail {

std::vector<PairClip> load_pairs(const dataset::Dataset& ds, const std::string& split, const std::string& who) {
  const auto idx = ds.clips_in_split(split);
  if (idx.empty()) throw bad_input(ds.dir(), "has no clips in the '" + split + "' split");
  std::vector<PairClip> out;
  out.reserve(idx.size());
  for (std::size_t ci : idx) {
    const dataset::ClipMeta& m = ds.meta().clips[ci];
    dataset::ClipData c = ds.load_clip(ci, false);
    if (c.landmarks_neutral.data.empty() || c.landmarks_emotional.data.empty())
      throw bad_input(ds.dir(), "clip " + m.id + " has no " +
                                    (c.landmarks_neutral.data.empty() ? "landmarks_neutral.npy" : "landmarks_emotional.npy") +
                                    " (" + who + " trains on synthetic corpora with time-aligned neutral and emotional landmarks)");
    PairClip p;
    p.index = ci;
    p.frames = c.frames();
    p.emotion = emotion_index(parse_emotion(m.emotion, ds.dir() + ": clip " + m.id));
    p.level = m.intensity;
    p.shape = ds.neutral_shape(m.identity);
    const std::size_t n = static_cast<std::size_t>(p.frames) * 204;
    p.disp.resize(n);
    p.delta.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
      p.disp[k] = c.landmarks_neutral.data[k] - p.shape.data()[k % 204];
      p.delta[k] = c.landmarks_emotional.data[k] - c.landmarks_neutral.data[k];
    }
    p.weights = std::move(c.emotion);
    p.intensity = std::move(c.intensity);
    out.push_back(std::move(p));
  }
  return out;
}

void use_clip_condition(PairClip& p) {
  const auto T = static_cast<std::size_t>(p.frames);
  p.weights.assign(T * 8, 0.f);
  for (std::size_t t = 0; t < T; ++t) p.weights[t * 8 + static_cast<std::size_t>(p.emotion)] = 1.f;
  p.intensity.assign(T, p.emotion == 0 ? 0.f : static_cast<float>(p.level));
}

std::string provenance(const std::string& data, std::int64_t steps, const std::string& config_name) {
  return train::provenance(data, steps, config_name);
}

Image overlay_panel(const std::vector<landmarks::Shape>& shapes, const std::vector<std::array<std::uint8_t, 3>>& colours, int size) {
  Image img;
  img.width = img.height = size;
  img.pixels.assign(static_cast<std::size_t>(size) * static_cast<std::size_t>(size) * 3, 255);
  // Canonical units: about 2.2 wide, eyes at y = 0, chin near y = -1.8.
  const float scale = static_cast<float>(size) / 3.0f;
  const Eigen::Vector2f centre(static_cast<float>(size) * 0.5f, static_cast<float>(size) * 0.32f);
  for (std::size_t k = 0; k < shapes.size(); ++k)
    landmarks::draw_landmarks(img.pixels.data(), size, size, landmarks::frontal_projection(shapes[k], scale, centre),
                              colours[k % colours.size()].data(), 1);
  return img;
}

Image hstack(const std::vector<Image>& panels) {
  Image out;
  for (const auto& p : panels) {
    out.width += p.width;
    out.height = std::max(out.height, p.height);
  }
  out.pixels.assign(static_cast<std::size_t>(out.width) * static_cast<std::size_t>(out.height) * 3, 255);
  int x0 = 0;
  for (const auto& p : panels) {
    for (int y = 0; y < p.height; ++y)
      std::copy_n(p.pixels.data() + static_cast<std::size_t>(y) * p.width * 3, static_cast<std::size_t>(p.width) * 3,
                  out.pixels.data() + (static_cast<std::size_t>(y) * out.width + x0) * 3);
    x0 += p.width;
  }
  return out;
}

double frame_distance(const float* a, const float* b, const landmarks::Shape& ref) {
  double s = 0;
  for (int p = 0; p < 68; ++p) {
    double d2 = 0;
    for (int k = 0; k < 3; ++k) {
      const double d = static_cast<double>(a[p * 3 + k]) - b[p * 3 + k];
      d2 += d * d;
    }
    s += std::sqrt(d2);
  }
  return s / 68.0 / std::max(1e-9, static_cast<double>(landmarks::iod(ref)));
}

}  // namespace emogene::emotion::detail
