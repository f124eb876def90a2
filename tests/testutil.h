// Helpers shared by the tests: a fresh temporary folder per test, small file writers.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace emogene::test {

// A folder unique to the running test (under $EMOGENE_TEST_TMP or /tmp), emptied first.
std::string temp_dir();

// Writes raw bytes to a file (not atomically: tests make corrupt files on purpose).
void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes);
void write_text(const std::string& path, const std::string& text);

// n pseudo-random bytes from a fixed seed.
std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint32_t seed);

// A whole file as a string of bytes ("" when it cannot be read).
std::string read_text(const std::string& path);

// The first max_bytes of a file, to make a truncated copy.
std::vector<std::uint8_t> head_of_file(const std::string& path, std::size_t max_bytes);

// Runs f, which must throw an emogene::Error of kind BadInput (a test failure otherwise); returns
// its message ("" when nothing was thrown).
std::string bad_input_message(const std::function<void()>& f);

// The emogene binary run with `args` (stdin closed): exit code, stdout, stderr.
struct CliResult {
  int code = -1;
  std::string out, err;
};
CliResult run_cli(const std::string& binary, const std::string& args);
int count_lines(const std::string& s);

}  // namespace emogene::test
