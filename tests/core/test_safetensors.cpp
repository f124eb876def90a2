#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/core/safetensors.h"
#include "testutil.h"

using namespace emogene;
using nlohmann::json;

namespace {

std::string python() {
  // Debian's python3 (the one with the system's packages); any python3 can run the stdlib checker.
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

int run_checker(const std::string& args) {
  std::string cmd = python() + " " EMOGENE_SAFETENSORS_CHECK " " + args;
  return std::system(cmd.c_str());
}

SafetensorsWriter sample_writer() {
  SafetensorsWriter w;
  std::vector<float> a = {0.5f, -1.25f, 3.0f, 1e-3f, -0.0f, 65504.0f};
  std::vector<std::int64_t> b = {1, -2, 3, std::int64_t{1} << 40};
  std::vector<std::uint8_t> m = {0, 1, 254, 255};
  std::vector<float> h = {1.0f, -2.5f, 0.1f};
  w.add_f32("layer.0.weight", {2, 3}, a.data());
  w.add("step", DType::I64, {4}, b.data());
  w.add("mask", DType::U8, {2, 2}, m.data());
  w.add_f32_as_f16("table", {3}, h.data());
  w.add_f32("empty", {0, 4}, nullptr);
  w.set_metadata("emogene.kind", "a2m");
  w.set_metadata("emogene.format", "1");
  w.set_metadata("emogene.config", R"({"lr": 0.001, "name": "ünïcode"})");
  return w;
}

}  // namespace

TEST(Safetensors, RoundTripBitExactWithMetadata) {
  std::string dir = test::temp_dir();
  std::string path = dir + "/m.safetensors";
  sample_writer().write(path);
  SafetensorsFile f(path);
  EXPECT_EQ(f.names(), (std::vector<std::string>{"empty", "layer.0.weight", "mask", "step", "table"}));
  EXPECT_EQ(f.meta("emogene.kind"), "a2m");
  EXPECT_EQ(f.meta("emogene.config"), R"({"lr": 0.001, "name": "ünïcode"})");
  EXPECT_EQ(f.meta("absent"), "");
  const TensorView& w = f.get("layer.0.weight", {2, 3});
  EXPECT_EQ(w.dtype, DType::F32);
  std::vector<float> expect = {0.5f, -1.25f, 3.0f, 1e-3f, -0.0f, 65504.0f};
  auto got = w.to_float();
  ASSERT_EQ(got.size(), expect.size());
  EXPECT_EQ(std::memcmp(got.data(), expect.data(), 24), 0);
  std::int64_t step[4];
  std::memcpy(step, f.get("step").data, 32);
  EXPECT_EQ(step[3], std::int64_t{1} << 40);
  EXPECT_EQ(f.get("table").dtype, DType::F16);
  EXPECT_NEAR(f.get("table").to_float()[2], 0.1f, 1e-4);
  EXPECT_EQ(f.get("empty").numel(), 0);
  // Writing what was read gives the same bytes.
  EXPECT_EQ(read_file(path), sample_writer().serialize());
}

TEST(Safetensors, HeaderPaddedAndSortedPerSpec) {
  auto bytes = sample_writer().serialize();
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n));
  EXPECT_EQ(header.front(), '{');
  EXPECT_TRUE(header.back() == '}' || header.back() == ' ');
  EXPECT_LT(header.find("\"empty\""), header.find("\"layer.0.weight\""));
}

TEST(Safetensors, IndependentPythonReaderAcceptsOurFile) {
  std::string dir = test::temp_dir();
  sample_writer().write(dir + "/m.safetensors");
  json expect = {
      {"metadata", {{"emogene.kind", "a2m"}, {"emogene.format", "1"}, {"emogene.config", R"({"lr": 0.001, "name": "ünïcode"})"}}},
      {"tensors",
       {{"layer.0.weight", {{"dtype", "F32"}, {"shape", {2, 3}}, {"values", {0.5, -1.25, 3.0, 1e-3f, -0.0, 65504.0}}}},
        {"step", {{"dtype", "I64"}, {"shape", {4}}, {"values", {1, -2, 3, std::int64_t{1} << 40}}}},
        {"mask", {{"dtype", "U8"}, {"shape", {2, 2}}, {"values", {0, 1, 254, 255}}}},
        {"table", {{"dtype", "F16"}, {"shape", {3}}, {"values", {1.0, -2.5, 0.0999755859375}}}},
        {"empty", {{"dtype", "F32"}, {"shape", {0, 4}}, {"values", json::array()}}}}}};
  // 1e-3f as a float widened to double, so Python's f32 decode compares equal.
  expect["tensors"]["layer.0.weight"]["values"][3] = static_cast<double>(1e-3f);
  test::write_text(dir + "/expect.json", expect.dump());
  EXPECT_EQ(run_checker("check " + dir + "/m.safetensors " + dir + "/expect.json"), 0);
}

