#include "emogene/core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <spdlog/spdlog.h>

#include "emogene/core/log.h"

namespace emogene {

using Clock = std::chrono::steady_clock;

Progress::Progress(std::string what, std::int64_t total, std::string unit)
    : what_(std::move(what)), unit_(std::move(unit)), total_(total), start_(Clock::now()),
      last_print_(start_), live_(::isatty(STDERR_FILENO) == 1 && log_verbosity() >= 0) {}

Progress::~Progress() {
  if (live_ && printed_ && !finished_) std::fputc('\n', stderr);
}

std::string Progress::format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  long t = std::lround(s);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

void Progress::update(std::int64_t done, const std::string& extra) {
  done_ = done;
  if (!extra.empty()) extra_ = extra;
  auto now = Clock::now();
  double since = std::chrono::duration<double>(now - last_print_).count();
  if (since >= (live_ ? 0.2 : 5.0)) {
    last_print_ = now;
    print(false);
  }
}

void Progress::finish() {
  if (finished_) return;
  print(true);
  finished_ = true;
}

void Progress::print(bool final) {
  if (log_verbosity() < 0) return;
  double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  char line[512];
  std::string counts = total_ > 0 ? std::to_string(done_) + "/" + std::to_string(total_) : std::to_string(done_);
  std::string tail;
  if (final) {
    tail = "in " + format_duration(elapsed);
  } else if (total_ > 0 && rate > 0) {
    tail = "ETA " + format_duration(static_cast<double>(total_ - done_) / rate);
  }
  std::snprintf(line, sizeof line, "%s: %s %s (%.3g %s/s) %s%s%s", what_.c_str(), counts.c_str(), unit_.c_str(), rate,
                unit_.empty() ? "it" : unit_.c_str(), tail.c_str(), extra_.empty() ? "" : ", ", extra_.c_str());
  if (live_) {
    std::fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
    std::fflush(stderr);
  } else {
    spdlog::info("{}", line);
  }
  printed_ = true;
}

}  // namespace emogene
