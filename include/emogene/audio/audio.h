// Audio in: decode any audio a user has (WAV/FLAC/OGG through libsndfile; MP3, M4A/AAC, Opus and
// the audio track of video files through FFmpeg), keep the original for the MP4, and make the
// 16 kHz mono f32 working copy the models use (DESIGN §1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace emogene::audio {

constexpr int kModelRate = 16000;  // every feature extractor works at 16 kHz

// Decoded audio at its own rate: interleaved f32 samples in [-1, 1], frames * channels values.
struct Waveform {
  std::vector<float> samples;
  int sample_rate = 0;
  int channels = 0;

  std::int64_t frames() const { return channels ? static_cast<std::int64_t>(samples.size()) / channels : 0; }
  double duration() const { return sample_rate ? static_cast<double>(frames()) / sample_rate : 0.0; }
};

struct AudioInfo {
  std::string path;
  std::string container;  // "wav", "flac", "mp3", "mov,mp4,m4a,3gp,3g2,mj2", ...
  std::string codec;      // "pcm_s16le", "aac", ...
  int sample_rate = 0;
  int channels = 0;
  double duration = 0;    // seconds
};

// Decodes the whole file (for a video, its first audio track). Throws bad_input naming the file
// for a missing, empty, truncated, corrupt or silent-less (no audio stream) file, or one that
// decodes to zero samples.
Waveform load_audio(const std::string& path);

// Container, codec, rate, channels and duration without decoding the samples.
AudioInfo probe_audio(const std::string& path);

// Average of the channels.
std::vector<float> to_mono(const Waveform& w);

// Band-limited resampling with libswresample. The output has round(n * to / from) samples,
// aligned so that output sample k is at time k / to_rate (same start as the input).
std::vector<float> resample(const std::vector<float>& mono, int from_rate, int to_rate);
Waveform resample(const Waveform& w, int to_rate);  // every channel

// load_audio → to_mono → resample to kModelRate: the models' working copy.
std::vector<float> load_mono_16k(const std::string& path);

// The audio files under a folder, recursively, by extension (wav flac ogg mp3 m4a opus aac aiff
// au caf, any case), sorted by path. bad_input naming the folder when it cannot be listed.
std::vector<std::string> list_audio_files(const std::string& dir);

enum class WavFormat { PCM16, Float32 };
// Writes a WAV file (atomically) at the waveform's own rate and channels.
void write_wav(const std::string& path, const Waveform& w, WavFormat format = WavFormat::PCM16);

}  // namespace emogene::audio
