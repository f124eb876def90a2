#include "emogene/emotion/spec.h"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>
#include <string_view>
#include <system_error>

#include "emogene/core/error.h"

namespace emogene::emotion {

namespace {

constexpr const char* kSpaces = " \t\n\r\f\v";
constexpr const char* kKeyHint = " (a schedule key is SECONDS s:MIX, e.g. 2.5s:happy)";

std::string trim(std::string_view s) {
  const std::size_t b = s.find_first_not_of(kSpaces);
  if (b == std::string_view::npos) return {};
  const std::size_t e = s.find_last_not_of(kSpaces);
  return std::string(s.substr(b, e - b + 1));
}

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string quoted(const std::string& s) { return "'" + s + "'"; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// s split at every `sep` (empty pieces kept).
std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

// The parts of a mix, split at '+' except inside a number's exponent ("1e+5": a part begins with an
// emotion name, never with a digit, so "<digit or .>e+<digit>" cannot be a separator).
std::vector<std::string> split_parts(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i < s.size()) {
      if (s[i] != '+') continue;
      const bool exponent = i >= 2 && (s[i - 1] == 'e' || s[i - 1] == 'E') && (is_digit(s[i - 2]) || s[i - 2] == '.') &&
                            i + 1 < s.size() && is_digit(s[i + 1]);
      if (exponent) continue;
    }
    out.push_back(s.substr(start, i - start));
    start = i + 1;
  }
  return out;
}

enum class Num { Ok, NotNumber, OutOfRange };

// A whole token as a decimal number (from_chars: locale-independent; "inf" and "nan" parse and are
// refused by the callers as not finite).
Num parse_number(const std::string& tok, double& value) {
  if (tok.empty()) return Num::NotNumber;
  const char* first = tok.data();
  const char* last = first + tok.size();
  const auto [ptr, ec] = std::from_chars(first, last, value, std::chars_format::general);
  if (ec == std::errc::invalid_argument || ptr != last) return Num::NotNumber;
  if (ec == std::errc::result_out_of_range) return Num::OutOfRange;
  return Num::Ok;
}

// The parse of one spec text; every error names the offending piece within the (trimmed) whole.
class Parser {
 public:
  Parser(const std::string& text, const std::string& where) : whole_(trim(text)), where_(where) {}

  Spec parse() {
    if (whole_.empty()) throw bad_input(where_, "empty emotion spec");
    Spec spec;
    const char c = whole_[0];
    if (whole_.find(',') == std::string::npos && !(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-')) {
      spec.keys.push_back({0.0, parse_mix(whole_)});
      return spec;
    }
    const std::vector<std::string> raw = split(whole_, ',');
    std::string prev_token;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const std::string key = trim(raw[i]);
      if (key.empty()) {
        const char* pos = i == 0 ? "before" : i + 1 == raw.size() ? "after" : "between";
        fail(whole_, std::string("empty key ") + pos + (i == 0 || i + 1 == raw.size() ? " ','" : " ',' signs"));
      }
      std::string token;
      const double t = parse_time(key, token);
      if (!spec.keys.empty() && !(t > spec.keys.back().seconds))
        fail(key, "time " + token + "s is not after the previous key's " + prev_token + "s (times must increase)");
      const std::string mix = trim(std::string_view(key).substr(key.find(':') + 1));
      if (mix.empty()) fail(key, "missing mix after 's:'");
      spec.keys.push_back({t, parse_mix(mix)});
      prev_token = token;
    }
    return spec;
  }

 private:
  std::string whole_;
  std::string where_;

  // "<where>: 'piece' in 'whole'", or "<where>: 'whole'" when the piece is the whole spec (just
  // "<where>" when the problem already quotes it).
  std::string where_for(const std::string& piece, const std::string& problem) const {
    std::string ctx;
    if (piece != whole_)
      ctx = quoted(piece) + " in " + quoted(whole_);
    else if (problem.find(quoted(piece)) == std::string::npos)
      ctx = quoted(piece);
    if (ctx.empty()) return where_;
    return where_.empty() ? ctx : where_ + ": " + ctx;
  }

  [[noreturn]] void fail(const std::string& piece, const std::string& problem) const {
    throw bad_input(where_for(piece, problem), problem);
  }

  // A number token of `piece`, finite, its errors worded "<what> 'token' ...".
  double number(const std::string& piece, const std::string& what, const std::string& tok,
                const std::string& hint = "") const {
    double v = 0;
    switch (parse_number(tok, v)) {
      case Num::NotNumber: fail(piece, what + " " + quoted(tok) + " is not a number" + hint);
      case Num::OutOfRange: fail(piece, what + " " + quoted(tok) + " is out of range");
      case Num::Ok: break;
    }
    if (!std::isfinite(v)) fail(piece, what + " " + quoted(tok) + " is not finite");
    return v + 0.0;  // -0 -> +0
  }

