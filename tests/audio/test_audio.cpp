// Tests of audio/: decoding through libsndfile and FFmpeg (round trips, agreement of the two
// paths, bad input), probing, channel mixing, resampling (length, alignment, frequency,
// anti-aliasing) and WAV writing.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "audio/decode_ffmpeg.h"
#include "emogene/audio/audio.h"
#include "emogene/audio/ffmpeg.h"
#include "emogene/core/error.h"
#include "testutil.h"

namespace emogene::audio {
namespace {

constexpr double kPi = 3.14159265358979323846;

// FFmpeg's own log lines (warnings about the corrupt files made on purpose) stay out of the
// test output; errors reach the tests as exceptions.
class QuietFfmpeg : public testing::Environment {
 public:
  void SetUp() override { ff::set_log_level(false); }
};
[[maybe_unused]] testing::Environment* const quiet_ffmpeg = testing::AddGlobalTestEnvironment(new QuietFfmpeg);

// ---- signals and files -----------------------------------------------------------------------

// A deterministic test signal: two tones per channel (different per channel) plus a little
// pseudo-random noise, within [-0.6, 0.6].
Waveform make_wave(int rate, int channels, double seconds, std::uint32_t seed = 1) {
  Waveform w;
  w.sample_rate = rate;
  w.channels = channels;
  const std::int64_t frames = std::llround(seconds * rate);
  w.samples.resize(static_cast<std::size_t>(frames * channels));
  std::uint32_t state = seed;
  for (std::int64_t i = 0; i < frames; ++i) {
    const double t = static_cast<double>(i) / rate;
    for (int c = 0; c < channels; ++c) {
      state = state * 1664525u + 1013904223u;
      const double noise = (static_cast<double>(state >> 8) / (1u << 24)) * 2.0 - 1.0;
      const double x = 0.3 * std::sin(2 * kPi * (220.0 + 110.0 * c) * t) +
                       0.2 * std::sin(2 * kPi * 1234.0 * t + c) + 0.05 * noise;
      w.samples[static_cast<std::size_t>(i * channels + c)] = static_cast<float>(x);
    }
  }
  return w;
}

std::vector<float> tone(int rate, double freq, double seconds, double amp = 0.5) {
  std::vector<float> x(static_cast<std::size_t>(std::llround(seconds * rate)));
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(amp * std::sin(2 * kPi * freq * static_cast<double>(i) / rate));
  return x;
}

// What a 16-bit file holds for x, read back as libsndfile and FFmpeg do (s / 32768).
float quantize16(float x) {
  return static_cast<float>(std::clamp(std::nearbyint(x * 32768.0), -32768.0, 32767.0) / 32768.0);
}

// Writes w with libsndfile in any format; 16-bit formats are given the exact int16 values.
void write_with_sndfile(const std::string& path, const Waveform& w, int format) {
  SF_INFO info{};
  info.samplerate = w.sample_rate;
  info.channels = w.channels;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  const sf_count_t frames = static_cast<sf_count_t>(w.frames());
  if ((format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16) {
    std::vector<short> s(w.samples.size());
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<short>(std::lrint(quantize16(w.samples[i]) * 32768.0f));
    EXPECT_EQ(sf_writef_short(f, s.data(), frames), frames);
  } else {
    EXPECT_EQ(sf_writef_float(f, w.samples.data(), frames), frames);
  }
  EXPECT_EQ(sf_close(f), 0);
}

// One channel of an interleaved waveform.
std::vector<float> channel_of(const Waveform& w, int c) {
  std::vector<float> x(static_cast<std::size_t>(w.frames()));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = w.samples[i * static_cast<std::size_t>(w.channels) + c];
  return x;
}

// Frequency of a clean tone from its rising zero crossings (linearly interpolated) in the middle
// 80% of the signal.
double tone_frequency(const std::vector<float>& x, int rate) {
  const std::size_t a = x.size() / 10, b = x.size() * 9 / 10;
  double first = -1, last = -1;
  int count = 0;
  for (std::size_t i = a; i + 1 < b; ++i) {
    if (x[i] < 0 && x[i + 1] >= 0) {
      const double t = static_cast<double>(i) + x[i] / (x[i] - x[i + 1]);
      if (first < 0) first = t;
      last = t;
      ++count;
    }
  }
  if (count < 2) return 0;
  return (count - 1) / ((last - first) / rate);
}

// RMS of the middle 80%, in dB relative to a sine of amplitude amp.
double level_db(const std::vector<float>& x, double amp) {
  const std::size_t a = x.size() / 10, b = x.size() * 9 / 10;
  double e = 0;
  for (std::size_t i = a; i < b; ++i) e += static_cast<double>(x[i]) * x[i];
  e /= static_cast<double>(b - a);
  return 10 * std::log10(e / (amp * amp / 2) + 1e-30);
}

// Writes an MP4 with an optional video stream (MPEG-4 part 2, 64x64, 25 fps) and an optional AAC
// audio stream, with FFmpeg's own encoders.
void write_mp4(const std::string& path, int video_frames, const Waveform* audio) {
  AVFormatContext* raw = nullptr;
  ff::check(avformat_alloc_output_context2(&raw, nullptr, "mp4", path.c_str()), path, "alloc");
  ff::OutputPtr oc(raw);
  struct Enc {
    ff::CodecPtr ctx;
    AVStream* st = nullptr;
  };
  Enc v, a;
  auto open = [&](Enc& e, AVCodecID id, const std::function<void(AVCodecContext*)>& setup) {
    const AVCodec* codec = avcodec_find_encoder(id);
    ASSERT_NE(codec, nullptr);
    e.ctx.reset(avcodec_alloc_context3(codec));
    setup(e.ctx.get());
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) e.ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    ff::check(avcodec_open2(e.ctx.get(), codec, nullptr), path, "open encoder");
    e.st = avformat_new_stream(oc.get(), nullptr);
    ff::check(avcodec_parameters_from_context(e.st->codecpar, e.ctx.get()), path, "params");
    e.st->time_base = e.ctx->time_base;
  };
  if (video_frames > 0)
    open(v, AV_CODEC_ID_MPEG4, [](AVCodecContext* c) {
      c->width = 64;
      c->height = 64;
      c->pix_fmt = AV_PIX_FMT_YUV420P;
      c->time_base = {1, 25};
      c->framerate = {25, 1};
    });
  if (audio)
    open(a, AV_CODEC_ID_AAC, [&](AVCodecContext* c) {
      c->sample_fmt = AV_SAMPLE_FMT_FLTP;
      c->sample_rate = audio->sample_rate;
      av_channel_layout_default(&c->ch_layout, audio->channels);
      c->bit_rate = 160000;
      c->time_base = {1, audio->sample_rate};
    });
  ff::check(avio_open(&oc->pb, path.c_str(), AVIO_FLAG_WRITE), path, "avio_open");
  ff::check(avformat_write_header(oc.get(), nullptr), path, "header");

  ff::PacketPtr pkt = ff::make_packet();
  auto encode = [&](Enc& e, const AVFrame* frame) {
    ff::check(avcodec_send_frame(e.ctx.get(), frame), path, "send frame");
    while (avcodec_receive_packet(e.ctx.get(), pkt.get()) == 0) {
      av_packet_rescale_ts(pkt.get(), e.ctx->time_base, e.st->time_base);
      pkt->stream_index = e.st->index;
      ff::check(av_interleaved_write_frame(oc.get(), pkt.get()), path, "write");
    }
  };
  if (v.ctx) {
    for (int i = 0; i < video_frames; ++i) {
      ff::FramePtr f = ff::make_frame();
      f->format = AV_PIX_FMT_YUV420P;
      f->width = 64;
      f->height = 64;
      ff::check(av_frame_get_buffer(f.get(), 0), path, "frame buffer");
      for (int p = 0; p < 3; ++p)
        for (int y = 0; y < (p ? 32 : 64); ++y)
          std::fill_n(f->data[p] + y * f->linesize[p], p ? 32 : 64, static_cast<std::uint8_t>(p ? 128 : 40 + 4 * i));
      f->pts = i;
      encode(v, f.get());
    }
    encode(v, nullptr);
  }
  if (a.ctx) {
    const int fs = a.ctx->frame_size;
    const std::int64_t frames = audio->frames();
    for (std::int64_t pos = 0; pos < frames; pos += fs) {
      ff::FramePtr f = ff::make_frame();
      f->format = AV_SAMPLE_FMT_FLTP;
      f->sample_rate = audio->sample_rate;
      ff::check(av_channel_layout_copy(&f->ch_layout, &a.ctx->ch_layout), path, "layout");
      f->nb_samples = static_cast<int>(std::min<std::int64_t>(fs, frames - pos));
      ff::check(av_frame_get_buffer(f.get(), 0), path, "frame buffer");
      for (int c = 0; c < audio->channels; ++c) {
        float* dst = reinterpret_cast<float*>(f->extended_data[c]);
        for (int i = 0; i < f->nb_samples; ++i)
          dst[i] = audio->samples[static_cast<std::size_t>((pos + i) * audio->channels + c)];
      }
      f->pts = pos;
      encode(a, f.get());
    }
    encode(a, nullptr);
  }
  ff::check(av_write_trailer(oc.get()), path, "trailer");
}

// Runs fn and expects an emogene::Error of kind BadInput whose message names path.
void expect_bad_input(const std::function<void()>& fn, const std::string& path, const std::string& what) {
  try {
    fn();
    ADD_FAILURE() << what << ": no error for " << path;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadInput) << what << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << what << ": " << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": wrong exception type: " << e.what();
  }
}

// ---- round trips -----------------------------------------------------------------------------

enum class Kind { WavPcm16, WavFloat, Flac16 };

struct RoundTripCase {
  int rate;
  int channels;
  Kind kind;
};

std::string case_text(const RoundTripCase& c) {
  const char* k = c.kind == Kind::WavPcm16 ? "wav16" : c.kind == Kind::WavFloat ? "wavf32" : "flac16";
  return std::string(k) + "_" + std::to_string(c.rate) + "_" + std::to_string(c.channels) + "ch";
}
void PrintTo(const RoundTripCase& c, std::ostream* os) { *os << case_text(c); }
std::string case_name(const testing::TestParamInfo<RoundTripCase>& info) { return case_text(info.param); }

class AudioRoundTrip : public testing::TestWithParam<RoundTripCase> {};

TEST_P(AudioRoundTrip, DecodesWhatWasWrittenThroughBothPaths) {
  const RoundTripCase p = GetParam();
  const std::string dir = test::temp_dir();
  const Waveform w = make_wave(p.rate, p.channels, 0.75, static_cast<std::uint32_t>(p.rate + p.channels));
  std::string path;
  std::string container = "wav", codec;
  if (p.kind == Kind::Flac16) {
    path = dir + "/a.flac";
    write_with_sndfile(path, w, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
    container = "flac";
    codec = "flac";
  } else {
    path = dir + "/a.wav";
    write_wav(path, w, p.kind == Kind::WavPcm16 ? WavFormat::PCM16 : WavFormat::Float32);
    codec = p.kind == Kind::WavPcm16 ? "pcm_s16le" : "pcm_f32le";
  }
  const bool lossy16 = p.kind != Kind::WavFloat;

  const Waveform got = load_audio(path);
  ASSERT_EQ(got.sample_rate, p.rate);
  ASSERT_EQ(got.channels, p.channels);
  ASSERT_EQ(got.frames(), w.frames());
  EXPECT_DOUBLE_EQ(got.duration(), w.duration());
  double max_err = 0, max_err_q = 0;
  for (std::size_t i = 0; i < w.samples.size(); ++i) {
    max_err = std::max(max_err, std::abs(static_cast<double>(got.samples[i]) - w.samples[i]));
    max_err_q = std::max(max_err_q, std::abs(static_cast<double>(got.samples[i]) - quantize16(w.samples[i])));
  }
  if (lossy16) {
    EXPECT_LE(max_err, 0.5 / 32768 + 1e-7);  // half a 16-bit step
    EXPECT_EQ(max_err_q, 0.0);               // exactly the 16-bit values (FLAC is lossless)
  } else {
    EXPECT_EQ(max_err, 0.0);
  }

  // FFmpeg decodes the same file to the same samples.
  const Waveform ff = load_audio_ffmpeg(path);
  ASSERT_EQ(ff.sample_rate, p.rate);
  ASSERT_EQ(ff.channels, p.channels);
  ASSERT_EQ(ff.frames(), got.frames());
  double diff = 0;
  for (std::size_t i = 0; i < got.samples.size(); ++i)
    diff = std::max(diff, std::abs(static_cast<double>(ff.samples[i]) - got.samples[i]));
  EXPECT_EQ(diff, 0.0);

  // Both probes describe it the same way.
  for (const AudioInfo& info : {probe_audio(path), probe_audio_ffmpeg(path)}) {
    EXPECT_EQ(info.path, path);
    EXPECT_EQ(info.container, container);
    EXPECT_EQ(info.codec, codec);
    EXPECT_EQ(info.sample_rate, p.rate);
    EXPECT_EQ(info.channels, p.channels);
    EXPECT_NEAR(info.duration, w.duration(), 1.0 / p.rate);
  }
}

std::vector<RoundTripCase> round_trip_cases() {
  std::vector<RoundTripCase> cases;
  for (Kind k : {Kind::WavPcm16, Kind::WavFloat, Kind::Flac16})
    for (int rate : {8000, 22050, 44100, 48000})
      for (int ch : {1, 2}) cases.push_back({rate, ch, k});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Formats, AudioRoundTrip, testing::ValuesIn(round_trip_cases()), case_name);

// ---- other formats ---------------------------------------------------------------------------

TEST(AudioLoad, OggVorbisThroughBothPaths) {
  const std::string path = test::temp_dir() + "/a.ogg";
  Waveform w;
  w.sample_rate = 44100;
  w.channels = 2;
  const std::vector<float> t = tone(44100, 440, 1.0, 0.4);
  for (float x : t) w.samples.insert(w.samples.end(), {x, x});
  write_with_sndfile(path, w, SF_FORMAT_OGG | SF_FORMAT_VORBIS);
  for (const Waveform& got : {load_audio(path), load_audio_ffmpeg(path)}) {
    EXPECT_EQ(got.sample_rate, 44100);
    EXPECT_EQ(got.channels, 2);
    EXPECT_NEAR(got.duration(), 1.0, 0.01);
    EXPECT_NEAR(tone_frequency(channel_of(got, 0), 44100), 440.0, 0.05);
    EXPECT_NEAR(level_db(channel_of(got, 1), 0.4), 0.0, 0.5);
  }
  for (const AudioInfo& info : {probe_audio(path), probe_audio_ffmpeg(path)}) {
    EXPECT_EQ(info.container, "ogg");
    EXPECT_EQ(info.codec, "vorbis");
    EXPECT_EQ(info.sample_rate, 44100);
    EXPECT_EQ(info.channels, 2);
    EXPECT_NEAR(info.duration, 1.0, 0.01);
  }
}

TEST(AudioLoad, AacTrackOfAVideoFile) {
  const std::string path = test::temp_dir() + "/clip.mp4";
  Waveform w;
  w.sample_rate = 48000;
  w.channels = 2;
  // Left: a chirp from 200 Hz to 2 kHz (no period, so its position is unambiguous); right: 1 kHz.
  std::vector<float> l(48000);
  for (std::size_t i = 0; i < l.size(); ++i) {
    const double t = static_cast<double>(i) / 48000;
    l[i] = static_cast<float>(0.4 * std::sin(2 * kPi * (200 * t + 900 * t * t)));
  }
  const std::vector<float> r = tone(48000, 1000, 1.0, 0.4);
  for (std::size_t i = 0; i < l.size(); ++i) w.samples.insert(w.samples.end(), {l[i], r[i]});
  write_mp4(path, 25, &w);

  const Waveform got = load_audio(path);
  EXPECT_EQ(got.sample_rate, 48000);
  EXPECT_EQ(got.channels, 2);
  EXPECT_EQ(got.frames(), 48000);  // the encoder's padding after the last sample is cut
  EXPECT_NEAR(tone_frequency(channel_of(got, 1), 48000), 1000.0, 0.05);
  EXPECT_NEAR(level_db(channel_of(got, 1), 0.4), 0.0, 0.5);
  // The encoder's priming samples are gone: the decoded chirp lines up with the original.
  const std::vector<float> dl = channel_of(got, 0);
  int best_lag = 0;
  double best = -1;
  for (int lag = -2048; lag <= 2048; ++lag) {
    double c = 0;
    for (std::size_t i = 9600; i < 38400; ++i) c += static_cast<double>(dl[i]) * l[static_cast<std::size_t>(static_cast<int>(i) - lag)];
    if (c > best) {
      best = c;
      best_lag = lag;
    }
  }
  EXPECT_EQ(best_lag, 0);

  const AudioInfo info = probe_audio(path);
  EXPECT_EQ(info.container, "mov,mp4,m4a,3gp,3g2,mj2");
  EXPECT_EQ(info.codec, "aac");
  EXPECT_EQ(info.sample_rate, 48000);
  EXPECT_EQ(info.channels, 2);
  EXPECT_NEAR(info.duration, 1.0, 1024.0 / 48000);

  const std::vector<float> m = load_mono_16k(path);
  EXPECT_EQ(static_cast<std::int64_t>(m.size()), (got.frames() * 16000 + 24000) / 48000);
}

TEST(AudioLoad, TruncatedWavKeepsTheSamplesPresent) {
  const std::string dir = test::temp_dir();
  const Waveform w = make_wave(16000, 1, 1.0);
  write_wav(dir + "/full.wav", w);
  // The header promises 16000 frames; keep the header and 6000 frames and a half.
  const std::size_t keep = 44 + 6000 * 2 + 1;
  test::write_bytes(dir + "/cut.wav", test::head_of_file(dir + "/full.wav", keep));
  for (const Waveform& got : {load_audio(dir + "/cut.wav"), load_audio_ffmpeg(dir + "/cut.wav")}) {
    ASSERT_EQ(got.frames(), 6000);
    for (std::size_t i = 0; i < 6000; ++i) ASSERT_EQ(got.samples[i], quantize16(w.samples[i])) << i;
  }
}

TEST(AudioLoad, DamagedFlacDecodesPastTheDamage) {
  const std::string dir = test::temp_dir();
  const Waveform w = make_wave(44100, 1, 2.0);
  write_with_sndfile(dir + "/a.flac", w, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  std::vector<std::uint8_t> bytes = test::head_of_file(dir + "/a.flac", 1 << 24);
  for (std::size_t i = bytes.size() / 3; i < bytes.size() / 3 + 64; ++i) bytes[i] ^= 0x5a;
  test::write_bytes(dir + "/damaged.flac", bytes);
  // The frames around the damage are lost, the rest decodes, and what decodes is right.
  const Waveform got = load_audio(dir + "/damaged.flac");
  EXPECT_GE(got.frames(), w.frames() * 9 / 10);
  EXPECT_LE(got.frames(), w.frames());
  EXPECT_GE(got.frames(), load_audio_sndfile(dir + "/damaged.flac").frames());
  for (std::size_t i = 0; i < 4096; ++i) ASSERT_EQ(got.samples[i], quantize16(w.samples[i])) << i;
}

TEST(AudioLoad, LoadMono16kIsMixedAndResampled) {
  const std::string path = test::temp_dir() + "/s.wav";
  const Waveform w = make_wave(44100, 2, 0.5);
  write_wav(path, w, WavFormat::Float32);
  const std::vector<float> got = load_mono_16k(path);
  const std::vector<float> want = resample(to_mono(w), 44100, kModelRate);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(got.size(), 8000u);
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << i;
}

// ---- bad input -------------------------------------------------------------------------------

TEST(AudioBadInput, EveryKindIsBadInputNamingTheFile) {
  const std::string dir = test::temp_dir();
  write_wav(dir + "/good.wav", make_wave(16000, 1, 0.5));
  write_with_sndfile(dir + "/good.flac", make_wave(16000, 1, 0.5), SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  test::write_bytes(dir + "/empty.wav", {});
  test::write_bytes(dir + "/random.wav", test::random_bytes(8192, 7));
  test::write_bytes(dir + "/random.mp3", test::random_bytes(8192, 8));
  test::write_bytes(dir + "/random.flac", test::random_bytes(8192, 9));
  test::write_bytes(dir + "/cut30.wav", test::head_of_file(dir + "/good.wav", 30));
  test::write_bytes(dir + "/cut30.flac", test::head_of_file(dir + "/good.flac", 30));
  test::write_bytes(dir + "/header_only.wav", test::head_of_file(dir + "/good.wav", 44));
  std::filesystem::create_directories(dir + "/folder.wav");
  write_mp4(dir + "/silent_video.mp4", 10, nullptr);

  const std::vector<std::string> names = {"missing.wav", "empty.wav",   "random.wav",      "random.mp3",
                                          "random.flac", "cut30.wav",   "cut30.flac",      "header_only.wav",
                                          "folder.wav",  "silent_video.mp4"};
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name;
    expect_bad_input([&] { load_audio(path); }, path, "load_audio");
    expect_bad_input([&] { load_audio_ffmpeg(path); }, path, "load_audio_ffmpeg");
    expect_bad_input([&] { load_mono_16k(path); }, path, "load_mono_16k");
    expect_bad_input([&] { probe_audio(path); }, path, "probe_audio");
  }
}

TEST(AudioBadInput, MessagesSayWhatIsWrong) {
  const std::string dir = test::temp_dir();
  write_mp4(dir + "/v.mp4", 10, nullptr);
  test::write_bytes(dir + "/e.wav", {});
  auto message = [](const std::function<void()>& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(message([&] { load_audio(dir + "/v.mp4"); }), dir + "/v.mp4: has no audio stream");
  EXPECT_EQ(message([&] { probe_audio(dir + "/v.mp4"); }), dir + "/v.mp4: has no audio stream");
  EXPECT_EQ(message([&] { load_audio(dir + "/e.wav"); }), dir + "/e.wav: empty file");
  EXPECT_EQ(message([&] { load_audio(dir + "/nope.wav"); }), dir + "/nope.wav: no such file");
}

// ---- probing and channels --------------------------------------------------------------------

TEST(AudioProbe, DoesNotNeedToDecode) {
  const std::string path = test::temp_dir() + "/long.wav";
  const Waveform w = make_wave(22050, 2, 3.0);
  write_wav(path, w);
  const AudioInfo info = probe_audio(path);
  EXPECT_EQ(info.container, "wav");
  EXPECT_EQ(info.codec, "pcm_s16le");
  EXPECT_EQ(info.sample_rate, 22050);
  EXPECT_EQ(info.channels, 2);
  EXPECT_DOUBLE_EQ(info.duration, 3.0);
}

TEST(AudioMono, AveragesTheChannels) {
  Waveform w;
  w.sample_rate = 8000;
  w.channels = 3;
  w.samples = {0.3f, 0.6f, 0.0f, -1.0f, 1.0f, 0.5f};
  const std::vector<float> m = to_mono(w);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_FLOAT_EQ(m[0], 0.3f);
  EXPECT_FLOAT_EQ(m[1], 0.5f / 3);
  w.channels = 1;
  EXPECT_EQ(to_mono(w), w.samples);
  EXPECT_TRUE(to_mono(Waveform{}).empty());
}

// ---- resampling ------------------------------------------------------------------------------

TEST(Resample, LengthIsTheRoundedRatio) {
  const std::vector<std::pair<int, int>> pairs = {{44100, 16000}, {48000, 16000}, {22050, 16000}, {8000, 16000},
                                                  {16000, 44100}, {16000, 48000}, {11025, 16000}, {32000, 22050}};
  for (auto [from, to] : pairs) {
    for (std::int64_t n : {0, 1, 2, 3, 5, 17, 100, 441, 1000, 4801, 16001, 44100, 100003}) {
      const std::vector<float> out = resample(std::vector<float>(static_cast<std::size_t>(n), 0.1f), from, to);
      const std::int64_t want = std::llround(static_cast<double>(n) * to / from);
      ASSERT_EQ(static_cast<std::int64_t>(out.size()), want) << from << "->" << to << " n=" << n;
      // Same duration to within one output sample period.
      EXPECT_LE(std::abs(static_cast<double>(out.size()) / to - static_cast<double>(n) / from), 1.0 / to);
    }
  }
}

TEST(Resample, ShortAndConstantInputsStayConstant) {
  // Even inputs shorter than the filter come out at full length, and a constant stays constant
  // (the signal is continued by mirroring, at both ends).
  for (int from : {8000, 22050, 44100, 48000}) {
    for (std::size_t n : {1u, 2u, 3u, 7u, 50u, 1000u}) {
      const std::vector<float> out = resample(std::vector<float>(n, 0.25f), from, 16000);
      ASSERT_EQ(static_cast<std::int64_t>(out.size()), std::llround(static_cast<double>(n) * 16000 / from));
      for (float y : out) ASSERT_NEAR(y, 0.25f, 1e-3) << from << " n=" << n;
    }
  }
}

TEST(Resample, SameRateIsIdentity) {
  const std::vector<float> x = tone(16000, 440, 0.3);
  EXPECT_EQ(resample(x, 16000, 16000), x);
  Waveform w = make_wave(16000, 2, 0.1);
  EXPECT_EQ(resample(w, 16000).samples, w.samples);
}

TEST(Resample, ToneFrequencyAndLevelArePreserved) {
  for (int from : {44100, 48000, 22050, 8000}) {
    for (double f : {440.0, 3000.0}) {
      const std::vector<float> out = resample(tone(from, f, 1.0), from, 16000);
      ASSERT_EQ(out.size(), 16000u);
      EXPECT_NEAR(tone_frequency(out, 16000), f, 0.01) << from << " Hz, tone " << f;
      EXPECT_NEAR(level_db(out, 0.5), 0.0, 0.05) << from << " Hz, tone " << f;
    }
  }
  // And upwards.
  const std::vector<float> up = resample(tone(16000, 3000, 1.0), 16000, 44100);
  EXPECT_NEAR(tone_frequency(up, 44100), 3000.0, 0.01);
  EXPECT_NEAR(level_db(up, 0.5), 0.0, 0.05);
}

TEST(Resample, ImpulseLandsAtItsTime) {
  const std::vector<std::pair<int, int>> pairs = {{44100, 16000}, {48000, 16000}, {22050, 16000},
                                                  {8000, 16000},  {16000, 48000}, {16000, 44100}};
  for (auto [from, to] : pairs) {
    for (int m : {0, 1, 37, 1000, 1001, 2205, from / 3 + 7}) {
      std::vector<float> x(static_cast<std::size_t>(from / 2), 0.0f);
      x[static_cast<std::size_t>(m)] = 1.0f;
      const std::vector<float> y = resample(x, from, to);
      std::size_t k = 0;
      for (std::size_t i = 1; i < y.size(); ++i)
        if (y[i] > y[k]) k = i;
      // Peak position refined by a parabola through the three samples around the maximum.
      double pos = static_cast<double>(k);
      if (k > 0 && k + 1 < y.size()) {
        const double a = y[k - 1], b = y[k], c = y[k + 1];
        pos += 0.5 * (a - c) / (a - 2 * b + c);
      }
      const double want = static_cast<double>(m) * to / from;  // in output samples
      EXPECT_LE(std::abs(pos - want), 1.0) << from << "->" << to << " impulse at " << m;
      if (m > 100) {
        EXPECT_LE(std::abs(pos - want), 0.2) << from << "->" << to << " impulse at " << m;
      }
    }
  }
}

TEST(Resample, OutputSampleKIsAtTimeKOverRate) {
  // A slow sine compared with its exact value at k / to_rate: half a sample of misalignment at
  // 16 kHz would be an error of 0.02.
  for (auto [from, to] : std::vector<std::pair<int, int>>{{44100, 16000}, {48000, 16000}, {8000, 16000}, {16000, 22050}}) {
    const std::vector<float> y = resample(tone(from, 200, 0.5), from, to);
    double err = 0;
    for (std::size_t k = 200; k + 200 < y.size(); ++k)
      err = std::max(err, std::abs(y[k] - 0.5 * std::sin(2 * kPi * 200 * static_cast<double>(k) / to)));
    EXPECT_LT(err, 1e-3) << from << "->" << to;
  }
}

TEST(Resample, RemovesWhatWouldAlias) {
  // 48 kHz -> 16 kHz: the new Nyquist frequency is 8 kHz.
  for (double f : {9000.0, 12000.0, 20000.0})
    EXPECT_LT(level_db(resample(tone(48000, f, 1.0), 48000, 16000), 0.5), -60.0) << f;
  EXPECT_LT(level_db(resample(tone(48000, 7500, 1.0), 48000, 16000), 0.5), -10.0);  // transition band
  for (double f : {1000.0, 6000.0})
    EXPECT_NEAR(level_db(resample(tone(48000, f, 1.0), 48000, 16000), 0.5), 0.0, 0.1) << f;
  EXPECT_LT(level_db(resample(tone(44100, 10000, 1.0), 44100, 16000), 0.5), -60.0);
}

TEST(Resample, WaveformChannelsAreResampledAlike) {
  const Waveform w = make_wave(44100, 2, 0.4);
  const Waveform r = resample(w, 16000);
  EXPECT_EQ(r.sample_rate, 16000);
  EXPECT_EQ(r.channels, 2);
  ASSERT_EQ(r.frames(), std::llround(w.frames() * 16000.0 / 44100));
  for (int c = 0; c < 2; ++c) EXPECT_EQ(channel_of(r, c), resample(channel_of(w, c), 44100, 16000));
}

TEST(Resample, RejectsNonPositiveRates) {
  try {
    resample(std::vector<float>(10), 0, 16000);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Internal);
  }
}

// ---- writing ---------------------------------------------------------------------------------

TEST(AudioWrite, Pcm16ClipsAndFloatKeepsValues) {
  const std::string dir = test::temp_dir();
  Waveform w;
  w.sample_rate = 8000;
  w.channels = 1;
  w.samples = {1.5f, -2.0f, 0.5f, std::nanf(""), 1.0f, -1.0f, 0.25f / 32768};
  write_wav(dir + "/a.wav", w, WavFormat::PCM16);
  const Waveform a = load_audio(dir + "/a.wav");
  const std::vector<float> want = {32767 / 32768.0f, -1.0f, 0.5f, 0.0f, 32767 / 32768.0f, -1.0f, 0.0f};
  EXPECT_EQ(a.samples, want);

  w.samples[3] = 0.125f;
  write_wav(dir + "/f.wav", w, WavFormat::Float32);
  const Waveform f = load_audio(dir + "/f.wav");
  EXPECT_EQ(f.samples, w.samples);
  EXPECT_EQ(probe_audio(dir + "/f.wav").codec, "pcm_f32le");
}

TEST(AudioWrite, RewritingA16BitFileIsLossless) {
  const std::string dir = test::temp_dir();
  write_wav(dir + "/a.wav", make_wave(22050, 2, 0.3));
  const Waveform a = load_audio(dir + "/a.wav");
  write_wav(dir + "/b.wav", a);
  EXPECT_EQ(load_audio(dir + "/b.wav").samples, a.samples);
}

TEST(AudioWrite, IsAtomic) {
  const std::string dir = test::temp_dir();
  write_wav(dir + "/a.wav", make_wave(16000, 1, 0.1));
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"a.wav"});
  expect_bad_input([&] { write_wav(dir + "/no/such/folder/a.wav", make_wave(16000, 1, 0.1)); },
                   dir + "/no/such/folder/a.wav", "write_wav");
}

}  // namespace
}  // namespace emogene::audio
