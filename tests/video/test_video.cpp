// Tests of video/: the MP4 writer (streams, codecs, lengths, determinism, refusals, atomicity),
// A/V sync after a full encode/decode round trip, the frame reader (rates, sizes) and probing,
// and bad input for all of them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "emogene/audio/audio.h"
#include "emogene/audio/ffmpeg.h"
#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/video/video.h"
#include "testutil.h"

namespace emogene::video {
namespace {

namespace fs = std::filesystem;
constexpr double kPi = 3.14159265358979323846;

// FFmpeg's info lines (x264's statistics) would drown the test output; keep warnings.
const bool kQuiet = (ff::set_log_level(true), true);

// A smooth pattern that moves with the frame index: [h, w, 3].
std::vector<std::uint8_t> moving_pattern(int w, int h, int i) {
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      double u = static_cast<double>(x) / w, v = static_cast<double>(y) / h, t = i / 50.0;
      double r = 128 + 90 * std::sin(2 * kPi * (u + t));
      double g = 128 + 90 * std::cos(2 * kPi * (v - 0.5 * t));
      double b = 40 + 170 * (0.5 * u + 0.5 * v);
      std::uint8_t* p = &rgb[(static_cast<std::size_t>(y) * w + x) * 3];
      p[0] = static_cast<std::uint8_t>(std::lround(r));
      p[1] = static_cast<std::uint8_t>(std::lround(g));
      p[2] = static_cast<std::uint8_t>(std::lround(b));
    }
  return rgb;
}

std::vector<std::uint8_t> flat(int w, int h, std::uint8_t value) {
  return std::vector<std::uint8_t>(static_cast<std::size_t>(w) * h * 3, value);
}

// Grey level that encodes frame index k (decodes back with index_of).
std::uint8_t level_of(int k) { return static_cast<std::uint8_t>(20 + 4 * k); }

double mean(const std::vector<std::uint8_t>& v) {
  double s = 0;
  for (auto b : v) s += b;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

int index_of(const std::vector<std::uint8_t>& rgb) {
  return static_cast<int>(std::lround((mean(rgb) - 20) / 4));
}

double psnr(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  EXPECT_EQ(a.size(), b.size());
  double se = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    double d = static_cast<double>(a[i]) - b[i];
    se += d * d;
  }
  double mse = se / static_cast<double>(a.size());
  return mse == 0 ? 100 : 10 * std::log10(255.0 * 255.0 / mse);
}

// Each channel a sine of its own frequency: [frames, channels] interleaved.
audio::Waveform tones(int rate, int channels, double seconds) {
  audio::Waveform w;
  w.sample_rate = rate;
  w.channels = channels;
  auto n = static_cast<std::size_t>(std::llround(seconds * rate));
  w.samples.resize(n * channels);
  for (std::size_t i = 0; i < n; ++i)
    for (int c = 0; c < channels; ++c)
      w.samples[i * channels + c] =
          0.3f * static_cast<float>(std::sin(2 * kPi * 330.0 * (c + 1) * i / rate));
  return w;
}

void write_clip(const std::string& path, const WriterOptions& opt, int frames,
                const audio::Waveform* wave) {
  VideoWriter w(path, opt, wave);
  for (int i = 0; i < frames; ++i) w.write(moving_pattern(opt.width, opt.height, i).data());
  EXPECT_EQ(w.frames_written(), frames);
  w.finish();
}

WriterOptions options(int w, int h, double fps = 25) {
  WriterOptions o;
  o.width = w;
  o.height = h;
  o.fps = fps;
  return o;
}

// The first stream of a type (a copy: callers often probe a temporary).
std::optional<StreamInfo> find_stream(const MediaInfo& info, const std::string& type) {
  for (const auto& s : info.streams)
    if (s.type == type) return s;
  return std::nullopt;
}

std::vector<std::string> folder_entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

// A 16-bit PCM WAV written by hand (an audio-only file for the reader's refusal).
void write_wav16(const std::string& path, const audio::Waveform& w) {
  std::vector<std::uint8_t> b;
  auto u32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  auto u16 = [&](std::uint16_t v) {
    b.push_back(static_cast<std::uint8_t>(v));
    b.push_back(static_cast<std::uint8_t>(v >> 8));
  };
  auto data_bytes = static_cast<std::uint32_t>(w.samples.size() * 2);
  b.insert(b.end(), {'R', 'I', 'F', 'F'});
  u32(36 + data_bytes);
  b.insert(b.end(), {'W', 'A', 'V', 'E', 'f', 'm', 't', ' '});
  u32(16);
  u16(1);
  u16(static_cast<std::uint16_t>(w.channels));
  u32(static_cast<std::uint32_t>(w.sample_rate));
  u32(static_cast<std::uint32_t>(w.sample_rate * w.channels * 2));
  u16(static_cast<std::uint16_t>(w.channels * 2));
  u16(16);
  b.insert(b.end(), {'d', 'a', 't', 'a'});
  u32(data_bytes);
  for (float s : w.samples) u16(static_cast<std::uint16_t>(static_cast<std::int16_t>(
      std::lround(std::clamp(s, -1.0f, 1.0f) * 32767))));
  test::write_bytes(path, b);
}

// Expects an emogene BadInput error whose message names `path`.
template <typename F>
void expect_bad_input(F&& f, const std::string& path, const std::string& what = "") {
  try {
    f();
    ADD_FAILURE() << "no error for " << path;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadInput) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    if (!what.empty()) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Writer

void round_trip(int w, int h) {
  std::string dir = test::temp_dir();
  std::string path = dir + "/clip.mp4";
  audio::Waveform wave = tones(44100, 2, 2.0);
  write_clip(path, options(w, h), 50, &wave);
  EXPECT_EQ(folder_entries(dir), std::vector<std::string>{"clip.mp4"});  // no temporary left

  MediaInfo info = probe_media(path);
  EXPECT_NE(info.container.find("mp4"), std::string::npos) << info.container;
  EXPECT_NEAR(info.duration, 2.0, 0.04);
  auto v = find_stream(info, "video");
  auto a = find_stream(info, "audio");
  ASSERT_TRUE(v.has_value());
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(v->codec, "h264");
  EXPECT_EQ(v->width, w);
  EXPECT_EQ(v->height, h);
  EXPECT_NEAR(v->fps, 25.0, 1e-6);
  EXPECT_EQ(v->frames, 50);
  EXPECT_NEAR(v->duration, 2.0, 0.04);
  EXPECT_EQ(a->codec, "aac");
  EXPECT_EQ(a->sample_rate, 44100);
  EXPECT_EQ(a->channels, 2);
  EXPECT_NEAR(a->duration, 2.0, 0.001);  // the real audio length, not whole AAC frames

  VideoReader r(path);
  EXPECT_EQ(r.width(), w);
  EXPECT_EQ(r.height(), h);
  EXPECT_NEAR(r.fps(), 25.0, 1e-6);
  Frame f;
  int n = 0;
  while (r.read(f)) {
    ASSERT_EQ(f.width, w);
    ASSERT_EQ(f.height, h);
    EXPECT_NEAR(f.time, n / 25.0, 1e-6);
    EXPECT_GE(psnr(f.rgb, moving_pattern(w, h, n)), 35.0) << "frame " << n;
    ++n;
  }
  EXPECT_EQ(n, 50);
}

TEST(VideoWriter, RoundTrip64x48) { round_trip(64, 48); }
TEST(VideoWriter, RoundTrip128x96) { round_trip(128, 96); }

TEST(VideoWriter, StreamsAreTaggedBt601Limited) {
  std::string path = test::temp_dir() + "/tags.mp4";
  write_clip(path, options(64, 48), 5, nullptr);
  ff::InputPtr fmt = ff::open_input(path);
  ASSERT_EQ(fmt->nb_streams, 1u);  // a silent video has no audio track
  const AVCodecParameters* par = fmt->streams[0]->codecpar;
  EXPECT_EQ(par->format, AV_PIX_FMT_YUV420P);
  EXPECT_EQ(par->color_space, AVCOL_SPC_SMPTE170M);
  EXPECT_EQ(par->color_range, AVCOL_RANGE_MPEG);
  EXPECT_EQ(par->color_primaries, AVCOL_PRI_SMPTE170M);
  EXPECT_EQ(par->color_trc, AVCOL_TRC_SMPTE170M);
}

TEST(VideoWriter, KeepsMono16k) {
  std::string path = test::temp_dir() + "/mono.mp4";
  audio::Waveform wave = tones(16000, 1, 2.0);
  write_clip(path, options(64, 48), 50, &wave);
  auto a = find_stream(probe_media(path), "audio");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->sample_rate, 16000);
  EXPECT_EQ(a->channels, 1);
  EXPECT_NEAR(a->duration, 2.0, 0.04);
}

TEST(VideoWriter, ResamplesRatesAacCannotCarry) {
  std::string path = test::temp_dir() + "/r37800.mp4";
  audio::Waveform wave = tones(37800, 2, 2.0);
  write_clip(path, options(64, 48), 50, &wave);
  auto a = find_stream(probe_media(path), "audio");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->sample_rate, 48000);
  EXPECT_EQ(a->channels, 2);
  EXPECT_NEAR(a->duration, 2.0, 0.04);
}

