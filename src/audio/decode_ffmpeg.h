// Private to audio/ and its tests: the two decoding paths of load_audio() and probe_audio() on
// their own, so tests can run a WAV or FLAC file through FFmpeg and compare it with libsndfile.
#pragma once

#include <string>

#include "emogene/audio/audio.h"

namespace emogene::audio {

// FFmpeg only: the best audio stream, decoded and converted to interleaved f32 at the stream's own
// rate and channel count. Same errors as load_audio().
Waveform load_audio_ffmpeg(const std::string& path);

// libsndfile only; throws bad_input when libsndfile cannot open the file.
Waveform load_audio_sndfile(const std::string& path);

// FFmpeg only: what probe_audio() reports for files libsndfile does not read.
AudioInfo probe_audio_ffmpeg(const std::string& path);

}  // namespace emogene::audio
