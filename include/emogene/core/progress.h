// Progress of long work on stderr: a live line (done/total, rate, ETA) on a terminal, else a log
// line every few seconds. Silent with -q. Not thread-safe: update from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace emogene {

class Progress {
 public:
  // total <= 0: unknown (no ETA). unit: "frames", "steps", ... shown after the counts.
  Progress(std::string what, std::int64_t total, std::string unit = "");
  ~Progress();  // ends the live line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(std::int64_t done, const std::string& extra = "");  // extra: e.g. "loss 0.0213"
  void add(std::int64_t n = 1) { update(done_ + n); }
  void finish();  // prints the final line with the total time
  std::int64_t done() const { return done_; }

  // For tests and logs: "12.3 frames/s", "ETA 1:02:03".
  static std::string format_duration(double seconds);
  // The line print() shows after `elapsed` seconds: "what: done/total unit (rate unit/s) ETA m:ss, extra"
  // ("in m:ss" instead of the ETA when final).
  static std::string format_line(const std::string& what, std::int64_t done, std::int64_t total, const std::string& unit,
                                 double elapsed, bool final, const std::string& extra = "");

 private:
  void print(bool final);

  std::string what_, unit_, extra_;
  std::int64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_print_;
  bool live_, finished_ = false, printed_ = false;
};

}  // namespace emogene
