// motion/a2m_io: training on a tiny synthetic corpus writes a checkpoint that records its front
// end; loading checks kind, format and front end; prediction has the right length and is seeded.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "emogene/core/config.h"
#include "emogene/core/error.h"
#include "emogene/core/safetensors.h"
#include "emogene/core/tensor_io.h"
#include "emogene/dataset/dataset.h"
#include "emogene/features/features.h"
#include "emogene/motion/a2m_io.h"
#include "emogene/synth/synth.h"
#include "testutil.h"

using namespace emogene;
namespace fs = std::filesystem;

namespace {
std::string bad_input_of(const std::function<void()>& f) { return test::bad_input_message(f); }
}  // namespace

TEST(A2MIo, FeaturesAreSampledByTime) {
  features::Features f;
  f.frames = 4;
  f.dim = 1;
  f.data = {0, 10, 20, 30};  // frame j at 0.02 j + 0.0125 s
  auto v = motion::features_at(f, {0.0125, 0.0225, 0.0525, 1.0, 0.0});
  EXPECT_FLOAT_EQ(v[0], 0);
  EXPECT_FLOAT_EQ(v[1], 5);
  EXPECT_FLOAT_EQ(v[2], 20);
  EXPECT_FLOAT_EQ(v[3], 30);  // clamped
  EXPECT_FLOAT_EQ(v[4], 0);
}

TEST(A2MIo, TrainsLoadsAndPredicts) {
  std::string dir = test::temp_dir();
  synth::SynthOptions so;
  so.out = dir + "/corpus";
  so.seconds = 40;
  so.identities = 3;
  so.emotions = "neutral,happy";
  so.seed = 3;
  synth::run_synth(so);
  motion::TrainA2MOptions o;
  o.data = so.out;
  o.out = dir + "/a2m.ckpt";
  o.config = load_config(std::string(getenv("EMOGENE_HOME")) + "/configs/a2m/small.json");
  o.config["model"]["hidden"] = 16;
  o.config["data"]["batch"] = 2;
  o.config_name = "small.json";
  o.steps = 6;
  motion::TrainA2MReport r = motion::train_a2m(o);
  EXPECT_EQ(r.steps, 6);
  SafetensorsFile f(o.out);
  EXPECT_EQ(f.meta("emogene.kind"), "a2m");
  EXPECT_NE(f.meta("emogene.frontend").find("\"mel\""), std::string::npos);
  EXPECT_NE(f.meta("emogene.provenance").find("\"steps\":6"), std::string::npos);

  motion::A2MModel m(o.out);
  auto ex = features::make_extractor({});
  m.check_front_end(ex->info());
  features::FrontEndInfo other = ex->info();
  other.extractor = "hubert";
  other.dim = 768;
  EXPECT_NE(bad_input_of([&] { m.check_front_end(other); }).find("use --extractor mel"), std::string::npos);
  dataset::Dataset ds(so.out);
  dataset::ClipData c = ds.load_clip(0, true);
  features::Features feats = ex->extract(c.audio);
  const landmarks::Shape n = ds.neutral_shape(ds.meta().clips[0].identity);
  auto a = m.predict(feats, n, 25, c.frames(), 0.0, 1), b = m.predict(feats, n, 25, c.frames(), 0.0, 2);
  EXPECT_EQ(a.frames(), c.frames());
  EXPECT_EQ(a.data, b.data);  // temperature 0: seed does not matter
  // Long audio in chunks (here 0.5 s, far below the receptive field) equals one pass, at
  // temperature 1 too (one noise sequence per clip).
  features::Features longf = feats;
  for (int k = 0; k < 3; ++k) longf.data.insert(longf.data.end(), feats.data.begin(), feats.data.end());
  longf.frames = feats.frames * 4;
  const std::int64_t long_frames = c.frames() * 4;
  auto whole = m.predict(longf, n, 25, long_frames, 1.0, 7);
  motion::A2MModel chunked(o.out);
  chunked.set_chunk_seconds(0.5);
  auto pieces = chunked.predict(longf, n, 25, long_frames, 1.0, 7);
  ASSERT_EQ(pieces.data.size(), whole.data.size());
  float worst = 0;
  for (std::size_t i = 0; i < whole.data.size(); ++i) worst = std::max(worst, std::abs(whole.data[i] - pieces.data[i]));
  EXPECT_LT(worst, 1e-5f);
  auto p30 = m.predict(feats, n, 30, 17, 1.0, 1);
  EXPECT_EQ(p30.frames(), 17);
  features::Features wrong = feats;
  wrong.dim = feats.dim + 1;
  EXPECT_NE(bad_input_of([&] { m.predict(wrong, n, 25, 10, 0.0, 1); }).find("-dimensional features"), std::string::npos);

  // Another kind of checkpoint, and a dataset without landmarks_neutral's split.
  write_tensors(dir + "/nerf.ckpt", {}, {{"emogene.kind", "nerf"}, {"emogene.format", "1"}});
  EXPECT_NE(bad_input_of([&] { motion::A2MModel x(dir + "/nerf.ckpt"); }).find("is a 'nerf' checkpoint, expected 'a2m'"),
            std::string::npos);
  o.config["data"]["split"] = "nosuchsplit";
  o.out = dir + "/b.ckpt";
  EXPECT_NE(bad_input_of([&] { motion::train_a2m(o); }).find("no clips in the 'nosuchsplit' split"), std::string::npos);
}

// The bundled demo models (data/models, trained on a 3000 s corpus) on speech they never heard: a
// fresh corpus with its own seed, sentences, voices and identities.
TEST(A2MIo, BundledModelsFollowUnseenSpeech) {
  const std::string home = std::getenv("EMOGENE_HOME");
  std::string dir = test::temp_dir();
  synth::SynthOptions so;
  so.out = dir + "/corpus";
  so.seconds = 60;
  so.identities = 3;
  so.emotions = "neutral";
  so.seed = 4242;
  synth::run_synth(so);
  motion::A2MModel m(home + "/data/models/a2m.ckpt");
  motion::SyncExpert sync(home + "/data/models/sync.ckpt");
  auto ex = features::make_extractor({});
  motion::A2MEval e = motion::evaluate_a2m(m, so.out, "train", *ex, 0.0, &sync);
  EXPECT_GT(e.clips, 10);
  EXPECT_GT(e.lip_gap_r, 0.75);
  EXPECT_GT(e.closed_at_bilabials, 0.75);
  EXPECT_LT(e.m_lmd, 0.015);
  EXPECT_LE(std::abs(e.sync.best_offset), 1);
  EXPECT_GT(e.sync.confidence, 0.7);
  // A real VAE: some latent channel carries information, and temperature 1 draws differ by seed.
  EXPECT_GT(*std::max_element(e.kl_per_dim.begin(), e.kl_per_dim.end()), 0.02);
  motion::A2MEval hot = motion::evaluate_a2m(m, so.out, "train", *ex, 1.0);
  EXPECT_GT(hot.seed_diff, 1e-4);
  std::printf("figures: bundled a2m on unseen speech: lip-gap r %.3f, closed %.1f%% of %lld p/b/m, M-LMD %.4f IOD, "
              "sync offset %+d conf %.3f, seed spread at T=1 %.5f IOD\n",
              e.lip_gap_r, 100 * e.closed_at_bilabials, static_cast<long long>(e.bilabials), e.m_lmd, e.sync.best_offset,
              e.sync.confidence, hot.seed_diff);
}
