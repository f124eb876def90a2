// render/hash_grid: every CPU kernel variant against the LibTorch reference (forward, table and
// input gradients), finite differences, known answers (a linear field is reproduced exactly;
// hashed rows equal a hand computation), determinism under threads, boundaries and clamping.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>

#include "emogene/core/error.h"
#include "emogene/render/hash_grid.h"
#include "emogene/render/hash_grid_kernels.h"
#include "testutil.h"

using namespace emogene::render;
using emogene::test::bad_input_message;

namespace {

HashGridConfig make_config(int dims, int levels, int features, int log2_table, int base, int finest) {
  HashGridConfig c;
  c.input_dims = dims;
  c.levels = levels;
  c.features_per_level = features;
  c.log2_table_size = log2_table;
  c.base_resolution = base;
  c.finest_resolution = finest;
  return c;
}

// Configs with dense and hashed levels, 2D and 3D, every F.
std::vector<HashGridConfig> configs() {
  return {
      make_config(3, 8, 2, 12, 4, 256),    // levels 0-1 dense, the rest hashed
      make_config(2, 6, 4, 10, 8, 512),    // 2D: (R+1)^2 ≤ 1024 for the first levels
      make_config(3, 4, 1, 14, 16, 128),   // F = 1
      make_config(2, 3, 8, 8, 2, 64),      // F = 8, small table: many collisions
      make_config(3, 16, 2, 16, 16, 2048), // the RAD-NeRF default
  };
}

// Random points in [-0.1, 1.1]^d (some clamped) with rows exactly on 0 and 1 appended.
torch::Tensor points(std::int64_t n, int dims, torch::ScalarType dtype, std::uint64_t seed) {
  torch::manual_seed(seed);
  torch::Tensor x = torch::rand({n, dims}, torch::kDouble) * 1.2 - 0.1;
  torch::Tensor edges = torch::tensor({0.0, 1.0, 0.0, 1.0, 0.5, 0.0, 1.0, 1.0, 0.25}, torch::kDouble);
  torch::Tensor e = edges.index({torch::indexing::Slice(0, 3 * dims)}).view({3, dims});
  return torch::cat({x, e, torch::zeros({1, dims}, torch::kDouble), torch::ones({1, dims}, torch::kDouble)}).to(dtype);
}

torch::Tensor random_table(const HashGridLayout& g, torch::ScalarType dtype, std::uint64_t seed) {
  torch::manual_seed(seed);
  return (torch::rand({g.levels, static_cast<std::int64_t>(g.table_size), g.features}, torch::kDouble) * 2 - 1).to(dtype);
}

struct Result {
  torch::Tensor out, grad_x, grad_table;
};

// Encodes with one backend and backpropagates sum(out · G).
Result run(const torch::Tensor& x0, const torch::Tensor& table0, const HashGridLayout& g, HashGridBackend backend,
           const torch::Tensor& G) {
  torch::Tensor x = x0.clone().requires_grad_(true);
  torch::Tensor table = table0.clone().requires_grad_(true);
  torch::Tensor out = hash_grid_encode(x, table, g, backend);
  (out * G).sum().backward();
  return {out.detach(), x.grad(), table.grad()};
}

double max_abs(const torch::Tensor& a) { return a.abs().max().item<double>(); }
// max |a − b| / (1 + |b|)
double max_rel(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a.to(torch::kDouble) - b.to(torch::kDouble)).abs() / (1 + b.to(torch::kDouble).abs())).max().item<double>();
}

class HashGridVariants : public ::testing::Test {
 protected:
  void TearDown() override { set_hash_grid_kernels(hash_grid_kernel_variants().front()->name); }
};

}  // namespace

// ---- config and layout ----------------------------------------------------------------------------

