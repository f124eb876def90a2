// train/: schedules, AdamW against LibTorch's own, clipping, and the loop's checkpoints and resume
// (after a crash and after SIGINT the loss curve and the final weights repeat byte for byte).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "emogene/core/error.h"
#include "emogene/core/interrupt.h"
#include "emogene/core/safetensors.h"
#include "emogene/train/train.h"
#include "testutil.h"

using namespace emogene;
namespace fs = std::filesystem;

namespace {


struct Crash {};

// y = A x + noise, a linear model trained with the loop; batches and noise from the step's generator.
struct Toy {
  torch::Tensor W = torch::zeros({3, 4}, torch::requires_grad());
  torch::Tensor b = torch::zeros({3}, torch::requires_grad());
  torch::Tensor A = torch::arange(12, torch::kFloat).reshape({3, 4}) / 10;
  train::Hooks hooks(std::int64_t crash_at = -1, std::int64_t sigint_at = -1) {
    train::Hooks h;
    h.step = [this, crash_at, sigint_at](std::int64_t step, at::Generator& gen) {
      if (step == crash_at) throw Crash{};
      if (step == sigint_at) set_interrupted(true);
      torch::Tensor x = torch::randn({16, 4}, gen);
      torch::Tensor y = torch::matmul(x, A.t()) + 0.01 * torch::randn({16, 3}, gen);
      torch::Tensor pred = torch::matmul(x, W.t()) + b;
      torch::Tensor mse = (pred - y).pow(2).mean();
      torch::Tensor l1 = W.abs().mean();
      train::StepResult r;
      r.loss = mse + 0.001 * l1;
      r.parts = {{"mse", mse.item<double>()}, {"l1", l1.item<double>()}};
      return r;
    };
    h.save = [this](const std::string& path, std::int64_t step) {
      write_tensors(path, {{"W", W}, {"b", b}}, {{"emogene.kind", "toy"}, {"emogene.format", "1"}, {"step", std::to_string(step)}});
    };
    h.preview = [](std::int64_t) {
      Image img;
      img.width = img.height = 4;
      img.pixels.assign(48, 128);
      return img;
    };
    return h;
  }
  train::AdamW optimiser() {
    train::ParamGroup g{"toy", {{"W", W}, {"b", b}}, {}};
    g.options.weight_decay = 0.05;
    return train::AdamW({g});
  }
};

nlohmann::json toy_config(int steps) {
  return {{"train", {{"steps", steps}, {"lr", 0.05}, {"warmup", 3}, {"checkpoint_every", 10}, {"log_every", 1}, {"preview_every", 7}, {"seed", 4}}}};
}

}  // namespace

TEST(Schedule, KnownValues) {
  train::Schedule s;
  s.lr = 1.0;
  s.warmup = 4;
  s.steps = 104;
  s.final_ratio = 0.1;
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.25);
  EXPECT_DOUBLE_EQ(s.lr_at(3), 1.0);
  EXPECT_DOUBLE_EQ(s.lr_at(4), 1.0);
  EXPECT_NEAR(s.lr_at(54), 0.55, 1e-12);  // half-way: the mean of 1 and 0.1
  EXPECT_NEAR(s.lr_at(104), 0.1, 1e-12);
  s.kind = "step";
  s.step_every = 10;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(s.lr_at(13), 1.0);  // steps count after the warm-up
  EXPECT_DOUBLE_EQ(s.lr_at(14), 0.5);
  EXPECT_DOUBLE_EQ(s.lr_at(24), 0.25);
  s.kind = "constant";
  EXPECT_DOUBLE_EQ(s.lr_at(1000), 1.0);
}

TEST(AdamW, MatchesLibTorchsAdamW) {
  torch::manual_seed(3);
  torch::Tensor p0 = torch::randn({5, 7});
  torch::Tensor a = p0.clone().requires_grad_(true), b = p0.clone().requires_grad_(true);
  train::ParamGroup g{"g", {{"a", a}}, {}};
  g.options.weight_decay = 0.1;
  g.options.beta1 = 0.8;
  g.options.beta2 = 0.99;
  train::AdamW ours({g});
  torch::optim::AdamW ref({b}, torch::optim::AdamWOptions(0.01).betas({0.8, 0.99}).eps(1e-8).weight_decay(0.1));
  torch::Tensor target = torch::randn({5, 7});
  for (int i = 0; i < 25; ++i) {
    ours.zero_grad();
    ref.zero_grad();
    (a - target).pow(3).abs().sum().backward();
    (b - target).pow(3).abs().sum().backward();
    ours.step(0.01);
    ref.step();
  }
  EXPECT_LT((a - b).abs().max().item<float>(), 1e-5f);
  EXPECT_GT((a - p0).abs().max().item<float>(), 0.1f);  // it did move
}