TEST(VideoWriter, DownmixesSurroundToStereo) {
  std::string dir = test::temp_dir();
  for (int ch : {6, 9}) {  // 5.1 has a standard downmix; 9 channels are averaged
    std::string path = dir + "/ch" + std::to_string(ch) + ".mp4";
    audio::Waveform wave = tones(48000, ch, 1.0);
    write_clip(path, options(64, 48), 25, &wave);
    auto a = find_stream(probe_media(path), "audio");
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->channels, 2) << ch;
    EXPECT_EQ(a->sample_rate, 48000);
  }
}

TEST(VideoWriter, AudioLongerThanVideoIsKeptWhole) {
  std::string path = test::temp_dir() + "/long_audio.mp4";
  audio::Waveform wave = tones(48000, 1, 3.0);
  write_clip(path, options(64, 48), 25, &wave);  // 1 s of video
  MediaInfo info = probe_media(path);
  auto a = find_stream(info, "audio");
  auto v = find_stream(info, "video");
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(v.has_value());
  EXPECT_NEAR(a->duration, 3.0, 0.03);
  EXPECT_NEAR(v->duration, 1.0, 0.04);
  EXPECT_EQ(v->frames, 25);
}

TEST(VideoWriter, FractionalFrameRate) {
  std::string path = test::temp_dir() + "/ntsc.mp4";
  write_clip(path, options(64, 48, 30000.0 / 1001), 30, nullptr);
  auto v = find_stream(probe_media(path), "video");
  ASSERT_TRUE(v.has_value());
  EXPECT_NEAR(v->fps, 29.97003, 1e-4);
  EXPECT_EQ(v->frames, 30);
  EXPECT_NEAR(v->duration, 30 * 1001 / 30000.0, 1e-3);
  VideoReader r(path);
  Frame f;
  int n = 0;
  while (r.read(f)) {
    EXPECT_NEAR(f.time, n * 1001 / 30000.0, 1e-4) << n;
    ++n;
  }
  EXPECT_EQ(n, 30);
}

