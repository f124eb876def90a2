#include <gtest/gtest.h>

#include <filesystem>

#include "emogene/core/error.h"
#include "emogene/core/npy.h"
#include "emogene/dataset/dataset.h"
#include "testutil.h"

using namespace emogene;
namespace fs = std::filesystem;

namespace {

dataset::ClipData make_clip(int T) {
  dataset::ClipData c;
  for (int t = 0; t < T; ++t) {
    landmarks::Shape s = landmarks::mean_face();
    s(66, 1) -= 0.01f * static_cast<float>(t);
    c.landmarks.push_back(s);
  }
  c.landmarks_neutral = c.landmarks;
  c.landmarks_emotional = c.landmarks;
  c.poses.assign(static_cast<std::size_t>(T) * 16, 0.f);
  for (int t = 0; t < T; ++t)
    for (int k = 0; k < 4; ++k) c.poses[static_cast<std::size_t>(t * 16 + k * 5)] = 1.f;
  c.emotion.assign(static_cast<std::size_t>(T) * 8, 0.f);
  for (int t = 0; t < T; ++t) c.emotion[static_cast<std::size_t>(t * 8 + 5)] = 1.f;
  c.intensity.assign(static_cast<std::size_t>(T), 1.f);
  c.idle.assign(static_cast<std::size_t>(T), 0);
  c.idle[0] = 1;
  c.blink.assign(static_cast<std::size_t>(T), 1.f);
  c.audio.sample_rate = 22050;
  c.audio.channels = 1;
  c.audio.samples.assign(static_cast<std::size_t>(22050 * T / 25), 0.1f);
  c.phonemes = nlohmann::json::array({{{"phone", "p"}, {"ipa", "p"}, {"start", 0.1}, {"end", 0.2}}});
  return c;
}

dataset::ClipMeta meta(const std::string& id, int T) {
  dataset::ClipMeta m;
  m.id = id;
  m.identity = "id0";
  m.voice = "en-us+m1";
  m.sentence = "a test";
  m.split = "train";
  m.duration = T / 25.0;
  m.emotion = "happy";
  m.intensity = 1;
  return m;
}

}  // namespace

TEST(Dataset, WriteThenReadRoundTrip) {
  std::string d = test::temp_dir() + "/ds";
  {
    dataset::DatasetWriter w(d, false);
    w.write_identity("id0", landmarks::mean_face());
    w.write_clip(meta("c0", 50), make_clip(50));
    w.write_clip(meta("c1", 30), make_clip(30));
    EXPECT_FALSE(fs::exists(d));  // nothing at the destination before finish()
    dataset::DatasetMeta m;
    m.kind = "corpus";
    m.intrinsics = {560, 560, 128, 128};
    w.finish(m);
  }
  dataset::Dataset ds(d);
  ASSERT_EQ(ds.meta().clips.size(), 2u);
  EXPECT_EQ(ds.meta().clips[1].id, "c1");
  EXPECT_EQ(ds.meta().intrinsics[0], 560);
  EXPECT_EQ(ds.clips_in_split("train").size(), 2u);
  EXPECT_LT((ds.neutral_shape("id0") - landmarks::mean_face()).norm(), 1e-7f);
  auto c = ds.load_clip(0);
  auto orig = make_clip(50);
  EXPECT_EQ(c.frames(), 50);
  EXPECT_EQ(c.landmarks.data, orig.landmarks.data);
  EXPECT_EQ(c.poses, orig.poses);
  EXPECT_EQ(c.idle, orig.idle);
  EXPECT_EQ(c.audio.sample_rate, 22050);
  EXPECT_EQ(c.phonemes[0]["phone"], "p");
}

TEST(Dataset, RefusesNonEmptyFolderWithoutForceAndCleansUp) {
  std::string root = test::temp_dir();
  std::string d = root + "/ds";
  fs::create_directories(d);
  test::write_text(d + "/keep.txt", "x");
  EXPECT_THROW(dataset::DatasetWriter(d, false), Error);
  {
    dataset::DatasetWriter w(d, true);
    w.write_identity("id0", landmarks::mean_face());
    // destroyed without finish(): as if interrupted
  }
  EXPECT_TRUE(fs::exists(d + "/keep.txt"));  // the old folder is untouched
  int entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(root)) ++entries;
  EXPECT_EQ(entries, 1);  // no temporary folder left
  {
    dataset::DatasetWriter w(d, true);
    w.write_identity("id0", landmarks::mean_face());
    w.write_clip(meta("c0", 10), make_clip(10));
    dataset::DatasetMeta m;
    m.kind = "corpus";
    w.finish(m);
  }
  EXPECT_FALSE(fs::exists(d + "/keep.txt"));
  EXPECT_TRUE(fs::exists(d + "/dataset.json"));
}

TEST(Dataset, MismatchedLengthsAndBadFoldersAreClearErrors) {
  std::string d = test::temp_dir() + "/ds";
  auto bad = make_clip(20);
  bad.blink.pop_back();
  {
    dataset::DatasetWriter w(d, false);
    EXPECT_THROW(w.write_clip(meta("c0", 20), bad), Error);
    w.write_identity("id0", landmarks::mean_face());
    w.write_clip(meta("c0", 20), make_clip(20));
    dataset::DatasetMeta m;
    m.kind = "corpus";
    w.finish(m);
  }
  // Corrupt one array after the fact: the reader names the file.
  std::vector<float> short_blink(19, 1.f);
  write_npy(d + "/clips/c0/blink.npy", Array::from_f32({19}, short_blink.data()));
  dataset::Dataset ds(d);
  try {
    ds.load_clip(0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blink.npy"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dataset::Dataset(d + "/nope"), Error);
  EXPECT_THROW(dataset::Dataset(test::temp_dir()), Error);  // no dataset.json
}
