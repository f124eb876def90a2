#include "emogene/core/fileio.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "emogene/core/error.h"

namespace emogene {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

int open_for_reading(const std::string& path, struct stat& st) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    throw bad_input(path, err == ENOENT ? "no such file" : "cannot open: " + errno_text(err));
  }
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw bad_input(path, "cannot stat: " + errno_text(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw bad_input(path, "is a directory, expected a file");
  }
  return fd;
}

}  // namespace

std::vector<std::uint8_t> read_file(const std::string& path) {
  struct stat st {};
  Fd f{open_for_reading(path, st)};
  std::vector<std::uint8_t> out;
  out.reserve(static_cast<std::size_t>(st.st_size));
  std::uint8_t buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw bad_input(path, "read failed: " + errno_text(errno));
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  struct stat st {};
  Fd f{open_for_reading(path, st)};
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ == 0) return;
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, f.fd, 0);
  if (p == MAP_FAILED) throw bad_input(path, "cannot map file: " + errno_text(errno));
  data_ = static_cast<const std::uint8_t*>(p);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
}

AtomicOutput::AtomicOutput(std::string final_path) : final_path_(std::move(final_path)) {
  static std::atomic<unsigned> counter{0};
  auto slash = final_path_.find_last_of('/');
  std::string dir = slash == std::string::npos ? "" : final_path_.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? final_path_ : final_path_.substr(slash + 1);
  check_input(!base.empty(), final_path_, "output path names a folder, expected a file");
  if (!dir.empty() && !is_directory(dir))
    throw bad_input(final_path_, "cannot write: folder " + dir + " does not exist");
  temp_path_ = dir + "." + base + ".tmp" + std::to_string(::getpid()) + "." +
               std::to_string(counter.fetch_add(1));
}

AtomicOutput::~AtomicOutput() {
  if (!done_) ::unlink(temp_path_.c_str());
}

void AtomicOutput::commit() {
  if (done_) return;
  if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
    int err = errno;
    ::unlink(temp_path_.c_str());
    done_ = true;
    throw bad_input(final_path_, "cannot write: " + errno_text(err));
  }
  done_ = true;
}

void AtomicOutput::discard() {
  if (!done_) ::unlink(temp_path_.c_str());
  done_ = true;
}

void write_file_atomic(const std::string& path, const void* data, std::size_t size) {
  AtomicOutput out(path);
  FILE* f = std::fopen(out.temp_path().c_str(), "wb");
  if (!f) throw bad_input(path, "cannot write: " + errno_text(errno));
  bool ok = size == 0 || std::fwrite(data, 1, size, f) == size;
  ok = (std::fflush(f) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) throw bad_input(path, "write failed (disk full?)");
  out.commit();
}

std::string executable_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<std::size_t>(n));
  auto slash = p.find_last_of('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

namespace {

constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;

void hash_bytes(std::uint64_t& h, const unsigned char* p, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * kFnvPrime;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * kFnvPrime;
}

void hash_file(std::uint64_t& h, const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw bad_input(path, "cannot be read to hash it");
  std::vector<unsigned char> buf(1 << 20);
  while (f) {
    f.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<std::size_t>(f.gcount());
    if (n == 0) break;
    hash_bytes(h, buf.data(), n);
  }
  if (f.bad()) throw bad_input(path, "read error while hashing it");
}

}  // namespace

std::string content_hash(const std::string& path) {
  namespace fs = std::filesystem;
  std::uint64_t h = 0xcbf29ce484222325ull;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.is_regular_file()) names.push_back(e.path().filename().string());
    if (ec) throw bad_input(path, "cannot list the folder to hash it (" + ec.message() + ")");
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
      hash_bytes(h, reinterpret_cast<const unsigned char*>(n.data()), n.size());
      hash_file(h, path + "/" + n);
    }
  } else {
    hash_file(h, path);
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

std::string resource_dir(const std::string& name) {
  std::vector<std::string> tried;
  if (const char* home = std::getenv("EMOGENE_HOME"); home && *home) {
    tried.push_back(std::string(home) + "/" + name);
  }
  std::string exe = executable_dir();
  tried.push_back(exe + "/../" + name);
  tried.push_back(exe + "/../share/emogene/" + name);
  for (const auto& t : tried)
    if (is_directory(t)) return t;
  std::string list;
  for (const auto& t : tried) list += (list.empty() ? "" : ", ") + t;
  throw bad_input(name, "resource folder not found (looked in " + list + "; set EMOGENE_HOME)");
}

}  // namespace emogene
