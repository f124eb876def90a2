#include "emogene/core/image.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include "emogene/core/error.h"
#include "emogene/core/fileio.h"

namespace emogene {

void write_png(const std::string& path, const Image& img) {
  if (img.width <= 0 || img.height <= 0 || img.pixels.size() != static_cast<std::size_t>(img.width) * img.height * img.channels)
    throw internal_error(path, "image buffer does not match its size");
  AtomicOutput out(path);
  if (!stbi_write_png(out.temp_path().c_str(), img.width, img.height, img.channels, img.pixels.data(),
                      img.width * img.channels))
    throw bad_input(path, "cannot write PNG");
  out.commit();
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
