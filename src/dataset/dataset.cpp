#include "emogene/dataset/dataset.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/core/npy.h"

namespace emogene::dataset {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kMetaFile = "dataset.json";

std::string clip_dir(const std::string& root, const std::string& id) { return root + "/clips/" + id; }

void write_seq(const std::string& path, const landmarks::Sequence& s) {
  write_npy(path, Array::from_f32({s.frames(), landmarks::kPoints, 3}, s.data.data()));
}

landmarks::Sequence read_seq(const std::string& path, std::int64_t frames) {
  Array a = read_npy(path);
  if (a.shape.size() != 3 || a.shape[1] != landmarks::kPoints || a.shape[2] != 3 || (frames >= 0 && a.shape[0] != frames))
    throw bad_input(path, "has shape " + shape_string(a.shape) + ", expected [" +
                              (frames >= 0 ? std::to_string(frames) : std::string("T")) + ", 68, 3]");
  return landmarks::Sequence{a.to_float()};
}

std::vector<float> read_f32(const std::string& path, std::vector<std::int64_t> shape) {
  Array a = read_npy(path);
  if (a.shape != shape) throw bad_input(path, "has shape " + shape_string(a.shape) + ", expected " + shape_string(shape));
  return a.to_float();
}

std::string four(std::int64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06lld", static_cast<long long>(i));
  return buf;
}

}  // namespace

void validate_clip(const ClipData& c, const std::string& where) {
  const std::int64_t T = c.frames();
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) throw bad_input(where, what + " (the clip has " + std::to_string(T) + " frames)");
  };
  need(T > 0, "no frames");
  need(c.landmarks.data.size() == static_cast<std::size_t>(T) * landmarks::kPoints * 3, "landmarks are not [T, 68, 3]");
  need(c.landmarks_neutral.data.empty() || c.landmarks_neutral.frames() == T, "landmarks_neutral length differs");
  need(c.landmarks_emotional.data.empty() || c.landmarks_emotional.frames() == T, "landmarks_emotional length differs");
  need(c.poses.size() == static_cast<std::size_t>(T) * 16, "poses are not [T, 4, 4]");
  need(c.emotion.size() == static_cast<std::size_t>(T) * 8, "emotion is not [T, 8]");
  need(c.intensity.size() == static_cast<std::size_t>(T), "intensity is not [T]");
  need(c.idle.size() == static_cast<std::size_t>(T), "idle is not [T]");
  need(c.blink.size() == static_cast<std::size_t>(T), "blink is not [T]");
}

json to_json(const DatasetMeta& m) {
  json clips = json::array();
  for (const auto& c : m.clips)
    clips.push_back({{"id", c.id}, {"identity", c.identity}, {"voice", c.voice}, {"sentence", c.sentence},
                     {"split", c.split}, {"start", c.start}, {"duration", c.duration}, {"emotion", c.emotion},
                     {"intensity", c.intensity}, {"has_frames", c.has_frames}});
  return {{"format", m.format}, {"kind", m.kind}, {"fps", m.fps}, {"size", m.size}, {"intrinsics", m.intrinsics},
          {"sentence_split_seed", m.sentence_split_seed}, {"clips", clips}};
}

DatasetMeta meta_from_json(const json& j, const std::string& where) {
  DatasetMeta m;
  try {
    m.format = j.at("format").get<int>();
    if (m.format != kFormat)
      throw bad_input(where, "dataset format " + std::to_string(m.format) + " is not supported (this emogene reads " +
                                 std::to_string(kFormat) + ")");
    m.kind = j.at("kind").get<std::string>();
    if (m.kind != "corpus" && m.kind != "subject") throw bad_input(where, "unknown dataset kind '" + m.kind + "'");
    m.fps = j.at("fps").get<double>();
    if (!(m.fps > 0)) throw bad_input(where, "fps must be positive");
    m.size = j.at("size").get<std::array<int, 2>>();
    m.intrinsics = j.at("intrinsics").get<std::array<double, 4>>();
    m.sentence_split_seed = j.value("sentence_split_seed", std::uint64_t{0});
    for (const auto& c : j.at("clips")) {
      ClipMeta cm;
      cm.id = c.at("id").get<std::string>();
      if (cm.id.empty() || cm.id.find('/') != std::string::npos || cm.id.find("..") != std::string::npos)
        throw bad_input(where, "invalid clip id '" + cm.id + "'");
      cm.identity = c.at("identity").get<std::string>();
      cm.voice = c.value("voice", "");
      cm.sentence = c.value("sentence", "");
      cm.split = c.at("split").get<std::string>();
      if (cm.split != "train" && cm.split != "val" && cm.split != "test")
        throw bad_input(where, "clip '" + cm.id + "' has unknown split '" + cm.split + "'");
      cm.start = c.value("start", 0.0);
      cm.duration = c.at("duration").get<double>();
      cm.emotion = c.value("emotion", "neutral");
      cm.intensity = c.value("intensity", 0.0);
      cm.has_frames = c.value("has_frames", false);
      m.clips.push_back(std::move(cm));
    }
  } catch (const json::exception& e) {
    throw bad_input(where, std::string("malformed dataset.json: ") + e.what());
  }
  return m;
}