// Leaves freed heap blocks full of garbage, so a read of memory nobody wrote shows up as changed
// output bytes.
void dirty_the_heap() {
  std::vector<std::vector<std::uint8_t>> blocks;
  for (std::size_t size = 16; size <= (1u << 20); size *= 2)
    for (int k = 0; k < 8; ++k)
      blocks.emplace_back(size + 8 * k, static_cast<std::uint8_t>(0xA5 + k));
}

TEST(VideoWriter, SameInputsSameBytes) {
  std::string dir = test::temp_dir();
  audio::Waveform wave = tones(44100, 2, 2.0);
  write_clip(dir + "/a.mp4", options(64, 48), 50, &wave);
  dirty_the_heap();  // x264's mbtree once made the bytes depend on old heap contents
  write_clip(dir + "/b.mp4", options(64, 48), 50, &wave);
  std::vector<std::uint8_t> a = read_file(dir + "/a.mp4"), b = read_file(dir + "/b.mp4");
  EXPECT_GT(a.size(), 1000u);
  EXPECT_TRUE(a == b) << a.size() << " vs " << b.size() << " bytes";
}

TEST(VideoWriter, RefusesOddOrZeroSize) {
  std::string path = test::temp_dir() + "/odd.mp4";
  expect_bad_input([&] { VideoWriter w(path, options(63, 48), nullptr); }, path);
  expect_bad_input([&] { VideoWriter w(path, options(64, 47), nullptr); }, path);
  expect_bad_input([&] { VideoWriter w(path, options(0, 48), nullptr); }, path);
  expect_bad_input([&] { VideoWriter w(path, options(64, -2), nullptr); }, path);
  EXPECT_FALSE(file_exists(path));
}

