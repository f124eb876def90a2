// Element types shared by the .npy and safetensors readers and writers, and f16/bf16 conversion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace emogene {

enum class DType { F16, BF16, F32, F64, I32, I64, U8, Bool };

std::size_t dtype_size(DType t);
// safetensors spelling: "F16", "BF16", "F32", "F64", "I32", "I64", "U8", "BOOL".
const char* dtype_name(DType t);
// Parses the safetensors spelling; returns false for an unknown name.
bool parse_dtype(const std::string& name, DType& out);

float half_to_float(std::uint16_t h);
std::uint16_t float_to_half(float f);  // round to nearest even, overflow to inf
float bf16_to_float(std::uint16_t b);
std::uint16_t float_to_bf16(float f);  // round to nearest even

// Product of the dimensions (1 for a scalar); throws internal_error on overflow or a negative size.
std::int64_t shape_numel(const std::vector<std::int64_t>& shape);
std::string shape_string(const std::vector<std::int64_t>& shape);  // "[2, 68, 3]"

// Converts n elements of a floating or integer dtype to float.
void convert_to_float(DType t, const void* src, std::size_t n, float* dst);

}  // namespace emogene