TEST(HashGridConfig, JsonRoundTripAndRefusals) {
  HashGridConfig c = make_config(2, 12, 4, 18, 8, 1024);
  c.table_dtype = "f16";
  HashGridConfig d = HashGridConfig::from_json(c.to_json(), "test");
  EXPECT_EQ(d.to_json(), c.to_json());
  EXPECT_EQ(HashGridConfig::from_json(nlohmann::json(), "x").to_json(), HashGridConfig().to_json());

  auto refuses = [](const nlohmann::json& j, const std::string& needle) {
    std::string msg = bad_input_message([&] { HashGridConfig::from_json(j, "grid.json"); });
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_NE(msg.find("grid.json"), std::string::npos) << msg;
  };
  refuses({{"levls", 16}}, "levls");
  refuses({{"levels", "16"}}, "wrong type");
  refuses({{"input_dims", 4}}, "input_dims");
  refuses({{"features_per_level", 3}}, "features_per_level");
  refuses({{"log2_table_size", 30}}, "log2_table_size");
  refuses({{"base_resolution", 64}, {"finest_resolution", 32}}, "finest_resolution");
  refuses({{"table_dtype", "bf16"}}, "table_dtype");
  refuses({{"levels", 0}}, "levels");
}

TEST(HashGridLayout, GeometricLevelsAndDenseCoarseLevels) {
  HashGridConfig c;  // 16 levels, 16 → 2048, T = 2^16, 3D
  EXPECT_NEAR(c.per_level_scale(), std::pow(2.0, 7.0 / 15.0), 1e-12);
  HashGridLayout g = HashGridLayout::from_config(c);
  EXPECT_EQ(g.resolution[0], 16u);
  EXPECT_EQ(g.resolution[15], 2048u);
  for (int l = 0; l < 16; ++l) {
    const double expect = std::floor(16.0 * std::pow(c.per_level_scale(), l) + 1e-6);
    EXPECT_EQ(g.resolution[static_cast<std::size_t>(l)], static_cast<std::uint32_t>(expect)) << l;
    if (l > 0) {
      EXPECT_GT(g.resolution[static_cast<std::size_t>(l)], g.resolution[static_cast<std::size_t>(l - 1)]);
    }
    const double side = g.resolution[static_cast<std::size_t>(l)] + 1.0;
    EXPECT_EQ(g.dense[static_cast<std::size_t>(l)], side * side * side <= 65536.0) << l;
  }
  EXPECT_TRUE(g.dense[0]);    // 17^3
  EXPECT_FALSE(g.dense[15]);  // 2049^3
  HashGridLayout one = HashGridLayout::from_config(make_config(2, 1, 2, 10, 8, 8));
  EXPECT_EQ(one.resolution[0], 8u);
}

TEST(HashGridLayout, HashedAndDenseIndicesByHand) {
  // A single hashed level: 65^3 > 2^16.
  HashGridLayout g = HashGridLayout::from_config(make_config(3, 1, 2, 16, 64, 64));
  ASSERT_FALSE(g.dense[0]);
  // 1·1 ⊕ (2·2654435761 mod 2^32 = 1013904226) ⊕ (3·805459861 = 2416379583) = 2892625372; mod 2^16:
  const std::uint32_t v1[3] = {1, 2, 3};
  EXPECT_EQ(hash_grid_index(g, 0, v1), 62940u);
  const std::uint32_t v2[3] = {5, 0, 7};  // 5 ⊕ 0 ⊕ (7·805459861 mod 2^32)
  EXPECT_EQ(hash_grid_index(g, 0, v2), 25878u);
  HashGridLayout g2 = HashGridLayout::from_config(make_config(2, 1, 2, 12, 128, 128));  // 129^2 > 4096
  ASSERT_FALSE(g2.dense[0]);
  const std::uint32_t v3[2] = {7, 9};  // 7 ⊕ (9·2654435761 mod 2^32), mod 2^12
  EXPECT_EQ(hash_grid_index(g2, 0, v3), 1854u);
  // Dense: row-major with x fastest.
  HashGridLayout gd = HashGridLayout::from_config(make_config(3, 1, 2, 16, 10, 10));
  ASSERT_TRUE(gd.dense[0]);
  EXPECT_EQ(hash_grid_index(gd, 0, v1), 1u + 2u * 11u + 3u * 121u);
}