TEST(VideoWriter, RefusesNonPositiveFps) {
  std::string path = test::temp_dir() + "/fps.mp4";
  expect_bad_input([&] { VideoWriter w(path, options(64, 48, 0), nullptr); }, path);
  expect_bad_input([&] { VideoWriter w(path, options(64, 48, -25), nullptr); }, path);
  expect_bad_input([&] { VideoWriter w(path, options(64, 48, std::nan("")), nullptr); }, path);
  EXPECT_FALSE(file_exists(path));
}

TEST(VideoWriter, RefusesUnwritableFolder) {
  std::string dir = test::temp_dir();
  std::string missing = dir + "/no/such/folder/out.mp4";
  expect_bad_input([&] { VideoWriter w(missing, options(64, 48), nullptr); }, missing);
  test::write_text(dir + "/plain", "x");
  std::string under_file = dir + "/plain/out.mp4";
  expect_bad_input([&] { VideoWriter w(under_file, options(64, 48), nullptr); }, under_file);
  if (::geteuid() != 0) {  // root writes anywhere
    fs::create_directories(dir + "/ro");
    fs::permissions(dir + "/ro", fs::perms::owner_read | fs::perms::owner_exec);
    std::string ro = dir + "/ro/out.mp4";
    expect_bad_input([&] { VideoWriter w(ro, options(64, 48), nullptr); }, ro);
    fs::permissions(dir + "/ro", fs::perms::owner_all);
  }
}

TEST(VideoWriter, RefusesUnknownPreset) {
  std::string path = test::temp_dir() + "/preset.mp4";
  WriterOptions o = options(64, 48);
  o.preset = "warp-speed";
  expect_bad_input([&] { VideoWriter w(path, o, nullptr); }, path, "preset");
}

