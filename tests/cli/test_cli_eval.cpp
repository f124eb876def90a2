// Runs the real emogene binary: `eval` on the bundled a2m and sync models (real-speech mode on a
// generated file, JSON output), `train sync|m2e|emoclf --help`, and their bad inputs (exit 2, one line).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <vector>

#include "emogene/audio/audio.h"
#include "testutil.h"

using namespace emogene;

namespace {

using Result = test::CliResult;
Result run(const std::string& args) { return test::run_cli(EMOGENE_BIN, args); }

void expect_bad(const Result& r, const std::string& mention) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(test::count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(mention), std::string::npos) << r.err;
}

std::string models() { return std::string(std::getenv("EMOGENE_HOME")) + "/data/models"; }

// Syllable-like bursts: a 150 Hz buzz gated on and off four times a second.
std::string write_bursts(const std::string& dir) {
  audio::Waveform w;
  w.sample_rate = 16000;
  w.channels = 1;
  w.samples.resize(16000 * 3);
  for (std::size_t i = 0; i < w.samples.size(); ++i) {
    const double t = static_cast<double>(i) / 16000;
    const double gate = std::fmod(t * 4, 1.0) < 0.5 ? 1.0 : 0.0;
    w.samples[i] = static_cast<float>(0.3 * gate * (std::sin(2 * M_PI * 150 * t) + 0.5 * std::sin(2 * M_PI * 450 * t)));
  }
  std::string path = dir + "/bursts.wav";
  audio::write_wav(path, w);
  return path;
}

}  // namespace

TEST(CliEval, BundledA2MOnAudioWithSync) {
  const std::string d = test::temp_dir();
  const std::string wav = write_bursts(d);
  Result r = run("-q eval --pred " + models() + "/a2m.ckpt --sync " + models() + "/sync.ckpt --audio " + wav + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["audio"]["files"].size(), 1u);
  // The lag search itself is checked on planted shifts in tests/eval (Metrics.LagCorrelation*).
  // Here: the bundled a2m model opens the lips with the bursts, nearly in step (observed r0 0.43,
  // best r 0.73 at lag -1; the bursts repeat every 6.25 frames, so a lag near ±5 or ±6 would be a
  // model a whole burst out of step, not a nearby one).
  const nlohmann::json& f0 = j["audio"]["files"][0];
  const double r0 = f0["r0"].get<double>(), r_lag = f0["r_at_lag"].get<double>();
  const int lag = f0["best_lag"].get<int>();
  EXPECT_GT(r0, 0.2);
  EXPECT_GT(r_lag, 0.5);
  EXPECT_GE(r_lag, r0);  // lag 0 is one of the lags searched
  EXPECT_LE(r_lag, 1.0);
  EXPECT_LE(std::abs(lag), 2);
  EXPECT_DOUBLE_EQ(j["audio"]["mean_r0"].get<double>(), r0);  // one file: the means are its figures
  EXPECT_DOUBLE_EQ(j["audio"]["mean_lag"].get<double>(), lag);
  // The sync expert agrees the lips are in step (observed: offset 0, confidence 0.68).
  ASSERT_TRUE(j["audio"].contains("sync"));
  const nlohmann::json& s = j["audio"]["sync"];
  EXPECT_GT(s["windows"].get<int>(), 0);
  EXPECT_LE(std::abs(s["best_offset"].get<int>()), 1);
  EXPECT_GT(s["confidence"].get<double>(), 0.2);
  const auto offsets = s["offsets"].get<std::vector<int>>();
  const auto cosine = s["cosine"].get<std::vector<double>>();
  ASSERT_EQ(offsets.size(), cosine.size());
  const auto best = std::max_element(cosine.begin(), cosine.end()) - cosine.begin();
  EXPECT_EQ(offsets[static_cast<std::size_t>(best)], s["best_offset"].get<int>());
  // The folder form finds the file; a folder without audio is refused.
  Result f = run("-q eval --pred " + models() + "/a2m.ckpt --audio " + d);
  EXPECT_EQ(f.code, 0) << f.err;
  // The table shows the same figures as the JSON.
  EXPECT_NE(f.out.find(fmt::format("lip gap vs envelope r {:.3f} (best {:.3f} at lag {:+d} frames)", r0, r_lag, lag)),
            std::string::npos)
      << f.out;
  std::filesystem::create_directories(d + "/empty");
  expect_bad(run("eval --pred " + models() + "/a2m.ckpt --audio " + d + "/empty"), "has no audio files");
}

TEST(CliEval, BadInputsExit2WithOneLine) {
  const std::string d = test::temp_dir();
  expect_bad(run("eval --pred " + d + "/missing.ckpt --ref " + d), "missing.ckpt");
  expect_bad(run("eval --pred " + models() + "/sync.ckpt"), "--ref");
  expect_bad(run("eval --pred " + models() + "/a2m.ckpt"), "--ref");
  expect_bad(run("eval --pred " + models() + "/a2m.ckpt --audio " + d + "/nope.wav"), "nope.wav");
  expect_bad(run("eval --pred " + models() + "/a2m.ckpt --sync " + models() + "/a2m.ckpt --audio " + d), "not a sync expert");
  expect_bad(run("train sync --data " + d + "/nodata -o " + d + "/s.ckpt"), "nodata");
  expect_bad(run("train m2e --data " + d + "/nodata -o " + d + "/m.ckpt"), "nodata");
}

TEST(CliEval, TrainHelpIsComplete) {
  for (const std::string sub : {"a2m", "sync", "m2e", "emoclf"}) {
    Result h = run("train " + sub + " --help");
    EXPECT_EQ(h.code, 0) << sub;
    for (const char* opt : {"--data", "--out", "--config", "--set", "--steps", "--resume", "--force"})
      EXPECT_NE(h.out.find(opt), std::string::npos) << sub << " " << opt;
  }
  EXPECT_NE(run("train a2m --help").out.find("--sync"), std::string::npos);
  Result e = run("eval --help");
  for (const char* opt : {"--pred", "--ref", "--audio", "--sync", "--clf", "--temperature", "--json"})
    EXPECT_NE(e.out.find(opt), std::string::npos) << opt;
}
