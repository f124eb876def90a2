#include "emogene/core/image.h"

#include <stb/stb_image.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>

#include "emogene/core/error.h"
#include "emogene/core/fileio.h"

namespace emogene {

namespace {

void put_u32(std::vector<std::uint8_t>& v, std::uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<std::uint8_t>(x >> s));
}

void put_chunk(std::vector<std::uint8_t>& out, const char* type, const std::uint8_t* data, std::size_t n) {
  put_u32(out, static_cast<std::uint32_t>(n));
  const std::size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  if (n) out.insert(out.end(), data, data + n);
  put_u32(out, static_cast<std::uint32_t>(crc32(0L, out.data() + start, static_cast<uInt>(n + 4))));
}

// Branch-free (selects instead of jumps), so the loop over a row vectorises.
inline std::uint8_t paeth(int a, int b, int c) {
  const int pa = std::abs(b - c), pb = std::abs(a - c), pc = std::abs(a + b - 2 * c);
  const int ab = pb < pa ? b : a, pab = pb < pa ? pb : pa;
  return static_cast<std::uint8_t>(pc < pab ? c : ab);
}

}  // namespace

std::vector<std::uint8_t> encode_png(const Image& img, int level) {
  static const std::uint8_t colour_type[5] = {0, 0, 4, 2, 6};  // by channel count
  const int C = img.channels;
  if (C < 1 || C > 4 || img.width <= 0 || img.height <= 0 ||
      img.pixels.size() != static_cast<std::size_t>(img.width) * img.height * C)
    throw internal_error("encode_png", "image buffer does not match its size");
  const std::size_t stride = static_cast<std::size_t>(img.width) * C;
  std::vector<std::uint8_t> raw((stride + 1) * img.height);
  std::vector<std::uint8_t> cand(stride * 5);
  const std::vector<std::uint8_t> zero(stride, 0);
  const std::size_t bpp = static_cast<std::size_t>(C);
  for (int y = 0; y < img.height; ++y) {
    const std::uint8_t* row = img.pixels.data() + y * stride;
    const std::uint8_t* up = y ? row - stride : zero.data();
    // The five filters (one loop each, so they vectorise); keep the one whose residuals, as
    // signed bytes, sum smallest.
    std::uint8_t* o0 = cand.data();
    std::uint8_t *o1 = o0 + stride, *o2 = o1 + stride, *o3 = o2 + stride, *o4 = o3 + stride;
    for (std::size_t i = 0; i < stride; ++i) o0[i] = row[i];
    for (std::size_t i = 0; i < stride; ++i) o2[i] = static_cast<std::uint8_t>(row[i] - up[i]);
    for (std::size_t i = 0; i < bpp; ++i) {
      o1[i] = row[i];
      o3[i] = static_cast<std::uint8_t>(row[i] - (up[i] >> 1));
      o4[i] = static_cast<std::uint8_t>(row[i] - up[i]);  // Paeth with a = c = 0 picks b
    }
    for (std::size_t i = bpp; i < stride; ++i) {
      o1[i] = static_cast<std::uint8_t>(row[i] - row[i - bpp]);
      o3[i] = static_cast<std::uint8_t>(row[i] - ((row[i - bpp] + up[i]) >> 1));
    }
    for (std::size_t i = bpp; i < stride; ++i) o4[i] = static_cast<std::uint8_t>(row[i] - paeth(row[i - bpp], up[i], up[i - bpp]));
    long best_cost = -1;
    int best = 0;
    for (int f = 0; f < 5; ++f) {
      const std::int8_t* o = reinterpret_cast<const std::int8_t*>(cand.data() + f * stride);
      long cost = 0;
      for (std::size_t i = 0; i < stride; ++i) cost += o[i] < 0 ? -o[i] : o[i];
      if (best_cost < 0 || cost < best_cost) best_cost = cost, best = f;
    }
    raw[y * (stride + 1)] = static_cast<std::uint8_t>(best);
    std::copy_n(cand.data() + best * stride, stride, raw.data() + y * (stride + 1) + 1);
  }
  // Run-length matches only (distance 1: the filters leave runs of equal residuals) at level 1
  // and 2: several times faster than the full match search, a few per cent larger.
  z_stream zs{};
  const int lv = std::clamp(level, 1, 9);
  if (deflateInit2(&zs, lv, Z_DEFLATED, 15, 8, lv <= 2 ? Z_RLE : Z_DEFAULT_STRATEGY) != Z_OK)
    throw internal_error("encode_png", "zlib deflateInit2 failed");
  std::vector<std::uint8_t> z(deflateBound(&zs, static_cast<uLong>(raw.size())));
  zs.next_in = raw.data();
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = z.data();
  zs.avail_out = static_cast<uInt>(z.size());
  const int rc = deflate(&zs, Z_FINISH);
  const std::size_t zn = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw internal_error("encode_png", "zlib deflate failed");
  std::vector<std::uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<std::uint8_t> ihdr;
  put_u32(ihdr, static_cast<std::uint32_t>(img.width));
  put_u32(ihdr, static_cast<std::uint32_t>(img.height));
  ihdr.insert(ihdr.end(), {8, colour_type[C], 0, 0, 0});  // 8 bits, colour type, deflate, filter 0, no interlace
  put_chunk(out, "IHDR", ihdr.data(), ihdr.size());
  put_chunk(out, "IDAT", z.data(), zn);
  put_chunk(out, "IEND", nullptr, 0);
  return out;
}

void write_png(const std::string& path, const Image& img, int level) {
  if (img.width <= 0 || img.height <= 0 || img.pixels.size() != static_cast<std::size_t>(img.width) * img.height * img.channels)
    throw internal_error(path, "image buffer does not match its size");
  const std::vector<std::uint8_t> bytes = encode_png(img, level);
  write_file_atomic(path, bytes.data(), bytes.size());
}

Image read_png(const std::string& path, int want_channels) {
  auto bytes = read_file(path);
  if (bytes.empty()) throw bad_input(path, "empty file, expected an image");
  Image img;
  int n = 0;
  unsigned char* p = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &img.width, &img.height, &n,
                                           want_channels);
  if (!p) throw bad_input(path, std::string("cannot decode image: ") + stbi_failure_reason());
  img.channels = want_channels;
  img.pixels.assign(p, p + static_cast<std::size_t>(img.width) * img.height * want_channels);
  stbi_image_free(p);
  return img;
}

}  // namespace emogene
