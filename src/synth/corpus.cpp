// `synth --kind corpus`: the speech/emotion corpus. MEAD's design: each (sentence, voice, identity)
// group is spoken neutrally and in every chosen emotion at intensities 1/3, 2/3 and 1. Splits are
// disjoint in sentences, voice variants and identities.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <spdlog/spdlog.h>

#include "emogene/core/error.h"
#include "emogene/core/image.h"
#include "emogene/core/interrupt.h"
#include "emogene/core/progress.h"
#include "emogene/dataset/dataset.h"
#include "emogene/synth/subject.h"
#include "emogene/synth/synth.h"
#include "synth/clip.h"
#include "emogene/synth/world.h"
#include "synth/sentences.h"

namespace emogene::synth {

using emotion::Emotion;
using landmarks::Shape;

namespace detail {

std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  std::uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x7F4A7C159E3779B9ull + (a << 6) + (a >> 2));
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  return x;
}

std::uint64_t hash_str(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Idle frames: no speech phone overlaps the frame's interval; gaps under 0.25 s are speech.
std::vector<std::uint8_t> idle_from_phones(const std::vector<Phone>& phones, std::int64_t T, double fps) {
  std::vector<std::pair<double, double>> speech;
  for (const Phone& p : phones) {
    if (is_pause(p.phone)) continue;
    if (!speech.empty() && p.start - speech.back().second < 0.25)
      speech.back().second = std::max(speech.back().second, p.end);
    else
      speech.emplace_back(p.start, p.end);
  }
  std::vector<std::uint8_t> idle(static_cast<std::size_t>(T), 1);
  for (const auto& [a, b] : speech)
    for (std::int64_t i = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(a * fps)));
         i < T && static_cast<double>(i) / fps < b; ++i)
      if ((static_cast<double>(i) + 1) / fps > a) idle[static_cast<std::size_t>(i)] = 0;
  return idle;
}

