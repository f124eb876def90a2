// emotion/emoclf: the landmark emotion classifier trains on a tiny corpus, loads, classifies any
// length, measures m2e outputs, and refuses other checkpoints and corpora without emotional pairs.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <numeric>

#include "emogene/core/config.h"
#include "emogene/core/error.h"
#include "emogene/core/safetensors.h"
#include "emogene/core/tensor_io.h"
#include "emogene/dataset/dataset.h"
#include "emogene/emotion/emoclf.h"
#include "emogene/emotion/m2e_io.h"
#include "emotion_corpus.h"
#include "testutil.h"

using namespace emogene;
using namespace emogene::emotion;
namespace fs = std::filesystem;

TEST(EmoClf, TrainsClassifiesAndMeasures) {
  const std::string dir = test::temp_dir(), corpus = test::emotion_corpus();
  TrainEmoClfOptions o;
  o.data = corpus;
  o.out = dir + "/emoclf.ckpt";
  o.config = load_config(std::string(getenv("EMOGENE_HOME")) + "/configs/emoclf/small.json");
  o.config["model"]["hidden"] = 16;
  o.config["data"]["batch"] = 16;
  o.config["train"]["checkpoint_every"] = 20;
  o.config_name = "small.json";
  o.steps = 40;
  TrainEmoClfReport r = train_emoclf(o);
  EXPECT_EQ(r.steps, 40);
  EXPECT_GT(r.final_loss, 0);
  SafetensorsFile f(o.out);
  EXPECT_EQ(f.meta("emogene.kind"), "emoclf");
  // its own seed, documented in the config
  EXPECT_NE(f.meta("emogene.config").find("\"seed\":11"), std::string::npos);

  EmoClassifier clf(o.out);
  EXPECT_EQ(clf.window(), 25);
  EXPECT_EQ(clf.fps(), 25);
  dataset::Dataset ds(corpus);
  dataset::ClipData c = ds.load_clip(1, false);
  const landmarks::Shape n = ds.neutral_shape(ds.meta().clips[1].identity);
  auto p = clf.probabilities(c.landmarks_emotional, n);
  EXPECT_NEAR(std::accumulate(p.begin(), p.end(), 0.0), 1.0, 1e-5);
  // shorter than a window, and a single frame: still a distribution
  landmarks::Sequence shortseq{std::vector<float>(c.landmarks_emotional.data.begin(), c.landmarks_emotional.data.begin() + 10 * 204)};
  auto ps = clf.probabilities(shortseq, n);
  EXPECT_NEAR(std::accumulate(ps.begin(), ps.end(), 0.0), 1.0, 1e-5);
  landmarks::Sequence one{std::vector<float>(c.landmarks_emotional.data.begin(), c.landmarks_emotional.data.begin() + 204)};
  EXPECT_GE(emotion_index(clf.predict(one, n)), 0);

  EmoClfEval e = evaluate_emoclf(clf, corpus, "train");
  EXPECT_GT(e.clips, 0);
  int total = 0;
  for (const auto& row : e.confusion) total += std::accumulate(row.begin(), row.end(), 0);
  EXPECT_EQ(total, e.clips);
  // The corpus has 4 of the 8 emotions (neutral on 2 clips, 6 each of the others): chance is 1/8,
  // always answering the commonest class 0.3. 40 steps reach 1.0 on these (seeded) clips; 0.6
  // leaves room for numeric drift but not for a classifier that learned nothing.
  std::printf("emoclf on its training clips: accuracy %.3f of %lld, strong %.3f of %lld\n", e.accuracy,
              static_cast<long long>(e.clips), e.strong_accuracy, static_cast<long long>(e.strong_clips));
  EXPECT_GE(e.accuracy, 0.6);
  EXPECT_GE(e.strong_accuracy, 0.6);
  int correct = 0;
  for (int k = 0; k < kNumEmotions; ++k) correct += e.confusion[static_cast<std::size_t>(k)][static_cast<std::size_t>(k)];
  EXPECT_NEAR(e.accuracy, static_cast<double>(correct) / static_cast<double>(e.clips), 1e-9);  // the diagonal
  EXPECT_GT(e.strong_clips, 0);
  // The shown landmarks (with blinks) of the same clips: still recognised (observed 1.0).
  const EmoClfEval shown = evaluate_emoclf(clf, corpus, "train", "shown");
  std::printf("emoclf on the shown landmarks: accuracy %.3f of %lld\n", shown.accuracy, static_cast<long long>(shown.clips));
  EXPECT_EQ(shown.clips, e.clips);
  EXPECT_GE(shown.accuracy, 0.6);
  EXPECT_NE(test::bad_input_message([&] { evaluate_emoclf(clf, corpus, "train", "other"); }).find("source"), std::string::npos);

  // Measures an m2e model's outputs (and the ground truth for scale).
  TrainM2EOptions mo;
  mo.data = corpus;
  mo.out = dir + "/m2e.ckpt";
  mo.config = load_config(std::string(getenv("EMOGENE_HOME")) + "/configs/m2e/mlp.json");
  mo.config["model"]["mlp_hidden"] = 16;
  mo.config["data"]["batch"] = 4;
  mo.steps = 5;
  train_m2e(mo);
  M2EModel m(mo.out);
  M2EEval me = evaluate_m2e(m, corpus, "train", &clf);
  EXPECT_GT(me.emotion_clips, 0);
  // The ground truth's emotional landmarks are recognised as well as the classifier's own training
  // clips (1.0 observed); the 5-step m2e model's outputs are only checked to be a fraction (it has
  // not learned yet: 0 observed).
  EXPECT_GE(me.emotion_accuracy_truth, 0.6);
  EXPECT_LE(me.emotion_accuracy_truth, 1.0);
  EXPECT_GE(me.emotion_accuracy, 0.0);
  EXPECT_LE(me.emotion_accuracy, 1.0);

  // Wrong kind; a corpus without emotional landmarks.
  EXPECT_NE(test::bad_input_message([&] { EmoClassifier x(mo.out); }).find("is a 'm2e' checkpoint, expected 'emoclf'"),
            std::string::npos);
  const std::string copy = dir + "/no_emotional";
  fs::copy(corpus, copy, fs::copy_options::recursive);
  for (const auto& ent : fs::directory_iterator(copy + "/clips")) fs::remove(ent.path() / "landmarks_emotional.npy");
  o.data = copy;
  o.out = dir + "/x.ckpt";
  EXPECT_NE(test::bad_input_message([&] { train_emoclf(o); }).find("has no landmarks_emotional.npy"), std::string::npos);
}
