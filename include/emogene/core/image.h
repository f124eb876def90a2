// PNG in and out (stb, Debian libstb-dev), for previews, contact sheets, frames and masks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace emogene {

struct Image {
  int width = 0, height = 0, channels = 3;  // 1 (grey), 3 (RGB) or 4 (RGBA)
  std::vector<std::uint8_t> pixels;         // [height, width, channels]
};

// Written to a temporary name and renamed into place.
void write_png(const std::string& path, const Image& img);
// Throws bad_input naming the file for a missing or undecodable image.
Image read_png(const std::string& path, int want_channels = 3);

}  // namespace emogene
