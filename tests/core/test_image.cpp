// core/image: our PNG encoder, read back by an independent decoder (stb_image) for every channel
// count, odd sizes, smooth and noisy content and every filter, and its files are valid PNG.
#include <gtest/gtest.h>
#include <zlib.h>

#include <random>

#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/core/image.h"
#include "testutil.h"

using namespace emogene;

namespace {

Image make(int w, int h, int c, int kind, std::uint64_t seed) {
  Image img;
  img.width = w, img.height = h, img.channels = c;
  img.pixels.resize(static_cast<std::size_t>(w) * h * c);
  std::mt19937_64 rng(seed);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) {
        std::uint8_t v = 0;
        if (kind == 0) v = static_cast<std::uint8_t>(rng());                            // noise
        if (kind == 1) v = static_cast<std::uint8_t>((x * 3 + y * 5 + k * 40) & 255);    // ramps (Sub, Up, Paeth)
        if (kind == 2) v = static_cast<std::uint8_t>(((x / 7 + y / 5) % 3) * 100 + k);   // flat blocks (a mask)
        img.pixels[(static_cast<std::size_t>(y) * w + x) * c + k] = v;
      }
  return img;
}

std::uint32_t be32(const std::vector<std::uint8_t>& b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) | b[at + 3];
}

}  // namespace

TEST(Png, RoundTripsThroughAnIndependentDecoder) {
  const std::string dir = test::temp_dir();
  for (int c : {1, 2, 3, 4})
    for (auto [w, h] : {std::pair{1, 1}, std::pair{3, 5}, std::pair{64, 17}, std::pair{256, 256}})
      for (int kind = 0; kind < 3; ++kind)
        for (int level : {1, 2, 9}) {
          SCOPED_TRACE(testing::Message() << c << " channels " << w << "x" << h << " kind " << kind << " level " << level);
          const Image img = make(w, h, c, kind, static_cast<std::uint64_t>(w * 31 + c));
          const std::string path = dir + "/t.png";
          write_png(path, img, level);
          const Image back = read_png(path, c);
          ASSERT_EQ(back.width, w);
          ASSERT_EQ(back.height, h);
          EXPECT_EQ(back.pixels, img.pixels);
        }
}

TEST(Png, ChunksAreWellFormed) {
  // Signature, IHDR (13 bytes: size, 8 bits, colour type), IDAT, IEND, each with the CRC-32 of its
  // type and data; smooth content compresses.
  const Image img = make(200, 100, 3, 1, 1);
  const std::vector<std::uint8_t> b = encode_png(img);
  ASSERT_GT(b.size(), 8u + 25 + 12 + 12);
  EXPECT_EQ(std::vector<std::uint8_t>(b.begin(), b.begin() + 8), (std::vector<std::uint8_t>{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}));
  std::size_t at = 8;
  std::vector<std::string> types;
  while (at + 12 <= b.size()) {
    const std::uint32_t n = be32(b, at);
    const std::string type(b.begin() + static_cast<long>(at) + 4, b.begin() + static_cast<long>(at) + 8);
    types.push_back(type);
    EXPECT_EQ(be32(b, at + 8 + n), static_cast<std::uint32_t>(crc32(0L, b.data() + at + 4, n + 4))) << type;
    if (type == "IHDR") {
      EXPECT_EQ(n, 13u);
      EXPECT_EQ(be32(b, at + 8), 200u);
      EXPECT_EQ(be32(b, at + 12), 100u);
      EXPECT_EQ(b[at + 16], 8);  // bit depth
      EXPECT_EQ(b[at + 17], 2);  // RGB
    }
    at += 12 + n;
  }
  EXPECT_EQ(at, b.size());
  EXPECT_EQ(types, (std::vector<std::string>{"IHDR", "IDAT", "IEND"}));
  EXPECT_LT(b.size(), img.pixels.size() / 4);
}

TEST(Png, RefusesABufferOfTheWrongSize) {
  Image img = make(4, 4, 3, 0, 1);
  img.pixels.pop_back();
  EXPECT_THROW(encode_png(img), Error);
  EXPECT_THROW(write_png(test::temp_dir() + "/x.png", img), Error);
}