TEST_F(HashGridVariants, KernelReadsTheHashedRowOfAVertex) {
  for (const HashGridKernels* k : hash_grid_kernel_variants()) {
    set_hash_grid_kernels(k->name);
    HashGridLayout g = HashGridLayout::from_config(make_config(3, 1, 2, 16, 64, 64));
    torch::Tensor table = torch::zeros({1, 65536, 2});
    table[0][62940][0] = 3.5f;
    table[0][62940][1] = -1.25f;
    torch::Tensor x = torch::tensor({1.0f / 64, 2.0f / 64, 3.0f / 64}).view({1, 3});
    torch::Tensor out = hash_grid_encode(x, table, g, HashGridBackend::Kernel);
    EXPECT_FLOAT_EQ(out[0][0].item<float>(), 3.5f) << k->name;
    EXPECT_FLOAT_EQ(out[0][1].item<float>(), -1.25f) << k->name;
  }
}

// ---- kernel == reference ------------------------------------------------------------------------

TEST_F(HashGridVariants, KernelMatchesTheReferenceF32) {
  for (const HashGridKernels* k : hash_grid_kernel_variants()) {
    set_hash_grid_kernels(k->name);
    int seed = 10;
    for (const HashGridConfig& c : configs()) {
      HashGridLayout g = HashGridLayout::from_config(c);
      SCOPED_TRACE(std::string(k->name) + " " + c.to_json().dump());
      torch::Tensor x = points(3000, g.dims, torch::kFloat, seed++);
      torch::Tensor table = random_table(g, torch::kFloat, seed++);
      torch::manual_seed(seed++);
      torch::Tensor G = torch::randn({x.size(0), g.output_dims()});
      Result a = run(x, table, g, HashGridBackend::Kernel, G);
      Result b = run(x, table, g, HashGridBackend::Reference, G);
      EXPECT_LE(max_abs(a.out - b.out), 1e-6);
      EXPECT_LE(max_abs(a.grad_table - b.grad_table), 1e-5);
      // Input gradients are sums over levels of terms that scale with the resolution (up to
      // thousands) and cancel, so f32 rounding depends on the order of the sums: compare normwise,
      // and hold the kernel to the reference's own accuracy against an f64 evaluation.
      const double scale = max_abs(b.grad_x);
      EXPECT_GT(scale, 1.0);  // not trivially zero
      EXPECT_LE(max_abs(a.grad_x - b.grad_x), 1e-5 * scale);
      Result t = run(x.to(torch::kDouble), table.to(torch::kDouble), g, HashGridBackend::Reference, G.to(torch::kDouble));
      const double err_kernel = max_abs(a.grad_x.to(torch::kDouble) - t.grad_x);
      const double err_reference = max_abs(b.grad_x.to(torch::kDouble) - t.grad_x);
      EXPECT_LE(err_kernel, 2 * err_reference + 1e-9) << err_kernel << " vs " << err_reference;
      std::printf("  %s dims %d levels %d: |out − ref| %.2e, |dtable − ref| %.2e, |dx − ref| %.2e of %.2e; "
                  "vs f64: kernel %.2e, reference %.2e\n",
                  k->name, g.dims, g.levels, max_abs(a.out - b.out), max_abs(a.grad_table - b.grad_table),
                  max_abs(a.grad_x - b.grad_x), scale, err_kernel, err_reference);
    }
  }
}

