// The dataset format of DESIGN §3, written by `synth` and `prepare` and read by the trainers. This
// is the only code that knows the format's file names. Writing goes to a temporary folder renamed
// into place by finish(), so an interrupted run leaves nothing half-written.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "emogene/audio/audio.h"
#include "emogene/core/image.h"
#include "emogene/landmarks/landmarks.h"

namespace emogene::dataset {

constexpr int kFormat = 1;

struct ClipMeta {
  std::string id;
  std::string identity;
  std::string voice;
  std::string sentence;
  std::string split;          // "train" | "val" | "test"
  double start = 0;           // seconds, within the take
  double duration = 0;        // seconds
  std::string emotion;        // dominant emotion name
  double intensity = 0;
  bool has_frames = false;
};

struct DatasetMeta {
  int format = kFormat;
  std::string kind;           // "corpus" | "subject"
  double fps = 25;
  std::array<int, 2> size{256, 256};
  std::array<double, 4> intrinsics{0, 0, 0, 0};  // fx, fy, cx, cy in pixels of `size`
  std::uint64_t sentence_split_seed = 0;
  std::vector<ClipMeta> clips;
};

// Everything a clip holds besides frames. T = frame count; arrays are C-order.
struct ClipData {
  audio::Waveform audio;                   // original rate
  landmarks::Sequence landmarks;           // [T, 68, 3] as shown
  landmarks::Sequence landmarks_neutral;   // [T, 68, 3] speech only (synth; empty otherwise)
  landmarks::Sequence landmarks_emotional; // [T, 68, 3] speech + emotion (synth; empty otherwise)
  std::vector<float> poses;                // [T, 4, 4]
  std::vector<float> emotion;              // [T, 8]
  std::vector<float> intensity;            // [T]
  std::vector<std::uint8_t> idle;          // [T]
  std::vector<float> blink;                // [T]
  nlohmann::json phonemes = nlohmann::json::array();  // synth only
  std::int64_t frames() const { return landmarks.frames(); }
};

// Throws bad_input naming `where` when lengths disagree or shapes are wrong.
void validate_clip(const ClipData& c, const std::string& where);

nlohmann::json to_json(const DatasetMeta& m);
DatasetMeta meta_from_json(const nlohmann::json& j, const std::string& where);

class DatasetWriter {
 public:
  // Refuses an existing non-empty folder unless force (then it is replaced on finish()).
  DatasetWriter(const std::string& dir, bool force);
  ~DatasetWriter();  // without finish(): the temporary folder is removed
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  void write_identity(const std::string& id, const landmarks::Shape& neutral);
  void write_clip(const ClipMeta& meta, const ClipData& data);
  // Frames of a clip (has_frames): paths of frame / mask `i` in the temporary folder, their folders
  // created. Writing the PNGs themselves may run in parallel (each file is written atomically).
  std::string frame_path(const std::string& clip_id, std::int64_t i);
  std::string mask_path(const std::string& clip_id, std::int64_t i);
  // background.png (subject datasets).
  void write_background(const Image& img);
  // Writes dataset.json (with the clips in the order written) and moves the folder into place.
  void finish(DatasetMeta meta);
  const std::string& temp_dir() const { return tmp_; }

 private:
  std::string dir_, tmp_;
  bool force_ = false, done_ = false;
  std::vector<ClipMeta> clips_;
};

class Dataset {
 public:
  // Reads and validates dataset.json; throws bad_input naming the folder for a missing or malformed one.
  explicit Dataset(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const DatasetMeta& meta() const { return meta_; }
  std::vector<std::size_t> clips_in_split(const std::string& split) const;
  landmarks::Shape neutral_shape(const std::string& identity) const;
  // Loads a clip's arrays (audio too if with_audio) and validates lengths.
  ClipData load_clip(std::size_t index, bool with_audio = true) const;
  std::string clip_audio_path(std::size_t index) const;
  std::string clip_frame_path(std::size_t index, std::int64_t frame) const;
  std::string clip_mask_path(std::size_t index, std::int64_t frame) const;
  std::string background_path() const;

 private:
  std::string dir_;
  DatasetMeta meta_;
};

}  // namespace emogene::dataset
