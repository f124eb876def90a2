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

NamedTensors nerf_state(NerfNetworkImpl& net, const OccupancyGrid& grid) {
  NamedTensors out;
  for (const auto& [name, t] : net_tensors(net)) out.emplace_back("net." + name, t.detach());
  out.emplace_back("occupancy.density", grid.density());
  out.emplace_back("occupancy.bits", grid.bits().to(torch::kUInt8));
  return out;
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
  const std::int64_t G = grid.resolution();
  const torch::Tensor density = to_float_tensor(f.get("occupancy.density", {G, G, G}));
  const torch::Tensor bits = to_tensor(f.get("occupancy.bits", {G, G, G})) != 0;
  grid.set_density(density);
  grid.set_bits(bits);
}

}  // namespace emogene::render
