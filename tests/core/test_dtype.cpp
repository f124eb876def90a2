#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "emogene/core/dtype.h"

using namespace emogene;

// Known IEEE binary16 encodings.
TEST(Dtype, HalfKnownValues) {
  struct Case { float f; std::uint16_t h; };
  const Case cases[] = {{0.0f, 0x0000}, {-0.0f, 0x8000}, {1.0f, 0x3c00}, {-2.0f, 0xc000}, {65504.0f, 0x7bff},
                        {0.5f, 0x3800}, {6.103515625e-05f, 0x0400} /* smallest normal */,
                        {5.960464477539063e-08f, 0x0001} /* smallest subnormal */, {INFINITY, 0x7c00},
                        {0.333251953125f, 0x3555}};
  for (const auto& c : cases) {
    EXPECT_EQ(float_to_half(c.f), c.h) << c.f;
    EXPECT_EQ(half_to_float(c.h), c.f) << c.h;
  }
  EXPECT_EQ(float_to_half(1e6f), 0x7c00);                   // overflow to inf
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(NAN))));
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048), 0x3c00);      // tie rounds to even (down)
  EXPECT_EQ(float_to_half(1.0f + 3.0f / 2048), 0x3c02);      // tie rounds to even (up)
}

TEST(Dtype, HalfRoundTripAllFiniteCodes) {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;  // inf/nan
    float f = half_to_float(static_cast<std::uint16_t>(h));
    EXPECT_EQ(float_to_half(f), h) << std::hex << h;
  }
}

TEST(Dtype, Bf16) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(float_to_bf16(-2.5f), 0xc020);
  EXPECT_NEAR(bf16_to_float(float_to_bf16(3.14159f)), 3.14159f, 0.01f);
}

TEST(Dtype, NamesAndSizes) {
  for (DType t : {DType::F16, DType::BF16, DType::F32, DType::F64, DType::I32, DType::I64, DType::U8, DType::Bool}) {
    DType back;
    ASSERT_TRUE(parse_dtype(dtype_name(t), back));
    EXPECT_EQ(back, t);
  }
  DType x;
  EXPECT_FALSE(parse_dtype("F8", x));
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(shape_numel({2, 68, 3}), 408);
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_string({2, 68, 3}), "[2, 68, 3]");
}
