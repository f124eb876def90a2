// The hash-grid encoding (hash_grid.h): config, layout, the LibTorch reference, the autograd
// function around the CPU kernels, and the module.
#include "emogene/render/hash_grid.h"

#include <cmath>
#include <set>
#include <sstream>

#include "emogene/core/error.h"
#include "emogene/core/tensor_io.h"
#include "emogene/render/hash_grid_kernels.h"

namespace emogene::render {

namespace {

constexpr const char* kWhere = "hash grid";

// Checks x [N, dims] and table [levels, T, F] against the layout.
void check_shapes(const torch::Tensor& x, const torch::Tensor& table, const HashGridLayout& g) {
  check_input(x.defined() && x.dim() == 2 && x.size(1) == g.dims, kWhere,
              "positions must be [N, " + std::to_string(g.dims) + "], got " + shape_text(x));
  check_input(table.defined() && table.dim() == 3 && table.size(0) == g.levels && table.size(1) == g.table_size &&
                  table.size(2) == g.features,
              kWhere,
              "table must be [" + std::to_string(g.levels) + ", " + std::to_string(g.table_size) + ", " +
                  std::to_string(g.features) + "], got " + shape_text(table));
  check_input(x.is_floating_point(), kWhere, "positions must be floating point");
}

// The kernels' precision for this dtype combination, or false when they do not cover it.
bool kernel_precision(const torch::Tensor& x, const torch::Tensor& table, HashGridPrecision& prec) {
  if (!x.device().is_cpu() || !table.device().is_cpu()) return false;
  const auto xt = x.scalar_type(), tt = table.scalar_type();
  if (xt == torch::kFloat && tt == torch::kFloat) prec = HashGridPrecision::F32;
  else if (xt == torch::kFloat && tt == torch::kHalf) prec = HashGridPrecision::F32_F16;
  else if (xt == torch::kDouble && tt == torch::kDouble) prec = HashGridPrecision::F64;
  else return false;
  return true;
}

// The layout travels through the autograd context as integers.
std::vector<std::int64_t> layout_to_ints(const HashGridLayout& g) {
  std::vector<std::int64_t> v = {g.dims, g.levels, g.features, g.log2_table_size};
  for (int l = 0; l < g.levels; ++l) v.push_back(g.resolution[static_cast<std::size_t>(l)]);
  for (int l = 0; l < g.levels; ++l) v.push_back(g.dense[static_cast<std::size_t>(l)] ? 1 : 0);
  return v;
}

HashGridLayout layout_from_ints(const std::vector<std::int64_t>& v) {
  HashGridLayout g;
  g.dims = static_cast<int>(v.at(0));
  g.levels = static_cast<int>(v.at(1));
  g.features = static_cast<int>(v.at(2));
  g.log2_table_size = static_cast<int>(v.at(3));
  g.table_size = 1u << g.log2_table_size;
  for (int l = 0; l < g.levels; ++l) {
    g.resolution[static_cast<std::size_t>(l)] = static_cast<std::uint32_t>(v.at(static_cast<std::size_t>(4 + l)));
    g.dense[static_cast<std::size_t>(l)] = v.at(static_cast<std::size_t>(4 + g.levels + l)) != 0;
  }
  return g;
}

}  // namespace

// ---- config ---------------------------------------------------------------------------------------

HashGridConfig HashGridConfig::from_json(const nlohmann::json& j, const std::string& where) {
  HashGridConfig c;
  if (j.is_null()) return c;
  check_input(j.is_object(), where, "the hash grid config must be a JSON object");
  static const std::set<std::string> known = {"input_dims",      "levels",          "features_per_level",
                                              "log2_table_size", "base_resolution", "finest_resolution",
                                              "table_dtype"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key())) throw bad_input(where, "unknown hash grid setting '" + it.key() + "'");
  try {
    c.input_dims = j.value("input_dims", c.input_dims);
    c.levels = j.value("levels", c.levels);
    c.features_per_level = j.value("features_per_level", c.features_per_level);
    c.log2_table_size = j.value("log2_table_size", c.log2_table_size);
    c.base_resolution = j.value("base_resolution", c.base_resolution);
    c.finest_resolution = j.value("finest_resolution", c.finest_resolution);
    c.table_dtype = j.value("table_dtype", c.table_dtype);
  } catch (const nlohmann::json::exception& e) {
    throw bad_input(where, std::string("a hash grid setting has the wrong type (") + e.what() + ")");
  }
  check_input(c.input_dims == 2 || c.input_dims == 3, where, "hash grid input_dims must be 2 or 3");
  check_input(c.levels >= 1 && c.levels <= kHashGridMaxLevels, where,
              "hash grid levels must be 1.." + std::to_string(kHashGridMaxLevels));
  check_input(c.features_per_level == 1 || c.features_per_level == 2 || c.features_per_level == 4 ||
                  c.features_per_level == 8,
              where, "hash grid features_per_level must be 1, 2, 4 or 8");
  check_input(c.log2_table_size >= 4 && c.log2_table_size <= 24, where, "hash grid log2_table_size must be 4..24");
  check_input(c.base_resolution >= 1 && c.base_resolution <= (1 << 20), where,
              "hash grid base_resolution must be 1..2^20");
  check_input(c.finest_resolution >= c.base_resolution && c.finest_resolution <= (1 << 20), where,
              "hash grid finest_resolution must be base_resolution..2^20");
  check_input(c.table_dtype == "f32" || c.table_dtype == "f16", where, "hash grid table_dtype must be \"f32\" or \"f16\"");
  return c;
}

