// PNG in and out, for previews, contact sheets, frames and masks: read by stb (Debian
// libstb-dev), written by our own encoder over zlib (PNG spec, ISO/IEC 15948): 8-bit grey, grey +
// alpha, RGB or RGBA, each row with the filter of least absolute residual (the usual heuristic),
// deflated at a fast level. stb's writer spent most of `prepare`'s frame pass in its deflate.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace emogene {

struct Image {
  int width = 0, height = 0, channels = 3;  // 1 (grey), 3 (RGB) or 4 (RGBA)
  std::vector<std::uint8_t> pixels;         // [height, width, channels]
};

// Written to a temporary name and renamed into place. level: zlib's 1 (fastest) to 9.
void write_png(const std::string& path, const Image& img, int level = 2);
// The PNG file's bytes.
std::vector<std::uint8_t> encode_png(const Image& img, int level = 2);
// Throws bad_input naming the file for a missing or undecodable image.
Image read_png(const std::string& path, int want_channels = 3);

}  // namespace emogene
