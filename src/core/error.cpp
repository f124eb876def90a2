#include "emogene/core/error.h"

#include <cstring>

namespace emogene {

int Error::exit_code() const noexcept {
  switch (kind_) {
    case ErrorKind::BadInput: return 2;
    case ErrorKind::Internal: return 1;
    case ErrorKind::Interrupted: return 130;
  }
  return 1;
}

static std::string join(const std::string& where, const std::string& problem) {
  return where.empty() ? problem : where + ": " + problem;
}

Error bad_input(const std::string& where, const std::string& problem) {
  return Error(ErrorKind::BadInput, join(where, problem));
}

Error internal_error(const std::string& where, const std::string& problem) {
  return Error(ErrorKind::Internal, join(where, problem));
}

std::string errno_text(int err) {
  char buf[256];
  // GNU strerror_r returns a char* that may or may not point into buf.
  const char* s = strerror_r(err, buf, sizeof buf);
  return s ? std::string(s) : std::string("error ") + std::to_string(err);
}

}  // namespace emogene