nlohmann::json HashGridConfig::to_json() const {
  return {{"input_dims", input_dims},
          {"levels", levels},
          {"features_per_level", features_per_level},
          {"log2_table_size", log2_table_size},
          {"base_resolution", base_resolution},
          {"finest_resolution", finest_resolution},
          {"table_dtype", table_dtype}};
}

double HashGridConfig::per_level_scale() const {
  if (levels <= 1) return 1.0;
  // instant-ngp: b = exp((ln N_max − ln N_min) / (L − 1)) (paper, eq. 3).
  return std::exp((std::log(static_cast<double>(finest_resolution)) - std::log(static_cast<double>(base_resolution))) /
                  static_cast<double>(levels - 1));
}

HashGridLayout HashGridLayout::from_config(const HashGridConfig& c) {
  HashGridConfig checked = HashGridConfig::from_json(c.to_json(), kWhere);  // same validation as a file
  HashGridLayout g;
  g.dims = static_cast<int>(checked.input_dims);
  g.levels = static_cast<int>(checked.levels);
  g.features = static_cast<int>(checked.features_per_level);
  g.log2_table_size = static_cast<int>(checked.log2_table_size);
  g.table_size = 1u << g.log2_table_size;
  const double b = checked.per_level_scale();
  for (int l = 0; l < g.levels; ++l) {
    // R_l = floor(base · b^l); the tiny relative nudge keeps exact integers (the finest level,
    // base · b^(L−1) = finest) from falling just below themselves by rounding.
    const double s = static_cast<double>(checked.base_resolution) * std::exp(l * std::log(b));
    std::int64_t r = static_cast<std::int64_t>(std::floor(s * (1.0 + 1e-9)));
    r = std::max<std::int64_t>(1, std::min<std::int64_t>(r, checked.finest_resolution));
    if (l == 0) r = checked.base_resolution;
    if (l == g.levels - 1) r = checked.finest_resolution;
    g.resolution[static_cast<std::size_t>(l)] = static_cast<std::uint32_t>(r);
    double vertices = 1.0;
    for (int i = 0; i < g.dims; ++i) vertices *= static_cast<double>(r + 1);
    g.dense[static_cast<std::size_t>(l)] = vertices <= static_cast<double>(g.table_size);
  }
  return g;
}

// ---- the reference ----------------------------------------------------------------------------------

torch::Tensor hash_grid_reference(const torch::Tensor& x, const torch::Tensor& table, const HashGridLayout& g) {
  check_shapes(x, table, g);
  const std::int64_t N = x.size(0), D = g.dims, F = g.features, C = std::int64_t{1} << D;
  const torch::Tensor tab = table.to(x.scalar_type());
  const torch::Tensor xc = x.clamp(0, 1);
  std::vector<torch::Tensor> outs;
  outs.reserve(static_cast<std::size_t>(g.levels));
  for (int l = 0; l < g.levels; ++l) {
    const std::int64_t R = g.resolution[static_cast<std::size_t>(l)];
    const bool dense = g.dense[static_cast<std::size_t>(l)];
    const torch::Tensor p = xc * static_cast<double>(R);                         // [N, D]
    const torch::Tensor cell = torch::floor(p).clamp_max(static_cast<double>(R - 1)).detach();
    const torch::Tensor frac = p - cell;                                           // [N, D]
    const torch::Tensor cell_i = cell.to(torch::kLong);
    std::vector<torch::Tensor> idx_c, w_c;
    for (std::int64_t c = 0; c < C; ++c) {
      torch::Tensor w, idx;
      std::int64_t stride = 1;
      for (std::int64_t i = 0; i < D; ++i) {
        const bool bit = (c >> i) & 1;
        const torch::Tensor fi = frac.select(1, i);
        const torch::Tensor wi = bit ? fi : 1.0 - fi;
        w = i == 0 ? wi : w * wi;
        const torch::Tensor vi = cell_i.select(1, i) + static_cast<std::int64_t>(bit);
        if (dense) {
          idx = i == 0 ? vi : idx + vi * stride;
          stride *= R + 1;
        } else {
          const torch::Tensor hi = vi * static_cast<std::int64_t>(kHashGridPrimes[static_cast<std::size_t>(i)]);
          idx = i == 0 ? hi : torch::bitwise_xor(idx, hi);
        }
      }
      if (!dense) idx = torch::bitwise_and(idx, static_cast<std::int64_t>(g.table_size) - 1);
      idx_c.push_back(idx);
      w_c.push_back(w);
    }
    const torch::Tensor idx = torch::stack(idx_c, 1);  // [N, C]
    const torch::Tensor w = torch::stack(w_c, 1);      // [N, C]
    const torch::Tensor vals = tab[l].index_select(0, idx.reshape({-1})).view({N, C, F});
    outs.push_back((vals * w.unsqueeze(-1)).sum(1));  // [N, F]
  }
  return torch::cat(outs, 1);  // [N, levels·F]
}