TEST_F(HashGridVariants, KernelMatchesTheReferenceF64AndF16Tables) {
  for (const HashGridKernels* k : hash_grid_kernel_variants()) {
    set_hash_grid_kernels(k->name);
    HashGridLayout g = HashGridLayout::from_config(make_config(3, 8, 2, 12, 4, 256));
    torch::Tensor G = torch::randn({2005, g.output_dims()}, torch::kDouble);
    {
      torch::Tensor x = points(2000, 3, torch::kDouble, 3);
      torch::Tensor table = random_table(g, torch::kDouble, 4);
      Result a = run(x, table, g, HashGridBackend::Kernel, G);
      Result b = run(x, table, g, HashGridBackend::Reference, G);
      EXPECT_LE(max_abs(a.out - b.out), 1e-12);
      EXPECT_LE(max_abs(a.grad_table - b.grad_table), 1e-12);
      EXPECT_LE(max_rel(a.grad_x, b.grad_x), 1e-12);
    }
    {
      torch::Tensor x = points(2000, 3, torch::kFloat, 5);
      torch::Tensor table = random_table(g, torch::kHalf, 6);
      torch::Tensor Gf = G.to(torch::kFloat);
      Result a = run(x, table, g, HashGridBackend::Kernel, Gf);
      Result b = run(x, table, g, HashGridBackend::Reference, Gf);
      EXPECT_EQ(a.out.scalar_type(), torch::kFloat);
      EXPECT_EQ(a.grad_table.scalar_type(), torch::kHalf);
      EXPECT_LE(max_abs(a.out - b.out), 1e-6);
      // Both gradients are rounded to f16 at the end: within one f16 ulp of each other.
      EXPECT_LE(max_rel(a.grad_table, b.grad_table), 1e-3);
      EXPECT_LE(max_abs(a.grad_x - b.grad_x), 1e-5 * max_abs(b.grad_x));
    }
  }
}

// ---- finite differences ------------------------------------------------------------------------

TEST_F(HashGridVariants, GradientsMatchFiniteDifferences) {
  for (const HashGridKernels* k : hash_grid_kernel_variants()) {
    set_hash_grid_kernels(k->name);
    for (int dims : {2, 3}) {
      HashGridLayout g = HashGridLayout::from_config(make_config(dims, 6, 2, 10, 4, 200));
      torch::manual_seed(20 + dims);
      torch::Tensor x = torch::rand({64, dims}, torch::kDouble) * 0.98 + 0.01;  // inside: no clamping
      torch::Tensor table = random_table(g, torch::kDouble, 30 + static_cast<std::uint64_t>(dims));
      torch::Tensor G = torch::randn({64, g.output_dims()}, torch::kDouble);
      Result r = run(x, table, g, HashGridBackend::Kernel, G);
      auto loss = [&](const torch::Tensor& xx, const torch::Tensor& tt) {
        return (hash_grid_encode(xx, tt, g, HashGridBackend::Kernel) * G).sum().item<double>();
      };
      // Input gradient: central differences (the field is multilinear inside a cell, so they are
      // exact up to rounding unless a step crosses a cell face, which h = 1e-7 makes rare).
      const double h = 1e-7;
      torch::Tensor fd = torch::zeros_like(x);
      for (std::int64_t n = 0; n < x.size(0); ++n)
        for (int i = 0; i < dims; ++i) {
          torch::Tensor xp = x.clone(), xm = x.clone();
          xp[n][i] += h;
          xm[n][i] -= h;
          fd[n][i] = (loss(xp, table) - loss(xm, table)) / (2 * h);
        }
      const double scale = max_abs(fd);
      EXPECT_GT(scale, 1.0);
      // Count mismatches instead of failing on a rare face crossing.
      const std::int64_t bad = ((r.grad_x - fd).abs() > 1e-5 * (1 + fd.abs())).sum().item<std::int64_t>();
      EXPECT_LE(bad, 1) << "dims " << dims;
      // Table gradient: the output is linear in the table, so differences are exact.
      torch::Tensor touched = r.grad_table.abs().gt(0).nonzero();
      ASSERT_GT(touched.size(0), 10);
      for (std::int64_t s = 0; s < 10; ++s) {
        auto row = touched[s * touched.size(0) / 10];
        const std::int64_t l = row[0].item<std::int64_t>(), t = row[1].item<std::int64_t>(), f = row[2].item<std::int64_t>();
        torch::Tensor tp = table.clone(), tm = table.clone();
        tp[l][t][f] += 1e-3;
        tm[l][t][f] -= 1e-3;
        const double d = (loss(x, tp) - loss(x, tm)) / 2e-3;
        EXPECT_NEAR(r.grad_table[l][t][f].item<double>(), d, 1e-8 * (1 + std::fabs(d)));
      }
    }
  }
}