TEST(VideoWriter, WithoutFinishLeavesNothing) {
  std::string dir = test::temp_dir();
  std::string path = dir + "/abandoned.mp4";
  audio::Waveform wave = tones(44100, 2, 2.0);
  {
    VideoWriter w(path, options(64, 48), &wave);  // destroyed before any frame
  }
  EXPECT_TRUE(folder_entries(dir).empty());
  try {
    VideoWriter w(path, options(64, 48), &wave);
    for (int i = 0; i < 20; ++i) w.write(moving_pattern(64, 48, i).data());
    throw std::runtime_error("a failure mid-way");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(file_exists(path));
  EXPECT_TRUE(folder_entries(dir).empty());
}

TEST(VideoWriter, FinishIsFinal) {
  std::string path = test::temp_dir() + "/final.mp4";
  VideoWriter w(path, options(64, 48), nullptr);
  EXPECT_THROW(w.finish(), Error);  // nothing written yet: no file of zero frames
  w.write(moving_pattern(64, 48, 0).data());
  w.finish();
  w.finish();  // a second finish() changes nothing
  EXPECT_THROW(w.write(moving_pattern(64, 48, 1).data()), Error);
  EXPECT_EQ(find_stream(probe_media(path), "video")->frames, 1);
}

// ---------------------------------------------------------------------------------------------
// A/V sync: a flash at frame 25 and a click at exactly 1.0 s must come out together.

// The decoded audio track of an MP4 (audio/'s FFmpeg path), averaged to mono.
std::vector<float> decoded_mono(const std::string& path, int& rate) {
  audio::Waveform w = audio::load_audio(path);
  rate = w.sample_rate;
  return audio::to_mono(w);
}

void check_sync(int rate) {
  std::string path = test::temp_dir() + "/sync.mp4";
  const double fps = 25, t_event = 1.0;
  audio::Waveform wave;
  wave.sample_rate = rate;
  wave.channels = 2;
  wave.samples.assign(static_cast<std::size_t>(2 * rate) * 2, 0.0f);
  // A 10 ms burst of 1 kHz starting at exactly t_event.
  const auto onset = static_cast<std::size_t>(std::llround(t_event * rate));
  for (std::size_t i = 0; i < static_cast<std::size_t>(rate / 100); ++i) {
    float s = 0.8f * static_cast<float>(std::sin(2 * kPi * 1000.0 * i / rate));
    wave.samples[(onset + i) * 2] = s;
    wave.samples[(onset + i) * 2 + 1] = s;
  }
  {
    VideoWriter w(path, options(64, 48, fps), &wave);
    for (int i = 0; i < 50; ++i)
      w.write(flat(64, 48, i == static_cast<int>(t_event * fps) ? 255 : 0).data());
    w.finish();
  }

  // Both streams start at 0 for a player too (edit lists applied by the demuxer).
  {
    ff::InputPtr fmt = ff::open_input(path);
    for (unsigned i = 0; i < fmt->nb_streams; ++i) {
      const AVStream* st = fmt->streams[i];
      double start = st->start_time == AV_NOPTS_VALUE ? 0 : st->start_time * av_q2d(st->time_base);
      EXPECT_NEAR(start, 0.0, 1e-3) << "stream " << i;
    }
  }

  int got_rate = 0;
  std::vector<float> mono = decoded_mono(path, got_rate);
  ASSERT_EQ(got_rate, rate == 37800 ? 48000 : rate);
  float peak = 0;
  for (float s : mono) peak = std::max(peak, std::fabs(s));
  ASSERT_GT(peak, 0.3f);
  std::size_t first = 0;
  while (first < mono.size() && std::fabs(mono[first]) < 0.3f * peak) ++first;
  ASSERT_LT(first, mono.size());
  const double t_click = static_cast<double>(first) / got_rate;

  VideoReader r(path);
  Frame f;
  double t_flash = -1;
  int flashes = 0;
  while (r.read(f))
    if (mean(f.rgb) > 128) {
      if (flashes++ == 0) t_flash = f.time;
    }
  EXPECT_EQ(flashes, 1);
  EXPECT_NEAR(t_flash, t_event, 1e-6);
  EXPECT_NEAR(t_click, t_event, 0.005);
  EXPECT_NEAR(t_click, t_flash, 0.010);
}

TEST(VideoAvSync, ClickMeetsFlashAt48k) { check_sync(48000); }
TEST(VideoAvSync, ClickMeetsFlashAt44k) { check_sync(44100); }
TEST(VideoAvSync, ClickMeetsFlashWhenResampled) { check_sync(37800); }

// ---------------------------------------------------------------------------------------------
// Reader

// 50 grey frames at 25 fps whose level encodes the index.
std::string indexed_clip() {
  std::string path = test::temp_dir() + "/indexed.mp4";
  VideoWriter w(path, options(64, 48), nullptr);
  for (int i = 0; i < 50; ++i) w.write(flat(64, 48, level_of(i)).data());
  w.finish();
  return path;
}

TEST(VideoReader, EveryFrameAtItsOwnTime) {
  std::string path = indexed_clip();
  VideoReader r(path);
  Frame f;
  int n = 0;
  while (r.read(f)) {
    EXPECT_EQ(index_of(f.rgb), n);
    EXPECT_NEAR(f.time, n / 25.0, 1e-6);
    ++n;
  }
  EXPECT_EQ(n, 50);
  EXPECT_FALSE(r.read(f));  // stays at the end
}

TEST(VideoReader, LowerFpsDropsFrames) {
  std::string path = indexed_clip();
  ReaderOptions o;
  o.fps = 10;
  VideoReader r(path, o);
  EXPECT_DOUBLE_EQ(r.fps(), 10.0);
  Frame f;
  int n = 0;
  while (r.read(f)) {
    // On screen at n/10 s: source frame floor(n * 2.5).
    EXPECT_EQ(index_of(f.rgb), (n * 5) / 2) << "output frame " << n;
    EXPECT_NEAR(f.time, n / 10.0, 1e-9);
    ++n;
  }
  EXPECT_EQ(n, 20);  // 2 s at 10 fps
}

TEST(VideoReader, HigherFpsRepeatsFrames) {
  std::string path = indexed_clip();
  ReaderOptions o;
  o.fps = 50;
  VideoReader r(path, o);
  Frame f;
  int n = 0;
  while (r.read(f)) {
    EXPECT_EQ(index_of(f.rgb), n / 2) << "output frame " << n;
    EXPECT_NEAR(f.time, n / 50.0, 1e-9);
    ++n;
  }
  EXPECT_EQ(n, 100);
}

TEST(VideoReader, ResizesFrames) {
  std::string path = test::temp_dir() + "/halves.mp4";
  // Left half red, right half blue.
  std::vector<std::uint8_t> img(64 * 48 * 3, 0);
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 64; ++x) img[(y * 64 + x) * 3 + (x < 32 ? 0 : 2)] = 200;
  {
    VideoWriter w(path, options(64, 48), nullptr);
    for (int i = 0; i < 10; ++i) w.write(img.data());
    w.finish();
  }
  struct Case { int w, h, want_w, want_h; };
  for (Case c : {Case{32, 24, 32, 24}, Case{128, 96, 128, 96}, Case{96, 0, 96, 72},
                 Case{0, 24, 32, 24}}) {
    ReaderOptions o;
    o.width = c.w;
    o.height = c.h;
    VideoReader r(path, o);
    EXPECT_EQ(r.width(), c.want_w);
    EXPECT_EQ(r.height(), c.want_h);
    Frame f;
    int n = 0;
    while (r.read(f)) {
      ASSERT_EQ(f.width, c.want_w);
      ASSERT_EQ(f.height, c.want_h);
      ASSERT_EQ(f.rgb.size(), static_cast<std::size_t>(c.want_w) * c.want_h * 3);
      // Sample a pixel well inside each half.
      const std::size_t row = static_cast<std::size_t>(c.want_h / 2) * c.want_w;
      const std::uint8_t* left = &f.rgb[(row + c.want_w / 8) * 3];
      const std::uint8_t* right = &f.rgb[(row + 7 * c.want_w / 8) * 3];
      EXPECT_NEAR(left[0], 200, 8);
      EXPECT_NEAR(left[2], 0, 8);
      EXPECT_NEAR(right[0], 0, 8);
      EXPECT_NEAR(right[2], 200, 8);
      ++n;
    }
    EXPECT_EQ(n, 10);
  }
}

