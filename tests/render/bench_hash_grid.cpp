// Micro benchmark: forward + backward of the hash-grid encoding, CPU kernel vs the LibTorch
// reference, same process, same inputs (not a ctest test; issue 9 moves this to Google Benchmark).
//   bench_hash_grid [points=262144] [threads=2] [repeats=5] [with_reference=1]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "emogene/render/hash_grid.h"
#include "emogene/render/hash_grid_kernels.h"

using namespace emogene::render;

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Times {
  double fwd, bwd;
};

Times once(const torch::Tensor& x0, const torch::Tensor& table0, const HashGridLayout& g, HashGridBackend b,
           bool input_grad) {
  torch::Tensor x = x0.clone().requires_grad_(input_grad);
  torch::Tensor table = table0.clone().requires_grad_(true);
  const double t0 = now();
  torch::Tensor out = hash_grid_encode(x, table, g, b);
  const double t1 = now();
  out.backward(torch::ones_like(out));
  const double t2 = now();
  return {t1 - t0, t2 - t1};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : (1 << 18);
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 5;
  const bool with_reference = argc > 4 ? std::atoi(argv[4]) != 0 : true;
  at::set_num_threads(threads);
  HashGridConfig cfg;  // 3D, 16 levels × 2, T = 2^16, 16 → 2048 (RAD-NeRF)
  HashGridLayout g = HashGridLayout::from_config(cfg);
  torch::manual_seed(1);
  torch::Tensor x = torch::rand({n, 3});
  torch::Tensor table = torch::rand({g.levels, static_cast<std::int64_t>(g.table_size), g.features}) * 2 - 1;
  std::printf("hash grid %s, %lld points, %d threads, kernel variant %s\n", cfg.to_json().dump().c_str(),
              static_cast<long long>(n), at::get_num_threads(), hash_grid_kernels().name);
  {  // the kernel interface alone: forward, table scatter, input gradient
    torch::Tensor out = torch::empty({n, g.output_dims()}), go = torch::rand({n, g.output_dims()});
    torch::Tensor gt = torch::empty_like(table), gx = torch::empty_like(x);
    HashGridProblem p;
    p.layout = g;
    p.n = n;
    p.x = x.data_ptr();
    p.table = table.data_ptr();
    p.out = out.data_ptr();
    p.grad_out = go.data_ptr();
    std::vector<double> f, bt, bx;
    for (int r = 0; r < repeats; ++r) {
      double t0 = now();
      hash_grid_kernels().forward(p);
      double t1 = now();
      p.grad_table = gt.data_ptr(), p.grad_x = nullptr;
      hash_grid_kernels().backward(p);
      double t2 = now();
      p.grad_table = nullptr, p.grad_x = gx.data_ptr();
      hash_grid_kernels().backward(p);
      double t3 = now();
      f.push_back(t1 - t0), bt.push_back(t2 - t1), bx.push_back(t3 - t2);
    }
    std::printf("kernel alone: forward %.1f ms, table gradient %.1f ms, input gradient %.1f ms\n", 1e3 * median(f),
                1e3 * median(bt), 1e3 * median(bx));
  }
  for (bool input_grad : {false, true}) {
    if (!with_reference) break;
    std::vector<double> kf, kb, rf, rb;
    once(x, table, g, HashGridBackend::Kernel, input_grad);  // warm up
    for (int r = 0; r < repeats; ++r) {  // alternated runs
      Times k = once(x, table, g, HashGridBackend::Kernel, input_grad);
      Times f = once(x, table, g, HashGridBackend::Reference, input_grad);
      kf.push_back(k.fwd), kb.push_back(k.bwd), rf.push_back(f.fwd), rb.push_back(f.bwd);
    }
    const double K = median(kf) + median(kb), R = median(rf) + median(rb);
    std::printf("%s grad: kernel fwd %.1f ms bwd %.1f ms (%.1f ns/point) | reference fwd %.1f ms bwd %.1f ms | speedup %.1fx\n",
                input_grad ? "table+input" : "table      ", 1e3 * median(kf), 1e3 * median(kb), 1e9 * K / n,
                1e3 * median(rf), 1e3 * median(rb), R / K);
  }
  return 0;
}