// ---- known answers -------------------------------------------------------------------------------

// A table holding a linear function of the vertex positions, a·(v/R) + c per feature, is
// interpolated exactly: every dense level returns a·x + c (x clamped to [0,1]^d).
TEST_F(HashGridVariants, LinearFieldIsReproducedExactly) {
  for (const HashGridKernels* k : hash_grid_kernel_variants()) {
    set_hash_grid_kernels(k->name);
    for (int dims : {2, 3}) {
      // All levels dense: 2D (R+1)^2 ≤ 2^16 up to R = 255, 3D (R+1)^3 ≤ 2^16 up to R = 39.
      HashGridConfig c = dims == 2 ? make_config(2, 5, 2, 16, 4, 200) : make_config(3, 4, 2, 16, 4, 36);
      HashGridLayout g = HashGridLayout::from_config(c);
      for (int l = 0; l < g.levels; ++l) ASSERT_TRUE(g.dense[static_cast<std::size_t>(l)]);
      const double a[2][3] = {{0.5, -1.25, 2.0}, {-0.75, 0.3, 1.5}};
      const double c0[2] = {0.125, -0.5};
      torch::Tensor table = torch::zeros({g.levels, static_cast<std::int64_t>(g.table_size), 2}, torch::kDouble);
      auto acc = table.accessor<double, 3>();
      for (int l = 0; l < g.levels; ++l) {
        const std::uint32_t R = g.resolution[static_cast<std::size_t>(l)];
        const std::uint32_t nz = dims == 3 ? R + 1 : 1;
        for (std::uint32_t vz = 0; vz < nz; ++vz)
          for (std::uint32_t vy = 0; vy <= R; ++vy)
            for (std::uint32_t vx = 0; vx <= R; ++vx) {
              const std::uint32_t v[3] = {vx, vy, vz};
              const std::uint32_t row = hash_grid_index(g, l, v);
              for (int f = 0; f < 2; ++f) {
                double val = c0[f];
                for (int i = 0; i < dims; ++i) val += a[f][i] * static_cast<double>(v[i]) / R;
                acc[l][row][f] = val;
              }
            }
      }
      torch::Tensor x = points(500, dims, torch::kDouble, 40 + static_cast<std::uint64_t>(dims));
      torch::Tensor xc = x.clamp(0, 1);
      for (torch::ScalarType dt : {torch::kDouble, torch::kFloat}) {
        torch::Tensor out = hash_grid_encode(x.to(dt), table.to(dt), g, HashGridBackend::Kernel).to(torch::kDouble);
        const double tol = dt == torch::kDouble ? 1e-12 : 2e-6;
        for (int l = 0; l < g.levels; ++l)
          for (int f = 0; f < 2; ++f) {
            torch::Tensor expect = torch::full({x.size(0)}, c0[f], torch::kDouble);
            for (int i = 0; i < dims; ++i) expect = expect + a[f][i] * xc.select(1, i);
            EXPECT_LE(max_abs(out.select(1, l * 2 + f) - expect), tol) << "dims " << dims << " level " << l;
          }
      }
      // Its input gradient is a (inside the box), summed over levels.
      torch::Tensor xin = (torch::rand({50, dims}, torch::kDouble) * 0.9 + 0.05).requires_grad_(true);
      hash_grid_encode(xin, table, g, HashGridBackend::Kernel).view({-1, g.levels, 2}).select(2, 0).sum().backward();
      for (int i = 0; i < dims; ++i)
        EXPECT_LE(max_abs(xin.grad().select(1, i) - a[0][i] * g.levels), 1e-9);
    }
  }
}

// ---- boundaries and clamping ------------------------------------------------------------------------