// A few lossless 4:4:4 frames of one colour, converted to YUV by hand with the given matrix and
// range, and tagged with them (Matroska keeps the tags).
void write_tagged(const std::string& path, AVColorSpace cs, AVColorRange range, const int rgb[3]) {
  const double kr = cs == AVCOL_SPC_BT709 ? 0.2126 : 0.299;
  const double kb = cs == AVCOL_SPC_BT709 ? 0.0722 : 0.114;
  const double r = rgb[0] / 255.0, g = rgb[1] / 255.0, b = rgb[2] / 255.0;
  const double y = kr * r + (1 - kr - kb) * g + kb * b;
  const double cb = (b - y) / (2 * (1 - kb)), cr = (r - y) / (2 * (1 - kr));
  const bool full = range == AVCOL_RANGE_JPEG;
  const int yuv[3] = {static_cast<int>(std::lround(full ? 255 * y : 16 + 219 * y)),
                      static_cast<int>(std::lround(128 + (full ? 255 : 224) * cb)),
                      static_cast<int>(std::lround(128 + (full ? 255 : 224) * cr))};

  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_FFV1);
  ASSERT_NE(codec, nullptr);
  ff::CodecPtr enc(avcodec_alloc_context3(codec));
  enc->width = 32;
  enc->height = 16;
  enc->pix_fmt = AV_PIX_FMT_YUV444P;
  enc->time_base = AVRational{1, 25};
  enc->colorspace = cs;
  enc->color_range = range;
  AVFormatContext* o = nullptr;
  ASSERT_GE(avformat_alloc_output_context2(&o, nullptr, "matroska", path.c_str()), 0);
  ff::OutputPtr out(o);
  if (o->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  ASSERT_GE(avcodec_open2(enc.get(), codec, nullptr), 0);
  AVStream* st = avformat_new_stream(o, nullptr);
  st->time_base = enc->time_base;
  ASSERT_GE(avcodec_parameters_from_context(st->codecpar, enc.get()), 0);
  ASSERT_GE(avio_open(&o->pb, path.c_str(), AVIO_FLAG_WRITE), 0);
  ASSERT_GE(avformat_write_header(o, nullptr), 0);
  ff::PacketPtr pkt = ff::make_packet();
  auto drain = [&] {
    while (avcodec_receive_packet(enc.get(), pkt.get()) >= 0) {
      av_packet_rescale_ts(pkt.get(), enc->time_base, st->time_base);
      pkt->stream_index = 0;
      ASSERT_GE(av_interleaved_write_frame(o, pkt.get()), 0);
    }
  };
  for (int i = 0; i < 3; ++i) {
    ff::FramePtr f = ff::make_frame();
    f->format = AV_PIX_FMT_YUV444P;
    f->width = 32;
    f->height = 16;
    ASSERT_GE(av_frame_get_buffer(f.get(), 0), 0);
    for (int p = 0; p < 3; ++p)
      for (int row = 0; row < 16; ++row)
        std::memset(f->data[p] + row * f->linesize[p], yuv[p], 32);
    f->pts = i;
    ASSERT_GE(avcodec_send_frame(enc.get(), f.get()), 0);
    drain();
  }
  ASSERT_GE(avcodec_send_frame(enc.get(), nullptr), 0);
  drain();
  ASSERT_GE(av_write_trailer(o), 0);
}