  // SECONDS "s:" of a schedule key; `token` receives the number as written.
  double parse_time(const std::string& key, std::string& token) const {
    const bool letter = is_letter(key[0]);
    const std::string missing_time =
        "missing time: a schedule key is SECONDS s:MIX, e.g. 2.5s:happy (to mix emotions use '+', e.g. happy+sad)";
    const std::size_t colon = key.find(':');
    if (colon == std::string::npos) fail(key, letter ? missing_time : "missing 's:' after the time" + std::string(kKeyHint));
    const std::string left = trim(std::string_view(key).substr(0, colon));
    const bool has_s = !left.empty() && left.back() == 's';
    token = has_s ? trim(std::string_view(left).substr(0, left.size() - 1)) : left;
    double t = 0;
    if (!has_s || parse_number(token, t) == Num::NotNumber) {
      if (letter) fail(key, missing_time);
      if (!has_s) fail(key, "missing 's:' after the time" + std::string(kKeyHint));
    }
    t = number(key, "time", token, kKeyHint);
    if (t < 0) fail(key, "time " + quoted(token) + " is negative");
    return t;
  }

  Mix parse_mix(const std::string& mix) const {
    const std::size_t at = mix.find('@');
    if (at != std::string::npos && mix.find('@', at + 1) != std::string::npos) fail(mix, "more than one '@'");
    Mix m;
    if (at != std::string::npos) {
      const std::string tok = trim(std::string_view(mix).substr(at + 1));
      if (tok.empty()) fail(mix, "missing intensity after '@'");
      const std::string hint =
          tok.find('+') != std::string::npos ? " ('@' INTENSITY comes last and applies to the whole mix)" : "";
      const double v = number(mix, "intensity", tok, hint);
      if (v < 0 || v > 1) fail(mix, "intensity " + quoted(tok) + " is outside [0, 1]");
      m.intensity = static_cast<float>(v);
    }
    const std::string parts = trim(std::string_view(mix).substr(0, at));
    if (parts.empty()) fail(mix, "no emotion before '@'");

    std::array<double, kNumEmotions> w{};
    std::array<bool, kNumEmotions> seen{};
    const std::vector<std::string> raw = split_parts(parts);
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const std::string part = trim(raw[i]);
      if (part.empty())
        fail(mix, i == 0 ? "empty part before '+'" : i + 1 == raw.size() ? "empty part after '+'"
                                                                          : "empty part between '+' signs");
      const std::size_t colon = part.find(':');
      const std::string name = trim(std::string_view(part).substr(0, colon));
      if (name.empty()) fail(part, "missing emotion before ':'");
      const auto e = find_emotion(name);
      if (!e) parse_emotion(name, where_for(part, "unknown emotion " + quoted(name)));  // throws, listing the names
      const auto k = static_cast<std::size_t>(*e);
      if (seen[k]) fail(mix, "emotion " + quoted(name) + " appears more than once (give it one weight)");
      seen[k] = true;
      if (colon == std::string::npos) {
        w[k] = 1.0;
        continue;
      }
      const std::string tok = trim(std::string_view(part).substr(colon + 1));
      if (tok.empty()) fail(part, "missing weight after ':'");
      w[k] = number(part, "weight", tok);
      if (w[k] < 0) fail(part, "weight " + quoted(tok) + " is negative");
    }
    // Normalise without overflow: scale by the largest weight first.
    const double top = *std::max_element(w.begin(), w.end());
    if (!(top > 0)) fail(mix, raw.size() == 1 ? "weight is 0" : "weights sum to 0");
    double sum = 0;
    for (double& x : w) sum += (x /= top);
    for (std::size_t k = 0; k < w.size(); ++k) m.weights[k] = static_cast<float>(w[k] / sum);
    return m;
  }
};