TEST_F(HashGridVariants, OutsideInputsAreClampedWithZeroGradient) {
  for (const HashGridKernels* k : hash_grid_kernel_variants()) {
    set_hash_grid_kernels(k->name);
    HashGridLayout g = HashGridLayout::from_config(make_config(3, 6, 2, 12, 8, 300));
    torch::Tensor table = random_table(g, torch::kFloat, 50);
    torch::Tensor x = torch::tensor({{-0.5f, 0.3f, 1.5f}, {0.0f, 1.0f, 0.5f}, {2.0f, -1.0f, 0.0f}, {1.0f, 1.0f, 1.0f}})
                          .requires_grad_(true);
    torch::Tensor out = hash_grid_encode(x, table, g, HashGridBackend::Kernel);
    torch::Tensor at_clamped = hash_grid_encode(x.detach().clamp(0, 1), table, g, HashGridBackend::Kernel);
    EXPECT_TRUE(torch::equal(out.detach(), at_clamped));
    out.sum().backward();
    torch::Tensor gx = x.grad();
    EXPECT_EQ(gx[0][0].item<float>(), 0.0f);
    EXPECT_EQ(gx[0][2].item<float>(), 0.0f);
    EXPECT_NE(gx[0][1].item<float>(), 0.0f);
    EXPECT_EQ(gx[2][0].item<float>(), 0.0f);
    EXPECT_EQ(gx[2][1].item<float>(), 0.0f);
    // On the boundary the gradient passes (one-sided, from the cell inside), as the reference's.
    torch::Tensor xr = x.detach().clone().requires_grad_(true);
    hash_grid_encode(xr, table, g, HashGridBackend::Reference).sum().backward();
    EXPECT_LE(max_rel(gx, xr.grad()), 1e-5);
    EXPECT_NE(gx[1][0].item<float>(), 0.0f);
    EXPECT_NE(gx[3][2].item<float>(), 0.0f);
    // The corners of the unit box are vertices of every level: the output is that vertex's row.
    torch::Tensor one = torch::ones({1, 3});
    torch::Tensor o1 = hash_grid_encode(one, table, g, HashGridBackend::Kernel);
    for (int l = 0; l < g.levels; ++l) {
      const std::uint32_t R = g.resolution[static_cast<std::size_t>(l)];
      const std::uint32_t v[3] = {R, R, R};
      const std::uint32_t row = hash_grid_index(g, l, v);
      for (int f = 0; f < 2; ++f) EXPECT_FLOAT_EQ(o1[0][l * 2 + f].item<float>(), table[l][row][f].item<float>());
    }
  }
}

// ---- determinism under threads -------------------------------------------------------------------

TEST_F(HashGridVariants, GradientsAreBitIdenticalForOneAndTwoThreads) {
  const int saved = at::get_num_threads();
  for (const HashGridKernels* k : hash_grid_kernel_variants()) {
    set_hash_grid_kernels(k->name);
    HashGridLayout g = HashGridLayout::from_config(HashGridConfig());
    // Many points into a small region: heavy collisions in the scatter.
    torch::manual_seed(60);
    torch::Tensor x = torch::cat({torch::rand({30000, 3}), torch::rand({30000, 3}) * 0.01 + 0.5});
    torch::Tensor table = random_table(g, torch::kFloat, 61);
    torch::Tensor G = torch::randn({x.size(0), g.output_dims()});
    at::set_num_threads(1);
    Result one = run(x, table, g, HashGridBackend::Kernel, G);
    at::set_num_threads(2);
    ASSERT_EQ(at::get_num_threads(), 2);
    Result two = run(x, table, g, HashGridBackend::Kernel, G);
    EXPECT_TRUE(torch::equal(one.out, two.out)) << k->name;
    EXPECT_TRUE(torch::equal(one.grad_table, two.grad_table)) << k->name;
    EXPECT_TRUE(torch::equal(one.grad_x, two.grad_x)) << k->name;
    Result again = run(x, table, g, HashGridBackend::Kernel, G);
    EXPECT_TRUE(torch::equal(again.grad_table, two.grad_table)) << k->name;
  }
  at::set_num_threads(saved);
}

