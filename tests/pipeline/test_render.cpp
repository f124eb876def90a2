// pipeline/render: where the models come from (given, or the bundled demo models), and render's
// refusals before any work.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "emogene/pipeline/render.h"
#include "testutil.h"

using namespace emogene;
namespace fs = std::filesystem;

TEST(RenderModels, ModelPathGivenOrBundled) {
  EXPECT_EQ(pipeline::model_path("/some/where/my.ckpt", "a2m.ckpt"), "/some/where/my.ckpt");  // taken as given, unchecked
  const std::string home = std::getenv("EMOGENE_HOME");
  for (const char* f : {"a2m.ckpt", "m2e.ckpt", "subject.ckpt"}) {
    const std::string p = pipeline::model_path("", f);
    EXPECT_TRUE(fs::equivalent(p, home + "/data/models/" + f)) << p;
  }
  const std::string m = test::bad_input_message([] { pipeline::model_path("", "nope.ckpt"); });
  EXPECT_NE(m.find("/models/nope.ckpt"), std::string::npos) << m;
  EXPECT_NE(m.find("the bundled demo model is missing"), std::string::npos) << m;
}

TEST(RenderModels, RefusesBadJobsBeforeWork) {
  const std::string d = test::temp_dir();
  const pipeline::Models models{pipeline::ModelOptions{}};
  pipeline::RenderJob job;
  job.audio = d + "/missing.wav";
  job.out = d + "/o.mp4";
  job.fps = 0;
  EXPECT_NE(test::bad_input_message([&] { pipeline::render(models, job); }).find("--fps"), std::string::npos);
  job.fps = 25;
  job.size = 99;
  EXPECT_NE(test::bad_input_message([&] { pipeline::render(models, job); }).find("--size"), std::string::npos);
  job.size = 0;
  job.emotion = "joyful";
  EXPECT_FALSE(test::bad_input_message([&] { pipeline::render(models, job); }).empty());
  job.emotion = "neutral";
  EXPECT_NE(test::bad_input_message([&] { pipeline::render(models, job); }).find("missing.wav"), std::string::npos);
  test::write_text(d + "/empty.wav", "");
  job.audio = d + "/empty.wav";
  EXPECT_FALSE(test::bad_input_message([&] { pipeline::render(models, job); }).empty());
  EXPECT_FALSE(fs::exists(job.out));
  pipeline::ModelOptions bad;
  bad.a2m = d + "/none.ckpt";
  EXPECT_NE(test::bad_input_message([&] { pipeline::Models m(bad); }).find("none.ckpt"), std::string::npos);
}
