// Files: whole-file reads, read-only memory maps, and outputs written to a temporary name and
// renamed into place, so a crash or an error never leaves a half-written output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace emogene {

// The whole file. Throws bad_input naming the file when it is missing or unreadable.
std::vector<std::uint8_t> read_file(const std::string& path);

bool file_exists(const std::string& path);
bool is_directory(const std::string& path);

// A read-only memory map of a whole file (an empty file maps to size 0).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

// An output that appears at `final_path` only on commit(). Writers open temp_path(), which is in the
// same folder (so the rename is atomic); without commit() the destructor removes it.
class AtomicOutput {
 public:
  explicit AtomicOutput(std::string final_path);
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  const std::string& temp_path() const { return temp_path_; }
  const std::string& final_path() const { return final_path_; }
  void commit();    // rename temp → final; throws naming final_path on failure
  void discard();   // remove the temporary file now

 private:
  std::string final_path_;
  std::string temp_path_;
  bool done_ = false;
};

// Writes bytes to path through an AtomicOutput.
void write_file_atomic(const std::string& path, const void* data, std::size_t size);

// A 64-bit content hash (FNV-1a over 8-byte words, 16 hex digits) of a file, or of every regular
// file in a folder (sorted by name; names are hashed too). Identifies weights, not security.
// Throws bad_input naming the path if it cannot be read.
std::string content_hash(const std::string& path);

// The folder of the running executable.
std::string executable_dir();

// Finds a resource folder ("configs" or "data"): $EMOGENE_HOME/<name>, then <exe>/../<name> (build
// tree), then <exe>/../share/emogene/<name> (install). Throws bad_input if none exists.
std::string resource_dir(const std::string& name);

}  // namespace emogene