// ---- the module ------------------------------------------------------------------------------------

TEST(HashGridModule, ShapesInitAndBackends) {
  torch::manual_seed(70);
  HashGrid grid(make_config(3, 8, 2, 12, 4, 256));
  auto params = grid->named_parameters();
  ASSERT_TRUE(params.contains("table"));
  EXPECT_EQ(params["table"].sizes(), (std::vector<std::int64_t>{8, 4096, 2}));
  EXPECT_LE(max_abs(grid->table), 1e-4);
  EXPECT_GT(max_abs(grid->table), 5e-5);
  torch::Tensor x = torch::rand({4, 5, 3});
  torch::Tensor out = grid->forward(x);
  EXPECT_EQ(out.sizes(), (std::vector<std::int64_t>{4, 5, 16}));
  {
    at::InferenceMode guard;  // rendering runs without a graph
    EXPECT_TRUE(torch::equal(grid->forward(x), out.detach()));
  }
  grid->backend = HashGridBackend::Reference;
  EXPECT_LE(max_abs(grid->forward(x) - out), 1e-7);

  HashGridConfig half = make_config(2, 4, 4, 10, 4, 64);
  half.table_dtype = "f16";
  HashGrid h(half);
  EXPECT_EQ(h->table.scalar_type(), torch::kHalf);
  EXPECT_EQ(h->forward(torch::rand({7, 2})).sizes(), (std::vector<std::int64_t>{7, 16}));
}

TEST(HashGridModule, LearnsAFieldWithAdam) {
  torch::manual_seed(71);
  HashGrid grid(make_config(2, 4, 2, 12, 8, 64));
  torch::optim::Adam opt(grid->parameters(), torch::optim::AdamOptions(1e-2));
  torch::Tensor x = torch::rand({2048, 2});
  torch::Tensor target = torch::sin(6 * x.select(1, 0)) * torch::cos(4 * x.select(1, 1));
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    torch::Tensor loss = (grid->forward(x).sum(1) - target).pow(2).mean();
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  EXPECT_LT(last, 0.02 * first);
}

TEST(HashGridModule, BadInputsAreRefused) {
  HashGridLayout g = HashGridLayout::from_config(make_config(3, 2, 2, 8, 4, 8));
  torch::Tensor table = torch::zeros({2, 256, 2});
  EXPECT_NE(bad_input_message([&] { hash_grid_encode(torch::rand({4, 2}), table, g); }).find("[N, 3]"), std::string::npos);
  EXPECT_NE(bad_input_message([&] { hash_grid_encode(torch::rand({4, 3}), torch::zeros({2, 128, 2}), g); }).find("table"),
            std::string::npos);
  EXPECT_NE(bad_input_message([&] {
              hash_grid_encode(torch::rand({4, 3}, torch::kDouble), table, g, HashGridBackend::Kernel);
            }).find("CPU kernels"),
            std::string::npos);
  // Auto falls back to the reference for that combination.
  EXPECT_EQ(hash_grid_encode(torch::rand({4, 3}, torch::kDouble), table, g).scalar_type(), torch::kDouble);
  EXPECT_NE(bad_input_message([] { set_hash_grid_kernels("no-such-variant"); }).find("scalar"), std::string::npos);
}

TEST(HashGridFunction, SecondOrderIsRefused) {
  HashGridLayout g = HashGridLayout::from_config(make_config(3, 2, 2, 8, 4, 8));
  torch::Tensor x = torch::rand({4, 3}).requires_grad_(true);
  torch::Tensor table = torch::rand({2, 256, 2}).requires_grad_(true);
  torch::Tensor y = hash_grid_encode(x, table, g, HashGridBackend::Kernel).sum();
  EXPECT_THROW(torch::autograd::grad({y}, {x}, {}, true, true), std::exception);
}
