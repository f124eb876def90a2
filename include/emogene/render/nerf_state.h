// The subject NeRF's tensors under checkpoint names (DESIGN §3: safetensors, by name): the building
// block of the "nerf" checkpoint, which the trainer completes with what rendering needs
// (background, intrinsics, neutral shape, landmark database, pose bank, fps, size).
#pragma once

#include <string>
#include <vector>

#include "emogene/core/tensor_io.h"
#include "emogene/render/nerf.h"
#include "emogene/render/volume.h"

namespace emogene::render {

// "net.<parameter or buffer name>" for every parameter and buffer of the network and
// "occupancy.bits" [ceil(G³/8)] u8: the occupancy bits packed 8 to a byte (cell i = (x·G + y)·G + z
// in bit i % 8 of byte i / 8), all that rendering needs of the grid.
NamedTensors nerf_state(NerfNetworkImpl& net, const OccupancyGrid& grid);

// The whole grid for resuming training (the trainer's OUT.occupancy beside OUT.train):
// "occupancy.density" [G, G, G] f32 and "occupancy.bits" [G, G, G] u8; and its reader.
NamedTensors occupancy_state(const OccupancyGrid& grid);
void load_occupancy_state(const SafetensorsFile& f, OccupancyGrid& grid);

// Bits [any shape] packed 8 to a byte, and back to n bools.
torch::Tensor pack_bits(const torch::Tensor& bits);
torch::Tensor unpack_bits(const torch::Tensor& packed, std::int64_t n);

// The hash-grid tables among those names: store them as F16 (write_tensors' as_f16) when the config
// asks for f16 tables, or for a small demo checkpoint.
std::vector<std::string> nerf_table_names(NerfNetworkImpl& net);

// Loads nerf_state's tensors into a network and grid built from the stored config: every name must
// exist with its shape (bad_input naming the file and the tensor); tables stored as F16 are widened
// to the network's dtype.
void load_nerf_state(const SafetensorsFile& f, NerfNetworkImpl& net, OccupancyGrid& grid);

}  // namespace emogene::render
