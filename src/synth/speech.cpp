// Speech for the synthetic world: espeak-ng (Debian libespeak-ng) with phoneme events, which give
// each phoneme's sample position; acted-emotion voice changes; a mnemonic → IPA table.
#include <espeak-ng/speak_lib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

#include "emogene/core/error.h"
#include "emogene/synth/world.h"

namespace emogene::synth {

namespace {

struct Capture {
  std::vector<short> pcm;
  std::vector<std::pair<std::string, long>> events;  // mnemonic, sample position
};

int on_synth(short* wav, int n, espeak_EVENT* ev) {
  if (!ev) return 0;
  auto* cap = static_cast<Capture*>(ev->user_data);
  if (!cap) return 0;
  if (wav && n > 0) cap->pcm.insert(cap->pcm.end(), wav, wav + n);
  for (; ev->type != espeakEVENT_LIST_TERMINATED; ++ev) {
    if (ev->type == espeakEVENT_PHONEME) {
      char name[9] = {0};
      std::memcpy(name, ev->id.string, 8);
      cap->events.emplace_back(name, static_cast<long>(ev->sample));
    }
  }
  return 0;
}

int g_rate = 0;
std::mutex g_mutex;

void init_once() {
  if (g_rate > 0) return;
  int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, nullptr, espeakINITIALIZE_PHONEME_EVENTS | 0x8000);
  if (rate <= 0) throw internal_error("espeak-ng", "cannot initialise (is espeak-ng-data installed?)");
  espeak_SetSynthCallback(on_synth);
  g_rate = rate;
}

}  // namespace

std::vector<std::string> all_voice_names() {
  static const char* accents[] = {"en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan",
                                  "en-gb-x-gbcwmd", "en-us-nyc"};
  static const char* variants[] = {"m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5"};
  std::vector<std::string> out;
  for (const char* a : accents)
    for (const char* v : variants) out.push_back(std::string(a) + "+" + v);
  return out;
}

bool is_pause(const std::string& p) { return p.empty() || p[0] == '_' || p == ";" || p == "||"; }