template <class T>
std::string shortest(T v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// Throws internal_error(fn, ...) unless `spec` is as parse_spec returns it.
void check_spec(const Spec& spec, const char* fn) {
  if (spec.keys.empty()) throw internal_error(fn, "emotion spec without keys");
  for (std::size_t i = 0; i < spec.keys.size(); ++i) {
    const Key& key = spec.keys[i];
    const std::string at = "emotion key " + std::to_string(i) + ": ";
    if (!std::isfinite(key.seconds) || key.seconds < 0) throw internal_error(fn, at + "bad time " + shortest(key.seconds));
    if (i > 0 && !(key.seconds > spec.keys[i - 1].seconds)) throw internal_error(fn, at + "times not increasing");
    const Mix& m = key.mix;
    if (!std::isfinite(m.intensity) || m.intensity < 0 || m.intensity > 1)
      throw internal_error(fn, at + "intensity " + shortest(m.intensity) + " outside [0, 1]");
    double sum = 0;
    for (float w : m.weights) {
      if (!std::isfinite(w) || w < 0 || w > 1) throw internal_error(fn, at + "weight " + shortest(w) + " outside [0, 1]");
      sum += w;
    }
    if (std::abs(sum - 1) > 1e-4) throw internal_error(fn, at + "weights sum to " + shortest(sum) + ", not 1");
  }
}

// A checked spec ready for sampling: each key's expression and the length of its transition.
struct Prepared {
  std::vector<double> times;
  std::vector<double> ramps;  // the transition into key k lasts ramps[k] (k >= 1)
  std::vector<std::array<double, kNumEmotions>> expr;
};

Prepared prepare(const Spec& spec, double ramp_seconds, const char* fn) {
  check_spec(spec, fn);
  if (!std::isfinite(ramp_seconds) || ramp_seconds < 0)
    throw bad_input("emotion ramp", shortest(ramp_seconds) + " s is not a duration >= 0");
  Prepared p;
  const std::size_t n = spec.keys.size();
  for (std::size_t k = 0; k < n; ++k) {
    p.times.push_back(spec.keys[k].seconds);
    p.ramps.push_back(k + 1 < n ? std::min(ramp_seconds, spec.keys[k + 1].seconds - spec.keys[k].seconds) : ramp_seconds);
    std::array<double, kNumEmotions> e{};
    const Mix& m = spec.keys[k].mix;
    for (std::size_t j = 1; j < e.size(); ++j) e[j] = static_cast<double>(m.intensity) * m.weights[j];
    p.expr.push_back(e);
  }
  return p;
}

EmotionSample sample(const Prepared& p, double t) {
  // k: the last key begun at t (0 also before the first key: it holds).
  const auto it = std::upper_bound(p.times.begin(), p.times.end(), t);
  const std::size_t k = it == p.times.begin() ? 0 : static_cast<std::size_t>(it - p.times.begin()) - 1;
  std::array<double, kNumEmotions> e = p.expr[k];
  if (k > 0 && p.ramps[k] > 0) {
    const double u = (t - p.times[k]) / p.ramps[k];
    if (u < 1) {
      const double s = u * u * (3 - 2 * u);
      for (std::size_t j = 0; j < e.size(); ++j) e[j] = (1 - s) * p.expr[k - 1][j] + s * p.expr[k][j];
    }
  }
  EmotionSample out;
  double sum = 0;
  for (std::size_t j = 1; j < e.size(); ++j) sum += e[j];
  if (!(sum > 0)) {
    out.weights[static_cast<std::size_t>(Emotion::Neutral)] = 1.f;
    return out;
  }
  out.intensity = static_cast<float>(std::min(sum, 1.0));
  for (std::size_t j = 1; j < e.size(); ++j) out.weights[j] = std::clamp(static_cast<float>(e[j] / sum), 0.f, 1.f);
  return out;
}

}  // namespace

Mix mix_of(Emotion e, float intensity) {
  Mix m;
  m.weights[static_cast<std::size_t>(e)] = 1.f;
  m.intensity = intensity;
  return m;
}

std::array<float, kNumEmotions> expression(const Mix& m) {
  std::array<float, kNumEmotions> e{};
  for (std::size_t j = 1; j < e.size(); ++j) e[j] = m.intensity * m.weights[j];
  return e;
}

Spec parse_spec(const std::string& text, const std::string& where) { return Parser(text, where).parse(); }

std::string format_mix(const Mix& mix) {
  int parts = 0;
  for (float w : mix.weights) parts += w > 0;
  std::string s;
  for (int k = 0; k < kNumEmotions; ++k) {
    const float w = mix.weights[static_cast<std::size_t>(k)];
    if (!(w > 0)) continue;
    if (!s.empty()) s += '+';
    s += emotion_name(static_cast<Emotion>(k));
    if (parts > 1) s += ":" + shortest(w);
  }
  if (mix.intensity != 1.f) s += "@" + shortest(mix.intensity);
  return s;
}

std::string format_spec(const Spec& spec) {
  check_spec(spec, "format_spec");
  if (spec.keys.size() == 1 && spec.keys[0].seconds == 0) return format_mix(spec.keys[0].mix);
  std::string s;
  for (const Key& key : spec.keys) {
    if (!s.empty()) s += ',';
    s += shortest(key.seconds) + "s:" + format_mix(key.mix);
  }
  return s;
}

EmotionSample sample_spec(const Spec& spec, double seconds, double ramp_seconds) {
  return sample(prepare(spec, ramp_seconds, "sample_spec"), seconds);
}

EmotionTrack make_track(const Spec& spec, int frames, double fps, double ramp_seconds) {
  if (frames < 0) throw internal_error("make_track", "negative frame count " + std::to_string(frames));
  if (!std::isfinite(fps) || fps <= 0) throw internal_error("make_track", "fps " + shortest(fps) + " is not > 0");
  const Prepared p = prepare(spec, ramp_seconds, "make_track");
  EmotionTrack track;
  track.frames = frames;
  track.weights.resize(static_cast<std::size_t>(frames) * kNumEmotions);
  track.intensity.resize(static_cast<std::size_t>(frames));
  for (int i = 0; i < frames; ++i) {
    const EmotionSample s = sample(p, (i + 0.5) / fps);
    std::copy(s.weights.begin(), s.weights.end(), track.weights.begin() + static_cast<std::ptrdiff_t>(i) * kNumEmotions);
    track.intensity[static_cast<std::size_t>(i)] = s.intensity;
  }
  return track;
}

}  // namespace emogene::emotion
