// The nerf checkpoint: saving and loading a trained subject (subject_model.h).
#include "emogene/render/subject_model.h"

#include <cmath>

#include "emogene/core/error.h"
#include "emogene/core/safetensors.h"
#include "emogene/core/tensor_io.h"
#include "emogene/landmarks/landmarks.h"
#include "emogene/render/nerf_config.h"
#include "emogene/render/nerf_state.h"

namespace emogene::render {

void save_subject(const std::string& path, NerfNetworkImpl& net, const OccupancyGrid& grid, const SubjectInfo& info,
                  const nlohmann::json& config, const std::string& provenance, bool f16_tables) {
  NamedTensors t = nerf_state(net, grid);
  t.emplace_back("subject.background", info.background.to(torch::kUInt8).contiguous());
  t.emplace_back("subject.neutral_shape", info.neutral_shape.to(torch::kFloat));
  t.emplace_back("subject.landmarks", info.landmarks.to(torch::kFloat));
  t.emplace_back("subject.poses", info.poses.to(torch::kFloat));
  t.emplace_back("subject.idle", info.idle.to(torch::kUInt8));
  t.emplace_back("subject.clip", info.clip.to(torch::kInt));
  t.emplace_back("subject.split", info.split.to(torch::kUInt8));
  t.emplace_back("subject.frame_index", info.frame_index.to(torch::kLong));
  std::vector<std::string> half = {"subject.landmarks"};
  if (f16_tables)
    for (const auto& n : nerf_table_names(net)) half.push_back(n);
  const nlohmann::json subject = {{"fps", info.fps},
                                  {"size", {info.width, info.height}},
                                  {"intrinsics", {info.intrinsics.fx, info.intrinsics.fy, info.intrinsics.cx, info.intrinsics.cy}},
                                  {"source", info.source}};
  const std::map<std::string, std::string> meta = {{"emogene.kind", "nerf"},
                                                   {"emogene.format", std::to_string(kNerfFormat)},
                                                   {"emogene.landmark_space", std::to_string(landmarks::kSpaceVersion)},
                                                   {"emogene.config", config.dump()},
                                                   {"emogene.subject", subject.dump()},
                                                   {"emogene.provenance", provenance}};
  write_tensors(path, t, meta, half);
}

SubjectModel::SubjectModel(const std::string& path, const std::string& device) : path_(path) {
  SafetensorsFile f(path);
  check_checkpoint(f, "nerf", kNerfFormat);
  NerfConfig cfg;
  nlohmann::json subject;
  try {
    config_ = nlohmann::json::parse(f.meta("emogene.config"));
    subject = nlohmann::json::parse(f.meta("emogene.subject"));
    info_.fps = subject.at("fps").get<double>();
    info_.width = subject.at("size").at(0).get<int>();
    info_.height = subject.at("size").at(1).get<int>();
    const auto& k = subject.at("intrinsics");
    info_.intrinsics = {k.at(0).get<double>(), k.at(1).get<double>(), k.at(2).get<double>(), k.at(3).get<double>()};
    info_.source = subject.value("source", "");
  } catch (const std::exception& e) {
    throw bad_input(path, std::string("its config or subject metadata is unreadable (") + e.what() + ")");
  }
  if (!(info_.fps > 0) || info_.width <= 0 || info_.height <= 0)
    throw bad_input(path, "its subject metadata has no valid fps and size");
  cfg = NerfConfig::from_json(config_.value("model", nlohmann::json::object()), path);
  // The number of latent codes is the stored table's.
  cfg.frames = f.get("net.head_latents").shape.at(0);
  net_ = NerfNetwork(cfg);
  grid_ = std::make_shared<OccupancyGrid>(cfg.occupancy, cfg.step());
  load_nerf_state(f, *net_, *grid_);
  info_.background = to_tensor(f.get("subject.background", {info_.height, info_.width, 3}));
  info_.neutral_shape = to_float_tensor(f.get("subject.neutral_shape", {68, 3}));
  const std::int64_t T = f.get("subject.poses").shape.at(0);
  info_.landmarks = to_float_tensor(f.get("subject.landmarks", {T, 68, 3}));
  info_.poses = to_float_tensor(f.get("subject.poses", {T, 4, 4}));
  info_.idle = to_tensor(f.get("subject.idle", {T}));
  info_.clip = to_tensor(f.get("subject.clip", {T}));
  info_.split = to_tensor(f.get("subject.split", {T}));
  info_.frame_index = to_tensor(f.get("subject.frame_index", {T}));
  if (device == "cuda" || (device == "auto" && torch::cuda::is_available())) {
    if (!torch::cuda::is_available()) throw bad_input("--device", "cuda was asked for, but no CUDA device is available");
    device_ = torch::kCUDA;
  } else if (device != "cpu" && device != "auto") {
    throw bad_input("--device", "unknown device '" + device + "' (cpu, cuda or auto)");
  }
  net_->to(device_);
  grid_->to(device_);
  net_->eval();
}

std::unique_ptr<FrameRenderer> SubjectModel::renderer(const std::string& kind) const {
  return make_frame_renderer(kind, net_, grid_);
}

FrameRequest SubjectModel::request(const torch::Tensor& landmarks, const torch::Tensor& pose, std::int64_t latent, int width,
                                   int height) const {
  if (width == 0 && height == 0) {
    width = info_.width;
    height = info_.height;
  }
  if (height == 0) height = static_cast<int>(std::lround(static_cast<double>(width) * info_.height / info_.width));
  if (width == 0) width = static_cast<int>(std::lround(static_cast<double>(height) * info_.width / info_.height));
  const double want_h = static_cast<double>(width) * info_.height / info_.width;
  check_input(width >= 32 && height >= 32 && width <= 4096 && height <= 4096, path_,
              "cannot render " + std::to_string(width) + "x" + std::to_string(height) + ": sizes from 32 to 4096");
  check_input(std::abs(want_h - height) <= 1.0, path_,
              "cannot render " + std::to_string(width) + "x" + std::to_string(height) + ": the subject was trained at " +
                  std::to_string(info_.width) + "x" + std::to_string(info_.height) + " and keeps that aspect ratio");
  FrameRequest r;
  r.landmarks = landmarks;
  r.pose = pose;
  r.latent = latent;
  r.width = width;
  r.height = height;
  r.intrinsics = scale_intrinsics(info_.intrinsics, info_.width, info_.height, width, height);
  torch::Tensor bg = info_.background.to(torch::kFloat).div(255.0);
  if (width != info_.width || height != info_.height)
    bg = torch::nn::functional::interpolate(
             bg.permute({2, 0, 1}).unsqueeze(0),
             torch::nn::functional::InterpolateFuncOptions().size(std::vector<std::int64_t>{height, width}).mode(torch::kBilinear).align_corners(false))
             .squeeze(0)
             .permute({1, 2, 0})
             .contiguous();
  r.background = bg;
  return r;
}

torch::Tensor project_points(const torch::Tensor& points, const torch::Tensor& pose, const Intrinsics& k) {
  const torch::Tensor P = pose.to(torch::kDouble);
  const torch::Tensor X = torch::matmul(points.to(torch::kDouble), P.narrow(0, 0, 3).narrow(1, 0, 3).t()) +
                          P.narrow(0, 0, 3).select(1, 3);
  const torch::Tensor mz = (-X.select(1, 2)).clamp_min(1e-9);
  return torch::stack({k.cx + k.fx * X.select(1, 0) / mz, k.cy - k.fy * X.select(1, 1) / mz}, 1).to(torch::kFloat);
}

Image to_image(const torch::Tensor& rgb) {
  const torch::Tensor u8 = rgb.detach().to(torch::kCPU).to(torch::kFloat).clamp(0, 1).mul(255.0).round().to(torch::kUInt8).contiguous();
  Image img;
  img.height = static_cast<int>(u8.size(0));
  img.width = static_cast<int>(u8.size(1));
  img.channels = 3;
  img.pixels.assign(u8.data_ptr<std::uint8_t>(), u8.data_ptr<std::uint8_t>() + u8.numel());
  return img;
}

torch::Tensor from_image(const Image& img) {
  check_input(img.channels == 3, "image", "expected an RGB image");
  return torch::from_blob(const_cast<std::uint8_t*>(img.pixels.data()), {img.height, img.width, 3}, torch::kUInt8)
      .to(torch::kFloat)
      .div(255.0);
}

}  // namespace emogene::render
