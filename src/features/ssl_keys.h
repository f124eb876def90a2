// The tensors a HuBERT / wav2vec 2.0 checkpoint of a given architecture must hold, by canonical
// (Hugging Face base-model) name, with their shapes. SslConfig::key() gives each one's name in a
// particular checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "emogene/features/ssl.h"

namespace emogene::features {

struct ExpectedTensor {
  std::string canonical;
  std::vector<std::int64_t> shape;
};

std::vector<ExpectedTensor> expected_tensors(const SslConfig& c);

}  // namespace emogene::features