ClipDraft draft_clip(const ClipSpec& spec, const Voice& base_voice, double fps, std::mt19937_64& rng) {
  const float level = spec.level == 0 ? 0.f : emotion::mead_level_intensity(spec.level);
  Voice voice = emotional_voice(base_voice, spec.emotion, level);
  std::uniform_real_distribution<double> pad(0.3, 0.9);
  const double lead = pad(rng), trail = pad(rng);
  ClipDraft d;
  dataset::ClipData& c = d.clip;
  c.audio.channels = 1;
  std::vector<Phone> phones;
  for (std::size_t k = 0; k < spec.sentences.size(); ++k) {
    Utterance u = speak(spec.sentences[k], voice);
    if (u.audio.samples.empty()) throw internal_error("synth", "espeak-ng produced no audio for '" + spec.sentences[k] + "'");
    const int sr = u.audio.sample_rate;
    c.audio.sample_rate = sr;
    const double gap = k == 0 ? lead : (k - 1 < spec.gaps.size() ? spec.gaps[k - 1] : 0.5);
    const double at = c.audio.duration();
    c.audio.samples.resize(c.audio.samples.size() + static_cast<std::size_t>(std::lround(gap * sr)), 0.f);
    const double start = c.audio.duration();
    phones.push_back({"_", "", phones.empty() ? 0.0 : at, start});
    c.audio.samples.insert(c.audio.samples.end(), u.audio.samples.begin(), u.audio.samples.end());
    for (Phone p : u.phones) {
      p.start += start;
      p.end += start;
      phones.push_back(p);
    }
  }
  const int sr = c.audio.sample_rate;
  c.audio.samples.resize(c.audio.samples.size() + static_cast<std::size_t>(std::lround(trail * sr)), 0.f);
  const double dur = c.audio.duration();
  phones.push_back({"_", "", phones.back().end, dur});

  const std::int64_t T = landmarks::frame_count(dur, fps);
  std::vector<double> times(static_cast<std::size_t>(T));
  for (std::int64_t i = 0; i < T; ++i) times[static_cast<std::size_t>(i)] = (static_cast<double>(i) + 0.5) / fps;
  std::vector<Viseme> vis = articulate(phones, times);
  c.idle = idle_from_phones(phones, T, fps);

  // Expression: prototype × intensity envelope, plus brows that rise with pitch accents.
  std::vector<float> env = expression_envelope(T, fps, rng);
  c.intensity.resize(static_cast<std::size_t>(T));
  for (std::int64_t i = 0; i < T; ++i) c.intensity[static_cast<std::size_t>(i)] = level * env[static_cast<std::size_t>(i)];
  std::vector<float> f0 = pitch_track(c.audio, fps, T);
  std::vector<float> voiced;
  for (float f : f0)
    if (f > 0) voiced.push_back(f);
  float median = 0;
  if (!voiced.empty()) {
    std::nth_element(voiced.begin(), voiced.begin() + static_cast<long>(voiced.size() / 2), voiced.end());
    median = voiced[voiced.size() / 2];
  }
  float brow_gain = 0;
  switch (spec.emotion) {
    case Emotion::Surprised: brow_gain = 0.6f; break;
    case Emotion::Happy: case Emotion::Fear: brow_gain = 0.4f; break;
    case Emotion::Angry: case Emotion::Disgusted: brow_gain = 0.25f; break;
    case Emotion::Sad: case Emotion::Contempt: brow_gain = 0.15f; break;
    case Emotion::Neutral: break;
  }
  const AUVector proto = emotion_prototype(spec.emotion);
  c.emotion.assign(static_cast<std::size_t>(T) * 8, 0.f);
  float accent = 0;
  for (std::int64_t i = 0; i < T; ++i) {
    const auto k = static_cast<std::size_t>(i);
    c.emotion[k * 8 + static_cast<std::size_t>(spec.emotion)] = 1.f;
    float target = median > 0 && f0[k] > 0 ? std::clamp((f0[k] / median - 1.f) * 3.f, 0.f, 1.f) : 0.f;
    accent += (target - accent) * (target > accent ? 0.5f : 0.15f);  // quick rise, slower fall
    AUVector au{};
    for (int a = 0; a < kNumAU; ++a) au[static_cast<std::size_t>(a)] = proto[static_cast<std::size_t>(a)] * c.intensity[k];
    const float brow = brow_gain * level * accent;
    if (spec.emotion == Emotion::Angry || spec.emotion == Emotion::Disgusted)
      au[AU4] += brow;  // frowning speakers lower the brows on accents
    else {
      au[AU1] += brow;
      au[AU2] += 0.7f * brow;
    }
    d.au.push_back(au);
  }
  d.visemes = vis;
  // Head motion from the audio envelope at frame centres.
  std::vector<float> envelope(static_cast<std::size_t>(T), 0.f);
  for (std::int64_t i = 0; i < T; ++i) {
    auto a = static_cast<std::size_t>(static_cast<double>(i) / fps * sr), b = std::min(c.audio.samples.size(), static_cast<std::size_t>(static_cast<double>(i + 1) / fps * sr));
    double e = 0;
    for (std::size_t s = a; s < b; ++s) e += static_cast<double>(c.audio.samples[s]) * c.audio.samples[s];
    envelope[static_cast<std::size_t>(i)] = b > a ? static_cast<float>(std::sqrt(e / static_cast<double>(b - a))) * 4.f : 0.f;
  }
  d.envelope = envelope;
  for (const Phone& p : phones)
    c.phonemes.push_back({{"phone", p.phone}, {"ipa", p.ipa}, {"start", p.start}, {"end", p.end}});
  return d;
}

void finish_clip(ClipDraft& d, const Shape& neutral, std::vector<float> blink, std::vector<float> poses) {
  dataset::ClipData& c = d.clip;
  c.blink = std::move(blink);
  c.poses = std::move(poses);
  for (std::size_t k = 0; k < d.visemes.size(); ++k) {
    c.landmarks_neutral.push_back(pose_face(neutral, d.visemes[k], AUVector{}, 1.f));
    c.landmarks_emotional.push_back(pose_face(neutral, d.visemes[k], d.au[k], 1.f));
    c.landmarks.push_back(pose_face(neutral, d.visemes[k], d.au[k], c.blink[k]));
  }
}

}  // namespace detail