TEST(VideoReader, HonoursColourTags) {
  std::string dir = test::temp_dir();
  const int colour[3] = {200, 60, 30};  // saturated: the matrices disagree by > 10 levels on it
  struct Case { AVColorSpace cs; AVColorRange range; const char* name; };
  for (Case c : {Case{AVCOL_SPC_UNSPECIFIED, AVCOL_RANGE_UNSPECIFIED, "untagged (BT.601 limited)"},
                 Case{AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, "BT.709 limited"},
                 Case{AVCOL_SPC_SMPTE170M, AVCOL_RANGE_JPEG, "BT.601 full"},
                 Case{AVCOL_SPC_BT709, AVCOL_RANGE_JPEG, "BT.709 full"}}) {
    std::string path = dir + "/tagged.mkv";
    write_tagged(path, c.cs, c.range, colour);
    VideoReader r(path);
    Frame f;
    int n = 0;
    while (r.read(f)) {
      const std::uint8_t* px = &f.rgb[(8 * 32 + 16) * 3];
      for (int k = 0; k < 3; ++k) EXPECT_NEAR(px[k], colour[k], 3) << c.name << " channel " << k;
      ++n;
    }
    EXPECT_EQ(n, 3) << c.name;
  }
}

TEST(VideoReader, RefusesBadOptions) {
  std::string path = indexed_clip();
  ReaderOptions o;
  o.fps = -1;
  expect_bad_input([&] { VideoReader r(path, o); }, path);
  o = {};
  o.width = -4;
  expect_bad_input([&] { VideoReader r(path, o); }, path);
}

// Every kind of bad file, for both the reader and the prober.
struct BadFiles {
  std::string missing, empty, random, truncated, half, wav;
};

