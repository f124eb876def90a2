// `emogene render` and `emogene batch` (DESIGN §1, §8): audio → features → audio-to-motion →
// motion-to-emotion → the performer → the subject NeRF → MP4 with the original audio, every stage
// in memory, frames streamed to the encoder (memory does not grow with the length).
//
// Time (DESIGN §1): the models and the performer run at the subject's fps (the rate it was trained
// at, 25 by default); the final landmarks and poses are resampled in time to the output fps
// (landmarks linearly, rotations by slerp). An output of d seconds has ceil(d·fps) frames; frame i's
// condition window holds the landmarks at (i + 0.5)/fps + k/fps_subject, k = −W/2..W/2.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace emogene::pipeline {

struct ModelOptions {
  std::string subject;    // nerf checkpoint ("" = data/models/subject.ckpt)
  std::string a2m;        // ("" = data/models/a2m.ckpt)
  std::string m2e;        // ("" = data/models/m2e.ckpt)
  std::string extractor;  // "" = the a2m checkpoint's own front end
  std::string weights;    // HuBERT / wav2vec 2.0 weights
  int layer = -2;         // -2 = the checkpoint's; else HF hidden_states[K] (-1 = last)
  std::string normalize = "auto";  // auto | on | off
  std::string device = "cpu";      // cpu | cuda | auto
  std::string renderer = "auto";  // auto (cpu on a CPU device), cpu, plain
};

// A model's checkpoint: `given` when set, else the bundled data/models/<file> (bad_input when
// it is missing).
std::string model_path(const std::string& given, const char* file);

// Every model loaded once (batch renders many files with one Models).
class Models {
 public:
  explicit Models(const ModelOptions& opt);
  ~Models();
  Models(const Models&) = delete;
  Models& operator=(const Models&) = delete;
  struct Impl;
  Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

struct RenderJob {
  std::string audio;         // input audio (any format the audio module reads)
  std::string out;           // output MP4 (written to a temporary name, renamed at the end)
  std::string emotion = "neutral";  // SPEC (DESIGN §8)
  bool emotion_given = false;       // with --landmarks: run motion-to-emotion only when given
  std::string landmarks;     // absolute canonical landmarks [T, 68, 3] .npy at `fps` (skips features and a2m)
  std::string dump;          // folder for every intermediate .npy ("" = none)
  double temperature = 0;
  std::uint64_t seed = 0;
  double fps = 25;
  int size = 0;              // output width (square subjects: width = height); 0 = the subject's size
  bool idle = true;          // --idle auto|off
  int encoder_threads = 1;
};

struct RenderReport {
  std::int64_t frames = 0;
  double audio_seconds = 0;
  double wall_seconds = 0;
  std::vector<std::pair<std::string, double>> stages;  // seconds per stage, in order
  std::int64_t idle_frames = 0;
  double database_distance = 0, database_spread = 0;
  bool far_from_database = false;
  double rtf() const { return audio_seconds > 0 ? wall_seconds / audio_seconds : 0; }
};

// Renders one file. bad_input naming the file or option for bad audio, a bad spec, landmarks of
// the wrong shape, a size the subject cannot render.
RenderReport render(const Models& models, const RenderJob& job);

}  // namespace emogene::pipeline
