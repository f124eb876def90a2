// core/tensor_io: tensors through safetensors, checkpoint kind/format checks, loading by name.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "emogene/core/error.h"
#include "emogene/core/tensor_io.h"
#include "testutil.h"

using namespace emogene;

namespace {
std::string error_of(const std::function<void()>& f) { return test::bad_input_message(f); }
}  // namespace

TEST(TensorIo, RoundTripKeepsDtypesAndF16Tables) {
  std::string p = test::temp_dir() + "/t.safetensors";
  torch::Tensor a = torch::randn({3, 5}), i = torch::arange(7, torch::kLong), u = torch::tensor({1, 2, 250}, torch::kByte);
  torch::Tensor h = torch::linspace(-2, 2, 9);
  write_tensors(p, {{"a", a}, {"i", i}, {"u", u}, {"h", h}}, {{"emogene.kind", "x"}}, {"h"});
  SafetensorsFile f(p);
  EXPECT_TRUE(torch::equal(to_tensor(f.get("a")), a));
  EXPECT_TRUE(torch::equal(to_tensor(f.get("i")), i));
  EXPECT_TRUE(torch::equal(to_tensor(f.get("u")), u));
  EXPECT_EQ(f.get("h").dtype, DType::F16);
  EXPECT_TRUE(torch::allclose(to_float_tensor(f.get("h")), h));  // quarter steps are exact in f16
}

TEST(TensorIo, CheckpointKindFormatAndNames) {
  std::string dir = test::temp_dir();
  torch::Tensor w = torch::ones({2, 2});
  write_tensors(dir + "/n.ckpt", {{"w", w}}, {{"emogene.kind", "nerf"}, {"emogene.format", "1"}});
  SafetensorsFile f(dir + "/n.ckpt");
  check_checkpoint(f, "nerf", 1);
  EXPECT_NE(error_of([&] { check_checkpoint(f, "a2m", 1); }).find("is a 'nerf' checkpoint, expected 'a2m'"), std::string::npos);
  EXPECT_NE(error_of([&] { check_checkpoint(f, "nerf", 2); }).find("checkpoint format 1, this build reads 2"), std::string::npos);
  write_tensors(dir + "/plain.st", {{"w", w}}, {});
  SafetensorsFile g(dir + "/plain.st");
  EXPECT_NE(error_of([&] { check_checkpoint(g, "a2m", 1); }).find("not an emogene checkpoint"), std::string::npos);

  torch::Tensor t1 = torch::zeros({2, 2}), t2 = torch::zeros({3});
  load_into(f, {{"w", t1}});
  EXPECT_TRUE(torch::equal(t1, w));
  EXPECT_NE(error_of([&] { load_into(f, {{"w", t1}, {"v", t2}}); }).find("tensor 'v' is missing"), std::string::npos);
  EXPECT_NE(error_of([&] { load_into(f, {{"w", t2}}); }).find("has shape [2, 2], expected [3]"), std::string::npos);
  EXPECT_NE(error_of([&] { load_into(f, {}); }).find("unexpected tensor 'w'"), std::string::npos);
  load_into(f, {}, "", {"w"});
}
