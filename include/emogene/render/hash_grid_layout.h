// The hash-grid encoding's configuration and layout as plain data (no LibTorch): what the SIMD
// kernels (hash_grid_kernels.h, nerf_kernels.h) need. The encoding itself is defined in hash_grid.h.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace emogene::render {

constexpr int kHashGridMaxLevels = 32;

// instant-ngp's hashing primes (tiny-cuda-nn, encodings/grid.h, `lcg_hash`/`coherent_prime_hash`:
// 1, 2654435761, 805459861); the first is 1 for memory coherence along x.
constexpr std::array<std::uint32_t, 3> kHashGridPrimes = {1u, 2654435761u, 805459861u};

struct HashGridConfig {
  std::int64_t input_dims = 3;           // 2 or 3
  std::int64_t levels = 16;              // RAD-NeRF / instant-ngp: 16
  std::int64_t features_per_level = 2;   // F: 1, 2, 4 or 8 (instant-ngp: 2)
  std::int64_t log2_table_size = 16;     // T = 2^16 rows per level (RAD-NeRF); 4..24
  std::int64_t base_resolution = 16;     // cells per axis of the coarsest level
  std::int64_t finest_resolution = 2048; // cells per axis of the finest level (RAD-NeRF ~2048)
  std::string table_dtype = "f32";       // "f32" (training) or "f16" (storage / inference)

  // Unknown keys, wrong types and out-of-range values are bad_input naming `where`.
  static HashGridConfig from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;

  std::int64_t table_size() const { return std::int64_t{1} << log2_table_size; }
  std::int64_t output_dims() const { return levels * features_per_level; }
  double per_level_scale() const;  // b above (1 for a single level)
};

// What the kernels need to know about a grid, as plain data (no LibTorch): derived from a config.
struct HashGridLayout {
  int dims = 3;
  int levels = 16;
  int features = 2;
  int log2_table_size = 16;
  std::uint32_t table_size = 1u << 16;
  std::array<std::uint32_t, kHashGridMaxLevels> resolution{};  // R_l: cells per axis
  std::array<bool, kHashGridMaxLevels> dense{};                // (R_l+1)^d ≤ T: dense indexing

  static HashGridLayout from_config(const HashGridConfig& cfg);
  int output_dims() const { return levels * features; }
};

// The table row of vertex v (integer coordinates 0..R_l per axis, v[0..dims-1]) at `level`.
// Dense levels: v_0 + (R+1)·v_1 + (R+1)²·v_2. Hashed levels: (v_0·π_0 ⊕ v_1·π_1 ⊕ v_2·π_2) mod T,
// in uint32 arithmetic as in instant-ngp.
inline std::uint32_t hash_grid_index(const HashGridLayout& g, int level, const std::uint32_t* v) {
  if (g.dense[static_cast<std::size_t>(level)]) {
    const std::uint32_t side = g.resolution[static_cast<std::size_t>(level)] + 1;
    std::uint32_t idx = 0, stride = 1;
    for (int i = 0; i < g.dims; ++i) {
      idx += v[i] * stride;
      stride *= side;
    }
    return idx;
  }
  std::uint32_t h = 0;
  for (int i = 0; i < g.dims; ++i) h ^= v[i] * kHashGridPrimes[static_cast<std::size_t>(i)];
  return h & (g.table_size - 1u);
}

}  // namespace emogene::render
