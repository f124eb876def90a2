#include "emogene/core/dtype.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "emogene/core/error.h"

namespace emogene {

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::F16: case DType::BF16: return 2;
    case DType::F32: case DType::I32: return 4;
    case DType::F64: case DType::I64: return 8;
    case DType::U8: case DType::Bool: return 1;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
    case DType::Bool: return "BOOL";
  }
  return "?";
}

bool parse_dtype(const std::string& name, DType& out) {
  static const std::pair<const char*, DType> table[] = {
      {"F16", DType::F16}, {"BF16", DType::BF16}, {"F32", DType::F32}, {"F64", DType::F64},
      {"I32", DType::I32}, {"I64", DType::I64},   {"U8", DType::U8},   {"BOOL", DType::Bool}};
  for (const auto& [n, t] : table)
    if (name == n) {
      out = t;
      return true;
    }
  return false;
}

// IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
float half_to_float(std::uint16_t h) {
  std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1f;
  std::uint32_t man = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: value = man * 2^-24
      float v = std::ldexp(static_cast<float>(man), -24);
      std::memcpy(&bits, &v, 4);
      bits |= sign;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::uint16_t float_to_half(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  std::uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u)  // inf or nan
    return static_cast<std::uint16_t>(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
  if (ax >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to >= 65520
  if (ax < 0x38800000u) {  // below the smallest normal half (2^-14): subnormal or zero
    float a;
    std::memcpy(&a, &ax, 4);
    // value in units of 2^-24, rounded to nearest even
    float q = std::nearbyint(a * 16777216.0f);
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(q));
  }
  std::uint32_t exp = (ax >> 23) - 112;
  std::uint32_t man = ax & 0x7fffffu;
  std::uint32_t h = (exp << 10) | (man >> 13);
  std::uint32_t rem = man & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // carries into the exponent correctly
  return static_cast<std::uint16_t>(sign | h);
}

float bf16_to_float(std::uint16_t b) {
  std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::uint16_t float_to_bf16(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);  // nan
  std::uint32_t round = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<std::uint16_t>((x + round) >> 16);
}

std::int64_t shape_numel(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0) throw internal_error("shape " + shape_string(shape), "negative dimension");
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / d)
      throw internal_error("shape " + shape_string(shape), "too many elements");
    n *= d;
  }
  return n;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void convert_to_float(DType t, const void* src, std::size_t n, float* dst) {
  const auto* b = static_cast<const std::uint8_t*>(src);
  for (std::size_t i = 0; i < n; ++i) {
    switch (t) {
      case DType::F32: { float v; std::memcpy(&v, b + 4 * i, 4); dst[i] = v; break; }
      case DType::F64: { double v; std::memcpy(&v, b + 8 * i, 8); dst[i] = static_cast<float>(v); break; }
      case DType::F16: { std::uint16_t v; std::memcpy(&v, b + 2 * i, 2); dst[i] = half_to_float(v); break; }
      case DType::BF16: { std::uint16_t v; std::memcpy(&v, b + 2 * i, 2); dst[i] = bf16_to_float(v); break; }
      case DType::I32: { std::int32_t v; std::memcpy(&v, b + 4 * i, 4); dst[i] = static_cast<float>(v); break; }
      case DType::I64: { std::int64_t v; std::memcpy(&v, b + 8 * i, 8); dst[i] = static_cast<float>(v); break; }
      case DType::U8: case DType::Bool: dst[i] = static_cast<float>(b[i]); break;
    }
  }
}

}  // namespace emogene
