#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/core/npy.h"
#include "testutil.h"

using namespace emogene;

TEST(Npy, RoundTripEveryDtypeBitExact) {
  std::string dir = test::temp_dir();
  std::vector<float> f = {0.f, -1.5f, 3.25e-8f, std::nanf(""), INFINITY, -0.f};
  std::vector<double> d = {1e300, -2.5, 0.1};
  std::vector<std::int64_t> i = {-(1LL << 62), 0, 7, 42};
  std::vector<std::uint8_t> u = {0, 1, 128, 255};
  std::vector<Array> arrays = {Array::from_f32({2, 3}, f.data()), Array::from_f64({3}, d.data()),
                               Array::from_i64({2, 1, 2}, i.data()), Array::from_u8({4}, u.data()),
                               Array::from_f32({0, 68, 3}, nullptr)};
  for (std::size_t k = 0; k < arrays.size(); ++k) {
    std::string path = dir + "/a" + std::to_string(k) + ".npy";
    write_npy(path, arrays[k]);
    Array back = read_npy(path);
    EXPECT_EQ(back.dtype, arrays[k].dtype);
    EXPECT_EQ(back.shape, arrays[k].shape);
    EXPECT_EQ(back.bytes, arrays[k].bytes);  // bit-exact, NaN included
    // Data starts on a 64-byte boundary, as NumPy writes it.
    auto raw = read_file(path);
    EXPECT_EQ((raw.size() - back.bytes.size()) % 64, 0u);
  }
}

TEST(Npy, KnownHeaderBytes) {
  float v[2] = {1.0f, 2.0f};
  auto bytes = serialize_npy(Array::from_f32({2}, v));
  std::string s(bytes.begin(), bytes.end());
  EXPECT_EQ(s.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_NE(s.find("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"), std::string::npos);
  // 10-byte prefix + 59-byte dict + '\n' do not fit 64 bytes: NumPy pads the header to 128.
  EXPECT_EQ(bytes.size(), 128u + 8u);
  EXPECT_EQ(s[127], '\n');
  EXPECT_EQ(s[126], ' ');
}

// A file as NumPy 2.0 format writes it (u32 header length), with a "<i4" scalar and a 3-d f8.
TEST(Npy, ReadsVersion2And3) {
  for (int major : {2, 3}) {
    std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 1), }";
    std::string header = dict + std::string(128 - 12 - dict.size() - 1, ' ') + "\n";
    std::vector<std::uint8_t> file = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0};
    std::uint32_t hl = static_cast<std::uint32_t>(header.size());
    for (int b = 0; b < 4; ++b) file.push_back(static_cast<std::uint8_t>(hl >> (8 * b)));
    file.insert(file.end(), header.begin(), header.end());
    double vals[2] = {3.5, -7.0};
    const auto* p = reinterpret_cast<const std::uint8_t*>(vals);
    file.insert(file.end(), p, p + 16);
    Array a = parse_npy(file.data(), file.size(), "mem");
    EXPECT_EQ(a.dtype, DType::F64);
    EXPECT_EQ(a.shape, (std::vector<std::int64_t>{1, 2, 1}));
    EXPECT_EQ(a.to_float(), (std::vector<float>{3.5f, -7.0f}));
  }
}

TEST(Npy, ScalarShape) {
  float v = 4.0f;
  Array a = Array::from_f32({}, &v);
  auto bytes = serialize_npy(a);
  Array b = parse_npy(bytes.data(), bytes.size(), "mem");
  EXPECT_TRUE(b.shape.empty());
  EXPECT_EQ(b.numel(), 1);
  EXPECT_EQ(b.to_float()[0], 4.0f);
}

// A version 1.0 .npy file with the given header dict and `payload` zero bytes of data.
static std::vector<std::uint8_t> raw_npy(const std::string& dict, std::size_t payload) {
  std::size_t len = (10 + dict.size() + 1 + 63) / 64 * 64 - 10;
  std::string header = dict + std::string(len - dict.size() - 1, ' ') + "\n";
  std::vector<std::uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<std::uint8_t>(len & 0xff),
                                   static_cast<std::uint8_t>(len >> 8)};
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + payload, 0);
  return out;
}

static void expect_bad_input(const std::string& path, const std::string& fragment) {
  try {
    read_npy(path);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadInput);
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  }
}

TEST(Npy, BadInputGivesClearErrors) {
  std::string dir = test::temp_dir();
  float v[6] = {1, 2, 3, 4, 5, 6};
  write_npy(dir + "/good.npy", Array::from_f32({2, 3}, v));
  test::write_bytes(dir + "/empty.npy", {});
  test::write_bytes(dir + "/random.npy", test::random_bytes(300, 1));
  test::write_bytes(dir + "/trunc.npy", test::head_of_file(dir + "/good.npy", 70));
  test::write_bytes(dir + "/trunc_header.npy", test::head_of_file(dir + "/good.npy", 30));
  test::write_bytes(dir + "/fortran.npy",
                    raw_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", 4));
  test::write_bytes(dir + "/object.npy", raw_npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 8));
  test::write_bytes(dir + "/badshape.npy", raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", 8));

  expect_bad_input(dir + "/missing.npy", "no such file");
  expect_bad_input(dir + "/empty.npy", "empty");
  expect_bad_input(dir + "/random.npy", "not a .npy");
  expect_bad_input(dir + "/trunc.npy", "truncated");
  expect_bad_input(dir + "/trunc_header.npy", "truncated");
  expect_bad_input(dir + "/fortran.npy", "Fortran");
  expect_bad_input(dir + "/object.npy", "unsupported");
  expect_bad_input(dir + "/badshape.npy", "corrupt");
  expect_bad_input(dir, "directory");
}

TEST(Npy, WriteIsAtomicAndRefusesMissingFolder) {
  std::string dir = test::temp_dir();
  float v = 1;
  EXPECT_THROW(write_npy(dir + "/no/such/folder/x.npy", Array::from_f32({1}, &v)), Error);
  write_npy(dir + "/x.npy", Array::from_f32({1}, &v));
  // Only the final file is left behind, no temporary.
  int count = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++count;
  EXPECT_EQ(count, 1);
}
