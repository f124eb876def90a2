// Phonemes → visemes → mouth shapes. Visemes are five mouth parameters; coarticulation blends
// neighbouring targets with dominance functions (after M. M. Cohen & D. W. Massaro, "Modeling
// coarticulation in synthetic visual speech", 1993): each phone's influence decays exponentially
// from its centre, more slowly towards earlier times (anticipatory coarticulation).
#include <algorithm>
#include <cmath>

#include "emogene/synth/world.h"

namespace emogene::synth {

namespace {

std::string base_of(const std::string& p) {
  std::string k = p;
  while (!k.empty() && (k.back() == '/' || k.back() == '-' || k.back() == ';' || k.back() == '#')) k.pop_back();
  return k;
}

}  // namespace

bool is_bilabial(const std::string& phone) {
  std::string k = base_of(phone);
  return k == "p" || k == "b" || k == "m";
}

Viseme viseme_of(const std::string& phone) {
  const std::string k = base_of(phone);
  //            jaw   round spread close dental
  auto V = [](float j, float r, float s, float c, float d) { return Viseme{j, r, s, c, d}; };
  if (is_pause(phone)) return V(0.02f, 0, 0, 0.6f, 0);  // relaxed, lips lightly together
  if (k == "p" || k == "b" || k == "m") return V(0.08f, 0.05f, 0, 1, 0);
  if (k == "f" || k == "v") return V(0.12f, 0, 0.1f, 0, 1);
  if (k == "T" || k == "D") return V(0.22f, 0, 0.2f, 0, 0);
  if (k == "s" || k == "z") return V(0.12f, 0, 0.35f, 0, 0);
  if (k == "S" || k == "Z" || k == "tS" || k == "dZ") return V(0.16f, 0.6f, 0, 0, 0);
  if (k == "t" || k == "d" || k == "n" || k == "l" || k == "t#" || k == "d") return V(0.2f, 0, 0.15f, 0, 0);
  if (k == "k" || k == "g" || k == "N") return V(0.25f, 0, 0.1f, 0, 0);
  if (k == "h") return V(0.3f, 0, 0, 0, 0);
  if (k == "w") return V(0.12f, 1, 0, 0, 0);
  if (k == "r") return V(0.2f, 0.5f, 0, 0, 0);
  if (k == "j") return V(0.15f, 0, 0.5f, 0, 0);
  // vowels
  if (k == "a" || k == "aa" || k == "A:" || k == "A@" || k == "a#") return V(0.9f, 0, 0.15f, 0, 0);
  if (k == "aI" || k == "aI@") return V(0.75f, 0, 0.35f, 0, 0);
  if (k == "aU") return V(0.7f, 0.45f, 0, 0, 0);
  if (k == "V") return V(0.6f, 0, 0.1f, 0, 0);
  if (k == "e" || k == "E" || k == "e@") return V(0.5f, 0, 0.5f, 0, 0);
  if (k == "eI") return V(0.45f, 0, 0.6f, 0, 0);
  if (k == "i" || k == "i:" || k == "I" || k == "I2" || k == "I#" || k == "i@" || k == "i@3") return V(0.22f, 0, 0.9f, 0, 0);
  if (k == "0") return V(0.7f, 0.5f, 0, 0, 0);
  if (k == "O:" || k == "O@" || k == "OI") return V(0.6f, 0.8f, 0, 0, 0);
  if (k == "o@" || k == "oU") return V(0.5f, 0.8f, 0, 0, 0);
  if (k == "u:" || k == "U" || k == "U@") return V(0.25f, 1, 0, 0, 0);
  if (k == "3" || k == "3:") return V(0.4f, 0.3f, 0, 0, 0);
  if (!k.empty() && k[0] == '@') return V(0.35f, 0, 0.1f, 0, 0);  // schwa family
  return V(0.3f, 0, 0.1f, 0, 0);                                   // anything else: a neutral open
}

std::vector<Viseme> articulate(const std::vector<Phone>& phones, const std::vector<double>& times) {
  std::vector<Viseme> out(times.size());
  if (phones.empty()) {
    std::fill(out.begin(), out.end(), viseme_of("_"));
    return out;
  }
  struct Seg { Viseme v; double c, half; bool bilabial, pause; };
  std::vector<Seg> segs;
  segs.reserve(phones.size());
  for (const Phone& p : phones)
    segs.push_back({viseme_of(p.phone), 0.5 * (p.start + p.end), 0.5 * (p.end - p.start), is_bilabial(p.phone), is_pause(p.phone)});
  std::size_t first = 0;
  for (std::size_t k = 0; k < times.size(); ++k) {
    const double t = times[k];
    while (first < segs.size() && segs[first].c < t - 0.4) ++first;
    double w = 0, wc = 0;
    float acc[5] = {0, 0, 0, 0, 0}, cacc = 0;
    for (std::size_t i = first > 0 ? first - 1 : 0; i < segs.size() && segs[i].c < t + 0.6; ++i) {
      const Seg& s = segs[i];
      double dt = t - s.c;
      // Anticipation: influence reaches further before a phone (dt < 0) than after it.
      double tau = (dt < 0 ? 0.060 : 0.040) + 0.5 * s.half;
      double d = std::exp(-std::abs(dt) / tau) * (s.pause ? 0.5 : 1.0);
      w += d;
      acc[0] += static_cast<float>(d) * s.v.jaw;
      acc[1] += static_cast<float>(d) * s.v.round;
      acc[2] += static_cast<float>(d) * s.v.spread;
      acc[4] += static_cast<float>(d) * s.v.dental;
      // Closure: a bilabial holds the lips shut over its whole span (plus 10 ms) and dominates
      // its neighbours there; outside it the influence falls off within ~10 ms.
      double dc = s.bilabial ? 200.0 * std::exp(-std::max(0.0, std::abs(dt) - s.half - 0.010) / 0.010) : d;
      wc += dc;
      cacc += static_cast<float>(dc) * s.v.close;
    }
    Viseme& v = out[k];
    if (w <= 0) {
      v = viseme_of("_");
      continue;
    }
    const float iw = static_cast<float>(1.0 / w);
    v.jaw = acc[0] * iw;
    v.round = acc[1] * iw;
    v.spread = acc[2] * iw;
    v.dental = acc[4] * iw;
    v.close = wc > 0 ? cacc / static_cast<float>(wc) : 0.f;
  }
  return out;
}

}  // namespace emogene::synth
