// .npy format, from NumPy's "NEP 1 — A simple file format for NumPy arrays": magic "\x93NUMPY",
// major/minor version, header length (u16 in 1.0, u32 in 2.0/3.0), a Python-literal dict with
// 'descr', 'fortran_order' and 'shape', padded with spaces and '\n' so the data is 64-byte aligned
// (16 in older writers). 3.0 only changes the header encoding to UTF-8.
#include "emogene/core/npy.h"

#include <cctype>
#include <cstring>

#include "emogene/core/error.h"
#include "emogene/core/fileio.h"

namespace emogene {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "emogene assumes a little-endian host");

namespace {

constexpr char kMagic[] = "\x93NUMPY";

Array make(DType t, std::vector<std::int64_t> shape, const void* values) {
  Array a;
  a.dtype = t;
  a.shape = std::move(shape);
  std::size_t n = static_cast<std::size_t>(a.numel()) * dtype_size(t);
  a.bytes.resize(n);
  if (n) std::memcpy(a.bytes.data(), values, n);
  return a;
}

// A tiny parser for the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
struct HeaderParser {
  const std::string& s;
  std::size_t i = 0;
  const std::string& where;

  [[noreturn]] void fail(const std::string& what) const {
    throw bad_input(where, "corrupt .npy header (" + what + ")");
  }
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  std::string str() {
    ws();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) fail("expected a string");
    char q = s[i++];
    std::size_t start = i;
    while (i < s.size() && s[i] != q) ++i;
    if (i >= s.size()) fail("unterminated string");
    return s.substr(start, i++ - start);
  }
  bool boolean() {
    ws();
    if (s.compare(i, 4, "True") == 0) { i += 4; return true; }
    if (s.compare(i, 5, "False") == 0) { i += 5; return false; }
    fail("expected True or False");
  }
  std::vector<std::int64_t> tuple() {
    expect('(');
    std::vector<std::int64_t> out;
    for (;;) {
      if (eat(')')) break;
      ws();
      std::size_t start = i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      if (start == i || i - start > 18) fail("bad dimension in shape");
      out.push_back(std::stoll(s.substr(start, i - start)));
      if (eat(')')) break;
      expect(',');
    }
    return out;
  }
};

}  // namespace

Array Array::from_f32(std::vector<std::int64_t> shape, const float* v) { return make(DType::F32, std::move(shape), v); }
Array Array::from_f64(std::vector<std::int64_t> shape, const double* v) { return make(DType::F64, std::move(shape), v); }
Array Array::from_i64(std::vector<std::int64_t> shape, const std::int64_t* v) { return make(DType::I64, std::move(shape), v); }
Array Array::from_u8(std::vector<std::int64_t> shape, const std::uint8_t* v) { return make(DType::U8, std::move(shape), v); }

std::vector<float> Array::to_float() const {
  std::vector<float> out(static_cast<std::size_t>(numel()));
  convert_to_float(dtype, bytes.data(), out.size(), out.data());
  return out;
}

std::string npy_descr(DType t) {
  switch (t) {
    case DType::F16: return "<f2";
    case DType::F32: return "<f4";
    case DType::F64: return "<f8";
    case DType::I32: return "<i4";
    case DType::I64: return "<i8";
    case DType::U8: return "|u1";
    case DType::Bool: return "|b1";
    case DType::BF16: break;
  }
  throw internal_error("npy", std::string("dtype ") + dtype_name(t) + " has no .npy equivalent");
}

bool parse_npy_descr(const std::string& d, DType& out) {
  static const std::pair<const char*, DType> table[] = {
      {"<f2", DType::F16}, {"<f4", DType::F32}, {"<f8", DType::F64}, {"<i4", DType::I32},
      {"<i8", DType::I64}, {"|u1", DType::U8},  {"<u1", DType::U8},  {"|b1", DType::Bool}};
  for (const auto& [n, t] : table)
    if (d == n) {
      out = t;
      return true;
    }
  return false;
}

