// motion/a2m: the flow prior is invertible with the right log-determinant, masks isolate padding,
// temperature 0 is deterministic and temperature 1 is not, and the VAE learns a simple mapping.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "emogene/motion/a2m.h"

using namespace emogene::motion;

namespace {
A2MConfig tiny() {
  A2MConfig c;
  c.audio_dim = 6;
  c.hidden = 16;
  c.latent = 4;
  c.down = 2;
  c.kernel = 3;
  c.layers = 2;
  c.flow_layers = 2;
  return c;
}
}  // namespace

TEST(A2MFlow, InvertibleWithTheJacobiansLogDet) {
  torch::manual_seed(1);
  Coupling c(4, 8, 3, true);
  {
    torch::NoGradGuard ng;
    for (auto& p : c->parameters()) p.normal_(0, 0.3);
  }
  torch::Tensor cond = torch::randn({1, 8, 3}), mask = torch::ones({1, 1, 3});
  torch::Tensor z = torch::randn({1, 4, 3}, torch::requires_grad());
  auto [y, ld] = c->forward(z, cond, mask);
  EXPECT_LT((c->inverse(y, cond, mask) - z).abs().max().item<float>(), 1e-5f);
  // Full Jacobian of the 12 outputs w.r.t. the 12 inputs.
  torch::Tensor J = torch::zeros({12, 12});
  torch::Tensor yf = y.reshape({12});
  for (int i = 0; i < 12; ++i) {
    auto g = torch::autograd::grad({yf[i]}, {z}, {}, true)[0];
    J[i] = g.reshape({12});
  }
  double logdet = std::log(std::fabs(torch::det(J.to(torch::kDouble)).item<double>()));
  EXPECT_NEAR(ld.sum().item<double>(), logdet, 1e-4);
  EXPECT_GT(std::fabs(logdet), 1e-3);  // not the identity
}

TEST(A2M, ShapesMasksAndTemperature) {
  torch::manual_seed(2);
  AudioToMotion m(tiny());
  m->eval();
  const std::int64_t T = 12;
  torch::Tensor audio = torch::randn({2, T, 6}), target = torch::randn({2, T, 204});
  torch::Tensor mask = torch::ones({2, T});
  mask.index_put_({1, torch::indexing::Slice(8, T)}, 0);
  at::Generator g1 = at::detail::createCPUGenerator(5);
  A2MOutput o = m->forward(audio, target, mask, g1);
  EXPECT_EQ(o.recon.sizes(), (std::vector<std::int64_t>{2, T, 204}));
  EXPECT_EQ(o.kl_per_dim.size(0), 4);
  EXPECT_TRUE(std::isfinite(o.kl.item<float>()));
  // Padding cannot leak into valid frames.
  torch::Tensor audio2 = audio.clone();
  audio2.index_put_({1, torch::indexing::Slice(8, T)}, 100.f);
  at::Generator ga = at::detail::createCPUGenerator(9), gb = at::detail::createCPUGenerator(9);
  torch::Tensor r1 = m->infer(audio, mask, 1.0, ga), r2 = m->infer(audio2, mask, 1.0, gb);
  EXPECT_LT((r1.index({1, torch::indexing::Slice(0, 8)}) - r2.index({1, torch::indexing::Slice(0, 8)})).abs().max().item<float>(), 1e-5f);
  EXPECT_EQ(r1.index({1, torch::indexing::Slice(8, T)}).abs().max().item<float>(), 0.f);
  // Temperature 0: the prior's mean, whatever the seed; temperature 1: seeds differ.
  at::Generator s1 = at::detail::createCPUGenerator(1), s2 = at::detail::createCPUGenerator(2);
  EXPECT_TRUE(torch::equal(m->infer(audio, mask, 0.0, s1), m->infer(audio, mask, 0.0, s2)));
  // The prior is sharp at initialisation; make it broad enough for the test to see noise.
  {
    torch::NoGradGuard ng;
    m->prior_out->bias.index_put_({torch::indexing::Slice(4, 8)}, 1.0);
  }
  at::Generator s3 = at::detail::createCPUGenerator(1), s4 = at::detail::createCPUGenerator(2);
  EXPECT_GT((m->infer(audio, mask, 1.0, s3) - m->infer(audio, mask, 1.0, s4)).abs().max().item<float>(), 1e-4f);
}

TEST(A2M, LearnsAMapping) {
  torch::manual_seed(3);
  AudioToMotion m(tiny());
  torch::optim::Adam opt(m->parameters(), torch::optim::AdamOptions(3e-3));
  const std::int64_t T = 16;
  // Displacement = a fixed linear map of the audio features, smoothed by nothing: the decoder
  // must carry the audio through.
  torch::Tensor W = torch::randn({6, 204}) * 0.1;
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    at::Generator g = at::detail::createCPUGenerator(static_cast<std::uint64_t>(step));
    torch::Tensor audio = torch::randn({4, T, 6}, g);
    torch::Tensor target = torch::matmul(audio, W);
    A2MOutput o = m->forward(audio, target, torch::ones({4, T}), g);
    torch::Tensor rec = (o.recon - target).pow(2).mean();
    torch::Tensor loss = rec + 0.01 * o.kl;
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (step == 0) first = rec.item<double>();
    last = rec.item<double>();
  }
  EXPECT_LT(last, first / 5) << first << " → " << last;
}
