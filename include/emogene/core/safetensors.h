// safetensors checkpoints (DESIGN §3): 8-byte little-endian header length, a JSON header padded with
// spaces to a multiple of 8 bytes, then the raw little-endian tensor data. `__metadata__` maps
// strings to strings. Read through a memory map, with the header validated before any data is used.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "emogene/core/dtype.h"

namespace emogene {

class MappedFile;

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  const std::uint8_t* data = nullptr;  // not necessarily aligned: copy out with memcpy
  std::size_t nbytes = 0;

  std::int64_t numel() const { return shape_numel(shape); }
  std::vector<float> to_float() const;  // any floating or integer dtype
};

constexpr std::uint64_t kSafetensorsMaxHeader = 100u * 1000u * 1000u;  // DESIGN §3: 100 MB

class SafetensorsFile {
 public:
  // Opens and validates: header length within the file and the cap, header is a JSON object,
  // every entry has a known dtype, a shape whose byte size matches its offsets, offsets inside
  // the data, and the entries tile the data without overlap or gaps. Throws bad_input naming the
  // file and the problem.
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Metadata value, or "" when absent.
  std::string meta(const std::string& key) const;
  std::vector<std::string> names() const;  // sorted
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorView* find(const std::string& name) const;
  // Throws bad_input "<file>: tensor 'name' is missing".
  const TensorView& get(const std::string& name) const;
  // As get(), and checks the shape: "<file>: tensor 'name' has shape [a, b], expected [c, d]".
  const TensorView& get(const std::string& name, const std::vector<std::int64_t>& shape) const;

 private:
  std::string path_;
  std::unique_ptr<MappedFile> file_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, TensorView> tensors_;
};

class SafetensorsWriter {
 public:
  // Copies the data. Names must be unique and not "__metadata__".
  void add(const std::string& name, DType dtype, std::vector<std::int64_t> shape, const void* data);
  void add_f32(const std::string& name, std::vector<std::int64_t> shape, const float* data);
  // Stores float data as F16 (for large tables where f16 is enough).
  void add_f32_as_f16(const std::string& name, std::vector<std::int64_t> shape, const float* data);
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

  // Keys sorted, data in key order, header padded with spaces to a multiple of 8. Atomic.
  void write(const std::string& path) const;
  std::vector<std::uint8_t> serialize() const;

 private:
  struct Entry {
    DType dtype;
    std::vector<std::int64_t> shape;
    std::vector<std::uint8_t> bytes;
  };
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace emogene
