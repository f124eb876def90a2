// LibTorch tensors in and out of safetensors checkpoints (DESIGN §3), and the checks every
// checkpoint reader makes: its kind, its format version and its landmark space.
#pragma once

#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

#include "emogene/core/safetensors.h"

namespace emogene {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// "[2, 3]" for a tensor's sizes, "none" for an undefined tensor (for error messages).
std::string shape_text(const torch::Tensor& t);

// A stored tensor as a CPU tensor of its own dtype (F16/BF16/F32/F64/I32/I64/U8/BOOL), copied.
torch::Tensor to_tensor(const TensorView& v);
// As to_tensor, converted to float32.
torch::Tensor to_float_tensor(const TensorView& v);

// Writes tensors (any device; copied to CPU, contiguous) with metadata, atomically. Names listed in
// `as_f16` are stored as F16 (large tables where f16 is enough); the rest keep their dtype.
void write_tensors(const std::string& path, const NamedTensors& tensors, const std::map<std::string, std::string>& metadata,
                   const std::vector<std::string>& as_f16 = {});

// Opens a checkpoint and checks `emogene.kind` == kind and `emogene.format` == format (and the
// landmark space, when the file records one). Throws bad_input naming the file:
// "<file>: is a 'nerf' checkpoint, expected 'a2m'", "<file>: checkpoint format 1, this build reads 2".
void check_checkpoint(const SafetensorsFile& f, const std::string& kind, int format);

// Copies stored tensors into a module's named parameters/buffers by name: every one must exist with
// the same shape (bad_input naming the first missing or mismatched one); extra stored names are
// an error too unless their prefix is in `ignore_prefixes`.
void load_into(const SafetensorsFile& f, const NamedTensors& targets, const std::string& prefix = "",
               const std::vector<std::string>& ignore_prefixes = {});

}  // namespace emogene