DatasetWriter::DatasetWriter(const std::string& dir, bool force) : dir_(dir), force_(force) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  if (dir_.empty()) throw bad_input("--out", "empty output folder name");
  std::error_code ec;
  if (fs::exists(dir_, ec)) {
    if (!fs::is_directory(dir_, ec)) throw bad_input(dir_, "exists and is not a folder");
    if (!fs::is_empty(dir_, ec) && !force_)
      throw bad_input(dir_, "folder exists and is not empty (use --force to replace it)");
  }
  fs::path parent = fs::absolute(dir_).parent_path();
  if (!fs::is_directory(parent, ec)) throw bad_input(dir_, "cannot write: folder " + parent.string() + " does not exist");
  if (::access(parent.c_str(), W_OK) != 0) throw bad_input(dir_, "cannot write: folder " + parent.string() + " is not writable");
  tmp_ = (parent / ("." + fs::path(dir_).filename().string() + ".tmp" + std::to_string(::getpid()))).string();
  fs::remove_all(tmp_, ec);
  if (!fs::create_directories(tmp_ + "/clips", ec) || !fs::create_directories(tmp_ + "/identities", ec))
    throw bad_input(dir_, "cannot create the output folder: " + ec.message());
}

DatasetWriter::~DatasetWriter() {
  if (!done_) {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
}

void DatasetWriter::write_identity(const std::string& id, const landmarks::Shape& neutral) {
  std::string d = tmp_ + "/identities/" + id;
  fs::create_directories(d);
  write_npy(d + "/neutral_shape.npy", Array::from_f32({landmarks::kPoints, 3}, neutral.data()));
}

void DatasetWriter::write_clip(const ClipMeta& meta, const ClipData& c) {
  validate_clip(c, "clip " + meta.id);
  const std::int64_t T = c.frames();
  std::string d = clip_dir(tmp_, meta.id);
  fs::create_directories(d);
  if (!c.audio.samples.empty()) audio::write_wav(d + "/audio.wav", c.audio);
  write_seq(d + "/landmarks.npy", c.landmarks);
  if (!c.landmarks_neutral.data.empty()) write_seq(d + "/landmarks_neutral.npy", c.landmarks_neutral);
  if (!c.landmarks_emotional.data.empty()) write_seq(d + "/landmarks_emotional.npy", c.landmarks_emotional);
  write_npy(d + "/poses.npy", Array::from_f32({T, 4, 4}, c.poses.data()));
  write_npy(d + "/emotion.npy", Array::from_f32({T, 8}, c.emotion.data()));
  write_npy(d + "/intensity.npy", Array::from_f32({T}, c.intensity.data()));
  write_npy(d + "/idle.npy", Array::from_u8({T}, c.idle.data()));
  write_npy(d + "/blink.npy", Array::from_f32({T}, c.blink.data()));
  if (!c.phonemes.empty()) {
    std::string text = c.phonemes.dump(1);
    write_file_atomic(d + "/phonemes.json", text.data(), text.size());
  }
  clips_.push_back(meta);
}

std::string DatasetWriter::frame_path(const std::string& clip_id, std::int64_t i) {
  std::string d = clip_dir(tmp_, clip_id) + "/frames";
  fs::create_directories(d);
  return d + "/" + four(i) + ".png";
}

std::string DatasetWriter::mask_path(const std::string& clip_id, std::int64_t i) {
  std::string d = clip_dir(tmp_, clip_id) + "/masks";
  fs::create_directories(d);
  return d + "/" + four(i) + ".png";
}

void DatasetWriter::write_background(const Image& img) { write_png(tmp_ + "/background.png", img); }

void DatasetWriter::finish(DatasetMeta meta) {
  meta.clips = clips_;
  std::string text = to_json(meta).dump(1);
  write_file_atomic(tmp_ + "/" + kMetaFile, text.data(), text.size());
  std::error_code ec;
  if (fs::exists(dir_, ec)) {
    // Replace (--force, or an empty folder): move the old one aside first so a failure keeps it.
    std::string old = tmp_ + ".old";
    fs::rename(dir_, old, ec);
    if (ec) throw bad_input(dir_, "cannot replace the folder: " + ec.message());
    fs::rename(tmp_, dir_, ec);
    if (ec) {
      fs::rename(old, dir_);
      throw bad_input(dir_, "cannot move the dataset into place: " + ec.message());
    }
    fs::remove_all(old, ec);
  } else {
    fs::rename(tmp_, dir_, ec);
    if (ec) throw bad_input(dir_, "cannot move the dataset into place: " + ec.message());
  }
  done_ = true;
}

Dataset::Dataset(const std::string& dir) : dir_(dir) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  if (!is_directory(dir_)) throw bad_input(dir_, file_exists(dir_) ? "is not a folder, expected a dataset" : "no such folder");
  std::string mpath = dir_ + "/" + kMetaFile;
  if (!file_exists(mpath)) throw bad_input(dir_, "not a dataset (no dataset.json)");
  auto bytes = read_file(mpath);
  json j;
  try {
    j = json::parse(bytes.begin(), bytes.end());
  } catch (const json::exception& e) {
    throw bad_input(mpath, std::string("invalid JSON: ") + e.what());
  }
  meta_ = meta_from_json(j, mpath);
  if (meta_.clips.empty()) throw bad_input(dir_, "dataset has no clips");
}

