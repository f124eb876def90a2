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

std::string Progress::format_line(const std::string& what, std::int64_t done, std::int64_t total, const std::string& unit,
                                  double elapsed, bool final, const std::string& extra) {
  double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  char line[512];
  std::string counts = total > 0 ? std::to_string(done) + "/" + std::to_string(total) : std::to_string(done);
  std::string tail;
  if (final) {
    tail = "in " + format_duration(elapsed);
  } else if (total > 0 && rate > 0) {
    tail = "ETA " + format_duration(static_cast<double>(total - done) / rate);
  }
  std::snprintf(line, sizeof line, "%s: %s %s (%.3g %s/s) %s%s%s", what.c_str(), counts.c_str(), unit.c_str(), rate,
                unit.empty() ? "it" : unit.c_str(), tail.c_str(), extra.empty() ? "" : ", ", extra.c_str());
  return line;
}

void Progress::print(bool final) {
  if (log_verbosity() < 0) return;
  double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const std::string line = format_line(what_, done_, total_, unit_, elapsed, final, extra_);
  if (live_) {
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
    std::fflush(stderr);
  } else {
    spdlog::info("{}", line);
  }
  printed_ = true;
}

}  // namespace emogene
