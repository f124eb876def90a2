// `emogene info FILE [--json]`: what an audio or video file, a .npy array or a safetensors
// checkpoint holds.
#include <cstdio>
#include <cstring>
#include <set>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/core/npy.h"
#include "emogene/core/safetensors.h"
#include "emogene/dataset/dataset.h"
#include "emogene/video/video.h"

namespace emogene::cli {

namespace {

using nlohmann::json;

struct InfoOptions {
  std::string path;
  bool json = false;
};

enum class Kind { Npy, Safetensors, Media };

Kind sniff(const std::string& path) {
  auto head = [&] {
    MappedFile f(path);
    if (f.size() == 0) throw bad_input(path, "empty file");
    return std::vector<std::uint8_t>(f.data(), f.data() + std::min<std::size_t>(f.size(), 16));
  }();
  if (head.size() >= 6 && std::memcmp(head.data(), "\x93NUMPY", 6) == 0) return Kind::Npy;
  // safetensors: u64 header length, then the JSON header's '{'
  if (head.size() >= 9 && head[8] == '{' && head[7] == 0 && head[6] == 0 && head[5] == 0) return Kind::Safetensors;
  auto ends_with = [&](const char* ext) {
    std::size_t n = std::strlen(ext);
    return path.size() >= n && path.compare(path.size() - n, n, ext) == 0;
  };
  if (ends_with(".npy")) return Kind::Npy;  // let the reader say what is wrong
  if (ends_with(".safetensors") || ends_with(".ckpt")) return Kind::Safetensors;
  return Kind::Media;
}

json npy_info(const std::string& path) {
  Array a = read_npy(path);
  json j = {{"path", path}, {"kind", "npy"}, {"dtype", npy_descr(a.dtype)}, {"shape", a.shape}};
  if (a.numel() > 0 && a.dtype != DType::Bool) {
    auto v = a.to_float();
    double lo = v[0], hi = v[0], sum = 0;
    for (float x : v) {
      lo = std::min<double>(lo, x);
      hi = std::max<double>(hi, x);
      sum += x;
    }
    j["min"] = lo;
    j["max"] = hi;
    j["mean"] = sum / static_cast<double>(v.size());
  }
  return j;
}

json safetensors_info(const std::string& path) {
  SafetensorsFile f(path);
  json tensors = json::array();
  std::int64_t params = 0;
  for (const auto& name : f.names()) {
    const TensorView& t = f.get(name);
    tensors.push_back({{"name", name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}});
    params += t.numel();
  }
  return {{"path", path}, {"kind", "safetensors"}, {"tensors", tensors}, {"parameters", params},
          {"metadata", f.metadata()}};
}

json media_info(const std::string& path) {
  video::MediaInfo m = video::probe_media(path);
  json streams = json::array();
  bool has_video = false;
  for (const auto& s : m.streams) {
    json js = {{"type", s.type}, {"codec", s.codec}, {"duration", s.duration}};
    if (s.type == "video") {
      has_video = true;
      js["width"] = s.width;
      js["height"] = s.height;
      js["fps"] = s.fps;
      js["frames"] = s.frames;
    } else if (s.type == "audio") {
      js["sample_rate"] = s.sample_rate;
      js["channels"] = s.channels;
    }
    streams.push_back(js);
  }
  return {{"path", path}, {"kind", has_video ? "video" : "audio"}, {"container", m.container},
          {"duration", m.duration}, {"streams", streams}};
}

json dataset_info(const std::string& dir) {
  dataset::Dataset ds(dir);
  const auto& m = ds.meta();
  json splits = json::object(), emotions = json::object();
  std::set<std::string> ids, voices, sentences;
  double seconds = 0;
  int with_frames = 0;
  for (const auto& c : m.clips) {
    splits[c.split] = splits.value(c.split, 0) + 1;
    emotions[c.emotion] = emotions.value(c.emotion, 0) + 1;
    ids.insert(c.identity);
    voices.insert(c.voice);
    sentences.insert(c.sentence);
    seconds += c.duration;
    with_frames += c.has_frames;
  }
  return {{"path", dir}, {"kind", "dataset"}, {"dataset_kind", m.kind}, {"fps", m.fps}, {"size", m.size},
          {"intrinsics", m.intrinsics}, {"clips", m.clips.size()}, {"seconds", seconds}, {"splits", splits},
          {"emotions", emotions}, {"identities", ids.size()}, {"voices", voices.size()},
          {"sentences", sentences.size()}, {"clips_with_frames", with_frames}};
}

void print_human(const json& j) {
  const std::string kind = j["kind"];
  std::printf("%s: %s\n", j["path"].get<std::string>().c_str(), kind.c_str());
  if (kind == "dataset") {
    std::printf("  %s dataset, %d clips, %.1f s, %g fps, size %dx%d\n", j["dataset_kind"].get<std::string>().c_str(),
                j["clips"].get<int>(), j["seconds"].get<double>(), j["fps"].get<double>(), j["size"][0].get<int>(),
                j["size"][1].get<int>());
    std::printf("  %d identities, %d voices, %d sentences, %d clips with frames\n", j["identities"].get<int>(),
                j["voices"].get<int>(), j["sentences"].get<int>(), j["clips_with_frames"].get<int>());
    std::printf("  splits: %s\n  emotions: %s\n", j["splits"].dump().c_str(), j["emotions"].dump().c_str());
  } else if (kind == "npy") {
    std::printf("  dtype %s, shape %s\n", j["dtype"].get<std::string>().c_str(),
                shape_string(j["shape"].get<std::vector<std::int64_t>>()).c_str());
    if (j.contains("min"))
      std::printf("  min %.6g, max %.6g, mean %.6g\n", j["min"].get<double>(), j["max"].get<double>(),
                  j["mean"].get<double>());
  } else if (kind == "safetensors") {
    std::printf("  %zu tensors, %lld values\n", j["tensors"].size(), static_cast<long long>(j["parameters"].get<std::int64_t>()));
    for (const auto& t : j["tensors"])
      std::printf("  %-48s %-5s %s\n", t["name"].get<std::string>().c_str(), t["dtype"].get<std::string>().c_str(),
                  shape_string(t["shape"].get<std::vector<std::int64_t>>()).c_str());
    for (const auto& [k, v] : j["metadata"].items()) {
      std::string s = v.get<std::string>();
      if (s.size() > 200) s = s.substr(0, 200) + "...";
      std::printf("  metadata %s = %s\n", k.c_str(), s.c_str());
    }
  } else {
    std::printf("  container %s, duration %.3f s\n", j["container"].get<std::string>().c_str(), j["duration"].get<double>());
    for (const auto& s : j["streams"]) {
      const std::string t = s["type"];
      if (t == "video")
        std::printf("  video: %s %dx%d, %.3f fps, %lld frames, %.3f s\n", s["codec"].get<std::string>().c_str(),
                    s["width"].get<int>(), s["height"].get<int>(), s["fps"].get<double>(),
                    static_cast<long long>(s["frames"].get<std::int64_t>()), s["duration"].get<double>());
      else if (t == "audio")
        std::printf("  audio: %s, %d Hz, %d channel%s, %.3f s\n", s["codec"].get<std::string>().c_str(),
                    s["sample_rate"].get<int>(), s["channels"].get<int>(), s["channels"].get<int>() == 1 ? "" : "s",
                    s["duration"].get<double>());
      else
        std::printf("  %s: %s\n", t.c_str(), s["codec"].get<std::string>().c_str());
    }
  }
}

void run_info(const InfoOptions& opt) {
  if (!file_exists(opt.path)) throw bad_input(opt.path, "no such file");
  json j;
  if (is_directory(opt.path)) j = dataset_info(opt.path);
  else switch (sniff(opt.path)) {
    case Kind::Npy: j = npy_info(opt.path); break;
    case Kind::Safetensors: j = safetensors_info(opt.path); break;
    case Kind::Media: j = media_info(opt.path); break;
  }
  if (opt.json)
    std::printf("%s\n", j.dump(2).c_str());
  else
    print_human(j);
}

}  // namespace

void setup_info(CLI::App& app, RunFn& run) {
  auto opt = std::make_shared<InfoOptions>();
  CLI::App* sub = app.add_subcommand("info", "Show what a file holds: audio or video (duration, rate, channels, "
                                             "codecs, size, fps, frames, streams), a .npy array (dtype, shape, "
                                             "range), a safetensors checkpoint (tensors, shapes, metadata) or a dataset folder (clips, "
                                             "splits, emotions, identities)");
  sub->add_option("FILE", opt->path, "The file to inspect")->required();
  sub->add_flag("--json", opt->json, "Print JSON instead of text");
  sub->callback([opt, &run] { run = [opt] { run_info(*opt); }; });
}

}  // namespace emogene::cli
