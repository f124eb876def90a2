// motion/sync: the landmark-audio sync expert. Its mouth input takes the right coordinates; trained
// briefly on a tiny corpus it prefers aligned windows and its best offset follows a known shift of
// the landmarks; it serves as a loss inside a2m training; bad checkpoints are refused clearly.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>

#include "emogene/core/config.h"
#include "emogene/core/safetensors.h"
#include "emogene/core/tensor_io.h"
#include "emogene/dataset/dataset.h"
#include "emogene/features/features.h"
#include "emogene/motion/a2m_io.h"
#include "emogene/motion/sync.h"
#include "emogene/motion/sync_net.h"
#include "emogene/synth/synth.h"
#include "testutil.h"

using namespace emogene;

TEST(Sync, MouthInputIsPoints48To67XY) {
  torch::Tensor d = torch::arange(2 * 204, torch::kFloat).reshape({2, 204});
  torch::Tensor m = motion::mouth_xy(d);
  ASSERT_EQ(m.size(0), 2);
  ASSERT_EQ(m.size(1), motion::kSyncMouthDims);
  for (int r = 0; r < 2; ++r)
    for (int p = 0; p < 20; ++p)
      for (int k = 0; k < 2; ++k) EXPECT_EQ(m[r][p * 2 + k].item<float>(), static_cast<float>(r * 204 + (48 + p) * 3 + k));
}

TEST(Sync, LogitIsScaledCosine) {
  torch::manual_seed(0);
  motion::SyncConfig c;
  c.audio_dim = 5;
  c.window = 8;
  c.hidden = 8;
  c.embed = 8;
  motion::SyncNet net(c);
  torch::Tensor a = torch::randn({3, 8, 5}), m = torch::randn({3, 8, 204});
  torch::Tensor cos = net->cosine(a, m);
  EXPECT_TRUE(torch::all(cos.abs() <= 1.0001).item<bool>());
  EXPECT_TRUE(torch::allclose(net->forward(a, m), 10 * cos - 5));
  // The mouth encoder sees only the mouth: other landmarks do not change the score.
  torch::Tensor m2 = m.clone();
  m2.narrow(2, 0, 48 * 3).normal_();
  EXPECT_TRUE(torch::allclose(net->cosine(a, m2), cos));
}

// One training run (a few seconds) serves every check below: one process, one temporary folder.
TEST(Sync, TrainsOnATinyCorpusAndMeasures) {
  const std::string dir = test::temp_dir();
  synth::SynthOptions so;
  so.out = dir + "/corpus";
  so.seconds = 90;
  so.identities = 3;
  so.emotions = "neutral";
  so.seed = 5;
  synth::run_synth(so);
  motion::TrainSyncOptions st;
  st.data = so.out;
  st.out = dir + "/sync.ckpt";
  st.config = load_config(std::string(std::getenv("EMOGENE_HOME")) + "/configs/sync/small.json");
  st.config["data"]["split"] = "train";
  st.config_name = "small.json";
  st.steps = 600;
  motion::train_sync(st);
  {  // WritesItsKindAndFrontEnd
    SafetensorsFile f(dir + "/sync.ckpt");
    EXPECT_EQ(f.meta("emogene.kind"), "sync");
    EXPECT_NE(f.meta("emogene.frontend").find("\"mel\""), std::string::npos);
    std::ifstream csv(dir + "/sync.ckpt.losses.csv");
    std::string header;
    std::getline(csv, header);
    EXPECT_EQ(header, "step,lr,grad_norm,accuracy,bce");
  }
  {  // BestOffsetFollowsAShiftOfTheLandmarks
    motion::SyncExpert ex(dir + "/sync.ckpt");
    auto fx = features::make_extractor({});
    dataset::Dataset ds(dir + "/corpus");
    std::vector<motion::SyncScore> aligned, shifted;
    const int shift = 4;  // frames: the mouth moves 4 frames late
    for (std::size_t ci : ds.clips_in_split("train")) {
      dataset::ClipData c = ds.load_clip(ci, true);
      const landmarks::Shape n = ds.neutral_shape(ds.meta().clips[ci].identity);
      features::Features f = fx->extract(c.audio);
      aligned.push_back(ex.score(f, c.landmarks_neutral, n, ds.meta().fps));
      landmarks::Sequence late = c.landmarks_neutral;
      const std::int64_t T = late.frames();
      for (std::int64_t i = T - 1; i >= 0; --i) late.frame(i) = c.landmarks_neutral.frame(std::max<std::int64_t>(0, i - shift));
      shifted.push_back(ex.score(f, late, n, ds.meta().fps));
    }
    motion::SyncScore a = motion::combine(aligned), s = motion::combine(shifted);
    ASSERT_GT(a.windows, 100);
    EXPECT_LE(std::abs(a.best_offset), 1) << "aligned landmarks sync best near 0";
    EXPECT_LE(std::abs(s.best_offset - shift), 1) << "a 4-frame delay is found";
    EXPECT_GT(a.margin, 0.05);
    EXPECT_GT(a.confidence, 0.5);
  }
  {  // AccuracyCurveSeparatesFarOffsets
    motion::SyncExpert ex(dir + "/sync.ckpt");
    auto fx = features::make_extractor({});
    motion::SyncCurve c = ex.curve(dir + "/corpus", "train", *fx, {-5, 0, 5});
    ASSERT_EQ(c.accuracy.size(), 3u);
    EXPECT_GT(c.windows, 100);
    EXPECT_GT(c.accuracy[1], 0.6);
    EXPECT_GT(0.5 * (c.accuracy[0] + c.accuracy[2]), 0.6);
  }
  {  // ServesAsAnA2MLoss
    motion::TrainA2MOptions o;
    o.data = dir + "/corpus";
    o.out = dir + "/a2m.ckpt";
    o.config = load_config(std::string(std::getenv("EMOGENE_HOME")) + "/configs/a2m/small.json");
    o.config["model"]["hidden"] = 16;
    o.config["data"]["batch"] = 2;
    o.config["data"]["variants"] = 0;
    o.config["sync"]["checkpoint"] = dir + "/sync.ckpt";
    o.config["sync"]["weight"] = 0.5;
    o.config_name = "small.json";
    o.steps = 4;
    motion::train_a2m(o);
    std::ifstream csv(o.out + ".losses.csv");
    std::string header;
    std::getline(csv, header);
    EXPECT_EQ(header, "step,lr,grad_norm,continuity,kl,recon,sync");
    // The expert measures the VAE too (scores exist for long enough clips).
    motion::A2MModel m(o.out);
    motion::SyncExpert ex(dir + "/sync.ckpt");
    auto fx = features::make_extractor({});
    motion::A2MEval e = motion::evaluate_a2m(m, dir + "/corpus", "train", *fx, 0.0, &ex);
    EXPECT_GT(e.sync.windows, 0);
    EXPECT_EQ(e.kl_per_dim.size(), 16u);
    EXPECT_EQ(e.seed_diff, 0.0);  // temperature 0: the seed does not matter
    // An a2m checkpoint is not a sync expert, and vice versa.
    EXPECT_NE(test::bad_input_message([&] { motion::SyncExpert x(o.out); }).find("is a 'a2m' checkpoint, expected 'sync'"),
              std::string::npos);
    o.config["sync"]["checkpoint"] = o.out;
    o.out = dir + "/a2m_b.ckpt";
    EXPECT_NE(test::bad_input_message([&] { motion::train_a2m(o); }).find("expected 'sync'"), std::string::npos);
  }
}