std::vector<std::size_t> Dataset::clips_in_split(const std::string& split) const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < meta_.clips.size(); ++i)
    if (meta_.clips[i].split == split) out.push_back(i);
  return out;
}

landmarks::Shape Dataset::neutral_shape(const std::string& identity) const {
  std::string path = dir_ + "/identities/" + identity + "/neutral_shape.npy";
  auto v = read_f32(path, {landmarks::kPoints, 3});
  return Eigen::Map<landmarks::Shape>(v.data());
}

std::string Dataset::clip_audio_path(std::size_t i) const { return clip_dir(dir_, meta_.clips.at(i).id) + "/audio.wav"; }
std::string Dataset::clip_frame_path(std::size_t i, std::int64_t f) const {
  return clip_dir(dir_, meta_.clips.at(i).id) + "/frames/" + four(f) + ".png";
}
std::string Dataset::clip_mask_path(std::size_t i, std::int64_t f) const {
  return clip_dir(dir_, meta_.clips.at(i).id) + "/masks/" + four(f) + ".png";
}
std::string Dataset::background_path() const { return dir_ + "/background.png"; }

ClipData Dataset::load_clip(std::size_t index, bool with_audio) const {
  const ClipMeta& m = meta_.clips.at(index);
  std::string d = clip_dir(dir_, m.id);
  ClipData c;
  c.landmarks = read_seq(d + "/landmarks.npy", -1);
  const std::int64_t T = c.landmarks.frames();
  std::int64_t expect = landmarks::frame_count(m.duration, meta_.fps);
  if (std::llabs(expect - T) > 1)
    throw bad_input(d + "/landmarks.npy", "has " + std::to_string(T) + " frames, but the clip's duration " +
                                              std::to_string(m.duration) + " s at " + std::to_string(meta_.fps) +
                                              " fps needs " + std::to_string(expect));
  if (file_exists(d + "/landmarks_neutral.npy")) c.landmarks_neutral = read_seq(d + "/landmarks_neutral.npy", T);
  if (file_exists(d + "/landmarks_emotional.npy")) c.landmarks_emotional = read_seq(d + "/landmarks_emotional.npy", T);
  c.poses = read_f32(d + "/poses.npy", {T, 4, 4});
  c.emotion = read_f32(d + "/emotion.npy", {T, 8});
  c.intensity = read_f32(d + "/intensity.npy", {T});
  {
    Array idle = read_npy(d + "/idle.npy");
    if (idle.shape != std::vector<std::int64_t>{T} || idle.dtype != DType::U8)
      throw bad_input(d + "/idle.npy", "expected u8 [" + std::to_string(T) + "]");
    c.idle.assign(idle.bytes.begin(), idle.bytes.end());
  }
  c.blink = read_f32(d + "/blink.npy", {T});
  if (file_exists(d + "/phonemes.json")) {
    auto bytes = read_file(d + "/phonemes.json");
    try {
      c.phonemes = json::parse(bytes.begin(), bytes.end());
    } catch (const json::exception& e) {
      throw bad_input(d + "/phonemes.json", std::string("invalid JSON: ") + e.what());
    }
  }
  if (with_audio) c.audio = audio::load_audio(d + "/audio.wav");
  validate_clip(c, d);
  return c;
}

}  // namespace emogene::dataset