namespace {

// espeak-ng keeps state from one utterance to the next (the same text twice gives different
// samples), so each utterance is synthesised in a child forked from the initialised but unused
// library: every call starts from the same state and the corpus is byte-identical for a seed.
bool write_all(int fd, const void* p, std::size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    c += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_all(int fd, void* p, std::size_t n) {
  char* c = static_cast<char*>(p);
  while (n > 0) {
    ssize_t r = ::read(fd, c, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    c += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// Runs in the child: synthesise, then send [n_pcm][pcm...][n_events]([8 chars][sample])...
[[noreturn]] void child_synth(int fd, const std::string& text, const Voice& voice) {
  Capture cap;
  int status = 0;
  if (espeak_SetVoiceByName(voice.name.c_str()) != EE_OK) status = 1;
  if (!status) {
    espeak_SetParameter(espeakRATE, std::clamp(voice.rate, 80, 450), 0);
    espeak_SetParameter(espeakPITCH, std::clamp(voice.pitch, 0, 100), 0);
    espeak_SetParameter(espeakRANGE, std::clamp(voice.range, 0, 100), 0);
    unsigned id = 0;
    if (espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, &id, &cap) != EE_OK) status = 2;
    espeak_Synchronize();
  }
  std::uint64_t n = status ? 0 : cap.pcm.size();
  bool ok = write_all(fd, &n, 8) && (n == 0 || write_all(fd, cap.pcm.data(), n * sizeof(short)));
  std::uint64_t ne = status ? 0 : cap.events.size();
  ok = ok && write_all(fd, &ne, 8);
  for (std::size_t i = 0; ok && i < ne; ++i) {
    char name[8] = {0};
    std::memcpy(name, cap.events[i].first.c_str(), std::min<std::size_t>(8, cap.events[i].first.size()));
    std::int64_t pos = cap.events[i].second;
    ok = write_all(fd, name, 8) && write_all(fd, &pos, 8);
  }
  ::_exit(status ? 10 + status : (ok ? 0 : 3));
}

}  // namespace

Utterance speak(const std::string& text, const Voice& voice) {
  std::lock_guard<std::mutex> lock(g_mutex);
  init_once();
  int fds[2];
  if (::pipe(fds) != 0) throw internal_error("espeak-ng", "cannot create a pipe: " + errno_text(errno));
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw internal_error("espeak-ng", "cannot fork: " + errno_text(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_synth(fds[1], text, voice);
  }
  ::close(fds[1]);
  Capture cap;
  std::uint64_t n = 0, ne = 0;
  bool ok = read_all(fds[0], &n, 8);
  if (ok && n > 0 && n < (1ull << 32)) {
    cap.pcm.resize(n);
    ok = read_all(fds[0], cap.pcm.data(), n * sizeof(short));
  }
  ok = ok && read_all(fds[0], &ne, 8) && ne < (1ull << 24);
  for (std::uint64_t i = 0; ok && i < ne; ++i) {
    char name[9] = {0};
    std::int64_t pos = 0;
    ok = read_all(fds[0], name, 8) && read_all(fds[0], &pos, 8);
    cap.events.emplace_back(name, static_cast<long>(pos));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !ok) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 11) throw internal_error("espeak-ng", "unknown voice '" + voice.name + "'");
    throw internal_error("espeak-ng", "synthesis failed for '" + text + "'");
  }
  Utterance u;
  u.audio.sample_rate = g_rate;
  u.audio.channels = 1;
  u.audio.samples.resize(cap.pcm.size());
  for (std::size_t i = 0; i < cap.pcm.size(); ++i) u.audio.samples[i] = static_cast<float>(cap.pcm[i]) / 32768.f;
  const double total = static_cast<double>(cap.pcm.size()) / g_rate;
  for (std::size_t i = 0; i < cap.events.size(); ++i) {
    Phone p;
    p.phone = cap.events[i].first;
    p.ipa = mnemonic_to_ipa(p.phone);
    p.start = static_cast<double>(cap.events[i].second) / g_rate;
    p.end = i + 1 < cap.events.size() ? static_cast<double>(cap.events[i + 1].second) / g_rate : total;
    if (p.end <= p.start) continue;
    u.phones.push_back(p);
  }
  return u;
}

Voice emotional_voice(const Voice& base, emotion::Emotion e, float k) {
  // Direction of change in acted emotional speech (pitch level, pitch range, tempo); cf. Scherer,
  // "Vocal communication of emotion" (2003), Table 2: anger/fear/joy raise F0 and tempo, sadness
  // lowers both and narrows the range, surprise widens the range.
  struct D { int pitch, range, rate; };
  D d{0, 0, 0};
  switch (e) {
    case emotion::Emotion::Neutral: break;
    case emotion::Emotion::Angry: d = {8, 30, 20}; break;
    case emotion::Emotion::Contempt: d = {-6, -10, -15}; break;
    case emotion::Emotion::Disgusted: d = {-8, 10, -25}; break;
    case emotion::Emotion::Fear: d = {20, 15, 30}; break;
    case emotion::Emotion::Happy: d = {15, 25, 15}; break;
    case emotion::Emotion::Sad: d = {-12, -30, -35}; break;
    case emotion::Emotion::Surprised: d = {22, 40, 5}; break;
  }
  Voice v = base;
  v.pitch = base.pitch + static_cast<int>(std::lround(k * d.pitch));
  v.range = base.range + static_cast<int>(std::lround(k * d.range));
  v.rate = base.rate + static_cast<int>(std::lround(k * d.rate));
  return v;
}

std::string mnemonic_to_ipa(const std::string& p) {
  // espeak-ng's English phoneme mnemonics (phsource/ph_english) and their IPA values.
  static const std::map<std::string, std::string> table = {
      {"p", "p"}, {"b", "b"}, {"t", "t"}, {"d", "d"}, {"k", "k"}, {"g", "ɡ"}, {"f", "f"}, {"v", "v"},
      {"T", "θ"}, {"D", "ð"}, {"s", "s"}, {"z", "z"}, {"S", "ʃ"}, {"Z", "ʒ"}, {"h", "h"}, {"m", "m"},
      {"n", "n"}, {"N", "ŋ"}, {"l", "l"}, {"r", "ɹ"}, {"w", "w"}, {"j", "j"}, {"tS", "tʃ"}, {"dZ", "dʒ"},
      {"t#", "ɾ"}, {"d#", "ɾ"}, {"@", "ə"}, {"@L", "əl"}, {"@2", "ə"}, {"@5", "ə"}, {"3", "ɚ"}, {"3:", "ɜː"},
      {"a", "æ"}, {"a#", "ɐ"}, {"A:", "ɑː"}, {"A@", "ɑːɹ"}, {"aa", "æ"}, {"aI", "aɪ"}, {"aI@", "aɪə"},
      {"aU", "aʊ"}, {"e", "ɛ"}, {"E", "ɛ"}, {"e@", "ɛə"}, {"eI", "eɪ"}, {"i", "i"}, {"i:", "iː"}, {"I", "ɪ"},
      {"I2", "ɪ"}, {"I#", "ɪ"}, {"0", "ɒ"}, {"O:", "ɔː"}, {"O@", "ɔːɹ"}, {"OI", "ɔɪ"}, {"o@", "oːɹ"},
      {"oU", "oʊ"}, {"u:", "uː"}, {"U", "ʊ"}, {"U@", "ʊə"}, {"V", "ʌ"}, {"i@", "ɪə"}, {"i@3", "ɪɹ"},
  };
  std::string key = p;
  while (!key.empty() && (key.back() == '/' || key.back() == '-' || key.back() == ';')) key.pop_back();
  auto it = table.find(key);
  if (it != table.end()) return it->second;
  if (is_pause(p)) return "";
  return p;
}

}  // namespace emogene::synth