TEST(ClipGradNorm, ScalesToTheLimit) {
  torch::Tensor x = torch::zeros({2}, torch::requires_grad());
  torch::Tensor y = torch::zeros({1}, torch::requires_grad());
  (x * torch::tensor({3.f, 0.f})).sum().backward();
  (y * torch::tensor({4.f})).sum().backward();
  EXPECT_NEAR(train::clip_grad_norm({x, y}, 1.0), 5.0, 1e-6);
  EXPECT_NEAR(x.grad()[0].item<float>(), 0.6f, 1e-5f);
  EXPECT_NEAR(y.grad()[0].item<float>(), 0.8f, 1e-5f);
  EXPECT_NEAR(train::clip_grad_norm({x, y}, 10.0), 1.0, 1e-5);  // under the limit: unchanged
}

TEST(Loop, ResumeAfterACrashRepeatsTheRun) {
  std::string dir = test::temp_dir();
  const auto cfg = toy_config(30);
  const auto opt = train::loop_options(cfg, "test");
  {
    Toy t;
    auto o = t.optimiser();
    auto info = train::run_loop(dir + "/a.ckpt", opt, cfg, o, t.hooks(), false);
    EXPECT_EQ(info.last_step, 30);
    EXPECT_LT(info.last_parts.at("mse"), 0.2);  // from ~4 at the start
  }
  {
    Toy t;
    auto o = t.optimiser();
    EXPECT_THROW(train::run_loop(dir + "/b.ckpt", opt, cfg, o, t.hooks(17), false), Crash);
  }
  // The crash left rows up to step 17 in the CSV, a checkpoint at 10.
  EXPECT_NE(test::read_text(dir + "/b.ckpt.losses.csv").find("\n17,"), std::string::npos);
  {
    Toy t;  // a fresh process: weights come from the training state
    auto o = t.optimiser();
    auto info = train::run_loop(dir + "/b.ckpt", opt, cfg, o, t.hooks(), true);
    EXPECT_EQ(info.first_step, 10);
  }
  EXPECT_EQ(test::read_text(dir + "/a.ckpt.losses.csv"), test::read_text(dir + "/b.ckpt.losses.csv"));
  EXPECT_EQ(test::read_text(dir + "/a.ckpt"), test::read_text(dir + "/b.ckpt"));
  EXPECT_TRUE(fs::exists(dir + "/a.ckpt.previews/step_000007.png"));
  SafetensorsFile f(dir + "/a.ckpt");
  EXPECT_EQ(f.meta("step"), "30");
}

TEST(Loop, SigintCheckpointsAndResumes) {
  std::string dir = test::temp_dir();
  const auto cfg = toy_config(20);
  const auto opt = train::loop_options(cfg, "test");
  {
    Toy t;
    auto o = t.optimiser();
    train::run_loop(dir + "/a.ckpt", opt, cfg, o, t.hooks(), false);
  }
  {
    Toy t;
    auto o = t.optimiser();
    try {
      train::run_loop(dir + "/b.ckpt", opt, cfg, o, t.hooks(-1, 13), false);
      FAIL();
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Interrupted);
    }
    set_interrupted(false);
    SafetensorsFile st(dir + "/b.ckpt.train");
    EXPECT_EQ(st.meta("step"), "14");
  }
  {
    Toy t;
    auto o = t.optimiser();
    EXPECT_EQ(train::run_loop(dir + "/b.ckpt", opt, cfg, o, t.hooks(), true).first_step, 14);
  }
  EXPECT_EQ(test::read_text(dir + "/a.ckpt.losses.csv"), test::read_text(dir + "/b.ckpt.losses.csv"));
  EXPECT_EQ(test::read_text(dir + "/a.ckpt"), test::read_text(dir + "/b.ckpt"));
}

TEST(Loop, RefusesWhatItCannotResume) {
  std::string dir = test::temp_dir();
  const auto cfg = toy_config(5);
  const auto opt = train::loop_options(cfg, "test");
  Toy t;
  auto o = t.optimiser();
  EXPECT_THROW(train::run_loop(dir + "/x.ckpt", opt, cfg, o, t.hooks(), true), Error);  // nothing to resume
  train::run_loop(dir + "/x.ckpt", opt, cfg, o, t.hooks(), false);
  EXPECT_THROW(train::run_loop(dir + "/x.ckpt", opt, cfg, o, t.hooks(), false), Error);  // would overwrite
  auto other = toy_config(6);
  try {
    train::run_loop(dir + "/x.ckpt", train::loop_options(other, "test"), other, o, t.hooks(), true);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another config"), std::string::npos) << e.what();
  }
  train::run_loop(dir + "/x.ckpt", opt, cfg, o, t.hooks(), false, true);  // --force starts over
}

TEST(LoopOptions, UnknownOrBadSettingsAreNamed) {
  try {
    train::loop_options({{"train", {{"stepz", 3}}}}, "cfg.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train.stepz"), std::string::npos);
  }
  EXPECT_THROW(train::loop_options({{"train", {{"schedule", "linear"}}}}, "c"), Error);
  EXPECT_THROW(train::loop_options({{"train", {{"lr", "fast"}}}}, "c"), Error);
  auto o = train::loop_options({{"train", {{"steps", 7}, {"grad_clip", 0.5}}}}, "c");
  EXPECT_EQ(o.schedule.steps, 7);
  EXPECT_DOUBLE_EQ(o.grad_clip, 0.5);
}
