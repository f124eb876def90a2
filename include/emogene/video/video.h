// Video in and out. VideoWriter streams RGB frames and the ORIGINAL audio into an MP4 (H.264
// yuv420p BT.601 limited range + AAC), memory independent of length, written to a temporary name
// and renamed on finish(). VideoReader decodes any video FFmpeg reads to RGB frames at a
// requested fps and size, one frame at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace emogene::audio { struct Waveform; }

namespace emogene::video {

struct Frame {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;  // [height, width, 3] sRGB
  double time = 0;                // presentation time in seconds
};

struct WriterOptions {
  int width = 256;           // even
  int height = 256;          // even
  double fps = 25;
  int crf = 18;              // x264 constant rate factor
  std::string preset = "medium";
  int encoder_threads = 1;   // x264's own fixed thread count (DESIGN §4: bytes independent of load)
  int audio_bitrate = 128000;
};

class VideoWriter {
 public:
  // audio: the original waveform (any rate; kept if AAC allows it, else 48 kHz; >2 channels are
  // downmixed to stereo), or nullptr for a silent video. Throws bad_input for odd or zero sizes,
  // a non-positive fps, or an unwritable path.
  VideoWriter(const std::string& path, const WriterOptions& opt, const audio::Waveform* audio);
  ~VideoWriter();  // without finish(): the temporary file is removed, nothing appears at path
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  // One frame of width*height*3 bytes, presented from i/fps to (i+1)/fps.
  void write(const std::uint8_t* rgb);
  std::int64_t frames_written() const;
  // Encodes the rest of the audio (to its full length), flushes both encoders, writes the trailer
  // and renames the file into place.
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ReaderOptions {
  double fps = 0;   // 0: the file's own frame rate (every decoded frame)
  int width = 0;    // 0: the file's own size
  int height = 0;
};

class VideoReader {
 public:
  explicit VideoReader(const std::string& path, const ReaderOptions& opt = {});
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  int width() const;   // output size
  int height() const;
  double fps() const;  // output rate
  // Next frame; false at the end. With a requested fps, frame i is the decoded frame on screen at
  // time i/fps, and out.time = i/fps.
  bool read(Frame& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct StreamInfo {
  std::string type;   // "video", "audio", "subtitle", "data"
  std::string codec;
  int width = 0, height = 0;
  double fps = 0;
  std::int64_t frames = 0;  // counted by demuxing when the container does not say
  int sample_rate = 0, channels = 0;
  double duration = 0;
};

struct MediaInfo {
  std::string path;
  std::string container;
  double duration = 0;
  std::vector<StreamInfo> streams;
};

// ffprobe-level facts; frame counts exact (packets counted when needed).
MediaInfo probe_media(const std::string& path);

}  // namespace emogene::video
