// The corpus as a whole: audio-visual truth, separable emotions, temporal structure, determinism,
// bad input. Prints the figures it measures.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unistd.h>

#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/dataset/dataset.h"
#include "emogene/eval/landmark_metrics.h"
#include "emogene/synth/synth.h"
#include "testutil.h"

using namespace emogene;
namespace fs = std::filesystem;

namespace {

// One corpus shared by the quality tests: 10 groups (8 train, 1 val, 1 test) of 22 clips.
class Corpus : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("emogene-corpus-" + std::to_string(::getpid()))).string();
    synth::SynthOptions o;
    o.out = dir_;
    o.seconds = 850;
    o.identities = 5;
    o.seed = 11;
    o.force = true;
    summary_ = synth::run_synth(o);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string dir_;
  static synth::SynthSummary summary_;
};
std::string Corpus::dir_;
synth::SynthSummary Corpus::summary_;

}  // namespace

TEST_F(Corpus, SplitsShareNoSentenceVoiceOrIdentity) {
  dataset::Dataset ds(dir_);
  std::map<std::string, std::set<std::string>> sentences, voices, ids;
  for (const auto& c : ds.meta().clips) {
    sentences[c.split].insert(c.sentence);
    voices[c.split].insert(c.voice);
    ids[c.split].insert(c.identity);
  }
  ASSERT_EQ(sentences.size(), 3u);
  for (const char* a : {"train", "val", "test"})
    for (const char* b : {"train", "val", "test"}) {
      if (std::string(a) >= b) continue;
      for (const auto& s : sentences[a]) EXPECT_EQ(sentences[b].count(s), 0u) << s;
      for (const auto& s : voices[a]) EXPECT_EQ(voices[b].count(s), 0u) << s;
      for (const auto& s : ids[a]) EXPECT_EQ(ids[b].count(s), 0u) << s;
    }
  // Corpus generation is at least 50x faster than real time (printed; not asserted: timing).
  std::printf("[ figures ] corpus: %d clips, %.1f s audio, RTF %.4f\n", summary_.clips, summary_.audio_seconds,
              summary_.wall_seconds / summary_.audio_seconds);
}

TEST_F(Corpus, LipsCloseOnBilabialsAndFollowTheAudio) {
  dataset::Dataset ds(dir_);
  const double fps = ds.meta().fps;
  int total = 0, closed = 0;
  double corr_sum = 0;
  int corr_n = 0;
  for (std::size_t i = 0; i < ds.meta().clips.size(); ++i) {
    auto c = ds.load_clip(i);
    auto gap = eval::lip_gap_track(c.landmarks);
    float maxgap = *std::max_element(gap.begin(), gap.end());
    for (const auto& p : c.phonemes) {
      std::string ph = p["phone"];
      std::string base = ph.substr(0, 1);
      if (!(ph == "p" || ph == "b" || ph == "m")) continue;
      double mid = 0.5 * (p["start"].get<double>() + p["end"].get<double>());
      auto f = static_cast<std::size_t>(std::min<double>(std::floor(mid * fps), static_cast<double>(gap.size() - 1)));
      ++total;
      closed += gap[f] <= 0.10f * maxgap;
    }
    // Lip gap vs the audio envelope over speech frames.
    auto mono = audio::to_mono(c.audio);
    auto env = eval::audio_envelope(mono, c.audio.sample_rate, fps, c.frames());
    std::vector<float> g, e;
    for (std::size_t t = 0; t < gap.size(); ++t)
      if (!c.idle[t]) {
        g.push_back(gap[t]);
        e.push_back(env[t]);
      }
    corr_sum += eval::pearson(g, e);
    ++corr_n;
  }
  ASSERT_GT(total, 100);
  double rate = static_cast<double>(closed) / total;
  std::printf("[ figures ] p/b/m midpoints closed (gap <= 10%% of clip max): %.1f%% of %d; lip gap vs envelope r = %.3f\n",
              100 * rate, total, corr_sum / corr_n);
  EXPECT_GE(rate, 0.95);
  EXPECT_GT(corr_sum / corr_n, 0.1);  // reported; a sanity bound only
}

namespace {

using Vec = Eigen::VectorXd;

Vec mean_offset(const dataset::ClipData& c) {
  Vec v = Vec::Zero(68 * 3);
  for (std::int64_t t = 0; t < c.frames(); ++t)
    for (int k = 0; k < 68 * 3; ++k)
      v[k] += c.landmarks_emotional.data[static_cast<std::size_t>(t * 204 + k)] - c.landmarks_neutral.data[static_cast<std::size_t>(t * 204 + k)];
  return v / static_cast<double>(c.frames());
}

}  // namespace

