// emogene::Error: the one exception type. Thrown with the file or option and the problem, caught
// once in main, printed as one line, and mapped to the exit codes of DESIGN §8.
#pragma once

#include <stdexcept>
#include <string>

namespace emogene {

enum class ErrorKind {
  BadInput,     // bad input or usage: exit 2
  Internal,     // a failure of emogene itself or of the system: exit 1
  Interrupted,  // SIGINT/SIGTERM: exit 130
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }
  int exit_code() const noexcept;

 private:
  ErrorKind kind_;
};

// "<where>: <problem>", the one-line form every message takes.
Error bad_input(const std::string& where, const std::string& problem);
Error internal_error(const std::string& where, const std::string& problem);

// Throws bad_input(where, problem) unless cond holds.
inline void check_input(bool cond, const std::string& where, const std::string& problem) {
  if (!cond) throw bad_input(where, problem);
}

// errno as text, for messages about system calls.
std::string errno_text(int err);

}  // namespace emogene
