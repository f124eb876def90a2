// core/progress: durations, the line's counts, rate and ETA (from a given elapsed time), and what
// a Progress actually logs when stderr is not a terminal (throttled updates, the final line).
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <memory>
#include <sstream>

#include "emogene/core/progress.h"

using emogene::Progress;

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(Progress::format_duration(0), "0:00");
  EXPECT_EQ(Progress::format_duration(61.4), "1:01");
  EXPECT_EQ(Progress::format_duration(3725), "1:02:05");
  EXPECT_EQ(Progress::format_duration(-1), "?");
}

TEST(Progress, LineShowsRateAndEta) {
  // 25 of 100 in 10 s: 2.5 steps/s, 75 left → 30 s.
  EXPECT_EQ(Progress::format_line("train", 25, 100, "steps", 10, false, "loss 0.5"),
            "train: 25/100 steps (2.5 steps/s) ETA 0:30, loss 0.5");
  // 1200 of 90000 frames in 60 s: 20 frames/s, 88800 left → 4440 s = 1:14:00.
  EXPECT_EQ(Progress::format_line("render", 1200, 90000, "frames", 60, false), "render: 1200/90000 frames (20 frames/s) ETA 1:14:00");
  // Final: the total time instead of the ETA.
  EXPECT_EQ(Progress::format_line("batch", 7, 7, "files", 125, true), "batch: 7/7 files (0.056 files/s) in 2:05");
  // Unknown total: no ETA; no unit: "it/s".
  EXPECT_EQ(Progress::format_line("scan", 40, 0, "", 4, false), "scan: 40  (10 it/s) ");
  // Nothing done yet: rate 0, no ETA.
  EXPECT_EQ(Progress::format_line("x", 0, 10, "steps", 3, false), "x: 0/10 steps (0 steps/s) ");
}

namespace {

// Routes the default spdlog logger to a string for the life of the object.
class CaptureLog {
 public:
  CaptureLog() : old_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~CaptureLog() { spdlog::set_default_logger(old_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> old_;
};

}  // namespace

TEST(Progress, LogsOnlyTheFinalLineWhenQuick) {
  if (::isatty(STDERR_FILENO) == 1) GTEST_SKIP() << "stderr is a terminal: Progress draws a live line instead of logging";
  CaptureLog log;
  {
    Progress p("test", 10, "steps");
    for (int i = 0; i < 10; ++i) p.add();
    EXPECT_EQ(p.done(), 10);
    EXPECT_EQ(log.text(), "") << "updates within 5 s are not logged (stderr is not a terminal here)";
    p.update(10, "loss 0.25");
    p.finish();
    p.finish();  // once only
  }
  const std::string t = log.text();
  // "test: 10/10 steps (<rate> steps/s) in 0:00, loss 0.25" and nothing else.
  EXPECT_EQ(t.rfind("test: 10/10 steps (", 0), 0u) << t;
  EXPECT_NE(t.find(" steps/s) in 0:00, loss 0.25\n"), std::string::npos) << t;
  EXPECT_EQ(t.find('\n'), t.size() - 1) << t;
  // The rate is done / elapsed: far above 10/s for ten instant updates.
  const double rate = std::stod(t.substr(t.find('(') + 1));
  EXPECT_GT(rate, 100.0) << t;
}
