// .npy arrays: written as format 1.0 (little-endian, C order), read in versions 1.0-3.0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "emogene/core/dtype.h"

namespace emogene {

// An owned n-dimensional array of raw little-endian elements in C order.
struct Array {
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> bytes;

  std::int64_t numel() const { return shape_numel(shape); }
  template <class T> const T* data() const { return reinterpret_cast<const T*>(bytes.data()); }
  template <class T> T* data() { return reinterpret_cast<T*>(bytes.data()); }

  // Copies typed values in (the dtype must match T's size and kind).
  static Array from_f32(std::vector<std::int64_t> shape, const float* values);
  static Array from_f64(std::vector<std::int64_t> shape, const double* values);
  static Array from_i64(std::vector<std::int64_t> shape, const std::int64_t* values);
  static Array from_u8(std::vector<std::int64_t> shape, const std::uint8_t* values);
  std::vector<float> to_float() const;  // any numeric dtype
};

// Reads a .npy file. Throws bad_input naming the file for a missing, truncated, Fortran-order,
// big-endian, object or otherwise unsupported array. Supported dtypes: f2, f4, f8, i4, i8, u1, b1.
Array read_npy(const std::string& path);
Array parse_npy(const std::uint8_t* data, std::size_t size, const std::string& where);

// Writes format 1.0 (2.0 if the header would not fit 1.0), atomically.
void write_npy(const std::string& path, const Array& a);
std::vector<std::uint8_t> serialize_npy(const Array& a);

// The `descr` string of a dtype ("<f4"), and the reverse; parse returns false if unsupported.
std::string npy_descr(DType t);
bool parse_npy_descr(const std::string& descr, DType& out);

}  // namespace emogene
