// Voice activity: frame energies against a robust estimate of the recording's noise floor, with
// hysteresis, gap bridging, dropping of short bursts and padding; and the per-video-frame idle
// mask the performer uses.
#include "emogene/audio/vad.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "emogene/core/error.h"

namespace emogene::audio {

namespace {

// The q-quantile (0..1) of v, linearly interpolated between order statistics.
double quantile(std::vector<double> v, double q) {
  const double pos = q * static_cast<double>(v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(lo), v.end());
  const double a = v[lo];
  if (hi == lo) return a;
  const double b = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(hi), v.end());
  return a + (pos - static_cast<double>(lo)) * (b - a);
}

void check_options(const VadOptions& o) {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw bad_input("voice activity options", what);
  };
  require(o.frame_seconds > 0 && o.hop_seconds > 0, "frame_seconds and hop_seconds must be positive");
  require(o.enter_db >= o.exit_db, "enter_db must be at least exit_db");
  require(o.min_speech_seconds >= 0 && o.min_silence_seconds >= 0 && o.pad_seconds >= 0,
          "min_speech_seconds, min_silence_seconds and pad_seconds must not be negative");
  require(std::isfinite(o.enter_db) && std::isfinite(o.exit_db) && std::isfinite(o.absolute_floor_db),
          "thresholds must be finite");
}

}  // namespace

std::vector<Segment> detect_speech(const std::vector<float>& mono, int sample_rate, const VadOptions& opt) {
  check_options(opt);
  if (sample_rate <= 0)
    throw internal_error("detect_speech", "sample rate must be positive, got " + std::to_string(sample_rate));
  const std::int64_t n = static_cast<std::int64_t>(mono.size());
  if (n == 0) return {};
  const double sr = sample_rate;
  const double duration = static_cast<double>(n) / sr;

  // Frame j is centred on sample j * hop and spans [j*hop - len/2, j*hop + len/2), cut to the
  // signal; its energy is the mean square in dBFS (digital silence: -120 dB).
  const std::int64_t len = std::max<std::int64_t>(1, std::llround(opt.frame_seconds * sr));
  const std::int64_t hop = std::max<std::int64_t>(1, std::llround(opt.hop_seconds * sr));
  const std::int64_t num = (n - 1) / hop + 1;
  std::vector<double> db(static_cast<std::size_t>(num));
  for (std::int64_t j = 0; j < num; ++j) {
    const std::int64_t a = std::max<std::int64_t>(0, j * hop - len / 2);
    const std::int64_t b = std::min<std::int64_t>(n, j * hop - len / 2 + len);
    double sum = 0;
    for (std::int64_t i = a; i < b; ++i) sum += static_cast<double>(mono[i]) * mono[i];
    const double e = 10.0 * std::log10(sum / static_cast<double>(std::max<std::int64_t>(1, b - a)) + 1e-12);
    db[static_cast<std::size_t>(j)] = std::isfinite(e) ? e : -120.0;  // NaN/inf samples: not speech
  }

  // Noise floor. Most recordings pause often enough that the 10th percentile of the frame
  // energies sits in the pauses, so it is the estimate. Two guards:
  //  - A recording with no pause at all (continuous speech) has its 10th percentile inside
  //    speech, and nothing would rise enter_db above it. Speech varies strongly from frame to
  //    frame (syllables), so when the loud end (99th percentile) lies well above the quiet end,
  //    the floor is capped at enter_db + 3 dB below the loud end: the loudest stretches always
  //    enter, and the hysteresis and gap bridging carry the rest.
  //  - A recording whose energy hardly varies (steady noise, hum, digital silence) gets no cap:
  //    nothing in it rises enter_db above its own level, so it holds no speech.
  const double low = quantile(db, 0.10);
  const double high = quantile(db, 0.99);
  double floor_db = low;
  if (high - low >= opt.exit_db) floor_db = std::min(floor_db, high - opt.enter_db - 3.0);
  const double enter = floor_db + opt.enter_db;
  const double stay = floor_db + opt.exit_db;

  // Hysteresis: runs of speech frames [first, last].
  struct Run {
    std::int64_t first, last;
  };
  std::vector<Run> runs;
  bool in_speech = false;
  for (std::int64_t j = 0; j < num; ++j) {
    const double e = db[static_cast<std::size_t>(j)];
    const bool audible = e >= opt.absolute_floor_db;
    if (in_speech) {
      if (audible && e >= stay)
        runs.back().last = j;
      else
        in_speech = false;
    } else if (audible && e >= enter) {
      runs.push_back({j, j});
      in_speech = true;
    }
  }

  // To seconds: a run spans the centres of its first and last frames (the window centre is where
  // a frame's energy is best attributed; a run touching either end of the signal reaches it).
  std::vector<Segment> segs;
  for (const Run& r : runs) {
    Segment s;
    s.start = r.first == 0 ? 0.0 : static_cast<double>(r.first * hop) / sr;
    s.end = r.last == num - 1 ? duration : static_cast<double>(r.last * hop) / sr;
    segs.push_back(s);
  }

  // Bridge short gaps first (pauses between words), then drop what is still a short burst
  // (clicks, breaths): bridging first keeps a short syllable that belongs to nearby speech.
  std::vector<Segment> bridged;
  for (const Segment& s : segs) {
    if (!bridged.empty() && s.start - bridged.back().end < opt.min_silence_seconds)
      bridged.back().end = s.end;
    else
      bridged.push_back(s);
  }
  std::vector<Segment> out;
  for (const Segment& s : bridged) {
    if (s.end - s.start < opt.min_speech_seconds) continue;
    Segment p{std::max(0.0, s.start - opt.pad_seconds), std::min(duration, s.end + opt.pad_seconds)};
    if (!out.empty() && p.start <= out.back().end)  // padding made neighbours touch: join them
      out.back().end = std::max(out.back().end, p.end);
    else
      out.push_back(p);
  }
  return out;
}

std::vector<std::uint8_t> idle_mask(const std::vector<Segment>& speech, std::int64_t num_frames, double fps) {
  if (!(fps > 0)) throw internal_error("idle_mask", "fps must be positive");
  if (num_frames < 0) throw internal_error("idle_mask", "negative frame count");
  std::vector<std::uint8_t> idle(static_cast<std::size_t>(num_frames), 1);
  if (num_frames == 0) return idle;
  // Frame i covers [i/fps, (i+1)/fps); it overlaps [start, end) when start < (i+1)/fps and
  // end > i/fps. The first and last such i are computed from floor/ceil and then settled with the
  // exact test, so a boundary that falls on a frame edge is decided the same way as the test.
  auto t = [fps](std::int64_t i) { return static_cast<double>(i) / fps; };
  auto overlaps = [&](const Segment& s, std::int64_t i) { return s.start < t(i + 1) && s.end > t(i); };
  for (const Segment& s : speech) {
    if (!(s.end > s.start)) continue;
    std::int64_t first = static_cast<std::int64_t>(std::floor(std::max(0.0, s.start) * fps)) - 1;
    std::int64_t last = static_cast<std::int64_t>(std::ceil(std::min(s.end * fps, 1e18)));
    first = std::clamp<std::int64_t>(first, 0, num_frames - 1);
    last = std::clamp<std::int64_t>(last, 0, num_frames - 1);
    for (std::int64_t i = first; i <= last; ++i)
      if (overlaps(s, i)) idle[static_cast<std::size_t>(i)] = 0;
  }
  return idle;
}

}  // namespace emogene::audio
