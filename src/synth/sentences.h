// Distinct sentences from the corpus grammar, deterministic in the seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace emogene::synth {

std::vector<std::string> make_sentences(std::size_t count, std::uint64_t seed);

}  // namespace emogene::synth