TEST_F(Corpus, EmotionsAreSeparableAndHaveTemporalStructure) {
  dataset::Dataset ds(dir_);
  std::map<std::string, Vec> sum;
  std::map<std::string, int> count;
  std::map<std::string, Vec> fsum;
  std::map<std::string, long> fcount;
  // Per-frame linear map neutral → emotional, one per emotion (least squares on train frames).
  std::map<std::string, Eigen::MatrixXd> XtX, XtY;
  auto row = [](const dataset::ClipData& c, std::int64_t t, bool emotional) {
    Vec x(205);
    const auto& src = emotional ? c.landmarks_emotional.data : c.landmarks_neutral.data;
    for (int k = 0; k < 204; ++k) x[k] = src[static_cast<std::size_t>(t * 204 + k)];
    x[204] = 1;
    return x;
  };
  for (std::size_t i : ds.clips_in_split("train")) {
    auto c = ds.load_clip(i, false);
    const auto& m = ds.meta().clips[i];
    if (m.intensity < 0.6 && m.emotion != "neutral") continue;
    sum.try_emplace(m.emotion, Vec::Zero(204));
    sum[m.emotion] += mean_offset(c);
    count[m.emotion]++;
    XtX.try_emplace(m.emotion, Eigen::MatrixXd::Zero(205, 205));
    XtY.try_emplace(m.emotion, Eigen::MatrixXd::Zero(205, 205));
    for (std::int64_t t = 0; t < c.frames(); ++t) {
      Vec x = row(c, t, false), y = row(c, t, true);
      XtX[m.emotion] += x * x.transpose();
      XtY[m.emotion] += x * y.transpose();
      fsum.try_emplace(m.emotion, Vec::Zero(204));
      fsum[m.emotion] += (y - x).head(204);
      fcount[m.emotion]++;
    }
  }
  ASSERT_EQ(sum.size(), 8u);
  std::map<std::string, Eigen::MatrixXd> W;
  for (auto& [e, A] : XtX)
    W[e] = (A + 1e-4 * Eigen::MatrixXd::Identity(205, 205)).ldlt().solve(XtY[e]);
  int right = 0, n = 0;
  long fright = 0, fn = 0;
  double map_lmd = 0, neutral_lmd = 0;
  int map_n = 0;
  for (const char* split : {"val", "test"})
    for (std::size_t i : ds.clips_in_split(split)) {
      const auto& m = ds.meta().clips[i];
      if (m.intensity < 0.6) continue;  // intensity >= 2/3
      auto c = ds.load_clip(i, false);
      Vec off = mean_offset(c);
      std::string best;
      double bd = 1e300;
      for (auto& [e, s] : sum) {
        double d = (off - s / count[e]).norm();
        if (d < bd) {
          bd = d;
          best = e;
        }
      }
      right += best == m.emotion;
      ++n;
      landmarks::Sequence mapped;
      for (std::int64_t t = 0; t < c.frames(); ++t) {
        Vec x = row(c, t, false), y = row(c, t, true);
        Vec fo = (y - x).head(204);
        std::string fb;
        double fbd = 1e300;
        for (auto& [e, s] : fsum) {
          double d = (fo - s / static_cast<double>(fcount[e])).norm();
          if (d < fbd) {
            fbd = d;
            fb = e;
          }
        }
        fright += fb == m.emotion;
        ++fn;
        Vec p = W[m.emotion].transpose() * x;
        landmarks::Shape s;
        for (int k = 0; k < 204; ++k) s.data()[k] = static_cast<float>(p[k]);
        mapped.push_back(s);
      }
      map_lmd += eval::face_lmd(mapped, c.landmarks_emotional);
      neutral_lmd += eval::face_lmd(c.landmarks_neutral, c.landmarks_emotional);
      ++map_n;
    }
  ASSERT_GT(n, 20);
  double acc = static_cast<double>(right) / n, facc = static_cast<double>(fright) / static_cast<double>(fn);
  std::printf("[ figures ] held-out clips at intensity >= 2/3: nearest-centroid accuracy %.1f%% (%d clips), per-frame %.1f%%\n",
              100 * acc, n, 100 * facc);
  std::printf("[ figures ] per-frame linear map neutral->emotional (oracle emotion): F-LMD %.4f IOD (truth 0; "
              "neutral itself %.4f)\n", map_lmd / map_n, neutral_lmd / map_n);
  EXPECT_GE(acc, 0.95);
  // A per-frame map cannot know where the expression's onset is: it must leave a real error.
  EXPECT_GT(map_lmd / map_n, 0.005);
}

TEST(SynthCorpus, SameSeedSameBytes) {
  std::string d = test::temp_dir();
  for (const char* name : {"a", "b"}) {
    synth::SynthOptions o;
    o.out = d + "/" + name;
    o.seconds = 5;
    o.identities = 3;
    o.emotions = "neutral,happy";
    o.seed = 4;
    o.preview = true;
    synth::run_synth(o);
  }
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(d + "/a")) {
    if (!e.is_regular_file()) continue;
    std::string rel = fs::relative(e.path(), d + "/a").string();
    EXPECT_EQ(read_file(e.path().string()), read_file(d + "/b/" + rel)) << rel;
    ++files;
  }
  EXPECT_GT(files, 30);
}

TEST(SynthCorpus, BadInputIsRefusedAndLeavesNothing) {
  std::string d = test::temp_dir();
  auto expect_bad = [&](synth::SynthOptions o, const std::string& fragment) {
    try {
      synth::run_synth(o);
      FAIL() << fragment;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::BadInput);
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  synth::SynthOptions o;
  o.out = d + "/out";
  o.seconds = 5;
  o.identities = 3;
  synth::SynthOptions bad = o;
  bad.emotions = "happy,joyful";
  expect_bad(bad, "unknown emotion 'joyful'");
  bad = o;
  bad.seconds = 0;
  expect_bad(bad, "--seconds");
  bad = o;
  bad.out = "/proc/emogene-no/out";
  expect_bad(bad, "cannot write");
  fs::create_directories(d + "/full");
  test::write_text(d + "/full/x", "x");
  bad = o;
  bad.out = d + "/full";
  expect_bad(bad, "not empty");
  EXPECT_FALSE(fs::exists(d + "/out"));
  int entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(d)) ++entries;
  EXPECT_EQ(entries, 1);  // only "full": no temporary folders left behind
}
