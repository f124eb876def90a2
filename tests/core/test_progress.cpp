#include <gtest/gtest.h>

#include "emogene/core/progress.h"

using emogene::Progress;

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(Progress::format_duration(0), "0:00");
  EXPECT_EQ(Progress::format_duration(61.4), "1:01");
  EXPECT_EQ(Progress::format_duration(3725), "1:02:05");
  EXPECT_EQ(Progress::format_duration(-1), "?");
}

TEST(Progress, CountsUpdates) {
  Progress p("test", 10, "steps");
  for (int i = 0; i < 10; ++i) p.add();
  EXPECT_EQ(p.done(), 10);
  p.finish();
}