using namespace detail;

namespace {

struct Pools {
  std::vector<std::string> sentences[3];
  std::vector<std::string> voices[3];
  std::vector<int> identities[3];
};
const char* kSplits[3] = {"train", "val", "test"};

template <class T>
void partition(std::vector<T> items, std::mt19937_64& rng, double val, double test, std::vector<T> out[3]) {
  std::shuffle(items.begin(), items.end(), rng);
  std::size_t n = items.size();
  std::size_t nt = std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(n * test)));
  std::size_t nv = std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(n * val)));
  out[2].assign(items.begin(), items.begin() + static_cast<long>(nt));
  out[1].assign(items.begin() + static_cast<long>(nt), items.begin() + static_cast<long>(nt + nv));
  out[0].assign(items.begin() + static_cast<long>(nt + nv), items.end());
}

void write_preview(const std::string& path, const Shape& neutral) {
  // Rows: the 8 emotions at full intensity; columns: rest, "a", "u", "i", "m", blink.
  const int cell = 160, cols = 6, rows = 8;
  Image img;
  img.width = cell * cols;
  img.height = cell * rows;
  img.pixels.assign(static_cast<std::size_t>(img.width) * img.height * 3, 255);
  const char* phones[cols] = {"_", "a", "u:", "i:", "m", "_"};
  const std::uint8_t ink[3] = {30, 30, 90};
  for (int r = 0; r < rows; ++r) {
    AUVector au = emotion_prototype(static_cast<Emotion>(r));
    for (int col = 0; col < cols; ++col) {
      Shape s = pose_face(neutral, viseme_of(phones[col]), au, col == cols - 1 ? 0.f : 1.f);
      auto xy = landmarks::frontal_projection(s, cell * 0.42f, {cell * (col + 0.5f), cell * (r + 0.35f)});
      landmarks::draw_landmarks(img.pixels.data(), img.width, img.height, xy, ink, 1);
    }
  }
  write_png(path, img);
}

}  // namespace

