#include "emogene/core/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "emogene/core/error.h"
#include "emogene/core/fileio.h"

namespace emogene {

using nlohmann::json;

std::vector<float> TensorView::to_float() const {
  std::vector<float> out(static_cast<std::size_t>(numel()));
  convert_to_float(dtype, data, out.size(), out.data());
  return out;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  file_ = std::make_unique<MappedFile>(path);
  const std::uint8_t* base = file_->data();
  const std::size_t size = file_->size();
  if (size == 0) throw bad_input(path, "empty file, expected a safetensors checkpoint");
  if (size < 8) throw bad_input(path, "truncated safetensors file (" + std::to_string(size) + " bytes)");
  std::uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | base[i];
  if (hlen > kSafetensorsMaxHeader)
    throw bad_input(path, "safetensors header of " + std::to_string(hlen) +
                              " bytes is over the 100 MB limit (not a safetensors file?)");
  if (hlen > size - 8)
    throw bad_input(path, "truncated safetensors file: header says " + std::to_string(hlen) +
                              " bytes, file has " + std::to_string(size - 8));
  const char* hp = reinterpret_cast<const char*>(base + 8);
  if (hlen == 0 || hp[0] != '{') throw bad_input(path, "not a safetensors file (header is not a JSON object)");
  json header;
  try {
    header = json::parse(hp, hp + hlen);
  } catch (const json::exception& e) {
    throw bad_input(path, std::string("corrupt safetensors header: ") + e.what());
  }
  if (!header.is_object()) throw bad_input(path, "corrupt safetensors header: not a JSON object");

  const std::uint8_t* data = base + 8 + hlen;
  const std::size_t data_size = size - 8 - static_cast<std::size_t>(hlen);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw bad_input(path, "safetensors __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          throw bad_input(path, "safetensors __metadata__ value of '" + m.key() + "' is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& what) { return bad_input(path, "tensor '" + name + "': " + what); };
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      throw bad("needs dtype, shape and data_offsets");
    TensorView t;
    t.name = name;
    if (!v["dtype"].is_string() || !parse_dtype(v["dtype"].get<std::string>(), t.dtype))
      throw bad("unknown dtype " + v["dtype"].dump());
    const json& sh = v["shape"];
    if (!sh.is_array()) throw bad("shape is not a list");
    for (const json& d : sh) {
      if (!d.is_number_unsigned()) throw bad("shape has a non-integer or negative dimension");
      t.shape.push_back(static_cast<std::int64_t>(d.get<std::uint64_t>()));
    }
    const json& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw bad("data_offsets must be two non-negative integers");
    std::uint64_t b = off[0].get<std::uint64_t>(), e = off[1].get<std::uint64_t>();
    if (b > e) throw bad("data_offsets are reversed");
    if (e > data_size)
      throw bad("data_offsets [" + std::to_string(b) + ", " + std::to_string(e) + "] point outside the file's " +
                std::to_string(data_size) + " data bytes (truncated file?)");
    std::int64_t numel;
    try {
      numel = shape_numel(t.shape);
    } catch (const Error&) {
      throw bad("impossible shape " + shape_string(t.shape));
    }
    if (static_cast<std::uint64_t>(numel) > (e - b) / dtype_size(t.dtype) + 1 ||
        static_cast<std::uint64_t>(numel) * dtype_size(t.dtype) != e - b)
      throw bad("shape " + shape_string(t.shape) + " of " + dtype_name(t.dtype) + " needs " +
                std::to_string(static_cast<std::uint64_t>(numel) * dtype_size(t.dtype)) + " bytes, offsets give " +
                std::to_string(e - b));
    t.data = data + b;
    t.nbytes = static_cast<std::size_t>(e - b);
    ranges.emplace_back(b, e);
    tensors_.emplace(name, std::move(t));
  }
  // The tensors must tile the data buffer: no overlap, no gap, nothing after the last one.
  std::sort(ranges.begin(), ranges.end());
  std::uint64_t pos = 0;
  for (const auto& [b, e] : ranges) {
    if (b < pos) throw bad_input(path, "safetensors tensors overlap at data offset " + std::to_string(b));
    if (b > pos) throw bad_input(path, "safetensors data has a gap at offset " + std::to_string(pos));
    pos = e;
  }
  if (pos != data_size)
    throw bad_input(path, "safetensors data has " + std::to_string(data_size - pos) +
                              " trailing bytes that no tensor uses");
}

SafetensorsFile::~SafetensorsFile() = default;

std::string SafetensorsFile::meta(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? std::string() : it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& kv : tensors_) out.push_back(kv.first);
  return out;
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorView& SafetensorsFile::get(const std::string& name) const {
  const TensorView* t = find(name);
  if (!t) throw bad_input(path_, "tensor '" + name + "' is missing");
  return *t;
}

const TensorView& SafetensorsFile::get(const std::string& name, const std::vector<std::int64_t>& shape) const {
  const TensorView& t = get(name);
  if (t.shape != shape)
    throw bad_input(path_, "tensor '" + name + "' has shape " + shape_string(t.shape) + ", expected " +
                               shape_string(shape));
  return t;
}

void SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<std::int64_t> shape, const void* data) {
  if (name.empty() || name == "__metadata__") throw internal_error("safetensors", "invalid tensor name '" + name + "'");
  if (entries_.count(name)) throw internal_error("safetensors", "tensor '" + name + "' added twice");
  Entry e{dtype, std::move(shape), {}};
  std::size_t n = static_cast<std::size_t>(shape_numel(e.shape)) * dtype_size(dtype);
  e.bytes.resize(n);
  if (n) std::memcpy(e.bytes.data(), data, n);
  entries_.emplace(name, std::move(e));
}

void SafetensorsWriter::add_f32(const std::string& name, std::vector<std::int64_t> shape, const float* data) {
  add(name, DType::F32, std::move(shape), data);
}

void SafetensorsWriter::add_f32_as_f16(const std::string& name, std::vector<std::int64_t> shape, const float* data) {
  std::vector<std::uint16_t> h(static_cast<std::size_t>(shape_numel(shape)));
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = float_to_half(data[i]);
  add(name, DType::F16, std::move(shape), h.data());
}

std::vector<std::uint8_t> SafetensorsWriter::serialize() const {
  // nlohmann::json objects are std::map-backed, so keys come out sorted.
  json header = json::object();
  std::uint64_t offset = 0;
  for (const auto& [name, e] : entries_) {
    header[name] = {{"dtype", dtype_name(e.dtype)}, {"shape", e.shape},
                    {"data_offsets", {offset, offset + e.bytes.size()}}};
    offset += e.bytes.size();
  }
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  std::vector<std::uint8_t> out;
  out.reserve(8 + h.size() + offset);
  std::uint64_t hl = h.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>((hl >> (8 * i)) & 0xff));
  out.insert(out.end(), h.begin(), h.end());
  for (const auto& kv : entries_) out.insert(out.end(), kv.second.bytes.begin(), kv.second.bytes.end());
  return out;
}

void SafetensorsWriter::write(const std::string& path) const {
  auto bytes = serialize();
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace emogene
