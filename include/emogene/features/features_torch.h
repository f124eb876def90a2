// The torch-facing side of features/: a Features result as a torch::Tensor, for the model stages
// (DESIGN §1: model stages take torch::Tensor and wrap plain buffers at their boundary).
#pragma once

#include <torch/torch.h>

#include <cstring>

#include "emogene/features/features.h"

namespace emogene::features {

// [frames, dim] f32 CPU tensor that views f.data without copying (f must outlive it and stay unchanged).
inline torch::Tensor as_tensor(Features& f) {
  return torch::from_blob(f.data.data(), {f.frames, f.dim}, torch::kFloat32);
}

// [frames, dim] f32 copy on `device`.
inline torch::Tensor to_tensor(const Features& f, const torch::Device& device = torch::kCPU) {
  auto t = torch::empty({f.frames, f.dim}, torch::kFloat32);
  if (!f.data.empty()) std::memcpy(t.data_ptr<float>(), f.data.data(), f.data.size() * sizeof(float));
  return t.to(device);
}

}  // namespace emogene::features