Array parse_npy(const std::uint8_t* data, std::size_t size, const std::string& where) {
  if (size == 0) throw bad_input(where, "empty file, expected a .npy array");
  if (size < 10 || std::memcmp(data, kMagic, 6) != 0) throw bad_input(where, "not a .npy file (bad magic)");
  int major = data[6];
  std::size_t header_len, prefix;
  if (major == 1) {
    header_len = data[8] | (static_cast<std::size_t>(data[9]) << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw bad_input(where, "truncated .npy header");
    header_len = data[8] | (static_cast<std::size_t>(data[9]) << 8) |
                 (static_cast<std::size_t>(data[10]) << 16) | (static_cast<std::size_t>(data[11]) << 24);
    prefix = 12;
  } else {
    throw bad_input(where, ".npy version " + std::to_string(major) + " is not supported (1-3 are)");
  }
  if (header_len > size - prefix) throw bad_input(where, "truncated .npy header");
  std::string header(reinterpret_cast<const char*>(data + prefix), header_len);

  HeaderParser p{header, 0, where};
  std::string descr;
  bool fortran = false, have_descr = false, have_shape = false;
  std::vector<std::int64_t> shape;
  p.expect('{');
  while (!p.eat('}')) {
    std::string key = p.str();
    p.expect(':');
    if (key == "descr") {
      descr = p.str();
      have_descr = true;
    } else if (key == "fortran_order") {
      fortran = p.boolean();
    } else if (key == "shape") {
      shape = p.tuple();
      have_shape = true;
    } else {
      p.fail("unknown key '" + key + "'");
    }
    if (!p.eat(',')) {
      p.expect('}');
      break;
    }
  }
  if (!have_descr || !have_shape) p.fail("missing descr or shape");
  if (fortran) throw bad_input(where, "Fortran-order .npy arrays are not supported; save with C order");
  Array a;
  if (!parse_npy_descr(descr, a.dtype))
    throw bad_input(where, "unsupported .npy dtype '" + descr + "' (supported: <f2 <f4 <f8 <i4 <i8 |u1 |b1)");
  a.shape = shape;
  std::int64_t numel;
  try {
    numel = shape_numel(shape);
  } catch (const Error&) {
    throw bad_input(where, "impossible .npy shape " + shape_string(shape));
  }
  std::size_t avail = size - prefix - header_len;
  if (static_cast<std::uint64_t>(numel) > avail / dtype_size(a.dtype))
    throw bad_input(where, "truncated .npy data: shape " + shape_string(shape) + " needs " +
                               std::to_string(numel * static_cast<std::int64_t>(dtype_size(a.dtype))) +
                               " bytes, file has " + std::to_string(avail));
  std::size_t nbytes = static_cast<std::size_t>(numel) * dtype_size(a.dtype);
  a.bytes.assign(data + prefix + header_len, data + prefix + header_len + nbytes);
  return a;
}

Array read_npy(const std::string& path) {
  MappedFile f(path);
  return parse_npy(f.data(), f.size(), path);
}

std::vector<std::uint8_t> serialize_npy(const Array& a) {
  // NumPy's spelling: "()" for a scalar, "(3,)" for 1-d, "(2, 3)" otherwise.
  std::string shape = "(";
  for (std::size_t i = 0; i < a.shape.size(); ++i) {
    if (i) shape += ", ";
    shape += std::to_string(a.shape[i]);
  }
  if (a.shape.size() == 1) shape += ",";
  shape += ")";
  std::string dict = "{'descr': '" + npy_descr(a.dtype) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  std::size_t prefix = 10;
  std::size_t total = prefix + dict.size() + 1;
  int major = 1;
  if (((total + 63) / 64) * 64 - prefix > 65535) {
    major = 2;
    prefix = 12;
    total = prefix + dict.size() + 1;
  }
  std::size_t padded = (total + 63) / 64 * 64;
  std::string header = dict + std::string(padded - total, ' ') + "\n";
  std::size_t nbytes = static_cast<std::size_t>(a.numel()) * dtype_size(a.dtype);
  if (a.bytes.size() != nbytes)
    throw internal_error("npy", "array of shape " + shape_string(a.shape) + " holds " +
                                    std::to_string(a.bytes.size()) + " bytes, expected " + std::to_string(nbytes));
  std::string head(kMagic, 6);
  head += static_cast<char>(major);
  head += '\0';
  const std::size_t hl = header.size();
  for (std::size_t b = 0; b < prefix - 8; ++b) head += static_cast<char>((hl >> (8 * b)) & 0xff);
  std::vector<std::uint8_t> out(head.begin(), head.end());
  out.reserve(prefix + header.size() + nbytes);
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), a.bytes.begin(), a.bytes.end());
  return out;
}

void write_npy(const std::string& path, const Array& a) {
  auto bytes = serialize_npy(a);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace emogene