BadFiles make_bad_files() {
  std::string dir = test::temp_dir();
  BadFiles b;
  b.missing = dir + "/missing.mp4";
  b.empty = dir + "/empty.mp4";
  test::write_bytes(b.empty, {});
  b.random = dir + "/random.mp4";
  test::write_bytes(b.random, test::random_bytes(20000, 7));
  std::string good = dir + "/good.mp4";
  audio::Waveform wave = tones(44100, 2, 1.0);
  write_clip(good, options(64, 48), 25, &wave);
  b.truncated = dir + "/truncated.mp4";
  test::write_bytes(b.truncated, test::head_of_file(good, 1000));
  b.half = dir + "/half.mp4";
  test::write_bytes(b.half, test::head_of_file(good, fs::file_size(good) / 2));
  b.wav = dir + "/tone.wav";
  write_wav16(b.wav, tones(16000, 1, 0.5));
  return b;
}

TEST(VideoReader, RefusesBadInput) {
  BadFiles b = make_bad_files();
  for (const std::string& p : {b.missing, b.empty, b.random, b.truncated, b.half})
    expect_bad_input([&] { VideoReader r(p); }, p);
  expect_bad_input([&] { VideoReader r(b.wav); }, b.wav, "has no video stream");
}

// ---------------------------------------------------------------------------------------------
// Probe

TEST(VideoProbe, RefusesBadInput) {
  BadFiles b = make_bad_files();
  for (const std::string& p : {b.missing, b.empty, b.random, b.truncated, b.half})
    expect_bad_input([&] { probe_media(p); }, p);
}

TEST(VideoProbe, AudioOnlyFile) {
  std::string path = test::temp_dir() + "/tone.wav";
  write_wav16(path, tones(16000, 1, 0.5));
  MediaInfo info = probe_media(path);
  EXPECT_EQ(info.path, path);
  EXPECT_EQ(info.container, "wav");
  EXPECT_NEAR(info.duration, 0.5, 1e-3);
  ASSERT_EQ(info.streams.size(), 1u);
  EXPECT_EQ(info.streams[0].type, "audio");
  EXPECT_EQ(info.streams[0].codec, "pcm_s16le");
  EXPECT_EQ(info.streams[0].sample_rate, 16000);
  EXPECT_EQ(info.streams[0].channels, 1);
  EXPECT_GT(info.streams[0].frames, 0);  // counted from packets: WAV does not say
}

TEST(VideoProbe, CountsPacketsWhenTheContainerDoesNot) {
  // Raw H.264 has no frame count: probe must demux to count.
  std::string dir = test::temp_dir();
  std::string mp4 = dir + "/src.mp4";
  write_clip(mp4, options(64, 48), 12, nullptr);
  std::string raw = dir + "/copy.h264";
  {
    ff::InputPtr in = ff::open_input(mp4);
    AVFormatContext* o = nullptr;
    ASSERT_GE(avformat_alloc_output_context2(&o, nullptr, "h264", raw.c_str()), 0);
    ff::OutputPtr out(o);
    AVStream* st = avformat_new_stream(o, nullptr);
    ASSERT_GE(avcodec_parameters_copy(st->codecpar, in->streams[0]->codecpar), 0);
    ASSERT_GE(avio_open(&o->pb, raw.c_str(), AVIO_FLAG_WRITE), 0);
    ASSERT_GE(avformat_write_header(o, nullptr), 0);
    ff::PacketPtr pkt = ff::make_packet();
    while (av_read_frame(in.get(), pkt.get()) >= 0) {
      pkt->stream_index = 0;
      av_packet_rescale_ts(pkt.get(), in->streams[0]->time_base, st->time_base);
      ASSERT_GE(av_write_frame(o, pkt.get()), 0);
      av_packet_unref(pkt.get());
    }
    ASSERT_GE(av_write_trailer(o), 0);
  }
  MediaInfo info = probe_media(raw);
  ASSERT_EQ(info.streams.size(), 1u);
  EXPECT_EQ(info.streams[0].codec, "h264");
  EXPECT_EQ(info.streams[0].frames, 12);
}

}  // namespace
}  // namespace emogene::video