TEST(Safetensors, ReadsFileFromIndependentWriter) {
  std::string dir = test::temp_dir();
  ASSERT_EQ(run_checker("write " + dir + "/py.safetensors"), 0);
  SafetensorsFile f(dir + "/py.safetensors");
  EXPECT_EQ(f.meta("note"), "written by safetensors_check.py");
  EXPECT_EQ(f.get("a.weight", {2, 3}).to_float(), (std::vector<float>{0.5f, -1.25f, 3.0f, 1e-3f, -0.0f, 65504.0f}));
  std::int64_t b[4];
  std::memcpy(b, f.get("b", {4}).data, 32);
  EXPECT_EQ(b[3], std::int64_t{1} << 40);
  EXPECT_EQ(f.get("c.half").to_float(), (std::vector<float>{1.0f, -2.5f, 0.099975586f}));
  EXPECT_EQ(f.get("d.mask").to_float(), (std::vector<float>{0, 1, 254, 255}));
}

TEST(Safetensors, MissingAndMisShapedTensorsNamed) {
  std::string dir = test::temp_dir();
  sample_writer().write(dir + "/m.safetensors");
  SafetensorsFile f(dir + "/m.safetensors");
  try {
    f.get("nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'nope' is missing"), std::string::npos) << e.what();
  }
  try {
    f.get("layer.0.weight", {3, 2});
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("has shape [2, 3], expected [3, 2]"), std::string::npos) << msg;
  }
}

namespace {

// A file with the given header text (padded) and data bytes.
std::vector<std::uint8_t> raw_file(std::string header, std::size_t data_bytes) {
  header.append((8 - header.size() % 8) % 8, ' ');
  std::vector<std::uint8_t> out(8);
  std::uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + data_bytes, 0);
  return out;
}

void expect_bad(const std::string& path, const std::string& fragment) {
  try {
    SafetensorsFile f(path);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::BadInput);
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  }
}

}  // namespace

TEST(Safetensors, BadInputGivesClearErrors) {
  std::string d = test::temp_dir();
  sample_writer().write(d + "/good.safetensors");
  auto good = read_file(d + "/good.safetensors");
  test::write_bytes(d + "/empty.safetensors", {});
  test::write_bytes(d + "/random.safetensors", test::random_bytes(1000, 7));
  test::write_bytes(d + "/short.safetensors", {1, 2, 3});
  test::write_bytes(d + "/trunc.safetensors", std::vector<std::uint8_t>(good.begin(), good.end() - 5));
  test::write_bytes(d + "/trunc_header.safetensors", std::vector<std::uint8_t>(good.begin(), good.begin() + 40));
  test::write_bytes(d + "/outside.safetensors", raw_file(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8));
  test::write_bytes(d + "/overlap.safetensors",
                    raw_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12));
  test::write_bytes(d + "/gap.safetensors", raw_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8));
  test::write_bytes(d + "/dtype.safetensors", raw_file(R"({"x":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})", 4));
  test::write_bytes(d + "/shape.safetensors", raw_file(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8));
  test::write_bytes(d + "/negative.safetensors", raw_file(R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4));
  test::write_bytes(d + "/meta.safetensors", raw_file(R"({"__metadata__":{"k":3}})", 0));
  test::write_bytes(d + "/json.safetensors", raw_file(R"({"x":{"dtype":"F32",)", 0));
  test::write_bytes(d + "/trailing.safetensors", raw_file(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 9));
  std::vector<std::uint8_t> huge(16, 0);
  std::uint64_t big = 200ull * 1000 * 1000;
  std::memcpy(huge.data(), &big, 8);
  test::write_bytes(d + "/huge.safetensors", huge);

  expect_bad(d + "/missing.safetensors", "no such file");
  expect_bad(d + "/empty.safetensors", "empty");
  expect_bad(d + "/random.safetensors", "safetensors");
  expect_bad(d + "/short.safetensors", "truncated");
  expect_bad(d + "/trunc.safetensors", "outside");  // the last tensor runs past the end
  expect_bad(d + "/trunc_header.safetensors", "truncated");
  expect_bad(d + "/outside.safetensors", "outside");
  expect_bad(d + "/overlap.safetensors", "overlap");
  expect_bad(d + "/gap.safetensors", "gap");
  expect_bad(d + "/dtype.safetensors", "unknown dtype");
  expect_bad(d + "/shape.safetensors", "needs 12 bytes");
  expect_bad(d + "/negative.safetensors", "negative");
  expect_bad(d + "/meta.safetensors", "not a string");
  expect_bad(d + "/json.safetensors", "corrupt");
  expect_bad(d + "/trailing.safetensors", "trailing");
  expect_bad(d + "/huge.safetensors", "100 MB");
}