SynthSummary run_synth(const SynthOptions& opt) {
  auto t0 = std::chrono::steady_clock::now();
  if (opt.kind == "subject") return run_subject(opt);
  if (opt.kind != "corpus") throw bad_input("--kind " + opt.kind, "unknown kind (corpus or subject)");
  if (!(opt.seconds > 0)) throw bad_input("--seconds", "must be positive");
  if (opt.identities < 3) throw bad_input("--identities", "a corpus needs at least 3 (one per split)");
  if (!(opt.fps > 0) || opt.fps > 240) throw bad_input("--fps", "must be in (0, 240]");
  if (opt.size < 64 || opt.size % 2) throw bad_input("--size", "must be even and at least 64");
  std::vector<Emotion> emotions = emotion::parse_emotion_list(opt.emotions, "--emotions");
  dataset::DatasetWriter writer(opt.out, opt.force);

  std::mt19937_64 rng(opt.seed);
  const std::uint64_t sentence_seed = mix(opt.seed, 0x5e17);
  Pools pools;
  partition(make_sentences(600, sentence_seed), rng, 0.1, 0.1, pools.sentences);
  partition(all_voice_names(), rng, 0.15, 0.15, pools.voices);
  std::vector<int> ids(static_cast<std::size_t>(opt.identities));
  for (int i = 0; i < opt.identities; ++i) ids[static_cast<std::size_t>(i)] = i;
  partition(ids, rng, 0.1, 0.1, pools.identities);
  std::vector<Shape> shapes;
  for (int i = 0; i < opt.identities; ++i) {
    std::mt19937_64 irng(mix(opt.seed, 1000 + static_cast<std::uint64_t>(i)));
    shapes.push_back(make_identity(irng));
    char name[16];
    std::snprintf(name, sizeof name, "id%03d", i);
    writer.write_identity(name, shapes.back());
  }

  // Variants per group: neutral + every non-neutral emotion at levels 1-3.
  std::vector<std::pair<Emotion, int>> variants;
  for (Emotion e : emotions) {
    if (e == Emotion::Neutral)
      variants.push_back({e, 0});
    else
      for (int l = 1; l <= 3; ++l) variants.push_back({e, l});
  }
  const double est_clip = 3.6;
  const auto est_total = static_cast<std::int64_t>(std::ceil(opt.seconds / est_clip));
  Progress progress("synth", est_total, "clips");
  SynthSummary sum;
  std::size_t next_sentence[3] = {0, 0, 0};
  for (std::uint64_t g = 0; sum.audio_seconds < opt.seconds; ++g) {
    const int split = g % 10 == 8 ? 1 : (g % 10 == 9 ? 2 : 0);
    std::mt19937_64 grng(mix(opt.seed, 0xA000 + g));
    const auto& sp = pools.sentences[split];
    const std::string sentence = sp[next_sentence[split]++ % sp.size()];
    const auto& vp = pools.voices[split];
    const std::string voice_name = vp[std::uniform_int_distribution<std::size_t>(0, vp.size() - 1)(grng)];
    const auto& ip = pools.identities[split];
    const int identity = ip[std::uniform_int_distribution<std::size_t>(0, ip.size() - 1)(grng)];
    // A voice's own manner (rate, pitch, range) is fixed for the voice.
    std::mt19937_64 vrng(mix(opt.seed, hash_str(voice_name)));
    Voice base{voice_name, std::uniform_int_distribution<int>(150, 190)(vrng), std::uniform_int_distribution<int>(38, 62)(vrng),
               std::uniform_int_distribution<int>(40, 65)(vrng)};
    for (const auto& [e, lvl] : variants) {
      throw_if_interrupted("synth");
      ClipSpec spec;
      char id[32];
      std::snprintf(id, sizeof id, "c%05d", sum.clips);
      spec.id = id;
      spec.sentences = {sentence};
      spec.voice = voice_name;
      spec.split = kSplits[split];
      spec.identity = identity;
      spec.emotion = e;
      spec.level = lvl;
      spec.seed = mix(opt.seed, 0xC0000 + static_cast<std::uint64_t>(sum.clips));
      std::mt19937_64 crng(spec.seed);
      ClipDraft draft = draft_clip(spec, base, opt.fps, crng);
      const std::int64_t T = draft.clip.idle.empty() ? 0 : static_cast<std::int64_t>(draft.clip.idle.size());
      std::vector<float> blink = blink_track(T, opt.fps, crng);
      std::vector<float> poses = head_poses(draft.clip.idle, draft.envelope, opt.fps, kCameraDistance, crng);
      finish_clip(draft, shapes[static_cast<std::size_t>(identity)], std::move(blink), std::move(poses));
      dataset::ClipData& data = draft.clip;
      char idname[16];
      std::snprintf(idname, sizeof idname, "id%03d", identity);
      dataset::ClipMeta m;
      m.id = spec.id;
      m.identity = idname;
      m.voice = voice_name;
      m.sentence = sentence;
      m.split = spec.split;
      m.start = 0;
      m.duration = data.audio.duration();
      m.emotion = emotion::emotion_name(e);
      m.intensity = lvl == 0 ? 0.0 : lvl / 3.0;
      writer.write_clip(m, data);
      sum.clips++;
      sum.audio_seconds += m.duration;
      progress.update(sum.clips);
    }
  }
  progress.finish();
  if (opt.preview) write_preview(writer.temp_dir() + "/preview.png", shapes[0]);
  dataset::DatasetMeta meta;
  meta.kind = "corpus";
  meta.fps = opt.fps;
  meta.size = {opt.size, opt.size};
  const double f = 560.0 * opt.size / 256.0;
  meta.intrinsics = {f, f, opt.size / 2.0, opt.size / 2.0};
  meta.sentence_split_seed = sentence_seed;
  writer.finish(meta);
  sum.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("synth: {} clips, {:.1f} s of audio in {:.1f} s (RTF {:.4f}) → {}", sum.clips, sum.audio_seconds,
               sum.wall_seconds, sum.wall_seconds / sum.audio_seconds, opt.out);
  return sum;
}

}  // namespace emogene::synth
