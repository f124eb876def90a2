// The subject NeRF's tensors under checkpoint names (nerf_state.h).
#include "emogene/render/nerf_state.h"

#include "emogene/core/error.h"

namespace emogene::render {

namespace {

NamedTensors net_tensors(NerfNetworkImpl& net) {
  NamedTensors out;
  for (const auto& p : net.named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : net.named_buffers()) out.emplace_back(b.key(), b.value());
  return out;
}

}  // namespace

torch::Tensor pack_bits(const torch::Tensor& bits) {
  const torch::Tensor b = bits.reshape({-1}).to(torch::kUInt8).contiguous();
  const std::int64_t n = b.numel(), bytes = (n + 7) / 8;
  torch::Tensor out = torch::zeros({bytes}, torch::kUInt8);
  const std::uint8_t* src = b.data_ptr<std::uint8_t>();
  std::uint8_t* dst = out.data_ptr<std::uint8_t>();
  for (std::int64_t i = 0; i < n; ++i)
    if (src[i]) dst[i >> 3] = static_cast<std::uint8_t>(dst[i >> 3] | (1u << (i & 7)));
  return out;
}

torch::Tensor unpack_bits(const torch::Tensor& packed, std::int64_t n) {
  const torch::Tensor p = packed.to(torch::kUInt8).contiguous();
  torch::Tensor out = torch::empty({n}, torch::kBool);
  const std::uint8_t* src = p.data_ptr<std::uint8_t>();
  bool* dst = out.data_ptr<bool>();
  for (std::int64_t i = 0; i < n; ++i) dst[i] = (src[i >> 3] >> (i & 7)) & 1u;
  return out;
}

NamedTensors nerf_state(NerfNetworkImpl& net, const OccupancyGrid& grid) {
  NamedTensors out;
  for (const auto& [name, t] : net_tensors(net)) out.emplace_back("net." + name, t.detach());
  out.emplace_back("occupancy.bits", pack_bits(grid.bits().to(torch::kCPU)));
  return out;
}

NamedTensors occupancy_state(const OccupancyGrid& grid) {
  return {{"occupancy.density", grid.density().to(torch::kCPU)}, {"occupancy.bits", grid.bits().to(torch::kCPU).to(torch::kUInt8)}};
}

void load_occupancy_state(const SafetensorsFile& f, OccupancyGrid& grid) {
  const std::int64_t G = grid.resolution();
  grid.set_density(to_float_tensor(f.get("occupancy.density", {G, G, G})));
  grid.set_bits(to_tensor(f.get("occupancy.bits", {G, G, G})) != 0);
}

std::vector<std::string> nerf_table_names(NerfNetworkImpl& net) {
  std::vector<std::string> out;
  for (const auto& p : net.named_parameters())
    if (p.key().size() >= 5 && p.key().compare(p.key().size() - 5, 5, "table") == 0) out.push_back("net." + p.key());
  return out;
}

void load_nerf_state(const SafetensorsFile& f, NerfNetworkImpl& net, OccupancyGrid& grid) {
  torch::NoGradGuard no_grad;
  load_into(f, net_tensors(net), "net.", {"occupancy."});
  const std::int64_t G = grid.resolution(), n = G * G * G;
  const TensorView& bits = f.get("occupancy.bits");
  if (bits.shape == std::vector<std::int64_t>{G, G, G}) {  // unpacked (development builds)
    grid.set_bits(to_tensor(bits) != 0);
  } else {
    f.get("occupancy.bits", {(n + 7) / 8});
    grid.set_bits(unpack_bits(to_tensor(bits), n).view({G, G, G}));
  }
}

}  // namespace emogene::render
