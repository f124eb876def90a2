// One frame of the subject (frame_renderer.h): the shared set-up and the plain LibTorch renderer.
#include "emogene/render/frame_renderer.h"

#include <sstream>

#include "emogene/core/error.h"
#include "emogene/core/tensor_io.h"

namespace emogene::render {

namespace {

constexpr const char* kWhere = "nerf renderer";


torch::Device device_of(NerfNetworkImpl& net) {
  for (const auto& p : net.parameters()) return p.device();
  return torch::kCPU;
}

}  // namespace

FrameSetup setup_frame(NerfNetworkImpl& net, const FrameRequest& req, const torch::Device& device, CameraCache* cache) {
  const std::int64_t W = net.cfg.condition.window;
  check_input(req.width > 0 && req.height > 0, kWhere, "the frame size must be positive");
  check_input(req.landmarks.defined() && (req.landmarks.dim() == 2 || req.landmarks.dim() == 3) &&
                  req.landmarks.size(-2) == kLandmarkPoints && req.landmarks.size(-1) == 3 &&
                  (req.landmarks.dim() == 2 || req.landmarks.size(0) == W),
              kWhere,
              "landmarks must be [68, 3] or [" + std::to_string(W) + ", 68, 3] (the condition window), got " +
                  shape_text(req.landmarks));
  check_input(req.pose.defined() && req.pose.dim() == 2 && req.pose.size(0) == 4 && req.pose.size(1) == 4, kWhere,
              "the head pose must be [4, 4], got " + shape_text(req.pose));
  check_input(req.background.defined() && req.background.dim() == 3 && req.background.size(0) == req.height &&
                  req.background.size(1) == req.width && req.background.size(2) == 3,
              kWhere,
              "the background must be [" + std::to_string(req.height) + ", " + std::to_string(req.width) + ", 3], got " +
                  shape_text(req.background));
  check_input(torch::isfinite(req.landmarks).all().item<bool>() && torch::isfinite(req.pose).all().item<bool>(), kWhere,
              "landmarks and pose must be finite");
  const auto opts = torch::TensorOptions().dtype(torch::kFloat).device(device);
  torch::Tensor lm = req.landmarks.to(opts);
  if (lm.dim() == 2) lm = lm.unsqueeze(0).expand({W, kLandmarkPoints, 3});
  FrameSetup s;
  s.cond = net.condition->forward(lm.unsqueeze(0));  // [1, C]
  s.head_latent = net.head_latent(req.latent);
  s.torso_latent = net.torso_latent(req.latent);
  const Intrinsics& k = req.intrinsics;
  const torch::Tensor pose = req.pose.to(opts);
  if (net.torso) s.anchors = net.torso_anchors(pose, k.fx, k.fy, k.cx, k.cy, req.width, req.height);
  CameraCache local;
  CameraCache& cam = cache ? *cache : local;
  torch::Tensor dirs;
  {
    std::lock_guard<std::mutex> lock(cam.mutex);
    if (!cam.uv.defined() || cam.width != req.width || cam.height != req.height || cam.device != device ||
        cam.k.fx != k.fx || cam.k.fy != k.fy || cam.k.cx != k.cx || cam.k.cy != k.cy) {
      cam.width = req.width;
      cam.height = req.height;
      cam.k = k;
      cam.device = device;
      cam.uv = pixel_centres(req.width, req.height, opts);
      cam.dirs = camera_directions(cam.uv, k);
    }
    s.uv = cam.uv;
    dirs = cam.dirs;
  }
  s.rays = head_rays_from_directions(dirs, pose);
  return s;
}

FieldFn head_field_fn(NerfNetworkImpl& net, const torch::Tensor& cond, const torch::Tensor& latent) {
  HeadFieldImpl* head = net.head.get();
  return [head, cond, latent](const torch::Tensor& x, const torch::Tensor& dirs, const torch::Tensor&) {
    const HeadSamples h = head->forward(x, dirs, cond, latent);
    return FieldValues{h.sigma, h.rgb};
  };
}

TorsoSamples render_torso(NerfNetworkImpl& net, const torch::Tensor& uv, const torch::Tensor& anchors,
                          const torch::Tensor& latent, std::int64_t width, std::int64_t height) {
  if (!net.torso) return {torch::zeros({uv.size(0), 3}, uv.options()), torch::zeros({uv.size(0)}, uv.options())};
  const torch::Tensor p = torch::stack({uv.select(1, 0) * (2.0 / static_cast<double>(width)) - 1,
                                        uv.select(1, 1) * (2.0 / static_cast<double>(height)) - 1},
                                       1);
  return net.torso->forward(p, anchors, latent);
}

torch::Tensor torso_pixels(const torch::Tensor& head_alpha, double min_transmittance) {
  if (min_transmittance <= 0) return torch::arange(head_alpha.size(0), head_alpha.options().dtype(torch::kLong));
  return ((1 - head_alpha) >= min_transmittance).nonzero().reshape({-1});
}

PlainRenderer::PlainRenderer(NerfNetwork net, std::shared_ptr<const OccupancyGrid> grid)
    : settings(MarchSettings::from_config(net->cfg)), net_(std::move(net)), grid_(std::move(grid)) {
  net_->eval();
}

FrameResult PlainRenderer::render(const FrameRequest& req) {
  c10::InferenceMode guard;
  const torch::Device device = device_of(*net_);
  const FrameSetup s = setup_frame(*net_, req, device, &camera_);
  const std::int64_t N = s.uv.size(0);
  const FieldFn field = head_field_fn(*net_, s.cond, s.head_latent);
  std::vector<torch::Tensor> rgb, alpha, depth, trgb, talpha;
  std::int64_t samples = 0;
  for (std::int64_t b = 0; b < N; b += chunk_rays) {
    const std::int64_t n = std::min(chunk_rays, N - b);
    const Rays r{s.rays.origins.narrow(0, b, n), s.rays.dirs.narrow(0, b, n)};
    const RayColours c = march_rays(r, field, grid_.get(), settings);
    samples += c.samples;
    rgb.push_back(c.rgb);
    alpha.push_back(c.alpha);
    depth.push_back(c.depth);
    torch::Tensor tr = torch::zeros({n, 3}, s.uv.options()), ta = torch::zeros({n}, s.uv.options());
    const torch::Tensor px = torso_pixels(c.alpha, settings.min_transmittance);
    if (net_->torso && px.numel() > 0) {
      const TorsoSamples t =
          render_torso(*net_, s.uv.narrow(0, b, n).index_select(0, px), s.anchors, s.torso_latent, req.width, req.height);
      tr.index_copy_(0, px, t.rgb);
      ta.index_copy_(0, px, t.alpha);
    }
    trgb.push_back(tr);
    talpha.push_back(ta);
  }
  return compose_frame(torch::cat(rgb), torch::cat(alpha), torch::cat(depth), torch::cat(trgb), torch::cat(talpha),
                       req.background, req.width, req.height, samples);
}

FrameResult compose_frame(const torch::Tensor& head_rgb, const torch::Tensor& head_a, const torch::Tensor& depth,
                          const torch::Tensor& tr, const torch::Tensor& ta, const torch::Tensor& background,
                          std::int64_t width, std::int64_t height, std::int64_t samples) {
  const std::int64_t N = width * height;
  const torch::Tensor bg = background.to(head_rgb.options()).reshape({N, 3});
  // RAD-NeRF: head over torso over background.
  const torch::Tensor under = ta.unsqueeze(1) * tr + (1 - ta).unsqueeze(1) * bg;
  const torch::Tensor out = head_rgb + (1 - head_a).unsqueeze(1) * under;
  FrameResult res;
  res.rgb = out.clamp(0, 1).view({height, width, 3});
  res.head_alpha = head_a.view({height, width});
  res.torso_alpha = ta.view({height, width});
  res.alpha = (1 - (1 - head_a) * (1 - ta)).view({height, width});
  res.depth = depth.view({height, width});
  res.samples = samples;
  return res;
}

std::unique_ptr<FrameRenderer> make_frame_renderer(const std::string& kind, NerfNetwork net,
                                                   std::shared_ptr<const OccupancyGrid> grid) {
  if (kind == "plain") return std::make_unique<PlainRenderer>(std::move(net), std::move(grid));
  if (kind == "cpu") return std::make_unique<CpuRenderer>(std::move(net), std::move(grid));
  if (kind == "cpu-fp16") return std::make_unique<CpuRenderer>(std::move(net), std::move(grid), "AVX3_FP16");
  if (kind == "auto") {
    if (device_of(*net).is_cpu()) return std::make_unique<CpuRenderer>(std::move(net), std::move(grid));
    return std::make_unique<PlainRenderer>(std::move(net), std::move(grid));
  }
  throw bad_input(kWhere, "unknown renderer '" + kind + "' (known: auto, cpu, cpu-fp16, plain)");
}

}  // namespace emogene::render