// ---- the autograd function around the kernels ----------------------------------------------------

torch::Tensor HashGridFunction::forward(torch::autograd::AutogradContext* ctx, torch::Tensor x, torch::Tensor table,
                                        const HashGridLayout& layout) {
  check_shapes(x, table, layout);
  HashGridPrecision prec{};
  check_input(kernel_precision(x, table, prec), kWhere,
              "the CPU kernels take CPU tensors, positions f32 with an f32 or f16 table, or both f64");
  x = x.contiguous();
  table = table.contiguous();
  torch::Tensor out = torch::empty({x.size(0), layout.output_dims()}, x.options());
  HashGridProblem p;
  p.layout = layout;
  p.precision = prec;
  p.n = x.size(0);
  p.x = x.data_ptr();
  p.table = table.data_ptr();
  p.out = out.data_ptr();
  hash_grid_kernels().forward(p);
  ctx->save_for_backward({x, table});
  ctx->saved_data["layout"] = layout_to_ints(layout);
  ctx->saved_data["precision"] = static_cast<std::int64_t>(prec);
  return out;
}

torch::autograd::variable_list HashGridFunction::backward(torch::autograd::AutogradContext* ctx,
                                                          torch::autograd::variable_list grad_outputs) {
  if (torch::GradMode::is_enabled())
    throw internal_error(kWhere, "the CPU kernels give first-order gradients only (backward with create_graph)");
  const auto saved = ctx->get_saved_variables();
  const torch::Tensor& x = saved[0];
  const torch::Tensor& table = saved[1];
  const HashGridLayout layout = layout_from_ints(ctx->saved_data["layout"].toIntVector());
  const auto prec = static_cast<HashGridPrecision>(ctx->saved_data["precision"].toInt());
  const bool want_x = ctx->needs_input_grad(0), want_table = ctx->needs_input_grad(1);
  torch::Tensor grad_out = grad_outputs[0];
  if (!grad_out.defined()) return {torch::Tensor(), torch::Tensor(), torch::Tensor()};
  grad_out = grad_out.to(x.scalar_type()).contiguous();

  torch::Tensor grad_x, grad_table;
  if (want_x) grad_x = torch::empty_like(x);
  if (want_table) grad_table = torch::empty({layout.levels, layout.table_size, layout.features}, x.options());
  HashGridProblem p;
  p.layout = layout;
  p.precision = prec;
  p.n = x.size(0);
  p.x = x.data_ptr();
  p.table = table.data_ptr();
  p.grad_out = grad_out.data_ptr();
  p.grad_table = want_table ? grad_table.data_ptr() : nullptr;
  p.grad_x = want_x ? grad_x.data_ptr() : nullptr;
  hash_grid_kernels().backward(p);
  if (want_table && grad_table.scalar_type() != table.scalar_type()) grad_table = grad_table.to(table.scalar_type());
  return {grad_x, grad_table, torch::Tensor()};
}

torch::Tensor hash_grid_encode(const torch::Tensor& x, const torch::Tensor& table, const HashGridLayout& layout,
                               HashGridBackend backend) {
  check_shapes(x, table, layout);
  HashGridPrecision prec{};
  const bool kernel_ok = kernel_precision(x, table, prec);
  if (backend == HashGridBackend::Reference || (backend == HashGridBackend::Auto && !kernel_ok))
    return hash_grid_reference(x, table, layout);
  check_input(kernel_ok, kWhere,
              "the CPU kernels take CPU tensors, positions f32 with an f32 or f16 table, or both f64 (got " +
                  std::string(c10::toString(x.scalar_type())) + " on " + x.device().str() + " with a " +
                  c10::toString(table.scalar_type()) + " table on " + table.device().str() + ")");
  return HashGridFunction::apply(x.contiguous(), table.contiguous(), layout);
}

// ---- the module -------------------------------------------------------------------------------------

HashGridImpl::HashGridImpl(const HashGridConfig& c) : cfg(c), layout(HashGridLayout::from_config(c)) {
  // instant-ngp initialises the tables U(−1e-4, 1e-4) (paper, §4).
  torch::Tensor t = torch::empty({cfg.levels, cfg.table_size(), cfg.features_per_level}).uniform_(-1e-4, 1e-4);
  if (cfg.table_dtype == "f16") t = t.to(torch::kHalf);
  table = register_parameter("table", t);
}

torch::Tensor HashGridImpl::forward(const torch::Tensor& x) {
  check_input(x.defined() && x.dim() >= 1 && x.size(-1) == layout.dims, kWhere,
              "positions must be [..., " + std::to_string(layout.dims) + "], got " + shape_text(x));
  std::vector<std::int64_t> out_shape(x.sizes().begin(), x.sizes().end());
  out_shape.back() = layout.output_dims();
  return hash_grid_encode(x.reshape({-1, layout.dims}), table, layout, backend).view(out_shape);
}

}  // namespace emogene::render
