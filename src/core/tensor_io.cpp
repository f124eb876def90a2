// torch::Tensor <-> safetensors.
#include "emogene/core/tensor_io.h"

#include <sstream>

#include <torch/torch.h>

#include <cstring>

#include "emogene/core/error.h"
#include "emogene/landmarks/landmarks.h"

namespace emogene {

namespace {

torch::ScalarType scalar_type(DType t) {
  switch (t) {
    case DType::F16: return torch::kHalf;
    case DType::BF16: return torch::kBFloat16;
    case DType::F32: return torch::kFloat;
    case DType::F64: return torch::kDouble;
    case DType::I32: return torch::kInt;
    case DType::I64: return torch::kLong;
    case DType::U8: return torch::kByte;
    case DType::Bool: return torch::kBool;
  }
  return torch::kFloat;
}

bool dtype_of(torch::ScalarType s, DType& out) {
  switch (s) {
    case torch::kHalf: out = DType::F16; return true;
    case torch::kBFloat16: out = DType::BF16; return true;
    case torch::kFloat: out = DType::F32; return true;
    case torch::kDouble: out = DType::F64; return true;
    case torch::kInt: out = DType::I32; return true;
    case torch::kLong: out = DType::I64; return true;
    case torch::kByte: out = DType::U8; return true;
    case torch::kBool: out = DType::Bool; return true;
    default: return false;
  }
}

}  // namespace

torch::Tensor to_tensor(const TensorView& v) {
  torch::Tensor t = torch::empty(v.shape, torch::TensorOptions().dtype(scalar_type(v.dtype)));
  if (v.nbytes) std::memcpy(t.data_ptr(), v.data, v.nbytes);
  return t;
}

torch::Tensor to_float_tensor(const TensorView& v) { return to_tensor(v).to(torch::kFloat); }

void write_tensors(const std::string& path, const NamedTensors& tensors, const std::map<std::string, std::string>& metadata,
                   const std::vector<std::string>& as_f16) {
  SafetensorsWriter w;
  for (const auto& [name, t0] : tensors) {
    torch::Tensor t = t0.detach().to(torch::kCPU).contiguous();
    std::vector<std::int64_t> shape(t.sizes().begin(), t.sizes().end());
    if (std::find(as_f16.begin(), as_f16.end(), name) != as_f16.end()) {
      torch::Tensor f = t.to(torch::kFloat).contiguous();
      w.add_f32_as_f16(name, shape, f.data_ptr<float>());
      continue;
    }
    DType d;
    if (!dtype_of(t.scalar_type(), d)) throw internal_error(path, "tensor '" + name + "' has a dtype safetensors cannot hold");
    w.add(name, d, shape, t.data_ptr());
  }
  for (const auto& [k, v] : metadata) w.set_metadata(k, v);
  w.write(path);
}

void check_checkpoint(const SafetensorsFile& f, const std::string& kind, int format) {
  const std::string k = f.meta("emogene.kind");
  if (k.empty()) throw bad_input(f.path(), "not an emogene checkpoint (no emogene.kind in its metadata), expected '" + kind + "'");
  if (k != kind) throw bad_input(f.path(), "is a '" + k + "' checkpoint, expected '" + kind + "'");
  const std::string fmt = f.meta("emogene.format");
  if (fmt != std::to_string(format))
    throw bad_input(f.path(), "checkpoint format " + (fmt.empty() ? std::string("(none)") : fmt) + ", this build reads " +
                                  std::to_string(format) + " (retrain or use the matching emogene version)");
  const std::string space = f.meta("emogene.landmark_space");
  if (!space.empty() && space != std::to_string(landmarks::kSpaceVersion))
    throw bad_input(f.path(), "landmark space " + space + ", this build uses " + std::to_string(landmarks::kSpaceVersion));
}

std::string shape_text(const torch::Tensor& t) {
  if (!t.defined()) return "none";
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

void load_into(const SafetensorsFile& f, const NamedTensors& targets, const std::string& prefix,
               const std::vector<std::string>& ignore_prefixes) {
  torch::NoGradGuard no_grad;
  std::vector<std::string> used;
  for (const auto& [name, t] : targets) {
    const std::string key = prefix + name;
    const TensorView* v = f.find(key);
    if (!v) throw bad_input(f.path(), "tensor '" + key + "' is missing");
    std::vector<std::int64_t> want(t.sizes().begin(), t.sizes().end());
    if (v->shape != want)
      throw bad_input(f.path(), "tensor '" + key + "' has shape " + shape_string(v->shape) + ", expected " + shape_string(want));
    t.copy_(to_tensor(*v).to(t.scalar_type()));
    used.push_back(key);
  }
  for (const std::string& n : f.names()) {
    if (n.compare(0, prefix.size(), prefix) != 0) continue;
    if (std::find(used.begin(), used.end(), n) != used.end()) continue;
    bool ignored = false;
    for (const auto& p : ignore_prefixes) ignored |= n.compare(0, p.size(), p) == 0;
    if (!ignored) throw bad_input(f.path(), "unexpected tensor '" + n + "'");
  }
}

}  // namespace emogene
